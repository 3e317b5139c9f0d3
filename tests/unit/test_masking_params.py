"""Flow run parameters never hold environment values: the run/exec flows take names."""

from __future__ import annotations

import inspect
import typing

import pytest

from prefect_compose import masking
from prefect_compose.errors import InputError
from prefect_compose.run.oneoff import env_from_names


def test_env_names_must_be_read_from_the_workers_environment():
    env = env_from_names(["A_SETTING", "UNSET_ONE"], {"A_SETTING": "on", "OTHER": "x"})
    assert env == {"A_SETTING": "on"}


def test_a_name_value_pair_must_be_refused_naming_the_variable_but_not_the_value():
    with pytest.raises(InputError) as exc:
        env_from_names(["DB_PASSWORD=Never-shown-1234"], {})
    assert "DB_PASSWORD" in str(exc.value) and "Never-shown-1234" not in str(exc.value)


def test_values_of_secret_looking_names_read_for_a_flow_must_be_masked():
    env_from_names(["WORKER_TOKEN"], {"WORKER_TOKEN": "Worker-token-8765"})
    assert "Worker-token-8765" not in masking.mask("echo Worker-token-8765")


@pytest.mark.parametrize("module, attr", [("run", "compose_run"), ("exec", "compose_exec")])
def test_the_run_and_exec_flows_must_take_env_as_a_list_of_names(module, attr):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "flows" / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"flows_{module}_params", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fn = getattr(mod, attr).fn
    hints = typing.get_type_hints(inspect.unwrap(fn))
    assert hints["env"] == list[str] | None
    assert "env" in getattr(mod, attr).parameters.properties
