"""`up` creates the direct run's flow run on a thread while it connects to the engine
(run/opening.py): the requests that name the server, check the tag limits and create the
flow run are off the path. When the engine cannot be reached, or `up` is interrupted before
the deployment begins, a flow run already created ends Failed (Cancelled), saying why. Pure
logic: the REST client is a list, the engine a function."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from prefect_compose.cli.main import build_parser
from prefect_compose.run import opening
from prefect_compose.run.rest import RestError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "release"


class _Rest:
    """The requests an opening makes, in order; ``refuse`` makes POST /flow_runs/ fail."""

    created = threading.Event()
    calls: list[tuple[str, str, object]] = []
    refuse = False

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url

    def call(self, method: str, path: str, body=None):
        type(self).calls.append((method, path, body))
        if path == "/flow_runs/" and method == "POST":
            if type(self).refuse:
                raise RestError("503 from the server")
            type(self).created.set()
            return {"id": "run-1"}
        return {"id": "flow-1"} if path == "/flows/" else []

    def flow_id(self, name: str) -> str:
        return self.call("POST", "/flows/", {"name": name})["id"]

    def close(self) -> None:
        pass


@pytest.fixture
def rest(monkeypatch):
    _Rest.created = threading.Event()
    _Rest.calls = []
    _Rest.refuse = False
    monkeypatch.setattr(opening, "PrefectRest", _Rest)
    monkeypatch.setattr(opening, "paged", lambda r, path: iter(r.call("POST", path)))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.delenv("PREFECT_COMPOSE_ENGINE", raising=False)
    monkeypatch.delenv("PREFECT_COMPOSE_SERVER", raising=False)
    monkeypatch.chdir(EXAMPLE)
    return _Rest


def _up_with_engine(monkeypatch, engine) -> None:
    from prefect_compose.cli import commands

    monkeypatch.setattr(commands, "_engine", engine)
    args = build_parser().parse_args(["-p", "opening", "up"])
    commands.cmd_up(args)


def _final_state(rest) -> dict | None:
    states = [b["state"] for m, p, b in rest.calls if p.endswith("/set_state")]
    assert len(states) <= 1, states
    return states[0] if states else None


def test_the_flow_run_must_be_created_while_the_engine_is_reached(monkeypatch, rest):
    """Before, the flow run was created after the engine answered: the engine's connection
    here would wait its 5 s for nothing. The engine fails: the flow run says so."""
    from prefect_compose.errors import EngineUnavailable

    seen = []

    def engine():
        seen.append(rest.created.wait(5.0))
        raise EngineUnavailable("Docker engine unreachable at unix:///nowhere.sock")

    with pytest.raises(EngineUnavailable):
        _up_with_engine(monkeypatch, engine)
    assert seen == [True]
    created = [b for m, p, b in rest.calls if p == "/flow_runs/"]
    assert created[0]["name"] == "opening" and created[0]["state"]["type"] == "RUNNING"
    state = _final_state(rest)
    assert state["type"] == "FAILED"
    assert "deployment opening failed" in state["message"]
    assert "unreachable at unix:///nowhere.sock" in state["message"]


def test_an_up_interrupted_before_the_engine_answers_must_cancel_its_flow_run(monkeypatch,
                                                                            rest):
    def engine():
        rest.created.wait(5.0)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _up_with_engine(monkeypatch, engine)
    state = _final_state(rest)
    assert state["type"] == "CANCELLED" and state["message"] == "deployment opening interrupted"


def test_a_flow_run_the_server_refuses_must_leave_nothing_to_end(monkeypatch, rest):
    """The server does not take it: the flow path runs, as before; nothing to end."""
    from prefect_compose.errors import EngineUnavailable

    rest.refuse = True

    def engine():
        raise EngineUnavailable("Docker engine unreachable")

    with pytest.raises(EngineUnavailable):
        _up_with_engine(monkeypatch, engine)
    assert _final_state(rest) is None


def test_an_opening_must_create_nothing_without_a_server_or_when_the_flow_must_run(rest,
                                                                                   monkeypatch):
    from prefect_compose.project import ProjectOptions, load_and_compile

    plan = load_and_compile(ProjectOptions(files=[str(EXAMPLE / "compose.yaml")]))[1]
    none = opening.Opening(lambda: None, False, plan, "p", {}, []).join()
    assert (none.api, none.flow, none.flow_run_id) == (None, False, None)
    verbose = opening.Opening(lambda: "http://127.0.0.1:9/api", True, plan, "p", {}, []).join()
    assert (verbose.flow, verbose.flow_run_id) == (True, None)
    assert rest.calls == []  # --verbose: not even the limits are asked
    direct = opening.Opening(lambda: "http://127.0.0.1:9/api", False, plan, "p", {"a": 1},
                             ["project:p"]).join()
    assert (direct.flow, direct.flow_run_id, direct.flow_id) == (False, "run-1", "flow-1")
    assert direct.take() == "run-1"
    direct.abandon(RuntimeError("after the hand-over"))  # taken: whoever took it ends it
    assert _final_state(rest) is None


def test_an_error_on_the_openings_thread_must_be_raised_by_join(rest):
    def find():
        raise ValueError("no home")

    with pytest.raises(ValueError, match="no home"):
        opening.Opening(find, False, None, "p", {}, []).join()
