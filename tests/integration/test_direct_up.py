"""The CLI's `up` with Prefect off the critical path (run/direct.py) must deploy and record
exactly what the `compose-up` flow does, without importing prefect.

Each test runs a real `prefect-compose up` against the session's Prefect server and a real
engine, once as the CLI does by default (direct) and, where the two are compared, once with
`PREFECT_COMPOSE_ENGINE=prefect` (the flow in process), and reads both back from the API."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "release"

_PROBE = """
import atexit, json, sys
out = sys.argv[1]
def _dump():
    with open(out, "w") as f:
        json.dump(sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect.")), f)
atexit.register(_dump)
from prefect_compose.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def _modules_after_up(pc, tmp_path: Path, project: str, env: dict[str, str] | None = None):
    out = tmp_path / f"modules-{project}.json"
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(out), "up", "-p", project],
                          cwd=EXAMPLE, env=pc.cli_env(env), capture_output=True, text=True,
                          timeout=180)
    return proc, json.loads(out.read_text())


def test_cli_up_with_a_server_must_import_no_prefect(pc, prefect_server, busybox_image,
                                                     docker_client, tmp_path, request):
    project = f"direct-{request.node.name[-6:].lower()}-{int(time.time()) % 100000}"
    try:
        proc, modules = _modules_after_up(pc, tmp_path, project)
        assert proc.returncode == 0, proc.stderr
        assert modules == [], modules[:10]
        run = pc.flow_run_of(project, count=1)
        assert run.state.name == "Completed"
        # the flow path imports it: the probe would see it (the test is not vacuous)
        proc, modules = _modules_after_up(pc, tmp_path, project,
                                          {"PREFECT_COMPOSE_ENGINE": "prefect"})
        assert proc.returncode == 0, proc.stderr
        assert "prefect" in modules
    finally:
        pc.cleanup_project(docker_client, project)


SCENARIOS = {"release": (EXAMPLE, 0, 6),  # (directory, exit code, steps)
             "failing": (Path(__file__).parent / "scenarios" / "job_failure", 1, 4)}


def _record(pc, project: str, steps: int) -> dict:
    """What Prefect holds about the project's latest flow run, without ids or times."""
    run = pc.flow_run_of(project)
    deadline = time.monotonic() + 30
    while True:  # task runs reach the store from their state events, asynchronously
        trs = pc.task_runs_by_name(run.id)
        if len(trs) == steps and all(t.state and t.state.is_final() for t in trs.values()):
            break
        assert time.monotonic() < deadline, {n: t.state for n, t in trs.items()}
        time.sleep(0.3)
    names = {str(t.id): n for n, t in trs.items()}
    return {
        "flow": (run.name, run.state.type.value, run.state.name, sorted(run.tags)),
        "parameters": sorted(run.parameters),
        "tasks": {n: (t.state.type.value, t.state.name, sorted(t.tags),
                      sorted(names.get(str(i.id), "?") for i in t.task_inputs.get("wait_for", [])),
                      t.start_time is not None, t.end_time is not None)
                  for n, t in trs.items()},
        "artifacts": sorted((a.key, a.type) for a in pc.artifacts_of(run.id)),
    }


@pytest.mark.parametrize("scenario", ["release", "failing"])
def test_direct_up_must_record_what_the_flow_records(pc, prefect_server, busybox_image,
                                                     docker_client, tmp_path, scenario):
    """Same flow run (name, final state, tags, parameters), same task runs (names, states,
    tags, upstream edges, start and end), same artifacts, for a deployment that succeeds
    and for one whose job fails."""
    records = {}
    where, code, steps = SCENARIOS[scenario]
    for engine in ("direct", "prefect"):
        project = f"same-{scenario}-{engine}-{int(time.time()) % 100000}"
        try:
            res = pc.run_cli("up", where, project, env={"PREFECT_COMPOSE_ENGINE": engine},
                             timeout=180)
            assert res.rc == code, res.show()
            rec = _record(pc, project, steps)
            rec["flow"] = (rec["flow"][0].replace(project, "P"),) + rec["flow"][1:]
            rec["flow"] = rec["flow"][:3] + ([t.replace(project, "P") for t in rec["flow"][3]],)
            rec["tasks"] = {n: v[:2] + ([t.replace(project, "P") for t in v[2]],) + v[3:]
                            for n, v in rec["tasks"].items()}
            rec["artifacts"] = [(k.replace(project, "p"), t) for k, t in rec["artifacts"]]
            records[engine] = rec
        finally:
            pc.cleanup_project(docker_client, project)
    assert records["direct"] == records["prefect"]
    if scenario == "failing":
        assert records["direct"]["flow"][2] == "Failed"
        assert records["direct"]["tasks"]["fail"][1] == "Failed"


