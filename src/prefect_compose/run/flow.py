"""Run a compiled Plan as one Prefect flow run: one task run per step, submitted with
``wait_for`` futures that follow depends_on, a shared abort event, and the Docker adapter.

The executor carries no decision logic: what runs, in which order and with which timeout is
the plan's. Timeouts are enforced on the containers (stop with the grace period, then kill),
never by interrupting threads.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Cancelled, Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import allow_failure

from prefect_compose.run.accounting import size_seconds
from prefect_compose.engine.client import LABEL_CONFIG_HASH, LABEL_FLOW_RUN, LABEL_ONEOFF, LABEL_PROJECT, Engine
from prefect_compose.errors import ComposeError, JobTimedOut, StepFailed, Unhealthy
from prefect_compose.model.types import Project
from prefect_compose.plan.compile import Plan, Step, refuse_providers
from prefect_compose.engine.resources import build_image, ensure_networks_and_volumes
from prefect_compose.plan.containers import build_spec
from prefect_compose.run.faults import exit_note, preflight, start_or_explain
from prefect_compose.run.lock import acquire, release_lock_of_run
from prefect_compose.run.reaper import owned, reap
from prefect_compose.units import format_duration

_DEPLOYMENTS: dict[str, Deployment] = {}
_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)",
                          re.I)
_output_logger = logging.getLogger("prefect_compose.output")


def _not_thread_timeout_warning(record: logging.LogRecord) -> bool:
    """Prefect warns that timeout_seconds cannot interrupt a worker thread. We know: our
    deadline is enforced on the container, Prefect's timeout is only a backstop."""
    return not str(record.msg).startswith("Timeout of ")


logging.getLogger("prefect.task_runs").addFilter(_not_thread_timeout_warning)


@dataclass
class Outcome:
    service: str
    step: str
    kind: str
    status: str = "pending"  # ok, unchanged, started, failed, timed out, cancelled, not started
    exit_code: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    size_seconds: float = 0.0
    message: str = ""
    tail: str = ""

    @property
    def duration_s(self) -> float:
        if self.started_at is None:
            return 0.0
        return round((self.ended_at or time.monotonic()) - self.started_at, 3)


@dataclass
class Options:
    force_recreate: bool = False
    no_recreate: bool = False
    echo: bool = True


class Cancel(Exception):
    """A step stopped because the deployment is being aborted."""


@dataclass
class Deployment:
    """Per-run bookkeeping shared by the step tasks (looked up by id, never pickled)."""
    project: Project
    plan: Plan
    engine: Engine
    flow_run_id: str
    options: Options
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    abort: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    abort_reason: str = ""
    cancelled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    images: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    containers: dict[str, str] = field(default_factory=dict)  # service -> container id
    started: dict[str, threading.Event] = field(default_factory=dict)
    done: dict[str, threading.Event] = field(default_factory=dict)
    created: dict[str, str] = field(default_factory=dict)  # cid -> service, started by this run
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    start_slots: threading.Semaphore | None = None

    def __post_init__(self) -> None:
        for s in self.plan.services:
            self.started[s.name] = threading.Event()
        for st in self.plan.steps:
            self.done[st.id] = threading.Event()
            self.outcomes[st.id] = Outcome(service=st.service, step=st.id, kind=st.kind,
                                           status="not started")
        if self.plan.concurrency:
            self.start_slots = threading.Semaphore(self.plan.concurrency)
        self.secrets = tuple(sorted({v for s in self.project.services.values()
                                     for k, v in s.environment.items()
                                     if v and len(v) >= 4 and _SECRET_NAME.search(k)},
                                    key=len, reverse=True))
        self._width = max((len(s.name) for s in self.plan.services), default=4)
        self._print_lock = threading.Lock()

    # -- output: the one place every line goes through, so masking applies everywhere ----
    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "********")
        return text

    def emit(self, service: str, line: str, logger: Any | None = None) -> None:
        line = self.mask(line)
        if self.options.echo:
            with self._print_lock:
                print(f"{service:<{self._width}} | {line}", flush=True)
        if logger is not None:
            logger.info(line)

    def status(self, service: str, text: str) -> None:
        if self.options.echo:
            with self._print_lock:
                print(f"{service:<{self._width}} * {text}", file=sys.stderr, flush=True)

    def fail(self, reason: str, cancelled: bool = False) -> None:
        with self.lock:
            if not self.abort.is_set():
                self.abort_reason = reason
                self.cancelled = cancelled
                self.abort.set()


