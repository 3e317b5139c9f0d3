"""Per-run bookkeeping: :class:`RunState` (what one `up` started, decided and saw), each step's
:class:`StepRecord` with its :class:`StepOutcome`, and the :func:`verdict` drawn from them.

No Prefect and no Docker here: the flow shell turns the verdict into a Prefect state, and the
unit tests drive the bookkeeping with a fake engine.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from prefect_compose.model.types import Project
from prefect_compose.plan.compile import Plan
from prefect_compose.plan.converge import Decision
from prefect_compose.run.output import Output, secrets_of
from prefect_compose.run.rollback import Journal


class StepOutcome(str, Enum):
    """How a step ended (the value is what the summary shows)."""
    PENDING = "pending"
    NOT_STARTED = "not started"
    OK = "ok"  # a job exited 0, a health wait passed
    CREATED = "created"
    RECREATED = "recreated"
    STARTED = "started"  # an existing, up-to-date container was started
    UNCHANGED = "unchanged"
    FAILED = "failed"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"
    ROLLED_BACK = "rolled back"  # replaced, then put back when the deployment failed

    @property
    def succeeded(self) -> bool:
        return self in _SUCCEEDED

    @property
    def failed(self) -> bool:
        return self in (StepOutcome.FAILED, StepOutcome.TIMED_OUT)


_SUCCEEDED = frozenset({StepOutcome.OK, StepOutcome.CREATED, StepOutcome.RECREATED,
                        StepOutcome.STARTED, StepOutcome.UNCHANGED})


@dataclass
class StepRecord:
    service: str
    step: str
    kind: str
    outcome: StepOutcome = StepOutcome.NOT_STARTED
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
    rollback: bool = True


class Cancel(Exception):
    """A step stopped because the deployment is being aborted."""


class Signal(threading.Event):
    """An event that also sets ``wake`` when it is set: the scheduler (run/schedule.py)
    sleeps on that one event instead of polling every step's."""

    def __init__(self, wake: threading.Event) -> None:
        super().__init__()
        self._wake = wake

    def set(self) -> None:
        super().set()
        self._wake.set()


@dataclass
class RunState:
    """What one deployment shares between its steps (looked up by id, never pickled)."""
    project: Project
    plan: Plan
    engine: Any  # an Engine, or a fake one in unit tests
    flow_run_id: str
    options: Options
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    wake: threading.Event = field(default_factory=threading.Event)  # any Signal below was set
    abort: threading.Event = field(init=False)
    finished: threading.Event = field(default_factory=threading.Event)
    abort_reason: str = ""
    cancelled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    images: dict[str, str] = field(default_factory=dict)  # service -> image ref
    hashes: dict[str, str] = field(default_factory=dict)  # service -> config-hash label
    decisions: dict[str, Decision] = field(default_factory=dict)  # long-running services
    containers: dict[str, str] = field(default_factory=dict)  # service -> container id
    started: dict[str, threading.Event] = field(default_factory=dict)  # by service
    done: dict[str, threading.Event] = field(default_factory=dict)  # by step
    created: dict[str, str] = field(default_factory=dict)  # cid -> service, started by us
    # the project's long-running containers as listed after the reaper (run/deploy.py), for
    # converge's observe (run/prepare.py); None: list them there
    observed_rows: list[dict] | None = None
    records: dict[str, StepRecord] = field(default_factory=dict)  # by step
    start_slots: threading.Semaphore | None = None
    journal: Journal = field(default_factory=Journal)  # replacements, for rollback
    background: list[threading.Thread] = field(default_factory=list)  # run/cleanup.py
    limited_tags: frozenset[str] = frozenset()  # task tags a Prefect tag concurrency limit names
    reporter: Any = None  # where its records go (run/reporting.py)
    milestones: Any = None  # its progress and events (run/milestones.py)
    out: Output = field(init=False)

    def __post_init__(self) -> None:
        self.abort = Signal(self.wake)
        for s in self.plan.services:
            self.started[s.name] = Signal(self.wake)
        for st in self.plan.steps:
            self.done[st.id] = Signal(self.wake)
            self.records[st.id] = StepRecord(service=st.service, step=st.id, kind=st.kind)
        if self.plan.concurrency:
            self.start_slots = threading.Semaphore(self.plan.concurrency)
        self.out = Output([s.name for s in self.plan.services], echo=self.options.echo,
                          secrets=secrets_of(self.project), project=self.project.name,
                          steps=[(st.id, st.service) for st in self.plan.steps],
                          flow_run_id=self.flow_run_id)

    def fail(self, reason: str, cancelled: bool = False) -> None:
        """Abort the deployment (the first reason wins): running steps stop, pending ones
        never start."""
        with self.lock:
            if not self.abort.is_set():
                self.abort_reason = reason
                self.cancelled = cancelled
                self.abort.set()

    def check_abort(self) -> None:
        if self.abort.is_set():
            raise Cancel(self.abort_reason)

    def grace(self, service: str) -> float:
        return self.project.services[service].stop_grace_period_s

    def max_grace(self) -> float:
        return max((s.stop_grace_period_s for s in self.project.services.values()),
                   default=10.0)


