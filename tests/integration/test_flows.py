"""The Prefect entry points in flows/ (what `prefect deployment run 'compose-run/...'` and
'compose-exec/...' execute), run as real flow runs against the session's Prefect server and
the real engine: the exit code comes back in the flow run's state."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path

import pytest
from prefect_fixtures import logs_of

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "tests" / "integration" / "scenarios" / "oneoff"


def _flow(name: str, attr: str):
    spec = importlib.util.spec_from_file_location(f"flows_{name}", ROOT / "flows" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return getattr(module, attr)


@pytest.fixture(scope="module")
def deployed(request, pc, docker_client, busybox_image, prefect_server) -> str:
    project = f"pc-test-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, project))
    r = pc.run_cli("up", "oneoff", project)
    assert r.rc == 0, r.show()
    return project


def test_the_run_flow_must_end_failed_with_the_exit_code_and_remove_its_container(
        deployed, pc, docker_client):
    compose_run = _flow("run", "compose_run")
    state = compose_run(service="job", command=["sh", "-c", "echo flow-run-output; exit 3"],
                        project_dir=str(SCENARIO), project_name=deployed, return_state=True)
    assert state.is_failed() and "exit code 3" in state.message
    logs = " ".join(logs_of(state.state_details.flow_run_id, contains="flow-run-output"))
    assert "flow-run-output" in logs
    oneoffs = [c for c in pc.containers_of(docker_client, deployed)
               if c["Config"]["Labels"].get(pc.LABEL_ONEOFF) == "True"]
    assert oneoffs == []


def test_the_run_flow_must_complete_for_exit_code_0(deployed):
    compose_run = _flow("run", "compose_run")
    state = compose_run(service="job", command=["true"], project_dir=str(SCENARIO),
                        project_name=deployed, return_state=True)
    assert state.is_completed() and "exit code 0" in state.message


def test_the_exec_flow_must_return_the_exit_code_of_the_command_in_the_running_container(
        deployed):
    compose_exec = _flow("exec", "compose_exec")
    ok = compose_exec(service="web", command=["sh", "-c", "test \"$WEB_ROLE\" = frontend"],
                      project_dir=str(SCENARIO), project_name=deployed, return_state=True)
    assert ok.is_completed(), ok.message
    bad = compose_exec(service="web", command=["sh", "-c", "exit 4"],
                       project_dir=str(SCENARIO), project_name=deployed, return_state=True)
    assert bad.is_failed() and "exit code 4" in bad.message
    gone = compose_exec(service="job", command=["true"], project_dir=str(SCENARIO),
                        project_name=deployed, return_state=True)
    assert gone.is_failed() and "not running" in gone.message
