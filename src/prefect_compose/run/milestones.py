"""What a deployment reports to Prefect besides states and logs: tags, artifacts, events.

Tags (one scheme for the up, run and exec flows):
  - flow runs: ``project:NAME`` (and, for run/exec, ``service:NAME`` and ``kind:one-off``);
  - task runs: ``project:NAME``, ``service:NAME`` and ``kind:KIND``, KIND one of
    ``service`` (its start and its health wait), ``job``, ``hook`` (a pre_start entry),
    ``scheduled``. Prefect acquires a tag concurrency slot for every task run created with
    tags, through one service per distinct tag set that sends one API request per task run,
    one after the other (50 steps: 72 s with a tag set each, 0.6 s with a shared set; 50
    task runs starting at once queue behind each other for ~2 s even with a shared set). So
    a task run is created with no tags and gets them all when its step runs (``late_tags``),
    unless a tag concurrency limit exists for one of its tags (``tag_limits_apply``): then
    it is created with the tags that can carry one, and the limit is honoured.

Artifacts on the flow run: the plan (``PROJECT-plan``, table then graph), the progress
(``PROJECT-progress``: steps finished / total, updated as each step ends) and the summary
(``PROJECT-summary``).

Events (resource ``prefect-compose.project.NAME``, related: the flow run), for automations:
  ``prefect-compose.deployment.started``, ``prefect-compose.step.failed``,
  ``prefect-compose.deployment.rolled-back``, ``prefect-compose.deployment.completed``,
  ``prefect-compose.deployment.failed``, ``prefect-compose.deployment.cancelled``.

Everything here is reporting: a failure to report is logged as a warning, never fatal.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from prefect_compose.plan.compile import Plan, Step
from prefect_compose.run.reporting import tag_flow_run  # noqa: F401 - the one-off flows' import

EVENT_PREFIX = "prefect-compose"
PROGRESS_EVERY_S = 1.0
_log = logging.getLogger("prefect_compose.milestones")

# outcome words for people (the summary's outcome column, the terminal)
OUTCOME_WORDS = {
    "ok": ("✅", "succeeded"), "created": ("✅", "created"), "recreated": ("✅", "recreated"),
    "started": ("✅", "started"), "unchanged": ("✅", "unchanged, left running"),
    "failed": ("❌", "failed"), "timed out": ("⏱️", "timed out"),
    "cancelled": ("🚫", "cancelled"), "not started": ("⏸️", "not started"),
    "pending": ("⏸️", "not started"),
}
FAILED = ("failed", "timed out")


def outcome_words(status: str, optional: bool = False, *, icon: bool = True) -> str:
    """`ok` -> `✅ succeeded`; an optional job's failure -> `⚠️ failed (optional)`."""
    mark, words = OUTCOME_WORDS.get(status, ("", status))
    if optional and status in FAILED:
        mark, words = "⚠️", f"{words} (optional: deployment went on)"
    return f"{mark} {words}" if icon and mark else words


def without_icon(text: str) -> str:
    """The words of ``outcome_words(...)`` for a terminal (no emoji)."""
    head, _, rest = text.partition(" ")
    icons = {m for m, _ in OUTCOME_WORDS.values()} | {"⚠️"}
    return rest if head in icons else text


# -- tags ------------------------------------------------------------------------------------
def step_kind(plan: Plan, step: Step) -> str:
    """The kind a task run is tagged with: service, job, hook or scheduled."""
    if step.kind == "pre_start":
        return "hook"
    kind = plan.service(step.service).kind
    return "service" if kind in ("service", "provider") else kind


def task_tags(plan: Plan, step: Step) -> list[str]:
    return [f"project:{plan.project}", f"service:{step.service}",
            f"kind:{step_kind(plan, step)}"]


