"""The kept server starts itself: with a fresh Prefect home and no PREFECT_API_URL (nor a
profile that sets one), the first command that needs Prefect (`up`) starts the kept local
server, says so in one line with the UI's address and how to stop it, and runs on it; the run
is there in its API afterwards; the next command reuses it silently; `server stop` (what the
line says) stops it.

Own homes (Prefect's and prefect-compose's) under tmp_path and a free loopback port: nothing
here touches the session's server. The kept server's DB is seeded from the suite's migrated,
empty DB template when pytest's cache has one (a fresh migration costs 45-50 s here).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from prefect_fixtures import _template, db_cache_dir, free_port  # noqa: E402

from prefect_compose.cli import server  # noqa: E402

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(420)]

COMPOSE = """\
services:
  migrate:
    image: busybox:latest
    restart: "no"
    command: ["echo", "autostart-migrated"]
  web:
    image: busybox:latest
    command: ["sh", "-c", "exec sleep 3600"]
    stop_grace_period: 1s
    depends_on: [migrate]
"""
# what would make the CLI use some other server than the one it must start
_NOT_INHERITED = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE",
                  "PREFECT_PROFILES_PATH", "PREFECT_COMPOSE_SERVER", "PREFECT_UI_URL",
                  "PREFECT_UI_API_URL")


def _post(url: str, path: str, body: dict) -> list | dict:
    import httpx

    with httpx.Client(trust_env=False, timeout=30) as client:
        resp = client.post(f"{url}{path}", json=body)
        resp.raise_for_status()
        return resp.json()


def test_the_first_command_that_needs_prefect_must_start_the_kept_server(
        tmp_path, request, monkeypatch, pc, docker_client, busybox_image):
    home, compose_home, project_dir = tmp_path / "prefect-home", tmp_path / "pc-home", \
        tmp_path / "shop"
    for d in (home, compose_home, project_dir):
        d.mkdir()
    (project_dir / "compose.yaml").write_text(COMPOSE)
    template = _template(db_cache_dir(request.config))
    if template is not None and template.is_file():
        shutil.copyfile(template, compose_home / "prefect.db")
    port = free_port()
    for k in _NOT_INHERITED:  # run_cli starts from os.environ: the session server's URL
        monkeypatch.delenv(k, raising=False)  # would be inherited (restored after the test)
    env = dict(PREFECT_HOME=str(home), PREFECT_COMPOSE_HOME=str(compose_home),
               PREFECT_COMPOSE_PORT=str(port))
    name = f"pc-test-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, name))
    assert server.status(home=compose_home) is None
    try:
        t0 = time.monotonic()
        r = pc.run_cli("up", project_dir, name, env=env, timeout=360)
        print(f"\n[figure] first `up` with the kept server autostarting: "
              f"{time.monotonic() - t0:.1f} s")
        assert r.rc == 0, r.show()
        ui = f"http://127.0.0.1:{port}"
        said = [line for line in r.stderr.splitlines() if "started the local Prefect server"
                in line]
        assert said == [f"started the local Prefect server: UI at {ui} "
                        "(stop it with `prefect-compose server stop`)"], r.stderr
        assert "ephemeral" not in r.stderr, r.stderr
        assert f"{ui}/runs/flow-run/" in r.stderr, "the run is on the server it started"
        info = server.status(home=compose_home)
        assert info is not None and info.port == port and info.url == f"{ui}/api"
        # the run is kept: read back through the API of that server, after `up` has exited
        runs = _post(info.url, "/flow_runs/filter",
                     {"flow_runs": {"name": {"any_": [name]}}, "limit": 5})
        assert [(fr["name"], fr["state"]["type"]) for fr in runs] == [(name, "COMPLETED")]
        tasks = _post(info.url, "/task_runs/filter",
                      {"flow_runs": {"id": {"any_": [runs[0]["id"]]}}, "limit": 20})
        assert {t["name"] for t in tasks} == {"migrate", "web"}
        # the next command finds it up: no second start, no line
        r2 = pc.run_cli("ps", project_dir, name, "--jobs", env=env, timeout=120)
        assert r2.rc == 0, r2.show()
        assert "started the local Prefect server" not in r2.stderr, r2.stderr
        assert "migrate" in r2.stdout, r2.stdout
        assert server.status(home=compose_home).pid == info.pid
        # how to stop it, as the line says
        stop = subprocess.run([sys.executable, "-m", "prefect_compose.cli.main", "server",
                               "stop"], env=pc.cli_env(env), capture_output=True, text=True,
                              timeout=60)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert server.status(home=compose_home) is None
    finally:
        with contextlib.suppress(Exception):
            server.stop(home=compose_home)
    state = compose_home / server.STATE_FILE
    assert not state.exists(), json.loads(state.read_text())
