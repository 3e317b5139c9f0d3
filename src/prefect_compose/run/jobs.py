"""Job steps (``restart: "no"`` services and ``pre_start`` hooks): run to completion in a
fresh container, once per deployment, with retries; the deadline is enforced on the
container (stop with its grace period, then kill), never by interrupting a thread."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from prefect_compose.errors import JobTimedOut, StepFailed
from prefect_compose.plan.compile import Step
from prefect_compose.plan.containers import build_spec
from prefect_compose.run.accounting import size_seconds
from prefect_compose.run.cleanup import in_background
from prefect_compose.run.faults import exit_note
from prefect_compose.run.reaper import owned
from prefect_compose.run.state import Cancel, RunState, StepOutcome
from prefect_compose.run.steps import StepLog, start_slot
from prefect_compose.units import format_duration

DEFAULT_TIMEOUT_S = 300.0
TAIL_LINES = 20
KILLED_EXIT_S = 2.0  # how long a killed job's exit is waited for before its output is read


def run_job(rs: RunState, step: Step, log: StepLog) -> None:
    svc = rs.project.services[step.service]
    sp = rs.plan.service(step.service)
    hook = svc.pre_start[step.hook_index] if step.kind == "pre_start" else None
    attempts = 1 + sp.retries
    record = rs.records[step.id]
    record.started_at = time.monotonic()
    last: StepFailed | None = None
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            log.logger.info(f"attempt {attempt}/{attempts} in "
                            f"{format_duration(sp.retry_delay_s)}")
            rs.out.status(step.service, f"retrying ({attempt}/{attempts})")
            if rs.abort.wait(sp.retry_delay_s):
                raise Cancel(rs.abort_reason)
        try:
            code = run_container_once(rs, step, svc, hook, log)
            record.outcome, record.exit_code = StepOutcome.OK, code
            rs.out.status(step.service, f"{'hook' if hook else 'job'} completed (exit 0)")
            return
        except StepFailed as exc:
            last = exc
            log.logger.warning(f"attempt {attempt}/{attempts} failed: {exc.message}")
    assert last is not None
    raise last


def _create_and_start(rs: RunState, svc: Any, spec: Any) -> str:
    engine = rs.engine
    with start_slot(rs):
        rs.check_abort()
        cid = engine.create(spec)
        rs.created[cid] = svc.name
        try:
            engine.start(cid)
        except BaseException:
            engine.remove(cid, force=True)
            rs.created.pop(cid, None)
            raise
    return cid


def run_container_once(rs: RunState, step: Step, svc: Any, hook: Any, log: StepLog) -> int:
    """One attempt: its exit code when 0; raises StepFailed / JobTimedOut / Cancel."""
    engine = rs.engine
    timeout = step.timeout_s or DEFAULT_TIMEOUT_S
    spec = owned(build_spec(rs.project, svc, image=rs.images[svc.name],
                            config_hash=rs.hashes[svc.name], oneoff=True,
                            flow_run_id=rs.flow_run_id, hook=hook),
                 timeout + svc.stop_grace_period_s)  # owner and deadline labels: the reaper's
    cid = _create_and_start(rs, svc, spec)
    t0 = time.monotonic()
    rs.containers[svc.name] = cid
    rs.started[svc.name].set()
    rs.out.status(step.service, f"{'hook' if hook else 'job'} started ({spec.name})")
    follow = engine.stream_logs(cid, lambda stream, line: rs.out.emit(step.service, line,
                                                                     log.output))
    code: int | None = None
    done = False
    try:
        code = engine.wait_exit(cid, timeout=timeout, abort=rs.abort)
        if code is None:
            engine.stop(cid, svc.stop_grace_period_s)
            rs.check_abort()
            raise JobTimedOut(step.id, f"job {step.id} timed out after "
                              f"{format_duration(timeout)}", tail=engine.logs_tail(cid, TAIL_LINES))
        if code != 0:
            raise StepFailed(step.id, f"job {step.id} failed with exit code {code}"
                             f"{exit_note(engine, cid)}",
                             exit_code=code, tail=engine.logs_tail(cid, TAIL_LINES))
        _account(rs, step, spec, t0)
        # done now, so its dependents start: right after its exit the engine is still
        # cleaning the container up (every call on it waits ~50 ms), so the rest of its
        # output and its removal follow in the background; wind_up waits for them
        in_background(rs, f"finish-{step.id}", lambda: _drain_and_remove(rs, step, cid,
                                                                          follow, log))
        done = True
        return code
    finally:
        if not done:
            _account(rs, step, spec, t0)
            _finish(rs, cid, stopped=code is not None, follow=follow)


def _account(rs: RunState, step: Step, spec: Any, t0: float) -> None:
    """Size-seconds, from the limits the container was created with."""
    cpus = spec.nano_cpus / 1e9 if spec.nano_cpus else None
    rs.records[step.id].size_seconds += size_seconds(cpus, spec.mem_limit or None,
                                                     time.monotonic() - t0)


def _finish(rs: RunState, cid: str, *, stopped: bool, follow: Any) -> None:
    """Kill what still runs, deliver the rest of its output, remove the container."""
    engine = rs.engine
    if not stopped:  # stopped or killed once its exit is seen: its output is all in
        try:
            engine.kill(cid)
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        with contextlib.suppress(Exception):
            engine.wait_exit(cid, timeout=KILLED_EXIT_S)
    follow.finish()  # it exited: the rest of its output, at once
    engine.remove(cid, force=True)
    rs.created.pop(cid, None)


def _drain_and_remove(rs: RunState, step: Step, cid: str, follow: Any, log: StepLog) -> None:
    """After a job exited 0 (off its step): the rest of its output, then its removal; a
    container that cannot be removed fails the deployment, as it would have failed the
    step."""
    try:
        _finish(rs, cid, stopped=True, follow=follow)
    except Exception as exc:  # noqa: BLE001
        text = f"{step.id}: could not remove its container {cid[:12]}: {exc}"
        record = rs.records[step.id]
        record.outcome, record.message = StepOutcome.FAILED, text
        log.logger.error(rs.out.mask(text))
        rs.out.status(step.service, f"failed: {text}")
        rs.fail(text)
