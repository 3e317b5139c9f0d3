"""Safety (issue 7, SPEC "Safety"): a deployment never makes things worse. Against the real
engine and a real Prefect server, `up` run as a subprocess.

Scenario: ``scenarios/rollback/compose.yaml``: `web` (an httpd that serves its WEB_VERSION,
`cpus: WEB_CPUS`) and a job `check` after it (exits CHECK_EXIT after CHECK_SLEEP seconds).
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from safety_support import events_of

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(240)]

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "rollback"
V1 = "WEB_VERSION=1\nWEB_CPUS=0.5\nCHECK_EXIT=0\nCHECK_SLEEP=0\n"


@pytest.fixture
def where(tmp_path) -> Path:
    dest = tmp_path / "rollback"
    shutil.copytree(SCENARIO, dest)
    return dest


def serve(client, cid: str) -> tuple[int, str]:
    exec_id = client.api.exec_create(cid, ["wget", "-q", "-O", "-",
                                           "http://127.0.0.1:8080/"])["Id"]
    out = client.api.exec_start(exec_id).decode().strip()
    return client.api.exec_inspect(exec_id)["ExitCode"], out


def webs(pc, client, project) -> list[dict]:
    return pc.by_service(pc.containers_of(client, project)).get("web", [])


def deploy_v1(up, where: Path, project: str, pc, client) -> dict:
    (where / ".env").write_text(V1)
    r = up(where, project)
    assert r.rc == 0, r.show()
    [web] = webs(pc, client, project)
    assert web["State"]["Running"] and serve(client, web["Id"]) == (0, "web-1")
    return web


def assert_v1_serves(pc, client, project, v1: dict) -> None:
    """web is the v1 container again: same id, same name, running, serving web-1, alone."""
    [web] = webs(pc, client, project)
    assert web["Id"] == v1["Id"], "web must be the same container as before"
    assert web["Name"] == v1["Name"] and web["State"]["Running"], web["State"]
    assert serve(client, web["Id"]) == (0, "web-1")


def summary_rows(pc, flow_run_id) -> tuple[dict, str]:
    table = next(a for a in pc.artifacts_of(flow_run_id) if a.type == "table")
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    from prefect_compose.run.milestones import without_icon

    return ({row["step"]: {**row, "outcome": without_icon(str(row.get("outcome", "")))}
             for row in rows}, table.description or "")


def test_a_redeploy_whose_new_container_the_engine_refuses_must_keep_the_old_serving(
        up, project, where, docker_client, pc):
    """v2 asks for `cpus: 64` on this 2-CPU host: the engine refuses the new web, so the old
    web must keep serving (same id, running), and `up` must exit 1 with a Failed run naming
    the engine's reason."""
    v1 = deploy_v1(up, where, project, pc, docker_client)
    (where / ".env").write_text(V1.replace("WEB_CPUS=0.5", "WEB_CPUS=64")
                                .replace("WEB_VERSION=1", "WEB_VERSION=2"))
    r = up(where, project)
    assert r.rc == 1, r.show()
    assert_v1_serves(pc, docker_client, project, v1)
    assert "CPUs" in r.stderr, r.stderr
    fr = pc.flow_run_of(project, count=2)
    assert fr.state.is_failed() and "CPUs" in fr.state.message, fr.state
    states = {n: t.state.name for n, t in pc.task_runs_by_name(fr.id).items()}
    assert states["web"] == "Failed" and states["check"] != "Completed", states


def assert_rolled_back_event(fr, project: str, reason: str) -> None:
    """The `prefect-compose.deployment.rolled-back` event of the run, read back through the
    Prefect client: it names the project, the flow run and the services put back."""
    [event] = events_of(fr.id, "prefect-compose.deployment.rolled-back")
    assert event.resource.id == f"prefect-compose.project.{project}", event.resource
    assert event.payload["project"] == project and event.payload["services"] == ["web"]
    assert event.payload["flow_run_id"] == str(fr.id) and event.payload["reason"] == reason
    [related] = [r for r in event.related if r.role == "flow-run"]
    assert related.id == f"prefect.flow-run.{fr.id}" and related.name == fr.name, related


def test_a_release_whose_later_job_fails_must_roll_web_back_to_the_same_container(
        up, project, where, docker_client, pc):
    """v1 up; v2 changes web and then its job fails: web must be v1 again (the same
    container, running, serving web-1), the summary artifact and the terminal must name the
    rollback, a "rolled back" Prefect event must name the project and the flow run, and `up`
    must exit 1."""
    v1 = deploy_v1(up, where, project, pc, docker_client)
    (where / ".env").write_text(V1.replace("WEB_VERSION=1", "WEB_VERSION=2")
                                .replace("CHECK_EXIT=0", "CHECK_EXIT=1"))
    r = up(where, project)
    assert r.rc == 1, r.show()
    assert "check | check-started" in r.stdout  # web v2 was up: the job ran after it
    assert_v1_serves(pc, docker_client, project, v1)
    assert "rolled back" in r.stderr, r.stderr
    fr = pc.flow_run_of(project, count=2)
    assert fr.state.is_failed() and "rolled back web" in fr.state.message, fr.state.message
    rows, description = summary_rows(pc, fr.id)
    assert rows["web"]["outcome"] == "rolled back", rows
    assert rows["check"]["outcome"] == "failed" and rows["check"]["exit_code"] == 1
    assert "rolled back" in description and "web" in description, description
    assert_rolled_back_event(fr, project, "check failed")


