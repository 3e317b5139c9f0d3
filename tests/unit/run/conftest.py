"""A fake engine for unit tests of the runtime's bookkeeping (DESIGN lesson 10): containers
are dicts, jobs exit with scripted codes, and nothing needs Docker or Prefect.

``deploy(compose_yaml, ...)`` runs a deployment the way the flow does, without Prefect: the
preparation, the scheduler (run/schedule.py) submitting each step to a pool of 4 threads once
its upstreams are done (a step never waits in a thread), then the wind-up and the verdict.
"""

from __future__ import annotations

import itertools
import logging
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_ONEOFF = "com.docker.compose.oneoff"


@dataclass
class FakeContainer:
    id: str
    name: str
    spec: Any
    labels: dict[str, str]
    state: str = "created"
    exit_code: int | None = None
    image_id: str = "sha256:img1"
    ever_started: bool = False

    @property
    def service(self) -> str:
        return self.labels.get(LABEL_SERVICE, "")


@dataclass(frozen=True)
class Info:
    id: str
    name: str
    service: str | None
    state: str
    health: str | None
    exit_code: int | None
    labels: dict[str, str]
    created: str = ""
    number: int | None = 1
    image: str = ""


class _Thread:
    def join(self, timeout: float | None = None) -> None:
        return None

    def finish(self, timeout: float | None = None) -> None:
        return None


@dataclass
class FakeEngine:
    """``exits[service]``: a job's exit code, or "hang" (runs until stopped or timed out), or
    (code, other): exit with code once ``other`` runs;
    ``refuse_create`` / ``refuse_start``: services whose create / first start the engine
    refuses;
    ``raise_in``: service -> an exception ``wait_exit`` raises (a bug in a step);
    ``health[service]``: what wait_healthy answers;
    ``before_logs[service]``: called with the engine before that service's log follow opens;
    ``before_remove[service]``: called with the engine before a container of it is removed."""
    exits: dict[str, Any] = field(default_factory=dict)
    refuse_create: set[str] = field(default_factory=set)
    refuse_start: set[str] = field(default_factory=set)
    raise_in: dict[str, BaseException] = field(default_factory=dict)
    health: dict[str, str] = field(default_factory=dict)
    image_ids: dict[str, str] = field(default_factory=dict)
    before_logs: dict[str, Any] = field(default_factory=dict)
    before_remove: dict[str, Any] = field(default_factory=dict)
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (operation, name)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- what `prepare` needs --
    def ensure_network(self, *a: Any, **k: Any) -> None: ...
    def check_network(self, *a: Any, **k: Any) -> None: ...
    def require_network(self, *a: Any, **k: Any) -> None: ...
    def require_volume(self, *a: Any, **k: Any) -> None: ...
    def require_container(self, *a: Any, **k: Any) -> None: ...
    def ensure_volume(self, *a: Any, **k: Any) -> None: ...
    def image_exists(self, ref: str) -> bool: return True
    def pull(self, ref: str, why: str = "") -> None: ...
    def image_tagged_ago(self, ref: str) -> float | None: return None

    def image_id(self, ref: str) -> str:
        return self.image_ids.get(ref, "sha256:img1")

    # -- containers --
    def _log(self, op: str, cid: str) -> None:
        with self._lock:
            self.calls.append((op, self.containers[cid].name if cid in self.containers
                               else cid))

    def create(self, spec: Any) -> str:
        service = spec.labels.get(LABEL_SERVICE, "")
        if service in self.refuse_create:
            raise _engine_error(f"create container {spec.name}: refused by the engine")
        if any(c.name == spec.name for c in self.containers.values()):
            raise _engine_error(f"create container {spec.name}: name already in use")
        cid = f"c{next(self._ids):03d}"
        self.containers[cid] = FakeContainer(cid, spec.name, spec, dict(spec.labels),
                                             image_id=self.image_id(spec.image))
        self._log("create", cid)
        return cid

    def start(self, cid: str) -> None:
        c = self.containers[cid]
        if c.service in self.refuse_start and not c.ever_started:
            raise _engine_error(f"start container {cid}: port is already allocated")
        c.state, c.exit_code, c.ever_started = "running", None, True
        self._log("start", cid)

    def stop(self, cid: str, grace_s: float) -> None:
        c = self.containers.get(cid)
        if c is not None and c.state == "running":
            c.state, c.exit_code = "exited", 137
            self._log("stop", cid)

    def kill(self, cid: str) -> None:
        self.stop(cid, 0)

    def remove(self, cid: str, force: bool = True, volumes: bool = False) -> None:
        if cid in self.containers and self.containers[cid].service in self.before_remove:
            self.before_remove[self.containers[cid].service](self)
        if cid in self.containers:
            self._log("remove", cid)
            del self.containers[cid]

    def rename(self, cid: str, new_name: str) -> None:
        if any(c.name == new_name for c in self.containers.values()):
            raise _engine_error(f"rename {cid}: name {new_name} already in use")
        self._log("rename", cid)
        self.containers[cid].name = new_name

    def inspect(self, cid: str) -> dict:
        c = self.containers[cid]
        return {"Id": c.id, "Image": c.image_id, "State": {"Status": c.state}}

    def info(self, cid: str) -> Info:
        c = self.containers[cid]
        return Info(c.id, c.name, c.service, c.state, None, c.exit_code, dict(c.labels))

    def list_containers(self, project: str, service: str | None = None,
                        oneoff: bool | None = None, all: bool = True,  # noqa: A002
                        extra_labels: dict[str, str] | None = None,
                        inspect: bool = True) -> list[Info]:
        want = {LABEL_PROJECT: project, **(extra_labels or {})}
        if service is not None:
            want[LABEL_SERVICE] = service
        if oneoff is not None:
            want[LABEL_ONEOFF] = "True" if oneoff else "False"
        return sorted((self.info(c.id) for c in list(self.containers.values())
                       if _matches(c, want)), key=lambda i: (i.service or "", i.name))

    def container_rows(self, project: str, oneoff: bool | None = None) -> list[dict]:
        want = {LABEL_PROJECT: project}
        if oneoff is not None:
            want[LABEL_ONEOFF] = "True" if oneoff else "False"
        return [{"Id": c.id, "Names": [f"/{c.name}"], "State": c.state,
                 "ImageID": c.image_id, "Labels": dict(c.labels)}
                for c in list(self.containers.values()) if _matches(c, want)]

    def list_containers_by_label(self, labels: dict[str, str]) -> list[Info]:
        return [self.info(c.id) for c in list(self.containers.values()) if _matches(c, labels)]

    def stats_limits(self, cid: str) -> tuple[None, None]:
        return None, None

    def stream_logs(self, cid: str, on_line: Any, tty: bool | None = None) -> _Thread:
        if self.containers[cid].service in self.before_logs:
            self.before_logs[self.containers[cid].service](self)
        on_line("stdout", f"output of {self.containers[cid].service}")
        return _Thread()

    def logs_tail(self, cid: str, lines: int | None = 20) -> str:
        return f"last line of {self.containers[cid].service}"

    def wait_exit(self, cid: str, timeout: float | None,
                  abort: threading.Event | None = None) -> int | None:
        c = self.containers[cid]
        if c.service in self.raise_in:
            raise self.raise_in[c.service]
        what = self.exits.get(c.service, 0)
        if isinstance(what, tuple):  # (code, service): exit once that service is running
            what, other = what
            deadline = time.monotonic() + 10
            while other not in self.running() and time.monotonic() < deadline:
                time.sleep(0.01)
        if what == "hang":
            deadline = time.monotonic() + (timeout if timeout is not None else 30)
            while time.monotonic() < deadline and c.state == "running":
                if abort is not None and abort.wait(0.01):
                    return None
            return None if c.state == "running" else c.exit_code
        c.state, c.exit_code = "exited", int(what)
        return int(what)

    def wait_healthy(self, cid: str, timeout: float,
                     abort: threading.Event | None = None) -> str:
        return self.health.get(self.containers[cid].service, "healthy")

    # -- read-back for the tests --
    def running(self) -> dict[str, str]:
        """service -> name of each running container."""
        return {c.service: c.name for c in self.containers.values() if c.state == "running"}

    def of(self, service: str) -> list[FakeContainer]:
        return [c for c in self.containers.values() if c.service == service]