def _api_logger_for(run_logger: Any) -> logging.LoggerAdapter:
    """A logger that sends to the Prefect API under the task run but not to the console."""
    if not _output_logger.handlers:
        from prefect.logging.handlers import APILogHandler

        _output_logger.addHandler(APILogHandler())
        _output_logger.setLevel(logging.INFO)
        _output_logger.propagate = False
    return logging.LoggerAdapter(_output_logger, dict(getattr(run_logger, "extra", {}) or {}))


# -- the step task ---------------------------------------------------------------------------
@task(name="step", cache_policy=NO_CACHE, persist_result=False, log_prints=False)
def run_step(deployment_id: str, step_id: str) -> Any:
    d = _DEPLOYMENTS[deployment_id]
    step = d.plan.step(step_id)
    outcome = d.outcomes[step_id]
    logger = get_run_logger()
    try:
        if d.abort.is_set():
            raise Cancel(d.abort_reason)
        _wait_upstream(d, step, logger)
        if step.kind in ("job", "pre_start"):
            return _run_job(d, step, logger)
        if step.kind == "start":
            return _start_service(d, step, logger)
        if step.kind == "health":
            return _wait_healthy(d, step, logger)
        raise StepFailed(step.id, f"{step.kind} services are not supported by up")
    except Cancel as exc:
        outcome.status = "cancelled" if outcome.started_at else "not started"
        outcome.message = f"cancelled: {exc}"
        return Cancelled(message=f"{step.id} cancelled: {exc}")
    except StepFailed as exc:
        outcome.status = "timed out" if isinstance(exc, JobTimedOut) else "failed"
        outcome.exit_code = exc.exit_code
        outcome.message = exc.message
        outcome.tail = exc.tail
        text = exc.message + (f"\n--- last output of {step.service} ---\n{d.mask(exc.tail)}"
                              if exc.tail else "")
        name = "TimedOut" if isinstance(exc, JobTimedOut) else "Failed"
        if step.optional:  # every dependent said `required: false`: a warning, not a failure
            logger.warning(text + "\n(only optional dependents wait for it: continuing)")
            d.status(step.service, f"{exc.message} (optional: continuing)")
            return Failed(name=name, message=d.mask(exc.message))
        logger.error(text)
        d.status(step.service, exc.message)
        d.fail(exc.message)
        return Failed(name=name, message=d.mask(exc.message))
    except ComposeError as exc:
        outcome.status, outcome.message = "failed", str(exc)
        logger.error(str(exc))
        d.fail(f"{step.id}: {exc}")
        return Failed(message=f"{step.id}: {exc}")
    finally:
        if outcome.started_at is not None and outcome.ended_at is None:
            outcome.ended_at = time.monotonic()
        d.done[step_id].set()


def _wait_upstream(d: Deployment, step: Step, logger: Any) -> None:
    """Futures cover completion; a job's *start* is an event; optional failures warn."""
    for e in step.upstream:
        target = d.plan.step(e.step)
        if target.kind in ("job", "pre_start") and e.condition == "service_started":
            while not d.started[e.service].wait(0.1):
                if d.abort.is_set():
                    raise Cancel(d.abort_reason)
                if d.done[e.step].is_set():
                    break
            if d.started[e.service].is_set():
                continue
        up = d.outcomes[e.step]
        if up.status in ("failed", "timed out", "cancelled", "not started") and \
                d.done[e.step].is_set():
            if e.required:
                raise Cancel(f"{e.step} did not succeed")
            logger.warning(f"optional dependency {e.step} did not succeed ({up.message}); "
                           "continuing (required: false)")
            d.status(step.service, f"optional dependency {e.step} failed, continuing")


def _slot(d: Deployment):
    class _Slot:
        def __enter__(self) -> None:
            if d.start_slots is not None:
                while not d.start_slots.acquire(timeout=0.1):
                    if d.abort.is_set():
                        raise Cancel(d.abort_reason)

        def __exit__(self, *exc: object) -> None:
            if d.start_slots is not None:
                d.start_slots.release()
    return _Slot()


