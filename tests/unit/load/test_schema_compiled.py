"""The schema's compiled predicates (load/schema.py) stand in for ``check`` only where it
passes: wherever a predicate says "valid", the full check finds nothing; where it says
"invalid", the full check runs and gives the message (tests/unit/load/test_schema.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefect_compose.errors import InputError
from prefect_compose.load import schema
from prefect_compose.load.yamlfile import Override, Reset

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])




def _full(svc: dict) -> None:
    def fail(p: str, message: str) -> None:
        raise InputError(message, file="f", path=p)

    for key, value in svc.items():
        if key in schema.SERVICE:
            schema.check(value, schema.SERVICE[key], f"s.{key}", fail)
        elif not (isinstance(key, str) and key.startswith("x-")):
            fail(f"s.{key}", "unknown")


def _nested_keys(spec: Any, out: set[str]) -> None:
    for option in spec if isinstance(spec, tuple) else (spec,):
        if isinstance(option, schema.Map):
            for k, sub in (option.keys or {}).items():
                if k not in out:
                    out.add(k)
                    _nested_keys(sub, out)
            if option.values is not None:
                _nested_keys(option.values, out)
        elif isinstance(option, schema.Seq):
            for item in option.items:
                _nested_keys(item, out)


NESTED: set[str] = set()
for _spec in schema.SERVICE.values():
    _nested_keys(_spec, NESTED)
KEYS = sorted(schema.SERVICE) + sorted(NESTED) + ["x-a", "bogus", 1]

leaves = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
                   st.sampled_from(["", "x", "1s", "1m30s", "5", "bad", "CMD"]),
                   st.builds(Reset), st.builds(Override, st.sampled_from(["x", "1s", 3])))
values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
                            st.builds(Override, st.lists(inner, max_size=2))),
    max_leaves=12)
KIND_VALUES = {schema.S: st.sampled_from(["x", "", "1s"]), schema.B: st.booleans(),
               schema.I: st.integers(-3, 3), schema.N: st.floats(-2, 2), schema.NULL: st.none()}


def from_spec(spec: Any, depth: int = 0) -> st.SearchStrategy:
    """Values shaped after ``spec`` (so most pass), now and then anything at all."""
    if depth > 4:
        return leaves
    options = []
    for option in spec if isinstance(spec, tuple) else (spec,):
        if isinstance(option, schema.Duration):
            options.append(st.sampled_from(["1s", "1m30s", "0", "bad", 5, None]))
        elif isinstance(option, str):
            options.append(KIND_VALUES[option])
        elif isinstance(option, schema.Seq):
            item = option.items if len(option.items) > 1 else option.items[0]
            options.append(st.lists(from_spec(item, depth + 1), max_size=3))
        elif isinstance(option, schema.Map) and option.keys is not None:
            options.append(st.lists(st.sampled_from(sorted(option.keys)), max_size=3,
                                    unique=True).flatmap(lambda keys, o=option: (
                st.fixed_dictionaries({k: from_spec(o.keys[k], depth + 1) for k in keys}))))
        elif isinstance(option, schema.Map):
            inner = from_spec(option.values, depth + 1) if option.values is not None else leaves
            options.append(st.dictionaries(st.sampled_from(["a", "b", "x-c"]), inner,
                                           max_size=3))
    return st.one_of(*options * 5, values)  # mostly shaped, now and then not


shaped = st.lists(st.sampled_from(sorted(schema.SERVICE)), max_size=3, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({k: from_spec(schema.SERVICE[k]) for k in keys}))
services = st.one_of(
    st.dictionaries(st.sampled_from(sorted(schema.SERVICE) + ["x-a", "bogus"]), values,
                    max_size=5), shaped, shaped, shaped)


@SETTINGS
@given(services)
def test_a_service_the_predicate_accepts_passes_the_full_check(svc):
    if schema._service_ok(svc):
        _full(svc)  # raises if the predicate was wrong


@SETTINGS
@given(st.sampled_from(sorted(schema.TOP_LEVEL)), values)
def test_a_top_level_section_the_predicate_accepts_passes_the_full_check(key, value):
    if schema._valid(schema.TOP_LEVEL[key])(value):
        schema.check(value, schema.TOP_LEVEL[key], key,
                     lambda p, m: pytest.fail(f"{p}: {m}"))


def test_the_benchmark_services_take_the_compiled_path():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from compile import generate

    for svc in generate(30)["services"].values():
        assert schema._service_ok(svc)


@pytest.mark.parametrize("svc", [
    {"image": 1}, {"ports": [{"bogus": 1}]}, {"healthcheck": {"interval": "5"}},
    {"depends_on": {"db": {"condition": 1}}}, {"nope": 1}, {1: "x"},
    {"volumes": [{"type": "bind", "bind": {"propagation": []}}]},
    {"image": Override(Override("x"))}, {"image": Override(Reset())},
    {"healthcheck": {"interval": Override(Override("1s"))}}, {"scale": True},
])
def test_the_predicate_refuses_what_the_full_check_refuses(svc):
    assert not schema._service_ok(svc)
    with pytest.raises(InputError):
        schema.check_service(svc, "f", "s", lambda m: None)