def creation_tags(plan: Plan, step: Step, limited: frozenset[str]) -> list[str]:
    """The tags a step's task run is created with: none, unless one of its tags has a
    Prefect tag concurrency limit (``limited``, from ``tag_limits_apply``); then the
    shared ones, and ``service:NAME`` too when that is the tag a limit names."""
    if not limited:
        return []
    tags = task_tags(plan, step)
    if not any(t in limited for t in tags):
        return []
    return [t for t in tags if not t.startswith("service:") or t in limited]


def tag_limits_apply(plan: Plan, reporter: Any) -> frozenset[str]:
    """The task tags of this plan that a Prefect tag concurrency limit names, as
    ``reporter`` reads the limits (both kinds: the global ``tag:NAME`` limits and the older
    per-tag ones)."""
    return limited_tags(plan, reporter.tag_limits())


def limited_tags(plan: Plan, limits: set[str] | None) -> frozenset[str]:
    """The plan's task tags among ``limits`` (the tags limits name); when the server could
    not be asked (None), every tag counts as limited: the limits stay honoured."""
    wanted = {t for s in plan.steps for t in task_tags(plan, s)}
    return frozenset(wanted if limits is None else wanted & set(limits))


def late_tags(plan: Plan, step: Step) -> None:
    """Inside the step's task run: the tags it was not created with. They reach the server
    with the task run's next state (Prefect records task runs from their state events)."""
    from prefect.context import TaskRunContext

    ctx = TaskRunContext.get()
    if ctx is None or ctx.task_run is None:
        return
    for tag in task_tags(plan, step):
        if tag not in ctx.task_run.tags:
            ctx.task_run.tags.append(tag)


def flow_run_tags(project: str, service: str | None = None) -> list[str]:
    """``project:NAME``; a one-off run (``service`` given) adds ``service:NAME`` and
    ``kind:one-off``."""
    return [f"project:{project}"] + ([f"service:{service}", "kind:one-off"] if service else [])


# -- events ----------------------------------------------------------------------------------
def emit(name: str, project: str, flow_run_id: str | None, *, flow_run_name: str | None = None,
         payload: dict[str, Any] | None = None, step: str | None = None,
         reporter: Any = None) -> None:
    """Emit ``prefect-compose.NAME`` about ``project``, related to its flow run (through
    ``reporter``, else Prefect's client)."""
    related = []
    if flow_run_id:
        related.append({"prefect.resource.id": f"prefect.flow-run.{flow_run_id}",
                        "prefect.resource.role": "flow-run",
                        "prefect.resource.name": flow_run_name or project})
    body = {"project": project, "flow_run_id": flow_run_id, **(payload or {})}
    if step is not None:
        body["step"] = step
    resource = {"prefect.resource.id": f"{EVENT_PREFIX}.project.{project}",
                "prefect.resource.name": project, f"{EVENT_PREFIX}.project": project}
    try:
        if reporter is None:
            from prefect_compose.run.reporting import PrefectReporter

            reporter = PrefectReporter(flow_run_id, flow_run_name or project, None)
        reporter.emit(f"{EVENT_PREFIX}.{name}", resource, related, body)
    except Exception as exc:  # noqa: BLE001
        _log.warning(f"could not emit {name}: {exc}")


def rolled_back(project: str, flow_run_id: str | None, services: list[str],
                reason: str = "") -> None:
    """The `deployment.rolled-back` event: ``services`` serve their previous containers
    again after a failed or interrupted deployment (what run/rollback.py restored)."""
    emit("deployment.rolled-back", project, flow_run_id,
         payload={"services": list(services), "reason": reason})