def _run_job(d: Deployment, step: Step, logger: Any) -> Any:
    svc = d.project.services[step.service]
    sp = d.plan.service(step.service)
    hook = svc.pre_start[step.hook_index] if step.kind == "pre_start" else None
    attempts = 1 + sp.retries
    outcome = d.outcomes[step.id]
    outcome.started_at = time.monotonic()
    last: StepFailed | None = None
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            logger.info(f"attempt {attempt}/{attempts} in {format_duration(sp.retry_delay_s)}")
            d.status(step.service, f"retrying ({attempt}/{attempts})")
            if d.abort.wait(sp.retry_delay_s):
                raise Cancel(d.abort_reason)
        try:
            code = _run_container_once(d, step, svc, hook, logger)
            outcome.status, outcome.exit_code = "ok", code
            d.status(step.service, f"{'hook' if hook else 'job'} completed (exit 0)")
            return Completed(message=f"{step.id} exited 0")
        except StepFailed as exc:
            last = exc
            logger.warning(f"attempt {attempt}/{attempts} failed: {exc.message}")
    assert last is not None
    raise last


def _run_container_once(d: Deployment, step: Step, svc: Any, hook: Any, logger: Any) -> int:
    engine = d.engine
    timeout = step.timeout_s or 300.0
    spec = owned(build_spec(d.project, svc, image=d.images[svc.name],
                            config_hash=d.hashes[svc.name], oneoff=True,
                            flow_run_id=d.flow_run_id, hook=hook),
                 timeout + svc.stop_grace_period_s)
    api_logger = _api_logger_for(logger)
    with _slot(d):
        if d.abort.is_set():
            raise Cancel(d.abort_reason)
        cid = engine.create(spec)
        d.created[cid] = svc.name
        try:
            engine.start(cid)
        except Exception:
            engine.remove(cid, force=True)
            d.created.pop(cid, None)
            raise
    t0 = time.monotonic()
    d.containers[svc.name] = cid
    d.started[svc.name].set()
    d.status(step.service, f"{'hook' if hook else 'job'} started ({spec.name})")
    log_thread = engine.stream_logs(cid, lambda stream, line: d.emit(step.service, line,
                                                                    api_logger))
    code: int | None = None
    try:
        code = engine.wait_exit(cid, timeout=timeout, abort=d.abort)
        if code is None:
            engine.stop(cid, svc.stop_grace_period_s)
            if d.abort.is_set():
                raise Cancel(d.abort_reason)
            tail = engine.logs_tail(cid, 20)
            raise JobTimedOut(step.id, f"job {step.id} timed out after "
                              f"{format_duration(timeout)}", tail=tail)
        if code != 0:
            tail = engine.logs_tail(cid, 20)
            raise StepFailed(step.id, f"job {step.id} failed with exit code {code}"
                             f"{exit_note(engine, cid)}",
                             exit_code=code, tail=tail)
        return code
    finally:
        elapsed = time.monotonic() - t0
        outcome = d.outcomes[step.id]
        cpus, mem = engine.stats_limits(cid)
        outcome.size_seconds += size_seconds(cpus, mem, elapsed)
        if code is None:
            try:
                engine.kill(cid)
            except Exception:  # noqa: BLE001 - it may be gone already
                pass
        log_thread.join(timeout=2.0)
        engine.remove(cid, force=True)
        d.created.pop(cid, None)


