"""Long-running service steps: carry out the converge decision (create, replace, start,
keep: decided before the run by plan/converge.py), and wait for health."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from prefect_compose.errors import Unhealthy
from prefect_compose.plan.compile import Step
from prefect_compose.plan.containers import build_spec
from prefect_compose.plan.converge import Action, Decision
from prefect_compose.run.faults import exit_note, start_or_explain
from prefect_compose.run.rollback import replace
from prefect_compose.run.state import Cancel, RunState, StepOutcome
from prefect_compose.run.steps import StepLog, start_slot
from prefect_compose.units import format_duration

DEFAULT_HEALTHY_TIMEOUT_S = 300.0


def start_service(rs: RunState, step: Step, log: StepLog) -> None:
    name = step.service
    record = rs.records[step.id]
    record.started_at = time.monotonic()
    decision = rs.decisions[name]
    if decision.action is Action.KEEP:
        rs.containers[name] = decision.current.id
        record.outcome = StepOutcome.UNCHANGED
        rs.out.status(name, "up to date")  # no log line: the run's converge record says so
    elif decision.action is Action.START:
        cid = decision.current.id
        rs.containers[name] = cid
        with start_slot(rs):
            rs.engine.start(cid)
        rs.created[cid] = name
        record.outcome = StepOutcome.STARTED
        rs.out.status(name, f"started ({decision.current.name})")
    else:
        rs.check_abort()
        cid, spec_name, tty = _create_new(rs, decision, log)
        record.outcome = StepOutcome.RECREATED if decision.action is Action.REPLACE else \
            StepOutcome.CREATED
        rs.out.status(name, f"{record.outcome.value} ({spec_name})")
        _follow_logs(rs, name, cid, log, tty)
    rs.started[name].set()


def _follow_logs(rs: RunState, name: str, cid: str, log: StepLog, tty: bool) -> None:
    """A long-running container's output, followed from a thread of its own: opening the
    follow is off the step, so its dependents start sooner; the engine replays the output
    from the container's start. The step created the container, so it knows whether it has a
    TTY (no inspect)."""
    def follow() -> None:
        with contextlib.suppress(Exception):  # removed meanwhile (rollback): nothing to show
            rs.engine.stream_logs(cid, lambda stream, line: None if rs.finished.is_set() else
                                  rs.out.emit(name, line, log.output), tty=tty)
    threading.Thread(target=follow, name=f"follow-{name}", daemon=True).start()


def _create_new(rs: RunState, decision: Decision, log: StepLog) -> tuple[str, str, bool]:
    """A new container for the service; a replacement is created before the old one is
    touched, and the old one is kept aside for rollback (run/rollback.py)."""
    name = decision.service
    svc = rs.project.services[name]
    spec = build_spec(rs.project, svc, image=rs.images[name], config_hash=decision.want_hash,
                      oneoff=False, flow_run_id=rs.flow_run_id)
    if decision.action is Action.REPLACE:
        log.logger.info(f"replacing {decision.current.name} ({decision.reason})")
        try:
            cid = replace(rs.engine, rs.journal, decision, spec, rs.grace(name), rs.created,
                          lambda: start_slot(rs))
        except Exception:
            rs.out.status(name, f"the new container was refused: {decision.current.name} "
                                "keeps serving")
            raise
    else:
        with start_slot(rs):
            cid = rs.engine.create(spec)
            rs.created[cid] = name
            try:
                start_or_explain(rs.engine, cid, name, [str(p.published) for p in spec.ports
                                                        if p.published])
            except BaseException:  # nothing half-created is left behind
                with contextlib.suppress(Exception):
                    rs.engine.remove(cid, force=True)
                rs.created.pop(cid, None)
                raise
    rs.containers[name] = cid
    return cid, spec.name or cid[:12], spec.tty


def wait_healthy(rs: RunState, step: Step, log: StepLog) -> None:
    name = step.service
    record = rs.records[step.id]
    record.started_at = time.monotonic()
    cid = rs.containers.get(name)
    if cid is None:
        raise Cancel(f"{name} has no container")
    timeout = step.timeout_s or DEFAULT_HEALTHY_TIMEOUT_S
    rs.out.status(name, f"waiting to be healthy (up to {format_duration(timeout)})")
    result = rs.engine.wait_healthy(cid, timeout=timeout, abort=rs.abort)
    if result == "healthy":
        record.outcome = StepOutcome.OK
        rs.out.status(name, "healthy")
        return
    if result == "aborted":
        raise Cancel(rs.abort_reason)
    detail = _health_detail(rs, cid)
    if result == "none":
        raise Unhealthy(step.id, f"{name} has no healthcheck configured, so it can never "
                                 "be service_healthy")
    if result == "exited":
        raise Unhealthy(step.id, f"{name} exited before it became healthy"
                                 f"{exit_note(rs.engine, cid)}{detail}",
                        tail=rs.engine.logs_tail(cid, 20))
    if result == "timeout":
        raise Unhealthy(step.id, f"{name} is unhealthy: not healthy after "
                                 f"{format_duration(timeout)}{detail}")
    raise Unhealthy(step.id, f"{name} is unhealthy: its healthcheck gave up{detail}")


def _health_detail(rs: RunState, cid: str) -> str:
    try:
        log: list[Any] = (rs.engine.inspect(cid).get("State", {}).get("Health") or {}).get(
            "Log") or []
    except Exception:  # noqa: BLE001
        return ""
    if not log:
        return ""
    last = log[-1]
    out = (last.get("Output") or "").strip().splitlines()
    return f" (last check exit {last.get('ExitCode')}: {out[-1] if out else 'no output'})"
