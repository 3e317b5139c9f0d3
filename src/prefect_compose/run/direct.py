"""The CLI's `up` with Prefect off the critical path: the same deployment (run/deploy.py) and
the same records in Prefect (one `compose-up` flow run named after the project, a task run
per step with its tags, states and upstream edges, the logs, the plan, progress and summary
artifacts, the milestone events), written over Prefect's REST API by this process, which
imports no prefect.

Why: `import prefect` alone costs 1-1.8 s here, Prefect's engine another 0.5-1.2 s to create
and end a flow run; an unchanged `docker compose up` of 50 services takes 0.6 s. Here the
flow run is created by run/opening.py on a thread while the engine is reached, every
step runs in a thread of this process as soon as its upstreams are done, and its task run is
recorded the way Prefect's own task engine records it: as `prefect.task-run.*` state events
(the server's task-run recorder writes them), sent in batches with the logs by one thread.
The process waits only for the last batch and the flow run's final state.

It is used when a server is in use (`PREFECT_API_URL`, the kept server or the profile's) and
nothing needs Prefect's engine in this process: not in ephemeral mode, not with `--verbose`
(Prefect's own engine lines are asked for), and not when a Prefect tag concurrency limit names
one of the plan's task tags (Prefect's task engine acquires those slots). Then, or when
`PREFECT_COMPOSE_ENGINE=prefect`, or against Prefect Cloud, `up` runs the `compose-up` flow in
process as before.
Under a worker, `serve` or `prefect deployment run`, the flow (run/flow.py) always runs.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from prefect_compose.plan.compile import Plan, Step
from prefect_compose.plan.converge import Action
from prefect_compose.run.deploy import deploy, step_finished
from prefect_compose.run.milestones import task_tags
from prefect_compose.run.opening import FLOW_NAME, Opening
from prefect_compose.run.rest import PrefectRest, RestError
from prefect_compose.run.state import Options, RunState, StepRecord, Verdict, task_state
from prefect_compose.run.steps import StepLog, execute
from prefect_compose.trace import mark

FLUSH_S = 0.5  # logs and events go in batches, every this long (Prefect batches logs: 2 s);
# a batch 0.02 s after each step's end as well doubled the requests per step of a first
# deploy (1.2 against 0.6) to a server that shares two cores with the engine
BATCH_EVENTS = 100  # or as soon as this many events wait: a burst (an unchanged redeploy's
# hundreds of state events) goes while the steps still run, not all after the last
MAX_WORKERS = 32  # as the flow's ThreadPoolTaskRunner: ready steps beyond wait their turn
TASK_KEY = "step-compose-up"
_LEVEL = logging.INFO  # Prefect's default run-logger level

_warned = False


def _warn(text: str) -> None:
    """A failure to report, said once on stderr; the deployment goes on."""
    global _warned
    if not _warned:
        _warned = True
        print(f"warning: could not report to Prefect: {text}", file=sys.stderr)


def _iso(ts: float | None = None) -> str:
    dt = datetime.fromtimestamp(ts, UTC) if ts is not None else datetime.now(UTC)
    return dt.isoformat().replace("+00:00", "Z")


# -- the logs ----------------------------------------------------------------------------------
class _RestLogHandler(logging.Handler):
    """Run log records (masked already: masking installs a record factory) to their
    reporter's batch."""

    def emit(self, record: logging.LogRecord) -> None:
        reporter = getattr(record, "rest_reporter", None)
        if reporter is None:
            return
        message = record.getMessage()
        if record.exc_text:
            message += "\n" + record.exc_text
        reporter.add_log({
            "name": "prefect.task_runs" if record.task_run_id else "prefect.flow_runs",
            "level": record.levelno, "message": message, "timestamp": _iso(record.created),
            "flow_run_id": record.flow_run_id, "task_run_id": record.task_run_id})


_run_logger = logging.getLogger("prefect_compose.direct.runs")
_run_logger.propagate = False
_run_logger.setLevel(_LEVEL)
_run_logger.addHandler(_RestLogHandler())