def task_state(record: StepRecord, mask: Any) -> tuple[str, str, str]:
    """(state type, state name, message) a step's task run ends in, whichever shell records
    it (run/flow.py as a Prefect state, run/direct.py as a state event)."""
    text = mask(record.message)
    if record.outcome.succeeded:
        return "COMPLETED", "Completed", f"{record.step}: {record.outcome.value}"
    if record.outcome in (StepOutcome.CANCELLED, StepOutcome.NOT_STARTED):
        return "CANCELLED", "Cancelled", f"{record.step} {text}"
    name = "TimedOut" if record.outcome is StepOutcome.TIMED_OUT else "Failed"
    return "FAILED", name, text or f"{record.step} failed"


@dataclass(frozen=True)
class Verdict:
    status: str  # completed | failed | cancelled
    message: str

    @property
    def succeeded(self) -> bool:
        return self.status == "completed"

    def with_rollback(self, rolled_back: list[str], failed: list[str]) -> Verdict:
        extra = (f"; rolled back {', '.join(rolled_back)} to the previous containers"
                 if rolled_back else "")
        if failed:
            extra += f"; could NOT roll back {', '.join(failed)}"
        if not extra:
            return self
        head, sep, tail = self.message.partition("\n")
        return Verdict(self.status, head + extra + sep + tail)


def verdict(rs: RunState) -> Verdict:
    """Success means up: completed only when every step succeeded (a job that only optional
    dependents wait on may fail); never from "no error was seen"."""
    name = rs.project.name
    records = [rs.records[s.id] for s in rs.plan.steps]
    if rs.cancelled:
        return Verdict("cancelled", f"deployment {name} cancelled: {rs.abort_reason}")
    optional = {s.id for s in rs.plan.steps if s.optional}
    failures = [r for r in records if r.outcome.failed and r.step not in optional]
    if failures:
        return Verdict("failed", rs.out.mask(_failure_message(name, failures[0])))
    unfinished = [r for r in records if not r.outcome.succeeded and r.step not in optional]
    if unfinished:
        first = unfinished[0]
        why = f": {first.message}" if first.message else ""
        return Verdict("failed", rs.out.mask(
            f"deployment {name} failed: step {first.step} {first.outcome.value}{why}"
            f"{f' ({rs.abort_reason})' if rs.abort_reason and not why else ''}"))
    tolerated = [r.step for r in records if r.step in optional and not r.outcome.succeeded]
    if tolerated:
        return Verdict("completed", f"deployment {name} succeeded; optional "
                                    f"{', '.join(tolerated)} did not (required: false)")
    return Verdict("completed", f"deployment {name}: {len(records)} steps succeeded")


def _failure_message(name: str, first: StepRecord) -> str:
    code = f" (exit code {first.exit_code})" if first.exit_code is not None else ""
    tail = "\n".join(first.tail.strip().splitlines()[-5:]) if first.tail else ""
    return (f"deployment {name} failed: {first.message}"
            f"{code if 'exit code' not in first.message else ''}"
            + (f"\nlast output of {first.service}:\n{tail}" if tail else ""))
