"""One deployment from its loaded plan to its verdict, with no Prefect in it: the lock, the
reaper, the preflight checks, the plan artifact and the started event, the networks, volumes
and builds, then the steps as they become ready (run/schedule.py), the wind-up (commit or
rollback), the summary and the closing events.

Where the records go is the ``reporter``'s business (run/reporting.py), and how a ready step
runs is ``submit``'s: the `compose-up` flow submits a Prefect task run per step
(run/flow.py); the CLI's `up` runs each in a thread of its own and records its task run over
the REST API (run/direct.py). Both run this same function, so they deploy the same way.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from prefect_compose.errors import ComposeError
from prefect_compose.run.cleanup import wind_up
from prefect_compose.run.faults import preflight
from prefect_compose.run.lock import acquire
from prefect_compose.run.milestones import Milestones, tag_limits_apply
from prefect_compose.run.prepare import prepare
from prefect_compose.run.reaper import reap
from prefect_compose.run.report import publish_plan, publish_summary
from prefect_compose.run.schedule import Scheduler, Submit
from prefect_compose.run.state import RunState, StepRecord, Verdict
from prefect_compose.trace import mark

CANCEL_POLL_S = 1.0


def deploy(rs: RunState, reporter: Any, submit: Submit, *, wait_lock_s: float = 0.0,
           watch_cancel: bool = True) -> Verdict:
    """Deploy ``rs``'s plan; never raises for a failed step (the verdict says it), re-raises
    nothing but a second interrupt during the stop of what it started."""
    logger = reporter.logger
    rs.reporter = reporter
    rs.milestones = milestones = Milestones(rs.plan, reporter)
    watcher = _CancelWatcher(rs, reporter)
    lease = None
    engine, project, plan = rs.engine, rs.project, rs.plan
    try:
        say = _say(rs, reporter)
        lease = acquire(engine, project.name, flow_run_id=rs.flow_run_id,
                        flow_run_name=reporter.flow_run_name or project.name,
                        wait_s=wait_lock_s, say=say)
        mark("flow: locked")
        # one listing of the project's long-running containers for the reaper, the name
        # check and converge (three list calls were ~25 ms each at 200 containers), listed
        # again when the reaper changed any of them
        rows = engine.container_rows(project.name, oneoff=False)
        if reap(engine, project.name, say, holding_lock=True, rows=rows):
            rows = engine.container_rows(project.name, oneoff=False)
        preflight(engine, project, plan, rows)  # every image and name, before any create
        rs.observed_rows = rows
        mark("flow: reaped and preflight")
        publish_plan(plan, logger, reporter)
        mark("flow: plan published")
        milestones.started()
        for w in plan.warnings:
            logger.warning(w)
        mark("flow: started event")
        prepare(rs, logger)
        mark("flow: prepared")
        rs.limited_tags = tag_limits_apply(plan, reporter)
        if watch_cancel:
            watcher.start()
        return _execute(rs, reporter, submit)
    except ComposeError as exc:  # before the first step: the lock, an image, a name, a build
        rs.out.status("up", str(exc))
        logger.error(rs.out.mask(str(exc)))
        return Verdict("failed", rs.out.mask(str(exc)))
    finally:
        if lease is not None:
            _release(lease, logger)
        watcher.stop()


def step_finished(rs: RunState, record: StepRecord) -> None:
    """A step's end, for the progress artifact and the step-failed event."""
    if rs.milestones is not None:
        rs.milestones.step_finished(
            record.step, record.outcome.value, message=rs.out.mask(record.message),
            exit_code=record.exit_code, optional=rs.plan.step(record.step).optional)


def _release(lease: Any, logger: Any) -> None:
    """Release the lock; an engine lost meanwhile leaves it, and the next `up` takes it over
    (its holder, this process, is gone by then): said, never a crash of the run."""
    try:
        lease.release()
    except ComposeError as exc:
        logger.warning(f"could not release the deployment lock ({exc}); the next up of "
                       "the project takes it over")


def _say(rs: RunState, reporter: Any):
    """Lock and reaper lines: on the terminal and in the flow run's logs."""
    api_logger = reporter.api_logger(reporter.logger)

    def say(line: str) -> None:
        rs.out.status("up", line)
        api_logger.warning(line)
    return say


def _execute(rs: RunState, reporter: Any, submit: Submit) -> Verdict:
    scheduler = Scheduler(rs, submit)
    interrupted: BaseException | None = None
    try:
        scheduler.run()
    except BaseException as exc:  # KeyboardInterrupt, TerminationSignal: stop what we started
        interrupted = exc
        rs.fail("interrupted", cancelled=True)
        rs.out.status("up", "interrupted: stopping what this deployment started")
        try:
            scheduler.run(deadline=time.monotonic() + rs.max_grace() + 15)
        except BaseException:  # noqa: BLE001 - a second Ctrl-C: go straight to cleanup
            pass
    mark("flow: steps done")
    reporter.steps_done()
    v = wind_up(rs, reporter.logger)
    mark("flow: wound up")
    publish_summary(rs, reporter.logger, reporter)
    mark("flow: summary published")
    _finished(rs, v)
    mark("flow: final events")
    if interrupted is not None:  # cleaned up: the run ends Cancelled, not Crashed
        rs.out.status("up", f"interrupted ({type(interrupted).__name__}): stopped what this "
                            "deployment started")
    return v


def _finished(rs: RunState, v: Verdict) -> None:
    """The closing events: rolled back (when services were put back), then completed, failed
    (naming the first failed step) or cancelled."""
    failed = next((r for r in (rs.records[s.id] for s in rs.plan.steps)
                   if r.outcome.failed and not rs.plan.step(r.step).optional), None)
    if rs.journal.rolled_back:  # before the closing event, as it happened before the end
        rs.milestones.rolled_back(
            list(rs.journal.rolled_back),
            reason=f"{failed.step} failed" if failed else v.status,
            failed_step=failed.step if failed else None)
    rs.milestones.finished(v.status, v.message,
                           failed_step=failed.step if failed else None,
                           exit_code=failed.exit_code if failed else None)


class _CancelWatcher:
    """An in-process run never sees a cancel from the UI: ask about the flow run's state
    about once a second (``reporter.cancel_requested()``)."""

    def __init__(self, rs: RunState, reporter: Any) -> None:
        self.rs = rs
        self.reporter = reporter
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="cancel-watcher", daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(CANCEL_POLL_S):
            try:
                cancelled = self.reporter.cancel_requested()
            except Exception:  # noqa: BLE001 - keep watching
                continue
            if cancelled:
                self.rs.fail("cancelled from Prefect", cancelled=True)
                self.rs.out.status("up", "flow run cancelled: stopping containers")
                return

    def stop(self) -> None:
        self._stop.set()