def _start_service(d: Deployment, step: Step, logger: Any) -> Any:
    name = step.service
    svc = d.project.services[name]
    engine = d.engine
    outcome = d.outcomes[step.id]
    outcome.started_at = time.monotonic()
    want = d.hashes[name]
    existing = [c for c in engine.list_containers(d.project.name, service=name, oneoff=False)]
    if existing and not d.options.force_recreate:
        current = existing[0]
        if d.options.no_recreate or current.labels.get(LABEL_CONFIG_HASH) == want:
            d.containers[name] = current.id
            if current.state == "running":
                outcome.status = "unchanged"
                d.status(name, "up to date")
                logger.info(f"{current.name} is up to date: left running")
            else:
                with _slot(d):
                    engine.start(current.id)
                d.created[current.id] = name
                outcome.status = "started"
                d.status(name, f"started ({current.name})")
            d.started[name].set()
            return Completed(message=f"{name}: {outcome.status}")
    if d.abort.is_set():
        raise Cancel(d.abort_reason)
    replaced = _replace(d, name, existing, logger)
    spec = build_spec(d.project, svc, image=d.images[name], config_hash=want, oneoff=False,
                      flow_run_id=d.flow_run_id)
    with _slot(d):
        cid = engine.create(spec)
        d.created[cid] = name
        start_or_explain(engine, cid, name, [str(p.published) for p in spec.ports
                                             if p.published])
    d.containers[name] = cid
    d.started[name].set()
    outcome.status = "recreated" if replaced else "created"
    d.status(name, f"{outcome.status} ({spec.name})")
    api_logger = _api_logger_for(logger)
    engine.stream_logs(cid, lambda stream, line: None if d.finished.is_set() else d.emit(
        name, line, api_logger))
    return Completed(message=f"{name}: {outcome.status}")


def _replace(d: Deployment, name: str, existing: list, logger: Any) -> bool:
    """The one place a container is replaced (the roadmap's rollback will keep the old one)."""
    svc = d.project.services[name]
    for c in existing:
        logger.info(f"replacing {c.name} (configuration changed)")
        d.engine.stop(c.id, svc.stop_grace_period_s)
        d.engine.remove(c.id, force=True)
    return bool(existing)


def _wait_healthy(d: Deployment, step: Step, logger: Any) -> Any:
    name = step.service
    outcome = d.outcomes[step.id]
    outcome.started_at = time.monotonic()
    cid = d.containers.get(name)
    if cid is None:
        raise Cancel(f"{name} has no container")
    timeout = step.timeout_s or 300.0
    d.status(name, f"waiting to be healthy (up to {format_duration(timeout)})")
    result = d.engine.wait_healthy(cid, timeout=timeout, abort=d.abort)
    if result == "healthy":
        outcome.status = "ok"
        d.status(name, "healthy")
        return Completed(message=f"{name} is healthy")
    if result == "aborted":
        raise Cancel(d.abort_reason)
    detail = _health_detail(d, cid)
    if result == "none":
        raise Unhealthy(step.id, f"{name} has no healthcheck configured, so it can never "
                                 "be service_healthy")
    if result == "exited":
        raise Unhealthy(step.id, f"{name} exited before it became healthy"
                                 f"{exit_note(d.engine, cid)}{detail}",
                        tail=d.engine.logs_tail(cid, 20))
    if result == "timeout":
        raise Unhealthy(step.id, f"{name} is unhealthy: not healthy after "
                                 f"{format_duration(timeout)}{detail}")
    raise Unhealthy(step.id, f"{name} is unhealthy: its healthcheck gave up{detail}")


def _health_detail(d: Deployment, cid: str) -> str:
    try:
        log = (d.engine.inspect(cid).get("State", {}).get("Health") or {}).get("Log") or []
    except Exception:  # noqa: BLE001
        return ""
    if not log:
        return ""
    last = log[-1]
    out = (last.get("Output") or "").strip().splitlines()
    return f" (last check exit {last.get('ExitCode')}: {out[-1] if out else 'no output'})"


# -- the flow ------------------------------------------------------------------------------------
def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters or {}
    if params.get("project_name") or params.get("block"):
        return str(params.get("project_name") or params["block"])
    base = params.get("project_dir") or "."
    return os.path.basename(os.path.abspath(base)) or "compose"


@flow(name="compose-up", flow_run_name=_flow_run_name, persist_result=False, log_prints=False,
      task_runner=ThreadPoolTaskRunner(max_workers=32))
