"""The kept local Prefect server (`prefect-compose server start|stop|status`) for real, and the
session fixture every Prefect integration test shares.

Each start of a Prefect server costs 10-50 s here, so this module does one start/stop cycle of
its own; the flow test uses the session's server (`prefect_server`).
Timings are printed as ``[latency] ...`` lines (run with ``-s`` to see them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prefect import flow, get_run_logger, task  # before the fixture runs, on purpose

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for prefect_fixtures

from prefect_fixtures import (  # noqa: E402
    db_cache_dir,
    logs_of,
    prefect_server,  # noqa: F401 - the session fixture (shared with conftest's, one server)
    read_flow_run,
    start_test_server,
    task_run_states,
    task_runs_of,
)

from prefect_compose.cli import server  # noqa: E402

pytestmark = [pytest.mark.prefect, pytest.mark.timeout(300)]


def latency(what: str, seconds: float) -> None:
    print(f"[latency] {what}: {seconds * 1000:.0f} ms")


def health(url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{url}/health", timeout=5) as resp:
        assert resp.status == 200
        return resp.read().strip()


def port_free(port: int) -> bool:
    """Nothing listens, and a new server could bind it (with SO_REUSEADDR, as uvicorn does:
    the closed connections' TIME_WAIT entries remain for a minute)."""
    import socket

    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60)


CONFIGURE = """
import json, os, sys, time
t = time.monotonic()
from prefect_compose.cli import server
url = server.configure_environment()
print(json.dumps({"url": url, "home": os.environ.get("PREFECT_HOME"),
                  "prefect_imported": "prefect" in sys.modules,
                  "seconds": time.monotonic() - t}))
"""


def test_server_start_status_stop_cycle(tmp_path, monkeypatch, request):
    """Start must answer /api/health, be idempotent, be found by status and by every
    command's configure_environment; stop must leave no process and a free port behind."""
    home = tmp_path / "home"
    monkeypatch.setenv("PREFECT_COMPOSE_HOME", str(home))
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    child_env.update(PREFECT_COMPOSE_HOME=str(home), HOME=str(tmp_path))  # no user profile

    t0 = time.monotonic()
    info = start_test_server(home, db_cache_dir(request.config))
    latency("server start", time.monotonic() - t0)
    try:
        assert info.home == home.resolve()
        assert info.url == f"http://127.0.0.1:{info.port}/api"
        assert info.ui_url == f"http://127.0.0.1:{info.port}"
        assert health(info.url) == b"true"
        state = json.loads((home / server.STATE_FILE).read_text())
        assert state["pid"] == info.pid and state["url"] == info.url
        assert (home / server.PID_FILE).read_text().strip() == str(info.pid)
        assert (home / "prefect.db").is_file(), "the SQLite DB lives in the home"

        assert server.status() == info
        t0 = time.monotonic()
        again = server.start(port=info.port)
        latency("start when already running", time.monotonic() - t0)
        assert again.pid == info.pid and again.url == info.url
        assert server.start(port=info.port + 1).pid == info.pid, "one server per home"

        t0 = time.monotonic()
        assert server.api_url_if_running() == info.url
        latency("api_url_if_running (up)", time.monotonic() - t0)

        # what every CLI command does first, in a fresh process as the CLI would
        proc = run_python(CONFIGURE, child_env)
        assert proc.returncode == 0, proc.stderr
        got = json.loads(proc.stdout)
        latency("configure_environment in a new process (up)", got["seconds"])
        assert got == {**got, "url": info.url, "home": str(home.resolve()),
                       "prefect_imported": False}
        assert "ephemeral" not in proc.stderr
        proc = run_python(CONFIGURE, {**child_env, "PREFECT_API_URL": "http://elsewhere/api"})
        assert json.loads(proc.stdout)["url"] == "http://elsewhere/api", "env wins"

        assert server.main(["status"]) == 0
    finally:
        t0 = time.monotonic()
        stopped = server.stop()
        latency("server stop", time.monotonic() - t0)

    assert stopped is not None and stopped.pid == info.pid
    assert not server._pid_alive(info.pid), "the server process is gone"
    with pytest.raises(ProcessLookupError):
        os.killpg(info.pid, 0)  # and so is every process of its group
    assert port_free(info.port)
    assert not (home / server.PID_FILE).exists()
    assert not (home / server.STATE_FILE).exists()
    assert server.status() is None
    t0 = time.monotonic()
    assert server.api_url_if_running() is None
    latency("api_url_if_running (down)", time.monotonic() - t0)
    assert server.stop() is None, "stop is idempotent"
    assert server.main(["status"]) == 1

    proc = run_python(CONFIGURE, child_env)
    got = json.loads(proc.stdout)
    assert got["url"] is None and got["prefect_imported"] is False
    assert proc.stderr.count("no Prefect server running: using ephemeral mode") == 1
    assert "prefect-compose server start" in proc.stderr


def test_start_fails_fast_with_the_log_when_the_port_is_taken(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(server.ServerError, match=f"127.0.0.1:{port} is in use"):
            server.start(port=port, home=tmp_path / "home", wait=5)
    assert server.status(home=tmp_path / "home") is None


def test_configure_environment_without_our_server(tmp_path, monkeypatch):
    """No server of ours: a URL in the user's active Prefect profile is what Prefect will use
    (no hint); with none, one hint per process and ephemeral mode."""
    monkeypatch.setenv("PREFECT_COMPOSE_HOME", str(tmp_path / "no-server"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "user-home"))
    (tmp_path / "user-home").mkdir()
    (tmp_path / "user-home" / "profiles.toml").write_text(
        'active = "mine"\n[profiles.mine]\nPREFECT_API_URL = "http://prefect.example/api"\n')
    monkeypatch.setattr(server, "_hint_shown", False)
    said: list[str] = []

    assert server.configure_environment(echo=said.append) == "http://prefect.example/api"
    assert "PREFECT_API_URL" not in os.environ and said == []

    (tmp_path / "user-home" / "profiles.toml").write_text('active = "ephemeral"\n')
    assert server.configure_environment(echo=said.append) is None
    assert server.configure_environment(echo=said.append) is None
    assert said == [server.EPHEMERAL_HINT]
    assert "PREFECT_API_URL" not in os.environ


def test_flow_runs_report_to_the_session_server(prefect_server):  # noqa: F811
    """The session fixture points Prefect at its server, even though this module imported
    prefect before it ran, and the helpers read back states, task runs and logs."""
    assert os.environ["PREFECT_API_URL"] == prefect_server
    assert server.configure_environment() == prefect_server

    @task(task_run_name="first")
    def first() -> int:
        get_run_logger().info("first says hello")
        return 1

    @task(task_run_name="second")
    def second(x: int) -> int:
        return x + 1

    @flow(name="server-fixture-check")
    def two_steps() -> int:
        get_run_logger().info("flow log line 42")
        a = first.submit()
        return second.submit(a).result()

    t0 = time.monotonic()
    state = two_steps(return_state=True)
    latency("trivial flow with two tasks", time.monotonic() - t0)
    assert state.is_completed(), state
    flow_run_id = state.state_details.flow_run_id

    run = read_flow_run(flow_run_id)
    assert run.state.is_completed() and run.flow_id is not None
    assert [tr.name for tr in task_runs_of(flow_run_id)] == ["first", "second"]
    assert task_run_states(flow_run_id) == {"first": "Completed", "second": "Completed"}
    t0 = time.monotonic()
    messages = logs_of(flow_run_id, contains="first says hello")
    latency("logs readable", time.monotonic() - t0)
    assert "flow log line 42" in messages
    assert "first says hello" in messages