# -- the reporter ------------------------------------------------------------------------------
class RestReporter:
    """run/reporting.py's reporter over the REST API, for one flow run it creates."""

    def __init__(self, rest: PrefectRest, flow_id: str, flow_run_id: str,
                 flow_run_name: str, tags: list[str]) -> None:
        self.rest = rest
        self.flow_id = flow_id
        self.flow_run_id = flow_run_id
        self.flow_run_name = flow_run_name
        self._tags = list(tags)
        self.logger = self.run_logger(None)
        self._lock = threading.Lock()
        self._logs: list[dict] = []
        self._events: list[dict] = []
        self._artifacts: list[dict] = []  # the plan and summary, sent before the next batch
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, daemon=True,
                                         name="prefect-compose-report")
        self._flusher.start()

    @classmethod
    def opened(cls, opening: Opening) -> RestReporter:
        """The reporter of the flow run an Opening created."""
        assert opening.rest is not None and opening.flow_run_id is not None
        return cls(opening.rest, opening.flow_id, opening.flow_run_id, opening.name,
                   opening.tags)

    # logging
    def run_logger(self, task_run_id: str | None) -> logging.LoggerAdapter:
        return logging.LoggerAdapter(_run_logger, {
            "rest_reporter": self, "flow_run_id": self.flow_run_id, "task_run_id": task_run_id})

    def api_logger(self, run_logger: Any) -> Any:
        return run_logger  # a run logger here writes to the API only already

    def add_log(self, entry: dict) -> None:
        with self._lock:
            self._logs.append(entry)

    def add_event(self, event: dict) -> None:
        with self._lock:
            self._events.append(event)
            full = len(self._events) >= BATCH_EVENTS
        if full:
            self._wake.set()

    # artifacts
    def _artifact(self, body: dict) -> Any:
        return self.rest.call("POST", "/artifacts/",
                              {**body, "flow_run_id": self.flow_run_id})["id"]

    def _post_later(self, body: dict) -> None:
        """An artifact nothing waits for (the plan, the summary): sent with the next batch,
        off the deployment's path (two requests before the first step, one after the last)."""
        with self._lock:
            self._artifacts.append({**body, "flow_run_id": self.flow_run_id})

    def markdown_artifact(self, key: str, markdown: str, description: str) -> None:
        self._post_later({"key": key, "type": "markdown", "data": markdown,
                          "description": description})

    def table_artifact(self, key: str, rows: list[dict[str, Any]], description: str) -> None:
        self._post_later({"key": key, "type": "table", "data": json.dumps(rows, default=str),
                          "description": description})

    def progress_artifact(self, key: str, description: str) -> Any:
        return self._artifact({"key": key, "type": "progress", "data": 0.0,
                               "description": description})

    def update_progress(self, artifact_id: Any, percent: float, description: str) -> None:
        self.rest.call("PATCH", f"/artifacts/{artifact_id}",
                       {"data": percent, "description": description})

    # events, tags, limits, cancel
    def related(self) -> list[dict[str, str]]:
        return [{"prefect.resource.id": f"prefect.flow-run.{self.flow_run_id}",
                 "prefect.resource.role": "flow-run",
                 "prefect.resource.name": self.flow_run_name},
                {"prefect.resource.id": f"prefect.flow.{self.flow_id}",
                 "prefect.resource.role": "flow", "prefect.resource.name": FLOW_NAME}]

    def emit(self, event: str, resource: dict[str, str], related: list[dict[str, str]],
             payload: dict[str, Any]) -> None:
        ids = {r["prefect.resource.id"] for r in related}
        related = list(related) + [r for r in self.related()
                                   if r["prefect.resource.id"] not in ids]
        self.add_event({"id": str(uuid.uuid4()), "occurred": _iso(), "event": event,
                        "resource": resource, "related": related, "payload": payload})

    def tag_flow_run(self, tags: list[str]) -> None:
        merged = list(dict.fromkeys([*self._tags, *tags]))
        if merged != self._tags:
            try:
                self.rest.call("PATCH", f"/flow_runs/{self.flow_run_id}", {"tags": merged})
                self._tags = merged
            except RestError as exc:
                _warn(str(exc))

    def tag_limits(self) -> set[str] | None:
        return set()  # checked before this run was created: none applies (tag_limited)

    def cancel_requested(self) -> bool:
        run = self.rest.call("GET", f"/flow_runs/{self.flow_run_id}")
        kind = ((run or {}).get("state") or {}).get("type")
        return kind in ("CANCELLING", "CANCELLED")

    # sending
    def _flush_loop(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(FLUSH_S)
            self._wake.clear()
            if self._closing.is_set():
                return
            self.flush()

    def steps_done(self) -> None:
        """Every step has ended: send their records now, while the summary is written, not
        at the next tick."""
        self._wake.set()

    def flush(self) -> None:
        """Artifacts, then events, then logs: one request each."""
        with self._lock:
            artifacts, self._artifacts = self._artifacts, []
            logs, self._logs = self._logs, []
            events, self._events = self._events, []
        for body in artifacts:
            self._send("POST", "/artifacts/", body)
        if events:
            self._send("POST", "/events", events)
            mark(f"direct: {len(events)} events sent")
        if logs:
            self._send("POST", "/logs/", logs)
            mark(f"direct: {len(logs)} logs sent")

    def _send(self, method: str, path: str, body: Any) -> None:
        try:
            self.rest.call(method, path, body)
        except RestError as exc:
            _warn(str(exc))

    def close(self, status: str, message: str) -> None:
        """Send what is left, then end the flow run: Completed, Failed or Cancelled."""
        self._closing.set()
        self._wake.set()
        self._flusher.join(timeout=10)
        mark("direct: flusher stopped")
        self.flush()
        mark("direct: last batch sent")
        kind = {"completed": "COMPLETED", "cancelled": "CANCELLED"}.get(status, "FAILED")
        try:
            self.rest.call("POST", f"/flow_runs/{self.flow_run_id}/set_state", {
                "state": {"type": kind, "name": kind.capitalize(), "message": message},
                "force": True})
        except RestError as exc:
            _warn(str(exc))
        self.rest.close()


# -- a step's task run ---------------------------------------------------------------------------
class TaskRunRecord:
    """One step's task run, written as Prefect's task engine writes one: a state event per
    state change, each following the one before."""

    def __init__(self, reporter: RestReporter, plan: Plan, step: Step, index: int,
                 upstream: list[str]) -> None:
        self.reporter = reporter
        self.id = str(uuid.uuid4())
        self.step = step
        self.tags = task_tags(plan, step)
        self._last: dict | None = None  # the last state sent
        self._last_event: str | None = None
        self._at: float | None = None  # when the last state sent was
        self.kept = False  # a service left as it is: its end state only (_Runner._kept)
        self.body: dict[str, Any] = {
            "name": step.id, "task_key": TASK_KEY, "dynamic_key": str(index),
            "empirical_policy": {"max_retries": 0, "retry_delay_seconds": 0.0},
            "tags": self.tags, "labels": {},
            "task_inputs": {"run_id": [], "step_id": [],
                            "wait_for": [{"input_type": "task_run", "id": u}
                                         for u in upstream]},
            "run_count": 0, "flow_run_run_count": 1, "expected_start_time": _iso()}

    def state(self, kind: str, name: str, message: str = "", at: float | None = None) -> None:
        now = time.time() if at is None else at
        if self._at is not None:  # after the state before: the server keeps one state of a
            now = max(now, self._at + 2e-6)  # task run per timestamp (a twin is refused)
        self._at = now
        if kind == "RUNNING":
            self.body.update(run_count=1, start_time=_iso(now))
            self._started = now
        elif kind in ("COMPLETED", "FAILED", "CANCELLED"):
            if "start_time" in self.body:
                self.body["total_run_time"] = round(now - self._started, 6)
            self.body["end_time"] = _iso(now)
        validated = {"type": kind, "name": name, "message": message, "state_details": {},
                     "data": None}
        event_id = str(uuid.uuid4())
        resource = {"prefect.resource.id": f"prefect.task-run.{self.id}",
                    "prefect.resource.name": self.step.id,
                    "prefect.run-count": str(self.body["run_count"]),
                    "prefect.state-message": message, "prefect.state-name": name,
                    "prefect.state-timestamp": _iso(now), "prefect.state-type": kind,
                    "prefect.orchestration": "client"}
        related = self.reporter.related() + [
            {"prefect.resource.id": f"prefect.tag.{t}", "prefect.resource.role": "tag"}
            for t in sorted(self.tags)]
        event = {"id": event_id, "occurred": _iso(now), "event": f"prefect.task-run.{name}",
                 "resource": resource, "related": related,
                 "payload": {"intended": {"from": self._last["type"] if self._last else None,
                                          "to": kind},
                             "initial_state": ({k: self._last[k] for k in
                                                ("type", "name", "message", "state_details")}
                                               if self._last else None),
                             "validated_state": validated, "task_run": dict(self.body)}}
        if self._last_event:
            event["follows"] = self._last_event
        self._last, self._last_event = validated, event_id
        self.reporter.add_event(event)

    def ended(self, rs: RunState, record: StepRecord) -> None:
        """The final state, as run/flow.py's task returns it, dated when the step ended
        (before its dependents could start: their task runs start after it ends)."""
        def wall(t: float | None) -> float | None:
            return None if t is None else time.time() - (time.monotonic() - t)

        if self.kept and record.started_at is not None:  # its one state: it ran, briefly
            self._started = wall(record.started_at)
            self.body.update(run_count=1, start_time=_iso(self._started))
        self.state(*task_state(record, rs.out.mask), at=wall(record.ended_at))


class _Runner:
    """``submit`` for run/schedule.py: each ready step on a pool thread, with its task run."""

    def __init__(self, rs: RunState, reporter: RestReporter) -> None:
        self.rs = rs
        self.reporter = reporter
        self.pool = concurrent.futures.ThreadPoolExecutor(MAX_WORKERS,
                                                          thread_name_prefix="step")
        self.index = {s.id: i for i, s in enumerate(rs.plan.steps)}

    def submit(self, step: Step, wait_for: list[Any]) -> concurrent.futures.Future:
        record = TaskRunRecord(self.reporter, self.rs.plan, step, self.index[step.id],
                               [f.task_run_id for f in wait_for])
        record.kept = self._kept(step)
        if not record.kept:
            record.state("PENDING", "Pending")
        fut = self.pool.submit(self._run, record)
        fut.task_run_id = record.id  # type: ignore[attr-defined] - its dependents' edges
        return fut

    def _run(self, tr: TaskRunRecord) -> StepRecord:
        mark("step: first task run body", once=True)
        if not tr.kept:  # a kept service's task run has its end state only
            tr.state("RUNNING", "Running")
        logger = self.reporter.run_logger(tr.id)
        record = self.rs.records[tr.step.id]
        try:
            record = execute(self.rs, tr.step.id, StepLog(logger, logger))
            step_finished(self.rs, record)
        finally:
            tr.ended(self.rs, record)
        return record

    def _kept(self, step: Step) -> bool:
        """A service left as it is (converge decided KEEP): nothing runs, so its task run is
        recorded with its end state only (Completed, "<service>: unchanged"; Cancelled if the
        deployment stopped first), with no Pending and no Running. A Prefect server spends
        about 10 ms of CPU on each state event (taking it, recording the task run, storing the
        event): on an unchanged redeploy of 200 services, 200 events instead of 600."""
        decision = self.rs.decisions.get(step.service) if step.kind == "start" else None
        return decision is not None and decision.action is Action.KEEP

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


# -- the run -------------------------------------------------------------------------------------
def run(reporter: RestReporter, project: Any, plan: Plan, engine: Any, options: Options, *,
        wait_lock_s: float = 0.0) -> Verdict:
    """Deploy as the flow would, recorded over REST in the flow run ``reporter`` holds (made
    by run/opening.py, which decided the direct `up` may run)."""
    if not os.environ.get("PREFECT_API_URL"):  # the profile's server: the UI link needs it
        os.environ["PREFECT_API_URL"] = reporter.rest.api_url
    rs = RunState(project=project, plan=plan, engine=engine,
                  flow_run_id=reporter.flow_run_id, options=options)
    runner = _Runner(rs, reporter)
    try:
        v = deploy(rs, reporter, runner.submit, wait_lock_s=wait_lock_s, watch_cancel=True)
    except KeyboardInterrupt:  # before the steps (the lock, a build): deploy stopped
        reporter.close("cancelled", f"deployment {project.name} interrupted")
        raise
    except BaseException as exc:  # a bug or an engine surprise: the run failed, and says why
        reporter.close("failed", rs.out.mask(f"deployment {project.name} failed: "
                                             f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        runner.close()
    reporter.close(v.status, v.message)
    mark("direct: flow run ended")
    return v