def _matches(c: FakeContainer, labels: dict[str, str]) -> bool:
    return all(c.labels.get(k) == v for k, v in labels.items())


def _engine_error(message: str) -> Exception:
    from prefect_compose.errors import EngineError

    return EngineError(message)


class ListLogger(logging.Logger):
    def __init__(self) -> None:
        super().__init__("fake-run", logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def _log(self, level: int, msg: Any, args: Any, *a: Any, **k: Any) -> None:  # type: ignore
        self.lines.append((logging.getLevelName(level), str(msg)))

    def text(self, level: str | None = None) -> str:
        return "\n".join(m for lv, m in self.lines if level is None or lv == level)


@dataclass
class FakeRun:
    rs: Any
    engine: FakeEngine
    logger: ListLogger
    verdict: Any = None

    def outcome(self, step: str) -> str:
        return self.rs.records[step].outcome.value


def _project(tmp_path, compose: str, name: str):
    from prefect_compose.load.project import load_project

    path = tmp_path / "compose.yaml"
    path.write_text(textwrap.dedent(compose))
    return load_project([str(path)], project_name=name, environ={})


@pytest.fixture
def deploy(tmp_path):
    """``deploy(compose_yaml, engine=None, **options) -> FakeRun``: one deployment on a fake
    engine (pass the same engine again for a redeploy)."""
    from prefect_compose.plan.compile import compile_plan
    from prefect_compose.run.cleanup import wind_up
    from prefect_compose.run.prepare import prepare
    from prefect_compose.run.schedule import Scheduler
    from prefect_compose.run.state import Options, RunState
    from prefect_compose.run.steps import StepLog, execute

    def run(compose: str, engine: FakeEngine | None = None, *, interrupt_when=None,
            **options: Any) -> FakeRun:
        engine = engine or FakeEngine()
        project = _project(tmp_path, compose, "demo")
        rs = RunState(project=project, plan=compile_plan(project), engine=engine,
                      flow_run_id="flow-run-1", options=Options(echo=False, **options))
        logger = ListLogger()
        prepare(rs, logger)
        pool = ThreadPoolExecutor(max_workers=4)
        scheduler = Scheduler(rs, lambda step, wait_for: pool.submit(
            execute, rs, step.id, StepLog(logger)))
        finished: list[bool] = []
        thread = threading.Thread(target=lambda: finished.append(
            scheduler.run(deadline=time.monotonic() + 30)), daemon=True)
        thread.start()
        if interrupt_when is not None:
            _interrupt(rs, interrupt_when)
        thread.join(timeout=35)
        pool.shutdown(wait=False)
        assert finished == [True], "a step never ended"
        run = FakeRun(rs, engine, logger)
        run.verdict = wind_up(rs, logger)
        return run

    return run


def _interrupt(rs: Any, predicate: Any) -> None:
    """What Ctrl-C does in the flow: once ``predicate(rs)`` holds, abort as cancelled."""
    deadline = time.monotonic() + 10
    while not predicate(rs):
        assert time.monotonic() < deadline, "the interrupt point was never reached"
        time.sleep(0.01)
    rs.fail("interrupted", cancelled=True)