@pytest.mark.parametrize("how", ["--no-rollback", "x-prefect.rollback: false"])
def test_with_no_rollback_a_failed_release_must_keep_the_new_web(
        up, project, where, docker_client, pc, how):
    """`up --no-rollback`, or `x-prefect: {rollback: false}` in the file: the same failed
    release must leave the new web (v2) running and the old one removed."""
    args: tuple[str, ...] = ("--no-rollback",)
    if how.startswith("x-prefect"):
        compose = where / "compose.yaml"
        compose.write_text(compose.read_text() + "x-prefect:\n  rollback: false\n")
        args = ()
    v1 = deploy_v1(up, where, project, pc, docker_client)
    (where / ".env").write_text(V1.replace("WEB_VERSION=1", "WEB_VERSION=2")
                                .replace("CHECK_EXIT=0", "CHECK_EXIT=1"))
    r = up(where, project, *args)
    assert r.rc == 1, r.show()
    [web] = webs(pc, docker_client, project)
    assert web["Id"] != v1["Id"] and web["State"]["Running"]
    assert serve(docker_client, web["Id"]) == (0, "web-2")
    assert "rolled back" not in r.stderr
    rows, _ = summary_rows(pc, pc.flow_run_of(project, count=2).id)
    assert rows["web"]["outcome"] == "recreated", rows


_BROKEN_STEP = textwrap.dedent("""\
    import sys

    import prefect_compose.run.jobs as jobs

    real = jobs.build_spec

    def broken(project, svc, **kw):  # a bug in a step: not one of our errors
        if svc.name == "check":
            raise ValueError("injected bug in the check step")
        return real(project, svc, **kw)

    jobs.build_spec = broken
    from prefect_compose.cli.main import main

    sys.exit(main(sys.argv[1:]))
    """)


def test_an_unexpected_exception_in_a_step_must_fail_the_run_and_exit_1(
        prefect_server, busybox_image, project, where, tmp_path, pc):
    """A ValueError raised inside a step (a bug, not a ComposeError) must fail that step,
    abort the deployment, end the flow run Failed naming it, and `up` must exit 1."""
    import subprocess

    (where / ".env").write_text(V1)
    script = tmp_path / "broken_up.py"
    script.write_text(_BROKEN_STEP)
    proc = subprocess.run([sys.executable, str(script), "up", "-p", project], cwd=where,
                          env=pc.cli_env(), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1, f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    fr = pc.flow_run_of(project, count=1)
    assert fr.state.is_failed(), fr.state
    assert "ValueError" in fr.state.message and "injected bug" in fr.state.message
    states = {n: t.state.name for n, t in pc.task_runs_by_name(fr.id).items()}
    assert states["check"] == "Failed", states


def _cancel_in_prefect(pc, project: str) -> None:
    """What the UI's Cancel does: the latest flow run of the project set Cancelling."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelling

    run = pc.flow_runs_of(project)[-1]
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.id, Cancelling(), force=True)


@pytest.mark.parametrize("how", ["sigint", "sigterm", "cancel"])
def test_an_interrupted_redeploy_must_restore_the_old_container(
        up, project, where, docker_client, pc, watch, how):
    """Ctrl-C, SIGTERM, or Cancel in Prefect while the v2 release's job runs (web already
    replaced) must put the v1 web back (same container, running), leave no job container,
    emit the rolled-back event, and end the run Cancelled (`up` exits 130 on a signal)."""
    v1 = deploy_v1(up, where, project, pc, docker_client)
    (where / ".env").write_text(V1.replace("WEB_VERSION=1", "WEB_VERSION=2")
                                .replace("CHECK_SLEEP=0", "CHECK_SLEEP=60"))
    w = watch(project)
    proc = pc.popen_cli("up", where, project)
    try:
        w.wait_for(lambda s: s.service == "check" and "running" in s.states, timeout=90,
                   message="the v2 check job running")
        if how == "cancel":
            _cancel_in_prefect(pc, project)
        else:
            proc.send_signal(signal.SIGINT if how == "sigint" else signal.SIGTERM)
        out, err = proc.communicate(timeout=90)
    except BaseException:
        proc.kill()
        proc.communicate(timeout=10)
        raise
    w.stop()
    if how == "cancel":
        assert proc.returncode != 0, f"rc={proc.returncode}\n{out}\n{err}"
    else:
        assert proc.returncode == 130, f"rc={proc.returncode}\n{out}\n{err}"
    assert_v1_serves(pc, docker_client, project, v1)
    assert not pc.by_service(pc.containers_of(docker_client, project)).get("check")
    assert "rolled back" in err, err
    assert len(w.of("web")) == 2, "the v2 web did exist while the job ran"
    fr = pc.flow_run_of(project, count=2)
    assert fr.state.is_cancelled(), fr.state
    assert_rolled_back_event(fr, project, "cancelled")
