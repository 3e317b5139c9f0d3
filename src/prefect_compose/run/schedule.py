"""Submit each step when its upstreams are done, and know when all are finished, without
polling Prefect for task states and without a step holding a pool thread while it waits for
its upstreams (DESIGN.md, "Known traps").

No Prefect here: ``submit(step, wait_for)`` is the flow's (one task run per step) and returns a
future with ``add_done_callback`` and ``done``; ``wait_for`` are the futures of the upstreams
that are already done, passed on so that Prefect still draws the graph's edges. The scheduler
sleeps on ``rs.wake``, which every step's done and started signal, the abort and every
finished future set.

A step is ready when each upstream step is done (whatever its outcome: the step itself decides,
in run/steps.py, whether a failed upstream cancels it), or, for ``service_started`` on a job,
when the job's container has started. Once the deployment is aborted every step not yet
submitted is submitted at once: it ends Cancelled (not started), and still has its task run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from prefect_compose.plan.compile import Step
from prefect_compose.run.state import RunState, StepOutcome
from prefect_compose.run.steps import JOB_KINDS

Submit = Callable[[Step, list[Any]], Any]
IDLE_WAKE_S = 1.0  # a safety net only: every change sets rs.wake


class Scheduler:
    def __init__(self, rs: RunState, submit: Submit) -> None:
        self.rs = rs
        self._submit = submit
        self.futures: dict[str, Any] = {}
        self.pending: list[Step] = list(rs.plan.steps)
        self._finished: set[str] = set()
        self._lock = threading.Lock()

    # -- readiness ---------------------------------------------------------------------------
    def _on_start_edge(self, e: Any) -> bool:
        return self.rs.plan.step(e.step).kind in JOB_KINDS and e.condition == "service_started"

    def _ready(self, step: Step) -> bool:
        rs = self.rs
        for e in step.upstream:
            if rs.done[e.step].is_set():
                continue
            if self._on_start_edge(e) and rs.started[e.service].is_set():
                continue
            return False
        return True

    def _launch(self, step: Step) -> None:
        wait_for = [self.futures[e.step] for e in step.upstream
                    if not self._on_start_edge(e) and e.step in self.futures
                    and self.rs.done[e.step].is_set()]
        fut = self._submit(step, wait_for)
        self.futures[step.id] = fut
        fut.add_done_callback(lambda _f, sid=step.id: self._on_done(sid))

    def _on_done(self, step_id: str) -> None:
        """The step's task run ended. Normally its body set ``done`` already; when Prefect
        ended it without running the body (a crash), the deployment fails here."""
        rs = self.rs
        with self._lock:
            self._finished.add(step_id)
        if not rs.done[step_id].is_set():
            record = rs.records[step_id]
            if record.outcome is StepOutcome.NOT_STARTED and not rs.abort.is_set():
                record.message = record.message or "its task run ended before the step ran"
                rs.fail(f"{step_id}: {record.message}")
            rs.done[step_id].set()
        rs.wake.set()

    def _launch_ready(self) -> None:
        if self.rs.abort.is_set():
            ready, self.pending = self.pending, []
        else:
            ready = [s for s in self.pending if self._ready(s)]
            if ready:
                ids = {s.id for s in ready}
                self.pending = [s for s in self.pending if s.id not in ids]
        for step in ready:
            self._launch(step)

    @property
    def all_finished(self) -> bool:
        with self._lock:
            return not self.pending and len(self._finished) == len(self.futures)

    # -- the loop ------------------------------------------------------------------------------
    def run(self, deadline: float | None = None) -> bool:
        """Submit steps as they become ready until every step's task run has ended (True) or
        ``deadline`` (a monotonic time) has passed (False). Interruptible (Ctrl-C)."""
        wake = self.rs.wake
        while True:
            wake.clear()  # before looking: a signal set from here on wakes the next wait
            self._launch_ready()
            if self.all_finished:
                return True
            timeout = IDLE_WAKE_S
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    return False
            wake.wait(timeout)
