"""The body of every step, with no Prefect in it: wait for the upstream steps, run the step
(a job, a long-running service, a health wait), and record how it ended.

:func:`execute` never raises (short of an interrupt): whatever happens inside a step, ours or
not, ends in its :class:`StepRecord`, and a failure of a required step aborts the deployment.
The flow shell turns the record into a Prefect state.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prefect_compose.errors import ComposeError, JobTimedOut, StepFailed
from prefect_compose.plan.compile import Step
from prefect_compose.run.state import Cancel, RunState, StepOutcome, StepRecord

JOB_KINDS = ("job", "pre_start")


@dataclass
class StepLog:
    """Where a step writes: ``logger`` for its own lines (info/warning/error), ``output`` for
    its container's output (to the Prefect logs, not the console), either may be a stdlib
    logger."""
    logger: Any
    output: Any = None


def execute(rs: RunState, step_id: str, log: StepLog) -> StepRecord:
    step = rs.plan.step(step_id)
    record = rs.records[step_id]
    try:
        rs.check_abort()
        wait_upstream(rs, step, log)
        rs.out.step_started(step_id, step.service)
        _body(rs, step, log)
    except Cancel as exc:
        record.outcome = StepOutcome.CANCELLED if record.started_at else StepOutcome.NOT_STARTED
        record.message = f"cancelled: {exc}"
    except StepFailed as exc:
        _failed(rs, step, record, log, exc)
    except ComposeError as exc:
        _crashed(rs, step, record, log, str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug or an engine surprise fails the step too
        _crashed(rs, step, record, log, f"{type(exc).__name__}: {exc}")
    finally:
        if record.started_at is not None and record.ended_at is None:
            record.ended_at = time.monotonic()
        rs.done[step_id].set()
        rs.out.step_finished(step_id, step.service, record.outcome.value,
                             record.outcome.failed)
    return record


def _body(rs: RunState, step: Step, log: StepLog) -> None:
    from prefect_compose.run.jobs import run_job
    from prefect_compose.run.services import start_service, wait_healthy

    if step.kind in JOB_KINDS:
        run_job(rs, step, log)
    elif step.kind == "start":
        start_service(rs, step, log)
    elif step.kind == "health":
        wait_healthy(rs, step, log)
    else:
        raise StepFailed(step.id, f"{step.kind} services are not supported by up")


def _failed(rs: RunState, step: Step, record: StepRecord, log: StepLog,
            exc: StepFailed) -> None:
    record.outcome = StepOutcome.TIMED_OUT if isinstance(exc, JobTimedOut) else \
        StepOutcome.FAILED
    record.exit_code = exc.exit_code
    record.message = exc.message
    record.tail = exc.tail
    text = exc.message + (f"\n--- last output of {step.service} ---\n{rs.out.mask(exc.tail)}"
                          if exc.tail else "")
    if step.optional:  # every dependent said `required: false`: a warning, not a failure
        log.logger.warning(text + "\n(only optional dependents wait for it: continuing)")
        rs.out.status(step.service, f"{exc.message} (optional: continuing)")
        return
    log.logger.error(rs.out.mask(text))
    rs.out.status(step.service, exc.message)
    rs.fail(exc.message)


def _crashed(rs: RunState, step: Step, record: StepRecord, log: StepLog, text: str) -> None:
    record.outcome, record.message = StepOutcome.FAILED, text
    log.logger.error(rs.out.mask(f"{step.id}: {text}"))
    rs.out.status(step.service, f"failed: {text}")
    rs.fail(f"{step.id}: {text}")


def wait_upstream(rs: RunState, step: Step, log: StepLog) -> None:
    """Wait for every upstream step: a job's *start* is an event, everything else its done
    event (set whatever the step's outcome); a failed required upstream cancels this step,
    a failed optional one is a warning."""
    for e in step.upstream:
        target = rs.plan.step(e.step)
        if target.kind in JOB_KINDS and e.condition == "service_started":
            while not rs.started[e.service].wait(0.1):
                rs.check_abort()
                if rs.done[e.step].is_set():
                    break
            if rs.started[e.service].is_set():
                continue
        while not rs.done[e.step].wait(0.1):
            rs.check_abort()
        up = rs.records[e.step]
        if up.outcome.succeeded:
            continue
        if e.required:
            raise Cancel(f"{e.step} did not succeed")
        log.logger.warning(f"optional dependency {e.step} did not succeed ({up.message}); "
                           "continuing (required: false)")
        rs.out.status(step.service, f"optional dependency {e.step} failed, continuing")


@contextlib.contextmanager
def start_slot(rs: RunState) -> Iterator[None]:
    """At most ``x-prefect.concurrency`` containers starting at once."""
    if rs.start_slots is None:
        yield
        return
    while not rs.start_slots.acquire(timeout=0.1):
        rs.check_abort()
    try:
        yield
    finally:
        rs.start_slots.release()