def compose_up(project_dir: str | None = None, files: list[str] | None = None,
               project_name: str | None = None, profiles: list[str] | None = None,
               env_files: list[str] | None = None, job_timeout: str | None = None,
               force_recreate: bool = False, no_recreate: bool = False,
               docker_host_block: str | None = None, echo: bool = False,
               block: str | None = None, wait_lock: str | None = None) -> State:
    """Deploy a Compose project: build, converge long-running services, run jobs once. The
    project is named by its paths, or by a `compose-project` block (`block`); a deployment
    of it in progress is waited for up to `wait_lock` (default: fail at once)."""
    from prefect.runtime import flow_run

    from prefect_compose.blocks.compose_project import project_options
    from prefect_compose.project import load_and_compile
    from prefect_compose.units import parse_duration

    logger = get_run_logger()
    options = project_options(block, project_dir=project_dir, files=files,
                              project_name=project_name, profiles=profiles,
                              env_files=env_files, job_timeout=job_timeout,
                              docker_host_block=docker_host_block)
    project, plan = load_and_compile(options)
    refuse_providers(plan)
    engine = Engine.connect(options.docker_host_block)
    d = Deployment(project=project, plan=plan, engine=engine,
                   flow_run_id=str(flow_run.id or uuid.uuid4()),
                   options=Options(force_recreate=force_recreate, no_recreate=no_recreate,
                                   echo=echo))
    _DEPLOYMENTS[d.id] = d
    watcher = _CancelWatcher(d)
    lease = None
    try:
        say = _say(d, logger)
        lease = acquire(engine, project.name, flow_run_id=d.flow_run_id,
                        flow_run_name=str(flow_run.name or project.name),
                        wait_s=parse_duration(wait_lock) if wait_lock else 0.0, say=say)
        reap(engine, project.name, say)
        preflight(engine, project, plan)  # every image and name, before anything is created
        _publish_plan(plan)
        for w in plan.warnings:
            logger.warning(w)
        prepare(d, logger)
        watcher.start()
        return _execute(d, logger)
    except ComposeError as exc:  # before the first step: the lock, an image, a name, a build
        d.status("up", str(exc))
        logger.error(str(exc))
        return Failed(message=d.mask(str(exc)))
    finally:
        if lease is not None:
            lease.release()
        watcher.stop()
        _DEPLOYMENTS.pop(d.id, None)
        engine.close()


def _say(d: Deployment, logger: Any):
    """Lock and reaper lines: on the terminal and in the flow run's logs."""
    api_logger = _api_logger_for(logger)

    def say(line: str) -> None:
        d.status("up", line)
        api_logger.warning(line)
    return say


def prepare(d: Deployment, logger: Any) -> None:
    """Everything before the first container: builds, images, hashes, then networks and
    volumes (a build that fails leaves nothing created)."""
    engine, plan, project = d.engine, d.plan, d.project
    for b in plan.builds:
        d.status(",".join(b.services), f"building {', '.join(b.tags)}")
        t0 = time.monotonic()
        build_image(engine, b, on_log=lambda line, s=b.services[0]: logger.debug(
            f"build {s}: {line}"))
        logger.info(f"built {', '.join(b.tags)} in {time.monotonic() - t0:.1f}s")
    for sp in plan.services:
        svc = project.services[sp.name]
        image = sp.image or ""
        images = {image} | {h.image for h in svc.pre_start if h.image}
        for ref in images:
            if not engine.image_exists(ref):
                engine.pull(ref)
        d.images[sp.name] = image
        # a rebuilt or re-pulled image changes the hash too, as in Compose
        d.hashes[sp.name] = hashlib.sha256(
            f"{sp.config_hash}:{engine.image_id(image)}".encode()).hexdigest()
    ensure_networks_and_volumes(engine, project, project.services)


def _execute(d: Deployment, logger: Any) -> State:
    futures: dict[str, Any] = {}
    for step in d.plan.steps:
        wait_for = []
        for e in step.upstream:
            target = d.plan.step(e.step)
            if target.kind in ("job", "pre_start") and e.condition == "service_started":
                continue  # waited on as an event inside the task
            fut = futures[e.step]
            wait_for.append(fut if e.required else allow_failure(fut))
        futures[step.id] = run_step.with_options(name=step.id, task_run_name=step.id,
                                                 timeout_seconds=_backstop(d, step)).submit(
            d.id, step.id, wait_for=wait_for)
    interrupted: BaseException | None = None
    try:
        _wait_all(futures)
    except BaseException as exc:  # KeyboardInterrupt, TerminationSignal: stop what we started
        interrupted = exc
        d.fail("interrupted", cancelled=True)
        d.status("up", "interrupted: stopping what this deployment started")
        try:
            _wait_all(futures, deadline=time.monotonic() + _max_grace(d) + 15)
        except BaseException:  # noqa: BLE001 - a second Ctrl-C: go straight to cleanup
            pass
    d.finished.set()
    if d.abort.is_set():
        cleanup_started(d)
    _publish_summary(d)
    if interrupted is not None:  # cleaned up: the run ends Cancelled, not Crashed
        d.status("up", f"interrupted ({type(interrupted).__name__}): stopped what this "
                       "deployment started")
    return _final_state(d)