def test_direct_up_must_send_container_output_to_the_task_run_logs(
        pc, prefect_server, busybox_image, docker_client):
    from prefect_fixtures import logs_of

    project = f"direct-logs-{int(time.time()) % 100000}"
    try:
        res = pc.run_cli("up", EXAMPLE, project, timeout=180)
        assert res.rc == 0, res.show()
        run = pc.flow_run_of(project)
        logs = logs_of(run.id, contains="migration done", records=True)
        assert logs, "the job's output is not in the run's logs"
        migrate = pc.task_runs_by_name(run.id)["migrate"]
        assert any(str(rec.task_run_id) == str(migrate.id) for rec in logs)
    finally:
        pc.cleanup_project(docker_client, project)


def test_an_unchanged_redeploy_must_record_each_kept_service_with_one_state(
        pc, prefect_server, busybox_image, docker_client):
    """A service left running is recorded with its end state only (Completed, "unchanged",
    with a start and an end; a Prefect server spends about 10 ms of CPU on each state
    event), and with no "up to date" log line; the steps that act keep every state. The
    final states, tags, edges and times are still the flow's for the same redeploy."""
    from prefect.client.orchestration import get_client

    from prefect_fixtures import logs_of

    records = {}
    for engine in ("direct", "prefect"):
        project = f"kept-{engine}-{int(time.time()) % 100000}"
        try:
            for _ in range(2):
                res = pc.run_cli("up", EXAMPLE, project,
                                 env={"PREFECT_COMPOSE_ENGINE": engine}, timeout=180)
                assert res.rc == 0, res.show()
            rec = _record(pc, project, 6)
            records[engine] = {n: v[:2] + v[3:] for n, v in rec["tasks"].items()}
            if engine != "direct":
                continue
            run = pc.flow_run_of(project)
            trs = pc.task_runs_by_name(run.id)
            with get_client(sync_client=True) as client:
                states = {n: [(s.type.value, s.name, s.message)
                              for s in client.read_task_run_states(t.id)]
                          for n, t in trs.items()}
            assert states["db"] == [("COMPLETED", "Completed", "db: unchanged")], states
            assert states["web"] == [("COMPLETED", "Completed", "web: unchanged")], states
            assert [s[0] for s in states["migrate"]] == ["PENDING", "RUNNING", "COMPLETED"]
            health = next(n for n in states if n.startswith("db") and n != "db")
            assert [s[0] for s in states[health]] == ["PENDING", "RUNNING", "COMPLETED"]
            logs = logs_of(run.id, contains="keep (up to date)")
            assert any("db: keep (up to date)" in m for m in logs), logs
            assert not any("is up to date" in m for m in logs), logs
        finally:
            pc.cleanup_project(docker_client, project)
    assert records["direct"] == records["prefect"]


class _BreakingPrefect:
    """A Prefect API that creates the flow run, then fails every other call (HTTP 503): a
    server that goes away mid-deployment. Loopback, a free port, stopped by the test."""

    def __init__(self) -> None:
        import http.server
        import threading
        import uuid

        calls: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_any(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                calls.append(f"{self.command} {self.path}")
                if self.path in ("/api/flows/", "/api/flow_runs/"):
                    body = json.dumps({"id": str(uuid.uuid4())}).encode()
                elif self.path.endswith("concurrency_limits/filter"):
                    body = b"[]"
                else:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_any

        self.calls = calls
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_prefect_server_failing_mid_run_must_not_fail_the_deployment(
        pc, busybox_image, docker_client):
    """Reporting is never the deployment: every record refused after the flow run's creation,
    `up` still deploys (exit 0, the services running), and says once that it could not
    report."""
    server = _BreakingPrefect()
    project = f"direct-broken-{int(time.time()) % 100000}"
    try:
        res = pc.run_cli("up", EXAMPLE, project, env={"PREFECT_API_URL": server.url},
                         timeout=180)
        assert res.rc == 0, res.show()
        assert res.stderr.count("could not report to Prefect") == 1, res.stderr
        running = {c["Config"]["Labels"]["com.docker.compose.service"]
                   for c in pc.containers_of(docker_client, project, all=False)}
        assert running == {"db", "web"}, running
        assert any(c.startswith("POST /api/events") for c in server.calls), server.calls
    finally:
        server.stop()
        pc.cleanup_project(docker_client, project)


def test_an_up_that_cannot_reach_the_engine_must_end_its_flow_run_failed(pc, prefect_server,
                                                                        tmp_path):
    """The flow run is created while the engine is being reached (run/opening.py): when the
    engine does not answer, `up` exits 1 as before and its flow run says why, Failed, with
    no task run in it."""
    project = f"noengine-{int(time.time()) % 100000}"
    sock = tmp_path / "no-engine.sock"
    res = pc.run_cli("up", EXAMPLE, project, env={"DOCKER_HOST": f"unix://{sock}"},
                     timeout=120)
    assert res.rc == 1, res.show()
    assert "unreachable" in res.stderr, res.show()
    run = pc.flow_run_of(project, count=1)
    assert run.state.name == "Failed", run.state
    assert f"deployment {project} failed" in run.state.message
    assert str(sock) in run.state.message
    assert pc.task_runs_by_name(run.id) == {}
