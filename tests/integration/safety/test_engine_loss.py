"""Losing the engine mid-run (SPEC "Safety": faults are named, and a re-run converges).

`up` talks to the real engine through tests/integration/safety/engine_proxy.py, a unix
socket the test cuts while the deployment's job runs: every open stream ends and new
connections are refused, as a client sees a daemon that died. The run must end with its steps
Failed or Crashed and a cause naming the engine, `up` must exit 1; once the engine answers
again, `up` must converge: the dead run's job reaped (and said), its lock taken over, one web
running.

(The issue names a second `dockerd` as one way to lose an engine; on this shared machine a
second daemon's bridge handling broke the main engine's network twice, so the loss is made
on the client's side of the socket instead, which is what `up` sees either way.)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from engine_proxy import EngineProxy
from safety_support import Proc, running_job

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(420)]


def engine_socket() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    assert host.startswith("unix://"), f"the proxy forwards to a unix socket, not {host}"
    return host[len("unix://"):]


@pytest.fixture
def proxy():
    root = Path(tempfile.mkdtemp(prefix="pc-eng-", dir="/tmp"))  # a short socket path
    try:
        with EngineProxy(root / "engine.sock", engine_socket()) as p:
            yield p
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_an_engine_lost_mid_run_must_fail_up_naming_it_and_a_rerun_must_converge(
        pc, docker_client, project, prefect_server, proxy):
    proc = Proc(pc, "up", "hold", project, env={"HOLD": "1", "DOCKER_HOST": proxy.url})
    try:
        job = running_job(docker_client, pc, project, "job")
        proxy.cut()
        result = proc.result(timeout=300)
    finally:
        proc.stop()
    assert result.rc == 1, result.show()
    assert "Traceback" not in result.stderr, result.stderr
    assert proxy.url in result.stderr and "unreachable" in result.stderr, result.stderr
    fr = pc.flow_run_of(project, count=1)
    assert fr.state.is_failed() or fr.state.is_crashed(), fr.state
    states = {n: t.state for n, t in pc.task_runs_by_name(fr.id).items()}
    assert states["job"].is_failed() or states["job"].is_crashed(), states
    assert proxy.url in (states["job"].message or "") + (fr.state.message or ""), (
        states["job"].message, fr.state.message)

    proxy.restore()
    again = pc.run_cli("up", Proc.scenario("hold"), project, env={"DOCKER_HOST": proxy.url})
    assert again.rc == 0, again.show()
    assert f"removed leftover job container {job['Name'].lstrip('/')}" in again.stderr
    assert "took over the lock" in again.stderr, again.stderr
    services = pc.by_service(pc.containers_of(docker_client, project))
    [web] = services["web"]
    assert web["State"]["Running"], web["State"]
    assert not [j for j in services.get("job", []) if j["State"]["Running"]]
