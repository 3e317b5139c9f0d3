"""The YAML stage's two paths (load/yamlfile.py): the fast one, built from libyaml's events,
must give exactly the objects of the exact one (node graph) or give up, for any document;
`parse_yaml` must take the exact one's answer whenever the fast one gives up."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefect_compose.errors import InputError
from prefect_compose.load import yamlfile
from prefect_compose.load.yamlfile import Override, Reset, parse_yaml

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def shape(obj: Any, seen: dict[int, int] | None = None) -> Any:
    """A comparable picture of a parsed document: types, values, key order and which
    collections are one shared object (aliases)."""
    seen = {} if seen is None else seen
    if isinstance(obj, (dict, list)):
        if id(obj) in seen:
            return ("alias", seen[id(obj)])
        seen[id(obj)] = len(seen)
        if isinstance(obj, dict):
            return ("map", [(shape(k, seen), shape(v, seen)) for k, v in obj.items()])
        return ("seq", [shape(v, seen) for v in obj])
    if isinstance(obj, Reset):
        return ("reset",)
    if isinstance(obj, Override):
        return ("override", shape(obj.value, seen))
    if isinstance(obj, float) and math.isnan(obj):
        return ("nan",)
    return (type(obj).__name__, obj)


def exact(text: str) -> Any:
    try:
        return ("ok", shape(yamlfile._exact_parse(text, "f.yaml")))
    except InputError as exc:
        return ("error", str(exc))
    except Exception as exc:  # noqa: BLE001 - the exact path's behaviour, whatever it is
        return ("exception", type(exc).__name__)


def same_or_gives_up(text: str) -> None:
    try:
        fast = ("ok", shape(yamlfile._fast_parse(text)))
    except Exception:  # noqa: BLE001 - giving up is always allowed
        return
    assert fast == exact(text), text


TRICKY = [
    "a: &x 1\nb: &x 2\nc: *x\n",  # duplicate anchor
    "a: *nowhere\n",  # undefined alias
    "--- 1\n--- 2\n",  # two documents
    "", "# only a comment\n", "---\n",
    "a: ! 12\nb: !!str 3\nc: !!int 4\nd: ! '5'\ne: !!bool yes\nf: !!null x\n",
    "a: !foo 1\n", "a: !foo [1]\n", "!!map {a: 1}\n", "!!seq {a: 1}\n",
    "? [1]\n: 2\n", "? {a: 1}\n: 2\n",  # unhashable keys
    "1: a\ntrue: b\n", "1: a\n1.0: b\n", ".nan: 1\n.nan: 2\n",  # equal keys, and NaN
    "a: &a [*a]\n", "a: &a {b: *a}\n",  # recursive aliases
    "x: &m <<\ny:\n  *m : {a: 1}\n",  # an alias to `<<` as a key
    "a: &a {x: 1}\nb:\n  <<: *a\n  x: 2\n",
    "a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc: {<<: [*a, *b], z: 3}\nd: {<<: *a, <<: *b}\n",
    "a: &l [{x: 1}]\nb: {<<: *l}\n", "<<: [1]\n", "<<: 1\n", "<<: !foo [{a: 1}]\n",
    "<<: !override {a: 1}\n", "a: &r !reset [1]\nb: {<<: *r}\n",
    "!!merge x: {a: 1}\n", "a: '<<'\n'<<': 1\nb: <<\n",
    "a: !reset []\nb: !override [1, 2]\nd: !override text\ne: !reset null\n",
    "a: &r !reset [1]\nb: *r\nc: &o !override {k: v}\nd: *o\ne: &s !override t\nf: *s\n",
    "a: !reset {x: {x: 1, x: 2}}\n", "a: &r !reset {x: &in 1}\nb: *in\n",
    "a: !!float abc\n", "a: !!int x\n",
    "k: 0755\nl: 1_000\nm: 0x1F\nn: -.inf\no: 1e3\np: 22:22\nq: .NaN\nr: 0b2\ns: +12\n",
    "a: [" * 80 + "]" * 80 + "\n", "a: {b: " * 80 + "1" + "}" * 80 + "\n",
    "services:\n  web:\n\timage: busybox\n", "a: b: c\n", "a: 'x\n", "\x08",
    "a: {x: 1, x: 2}\n", "a: &a {x: 1}\nb: {<<: *a, y: 1, y: 2}\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_documents(text):
    same_or_gives_up(text)


REAL = sorted(p for d in ("tests", "examples") for p in (ROOT / d).rglob("*.y*ml"))


def test_every_yaml_file_of_the_repository_takes_the_fast_path_alike():
    fast_ok = 0
    for path in REAL:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        same_or_gives_up(text)
        try:
            yamlfile._fast_parse(text)
            fast_ok += 1
        except Exception:  # noqa: BLE001
            pass
    assert fast_ok > len(REAL) // 2  # the fast path is the one taken for real files


def test_the_benchmark_project_takes_the_fast_path():
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from compile import generate

    text = yaml.safe_dump(generate(50), sort_keys=False)
    assert shape(yamlfile._fast_parse(text)) == exact(text)[1]


@pytest.mark.parametrize("text", ["a: {x: 1, x: 2}\n", "a: !foo 1\n", "a: *nowhere\n",
                                  "--- 1\n--- 2\n", "a: &x 1\nb: &x 2\n"])
def test_when_the_fast_path_gives_up_the_exact_error_is_reported(text):
    with pytest.raises(InputError) as fast_err:
        parse_yaml(text, "f.yaml")
    with pytest.raises(InputError) as exact_err:
        yamlfile._exact_parse(text, "f.yaml")
    assert str(fast_err.value) == str(exact_err.value)
    assert fast_err.value.line == exact_err.value.line


scalars = st.one_of(
    st.sampled_from(["a", "<<", "~", "null", "", "true", "no", "0755", "1_0", "0x1F", "1e3",
                     ".inf", ".nan", "22:22", "'q'", '"q"', "!reset", "!override x",
                     "! 12", "!!str 1", "!!int 2"]),
    st.sampled_from(["!foo x", "&a 1", "*a", "&b x", "*b", "&m <<", "*m"]),  # may give up
    st.text(alphabet="ab1._", min_size=1, max_size=4))


def render(node: Any, indent: int = 0) -> str:
    """A block mapping (a tuple: tag/anchor prefix, pairs), a flow list or a scalar, as the
    text that follows `key:` (or a whole document at indent 0)."""
    if isinstance(node, tuple):
        prefix, items = node
        if not items:
            return f" {prefix}{{}}" if indent else f"{prefix}{{}}"
        pad = " " * indent
        body = "\n".join(f"{pad}{k}:{render(v, indent + 2)}" for k, v in items)
        return f" {prefix.strip()}\n{body}" if indent else (
            f"{prefix.strip()}\n{body}" if prefix else body)
    if isinstance(node, list):
        return " [" + ", ".join(flow(v) for v in node) + "]"
    return f" {node}" if indent else node


def flow(node: Any) -> str:
    if isinstance(node, tuple):
        prefix, items = node
        return prefix + "{" + ", ".join(f"{k}: {flow(v)}" for k, v in items) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(flow(v) for v in node) + "]"
    return node or "''"


nodes = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(st.sampled_from(["", "", "", "&c ", "!override ", "!reset ", "&d !override "]),
                  st.lists(st.tuples(scalars, inner), max_size=4))),
    max_leaves=20)


@SETTINGS
@given(nodes)
def test_any_generated_document(node):
    text = render(node) + "\n"
    same_or_gives_up(text)
    if isinstance(node, tuple) and node[1]:
        body = render(("&z " + node[0], node[1]), 2)
        same_or_gives_up(f"x:{body}\ny: *z\nw:\n  <<: *z\n  k: 1\n")


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list("ab:- \n{}[]&*!|>'\"#<~01.,?")), max_size=60))
def test_any_text(text):
    same_or_gives_up(text)
