"""Cleanup of what a run started (SPEC "Failure, timeouts, cancellation"): after a failure the
jobs still running are stopped and removed and the services it converged keep serving; after
an interrupt or a cancel nothing it started is left running. By container id from the run's
own record, and by the flow-run label from any process (the cancellation hook)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from prefect_compose.plan.labels import LABEL_FLOW_RUN, LABEL_ONEOFF, LABEL_PROJECT
from prefect_compose.run.rollback import commit, roll_back
from prefect_compose.run.state import RunState, StepOutcome, Verdict, verdict


BACKGROUND_WAIT_S = 30.0  # a bound only: a job's last output and its removal


def in_background(rs: RunState, name: str, work: Callable[[], None]) -> None:
    """Run ``work`` (what a step leaves to finish off its critical path, such as a job's
    last output and its removal) in a thread that :func:`wind_up` waits for."""
    thread = threading.Thread(target=work, name=name, daemon=True)
    with rs.lock:
        rs.background.append(thread)
    thread.start()


def wait_background(rs: RunState) -> None:
    """Wait for the work the steps left behind (started before the last step ended)."""
    with rs.lock:
        threads, rs.background = rs.background, []
    deadline = time.monotonic() + BACKGROUND_WAIT_S
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))


def wind_up(rs: RunState, logger: Any) -> Verdict:
    """After the last step ended: wait for what the steps left to finish (a job's last
    output and its removal), clean up after an abort, draw the verdict, then roll back
    what a failed deployment replaced, or remove the old containers it set aside."""
    wait_background(rs)
    rs.finished.set()
    if rs.abort.is_set():
        cleanup_started(rs)
    v = verdict(rs)
    journal = rs.journal
    if v.succeeded or not rollback_enabled(rs):
        commit(rs.engine, journal, logger)
        return v
    roll_back(rs.engine, journal, rs.created, rs.grace, logger)
    for service in journal.rolled_back:
        rs.records[service].outcome = StepOutcome.ROLLED_BACK
        rs.out.status(service, "rolled back: the previous container serves again")
    for service in journal.failed:
        rs.out.status(service, "could NOT be rolled back (see the logs)")
    return v.with_rollback(journal.rolled_back, journal.failed)


def rollback_enabled(rs: RunState) -> bool:
    return rs.options.rollback and rs.project.x_prefect.rollback


def cleanup_started(rs: RunState) -> None:
    engine = rs.engine
    everything = rs.cancelled
    threads = []
    for cid, service in list(rs.created.items()):
        if not everything and rs.plan.service(service).kind != "job" and not _is_oneoff(
                engine, cid):
            continue
        t = threading.Thread(target=_stop_quietly, args=(engine, cid, rs.grace(service)),
                             daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(timeout=rs.max_grace() + 10)
    cleanup_by_label(engine, rs.project.name, rs.flow_run_id, oneoff_only=not everything)


def _is_oneoff(engine: Any, cid: str) -> bool:
    try:
        return engine.info(cid).labels.get(LABEL_ONEOFF) == "True"
    except Exception:  # noqa: BLE001 - gone already
        return True


def _stop_quietly(engine: Any, cid: str, grace: float) -> None:
    try:
        engine.stop(cid, grace)
    except Exception:  # noqa: BLE001 - best effort while unwinding
        pass


def cleanup_by_label(engine: Any, project: str, flow_run_id: str,
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


def cleanup_flow_run(engine: Any, flow_run_id: str) -> None:
    """What the cancellation/crash hook does in the runner process: find the flow run's
    project by label, then clean up by label."""
    for c in engine.list_containers_by_label({LABEL_FLOW_RUN: flow_run_id}):
        project = c.labels.get(LABEL_PROJECT)
        if project:
            cleanup_by_label(engine, project, flow_run_id)
            return