# -- the per-run reporter --------------------------------------------------------------------
class Milestones:
    """Tags, progress artifact and events of one deployment (one flow run).

    The flow calls ``started()`` once the plan is known, ``step_finished()`` as each step
    ends (from any task thread), ``rolled_back()`` when services were put back, and
    ``finished()`` with the final state's outcome."""

    def __init__(self, plan: Plan, reporter: Any):
        self.plan = plan
        self.project = plan.project
        self.reporter = reporter
        self.flow_run_id = reporter.flow_run_id
        self.flow_run_name = reporter.flow_run_name or plan.project
        self.total = len(plan.steps)
        self.done: set[str] = set()
        self._lock = threading.Lock()
        self._artifact_id: Any = None
        self._last: str | None = None
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    def _emit(self, name: str, **kw: Any) -> None:
        emit(name, self.project, self.flow_run_id, flow_run_name=self.flow_run_name,
             reporter=self.reporter, **kw)

    def started(self) -> None:
        self.reporter.tag_flow_run(flow_run_tags(self.project))
        self._create_progress()
        self._emit("deployment.started", payload={"steps": self.total,
                                                  "services": len(self.plan.services)})

    def _create_progress(self) -> None:
        from prefect_compose.run.report import artifact_key

        try:
            self._artifact_id = self.reporter.progress_artifact(
                artifact_key(self.project, "progress"), self._describe())
        except Exception as exc:  # noqa: BLE001
            _log.warning(f"could not create the progress artifact: {exc}")

    def _describe(self, last: str | None = None) -> str:
        text = f"{len(self.done)} of {self.total} steps of {self.project} finished"
        return text + (f" (last: {last})" if last else "")

    @property
    def percent(self) -> float:
        return round(100.0 * len(self.done) / self.total, 1) if self.total else 100.0

    def step_finished(self, step_id: str, status: str, *, message: str = "",
                      exit_code: int | None = None, optional: bool = False) -> None:
        with self._lock:
            self.done.add(step_id)
            self._last = step_id
            if self._flusher is None and self._artifact_id is not None:
                self._flusher = threading.Thread(target=self._flush_progress, daemon=True,
                                                 name="progress-artifact")
                self._flusher.start()
        self._dirty.set()
        if status in FAILED:
            step = self.plan.step(step_id)
            self._emit("step.failed", step=step_id, payload={
                "service": step.service, "kind": step_kind(self.plan, step),
                "outcome": status, "exit_code": exit_code, "message": message,
                "optional": optional})

    def _flush_progress(self) -> None:
        """The progress artifact, at most every PROGRESS_EVERY_S: one API call per finished
        step, serialized, cost 0.1-0.3 s a step on a loaded machine."""
        while not self._stop.is_set():
            self._dirty.wait()
            self._dirty.clear()
            if self._stop.is_set():
                return
            with self._lock:
                percent, description = self.percent, self._describe(self._last)
            self._update_progress(percent, description)
            self._stop.wait(PROGRESS_EVERY_S)

    def _update_progress(self, percent: float, description: str) -> None:
        if self._artifact_id is None:
            return
        try:
            self.reporter.update_progress(self._artifact_id, percent, description)
        except Exception as exc:  # noqa: BLE001
            _log.warning(f"could not update the progress artifact: {exc}")

    def rolled_back(self, services: list[str], reason: str = "", *,
                    failed_step: str | None = None) -> None:
        """The `deployment.rolled-back` event of this run: ``services`` serve their previous
        containers again; ``reason`` says why (the failed step, or cancelled)."""
        self._emit("deployment.rolled-back", step=failed_step,
                   payload={"services": list(services), "reason": reason})

    def finished(self, outcome: str, message: str = "", *, failed_step: str | None = None,
                 exit_code: int | None = None) -> None:
        """``outcome``: completed, failed or cancelled."""
        payload: dict[str, Any] = {"message": message, "steps_finished": len(self.done),
                                   "steps": self.total}
        if failed_step is not None:
            payload.update(service=self.plan.step(failed_step).service, exit_code=exit_code)
        self._stop.set()
        self._dirty.set()
        if self._flusher is not None:
            self._flusher.join(timeout=10)
        with self._lock:
            self._update_progress(self.percent, self._describe() + f": {outcome}")
        self._emit(f"deployment.{outcome}", step=failed_step, payload=payload)