def _wait_all(futures: dict[str, Any], deadline: float | None = None) -> None:
    pending = list(futures.values())
    while pending:
        if deadline is not None and time.monotonic() > deadline:
            return
        pending = [f for f in pending if not _is_final(f)]
        if pending:
            pending[0].wait(timeout=0.2)


def _is_final(fut: Any) -> bool:
    try:
        state = fut.state
    except Exception:  # noqa: BLE001
        return False
    return state.is_final() or (state.is_pending() and state.name == "NotReady")


def _backstop(d: Deployment, step: Step) -> float | None:
    """Prefect's own timeout, a little above the container deadline: only a backstop."""
    if step.timeout_s is None:
        return None
    sp = d.plan.service(step.service)
    attempts = 1 + sp.retries
    return step.timeout_s * attempts + sp.retry_delay_s * (attempts - 1) + \
        d.project.services[step.service].stop_grace_period_s + 30


def _max_grace(d: Deployment) -> float:
    return max((s.stop_grace_period_s for s in d.project.services.values()), default=10.0)


def cleanup_started(d: Deployment) -> None:
    """After an interrupt or a cancel, nothing this deployment started is left running; after
    a failure, the jobs still running are stopped and the services it converged keep
    serving (SPEC: "Failure, timeouts, cancellation")."""
    engine = d.engine
    threads = []
    everything = d.cancelled
    for cid, service in list(d.created.items()):
        if not everything and d.plan.service(service).kind != "job" and not _is_oneoff(
                engine, cid):
            continue
        grace = d.project.services[service].stop_grace_period_s
        t = threading.Thread(target=_stop_quietly, args=(engine, cid, grace), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(timeout=_max_grace(d) + 10)
    cleanup_by_label(engine, d.project.name, d.flow_run_id, oneoff_only=not everything)


def _is_oneoff(engine: Engine, cid: str) -> bool:
    try:
        return engine.info(cid).labels.get(LABEL_ONEOFF) == "True"
    except Exception:  # noqa: BLE001 - gone already
        return True


def _stop_quietly(engine: Engine, cid: str, grace: float) -> None:
    try:
        engine.stop(cid, grace)
    except Exception:  # noqa: BLE001 - best effort while unwinding
        pass


def cleanup_by_label(engine: Engine, project: str, flow_run_id: str,
                     oneoff_only: bool = False) -> None:
    """Remove the one-off containers of one flow run and (unless ``oneoff_only``) stop its
    others: works from any process, by label."""
    for c in engine.list_containers(project, extra_labels={LABEL_FLOW_RUN: flow_run_id}):
        if c.labels.get(LABEL_PROJECT) != project:
            continue
        try:
            if c.labels.get(LABEL_ONEOFF) == "True":
                engine.remove(c.id, force=True)
            elif c.state == "running" and not oneoff_only:
                engine.stop(c.id, 10)
        except Exception:  # noqa: BLE001
            pass


def _final_state(d: Deployment) -> State:
    outcomes = [d.outcomes[s.id] for s in d.plan.steps]
    if d.cancelled:
        return Cancelled(message=f"deployment {d.project.name} cancelled: {d.abort_reason}")
    optional = {s.id for s in d.plan.steps if s.optional}
    failures = [o for o in outcomes if o.status in ("failed", "timed out")
                and o.step not in optional]
    if failures:
        first = failures[0]
        code = f" (exit code {first.exit_code})" if first.exit_code is not None else ""
        tail = "\n".join(first.tail.strip().splitlines()[-5:]) if first.tail else ""
        return Failed(message=d.mask(
            f"deployment {d.project.name} failed: {first.message}"
            f"{code if 'exit code' not in first.message else ''}"
            + (f"\nlast output of {first.service}:\n{tail}" if tail else "")))
    tolerated = [o.step for o in outcomes if o.step in optional and o.status != "ok"]
    if tolerated:
        return Completed(message=f"deployment {d.project.name} succeeded; optional "
                                 f"{', '.join(tolerated)} did not (required: false)")
    return Completed(message=f"deployment {d.project.name}: {len(outcomes)} steps succeeded")


def _publish_plan(plan: Plan) -> None:
    from prefect.artifacts import create_markdown_artifact

    from prefect_compose.plan.render import plan_artifact_markdown

    try:
        create_markdown_artifact(
            key=_artifact_key(plan.project, "plan"), markdown=plan_artifact_markdown(plan),
            description=f"compiled plan of {plan.project}")
    except Exception as exc:  # noqa: BLE001 - artifacts are reporting, never fatal
        get_run_logger().warning(f"could not publish the plan artifact: {exc}")


def summary_rows(d: Deployment) -> list[dict[str, Any]]:
    rows = []
    for step in d.plan.steps:
        o = d.outcomes[step.id]
        rows.append({"service": o.service, "step": o.step, "kind": o.kind, "outcome": o.status,
                     "exit_code": o.exit_code, "duration_s": o.duration_s,
                     "size_seconds": o.size_seconds})
    return rows


def _publish_summary(d: Deployment) -> None:
    from prefect.artifacts import create_table_artifact

    rows = summary_rows(d)
    try:
        create_table_artifact(key=_artifact_key(d.project.name, "summary"), table=rows,
                              description=f"outcome of each step of {d.project.name}")
    except Exception as exc:  # noqa: BLE001
        get_run_logger().warning(f"could not publish the summary artifact: {exc}")
    if d.options.echo:
        width = max(len(r["step"]) for r in rows) if rows else 4
        print(file=sys.stderr)
        for r in rows:
            code = "" if r["exit_code"] is None else f" exit {r['exit_code']}"
            print(f"  {r['step']:<{width}}  {r['outcome']:<11}{code:<8} {r['duration_s']:>7.1f}s"
                  f"  {r['size_seconds']:>8.1f} size-s", file=sys.stderr)


def _artifact_key(project: str, what: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", f"{project}-{what}".lower())


class _CancelWatcher:
    """An in-process run never sees a cancel from the UI: poll the flow run's state."""

    def __init__(self, d: Deployment) -> None:
        self.d = d
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not os.environ.get("PREFECT_API_URL"):
            return  # ephemeral server: nobody else can cancel this run
        self._thread = threading.Thread(target=self._run, name="cancel-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from prefect.client.orchestration import get_client

        try:
            with get_client(sync_client=True) as client:
                while not self._stop.wait(1.0):
                    try:
                        state = client.read_flow_run(uuid.UUID(self.d.flow_run_id)).state
                    except Exception:  # noqa: BLE001 - keep watching
                        continue
                    if state is not None and (state.is_cancelling() or state.is_cancelled()):
                        self.d.fail("cancelled from Prefect", cancelled=True)
                        self.d.status("up", "flow run cancelled: stopping containers")
                        return
        except Exception:  # noqa: BLE001
            return

    def stop(self) -> None:
        self._stop.set()


def on_cancel_or_crash(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect hook (runs in the runner process): clean up by the flow run's label."""
    params = getattr(flow_run, "parameters", {}) or {}
    try:
        engine = Engine.connect(params.get("docker_host_block"))
    except Exception:  # noqa: BLE001
        return
    try:
        release_lock_of_run(engine, str(flow_run.id))
        for c in engine.list_containers_by_label({LABEL_FLOW_RUN: str(flow_run.id)}):
            project = c.labels.get(LABEL_PROJECT)
            if project:
                cleanup_by_label(engine, project, str(flow_run.id))
                break
    finally:
        engine.close()


compose_up = compose_up.with_options(on_cancellation=[on_cancel_or_crash],
                                     on_crashed=[on_cancel_or_crash])
