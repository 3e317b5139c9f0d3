"""run/direct.py writes a step's task run as Prefect's task engine does: one state event per
state change, each following the one before, the task run's times in its payload; the final
state is the one the flow's task returns for the same outcome. Pure logic: the reporter is a
list."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from prefect_compose.run.direct import RestReporter, TaskRunRecord
from prefect_compose.run.opening import tag_limited
from prefect_compose.run.rest import RestError
from prefect_compose.run.state import StepOutcome, StepRecord


class _Reporter:
    flow_run_id = "11111111-1111-1111-1111-111111111111"
    flow_id = "22222222-2222-2222-2222-222222222222"
    flow_run_name = "shop"
    related = RestReporter.related

    def __init__(self) -> None:
        self.events: list[dict] = []
        self._wake = SimpleNamespace(set=lambda: None)

    def add_event(self, event: dict) -> None:
        self.events.append(event)


def _plan():
    from prefect_compose.project import ProjectOptions, load_and_compile

    example = Path(__file__).resolve().parents[3] / "examples" / "release" / "compose.yaml"
    return load_and_compile(ProjectOptions(files=[str(example)]))[1]


def _rs():
    return SimpleNamespace(out=SimpleNamespace(mask=lambda t: t))


def test_each_state_must_follow_the_one_before_with_the_task_runs_times():
    plan = _plan()
    rep = _Reporter()
    step = plan.step("migrate")
    tr = TaskRunRecord(rep, plan, step, 2, ["33333333-3333-3333-3333-333333333333"])
    tr.state("PENDING", "Pending")
    tr.state("RUNNING", "Running")
    record = StepRecord(service="migrate", step="migrate", kind="job", outcome=StepOutcome.OK,
                        started_at=time.monotonic(), ended_at=time.monotonic())
    tr.ended(_rs(), record)
    names = [e["event"] for e in rep.events]
    assert names == ["prefect.task-run.Pending", "prefect.task-run.Running",
                     "prefect.task-run.Completed"]
    assert "follows" not in rep.events[0]
    assert rep.events[1]["follows"] == rep.events[0]["id"]
    assert rep.events[2]["follows"] == rep.events[1]["id"]
    last = rep.events[2]["payload"]
    assert last["intended"] == {"from": "RUNNING", "to": "COMPLETED"}
    body = last["task_run"]
    assert body["name"] == "migrate" and body["run_count"] == 1
    assert body["tags"] == ["project:release", "service:migrate", "kind:job"]
    assert body["task_inputs"]["wait_for"] == [
        {"input_type": "task_run", "id": "33333333-3333-3333-3333-333333333333"}]
    assert body["start_time"] <= body["end_time"] and body["total_run_time"] >= 0
    roles = {r["prefect.resource.role"] for r in rep.events[2]["related"]}
    assert {"flow-run", "flow", "tag"} <= roles  # the recorder finds the flow run by role


@pytest.mark.parametrize("outcome,kind,name", [
    (StepOutcome.OK, "COMPLETED", "Completed"),
    (StepOutcome.UNCHANGED, "COMPLETED", "Completed"),
    (StepOutcome.FAILED, "FAILED", "Failed"),
    (StepOutcome.TIMED_OUT, "FAILED", "TimedOut"),
    (StepOutcome.CANCELLED, "CANCELLED", "Cancelled"),
    (StepOutcome.NOT_STARTED, "CANCELLED", "Cancelled"),
])
def test_the_final_state_must_be_the_flows_for_the_same_outcome(outcome, kind, name):
    plan = _plan()
    rep = _Reporter()
    tr = TaskRunRecord(rep, plan, plan.step("migrate"), 0, [])
    tr.state("PENDING", "Pending")
    tr.ended(_rs(), StepRecord(service="migrate", step="migrate", kind="job",
                               outcome=outcome, message="why"))
    state = rep.events[-1]["payload"]["validated_state"]
    assert (state["type"], state["name"]) == (kind, name)


def test_an_end_must_be_dated_when_the_step_ended_not_when_it_was_sent():
    plan = _plan()
    rep = _Reporter()
    tr = TaskRunRecord(rep, plan, plan.step("db"), 0, [])
    tr.state("RUNNING", "Running")
    ended = time.monotonic()
    time.sleep(0.05)  # the dependents start here, before the end is sent
    tr.ended(_rs(), StepRecord(service="db", step="db", kind="start",
                               outcome=StepOutcome.CREATED, started_at=ended, ended_at=ended))
    sent = time.time()
    end = datetime.fromisoformat(rep.events[-1]["payload"]["task_run"]["end_time"]
                                 .replace("Z", "+00:00")).timestamp()
    assert end <= sent - 0.04


class _Rest:
    def __init__(self, answers: dict[str, list] | Exception) -> None:
        self.answers = answers

    def call(self, method: str, path: str, body=None):
        if isinstance(self.answers, Exception):
            raise self.answers
        return self.answers.get(path, [])


def test_a_tag_limit_on_a_plan_tag_must_send_the_run_to_the_flow():
    plan = _plan()
    assert not tag_limited(_Rest({}), plan)
    assert not tag_limited(_Rest({"/v2/concurrency_limits/filter": [{"name": "tag:other"}]}),
                           plan)
    assert tag_limited(_Rest({"/v2/concurrency_limits/filter": [
        {"name": "tag:project:release"}]}), plan)
    assert tag_limited(_Rest({"/concurrency_limits/filter": [{"tag": "kind:job"}]}), plan)
    assert tag_limited(_Rest(RestError("refused")), plan)  # cannot tell: the limits hold


def test_the_flow_must_run_when_asked_or_when_the_direct_up_cannot_record(monkeypatch):
    from prefect_compose.run.opening import wanted

    monkeypatch.delenv("PREFECT_COMPOSE_ENGINE", raising=False)
    monkeypatch.delenv("PREFECT_COMPOSE_SERVER", raising=False)
    assert wanted(False, "http://127.0.0.1:4200/api")
    assert not wanted(True, "http://127.0.0.1:4200/api")  # --verbose: Prefect's engine lines
    assert not wanted(False, "https://api.prefect.cloud/api/accounts/a/workspaces/w")
    monkeypatch.setenv("PREFECT_COMPOSE_ENGINE", "prefect")
    assert not wanted(False, "http://127.0.0.1:4200/api")
    monkeypatch.delenv("PREFECT_COMPOSE_ENGINE")
    monkeypatch.setenv("PREFECT_COMPOSE_SERVER", "ephemeral")
    assert not wanted(False, None)


@pytest.mark.parametrize("error,status", [(RuntimeError("boom"), "failed"),
                                          (KeyboardInterrupt(), "cancelled")])
def test_a_deployment_that_raises_must_end_its_flow_run_failed_or_cancelled(
        monkeypatch, error, status):
    """A bug or an engine surprise ends the flow run Failed, naming it; Ctrl-C before the
    steps ends it Cancelled; the exception goes on to the CLI either way (exit 1 or 130)."""
    from prefect_compose.run import direct
    from prefect_compose.run.state import Options

    closed: list[tuple[str, str]] = []

    class Reporter:
        flow_run_id, flow_run_name = "f", "release"

        def close(self, status: str, message: str) -> None:
            closed.append((status, message))

    def deploy(*a, **k):
        raise error

    monkeypatch.setattr(direct, "deploy", deploy)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    from prefect_compose.project import ProjectOptions, load_and_compile

    example = Path(__file__).resolve().parents[3] / "examples" / "release" / "compose.yaml"
    project, plan = load_and_compile(ProjectOptions(files=[str(example)]))
    with pytest.raises(type(error)):
        direct.run(Reporter(), project, plan, engine=None, options=Options(echo=False))
    assert [c[0] for c in closed] == [status]
    if status == "failed":
        assert "RuntimeError: boom" in closed[0][1]


class _RecordingRest:
    """The REST calls a reporter makes, in order (no server)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def call(self, method: str, path: str, body=None):
        self.calls.append((method, path))
        return {"id": "a1"}

    def close(self) -> None:
        pass


def test_the_plan_and_summary_artifacts_must_not_hold_up_the_deployment(monkeypatch):
    """They were a request each on the deployment's path (the plan's two before the first
    step); they go with the next batch, before its events, and all before the final state."""
    import prefect_compose.run.direct as direct

    monkeypatch.setattr(direct, "FLUSH_S", 60.0)  # no tick during the test
    rest = _RecordingRest()
    rep = RestReporter(rest, "f1", "r1", "shop", ["project:shop"])
    rep.markdown_artifact("shop-plan", "# plan", "compiled plan of shop")
    rep.table_artifact("shop-summary", [{"step": "web"}], "outcome of each step")
    rep.emit("prefect-compose.deployment.completed", {"prefect.resource.id": "x"}, [], {})
    assert rest.calls == [], "an artifact was sent on the caller's path"
    rep.close("completed", "ok")
    assert rest.calls == [("POST", "/artifacts/"), ("POST", "/artifacts/"),
                          ("POST", "/events"), ("POST", "/flow_runs/r1/set_state")]


def test_the_last_steps_end_must_send_the_batch_at_once(monkeypatch):
    """When every step has ended (deploy calls ``steps_done``) their records go then, while
    the summary is written, not at the next tick."""
    import threading

    import prefect_compose.run.direct as direct

    monkeypatch.setattr(direct, "FLUSH_S", 60.0)
    sent = threading.Event()

    class Rest(_RecordingRest):
        def call(self, method, path, body=None):
            if path == "/events":
                sent.set()
            return super().call(method, path, body)

    rep = RestReporter(Rest(), "f1", "r1", "shop", [])
    rep.emit("x", {"prefect.resource.id": "x"}, [], {})
    rep.steps_done()
    assert sent.wait(10), "steps_done() did not send the waiting batch"
    rep.close("completed", "ok")


def _runner_events(monkeypatch, action):
    """The events a service's task run gets through _Runner, its step's body faked."""
    from prefect_compose.plan.converge import Action, Decision
    from prefect_compose.run import direct

    plan = _plan()
    outcome = StepOutcome.UNCHANGED if action is Action.KEEP else StepOutcome.CREATED

    def execute(rs, step_id, log):
        record = rs.records[step_id]
        record.started_at = time.monotonic()
        time.sleep(0.01)
        record.outcome, record.ended_at = outcome, time.monotonic()
        return record

    monkeypatch.setattr(direct, "execute", execute)
    monkeypatch.setattr(direct, "step_finished", lambda rs, record: None)
    rep = _Reporter()
    rep.run_logger = lambda task_run_id: None
    rs = SimpleNamespace(
        plan=plan, out=SimpleNamespace(mask=lambda t: t),
        decisions={"db": Decision("db", action, "up to date", "h")},
        records={"db": StepRecord(service="db", step="db", kind="start")})
    runner = direct._Runner(rs, rep)
    try:
        runner.submit(plan.step("db"), []).result(timeout=10)
    finally:
        runner.close()
    return rep.events


def test_a_kept_service_must_be_recorded_with_its_end_state_only(monkeypatch):
    """Nothing runs for a service left as it is: one Completed event (a Prefect server spends
    about 10 ms of CPU on each), with the task run's start and end, following nothing."""
    from prefect_compose.plan.converge import Action

    events = _runner_events(monkeypatch, Action.KEEP)
    assert [e["event"] for e in events] == ["prefect.task-run.Completed"]
    event = events[0]
    assert "follows" not in event and event["payload"]["initial_state"] is None
    assert event["payload"]["validated_state"]["message"] == "db: unchanged"
    body = event["payload"]["task_run"]
    assert body["run_count"] == 1 and body["start_time"] < body["end_time"]
    assert body["total_run_time"] > 0
    # a service the step acts on keeps every state
    events = _runner_events(monkeypatch, Action.CREATE)
    assert [e["event"] for e in events] == ["prefect.task-run.Pending",
                                            "prefect.task-run.Running",
                                            "prefect.task-run.Completed"]


def test_no_two_states_of_a_task_run_may_share_a_timestamp():
    """The server keeps one state of a task run per timestamp; its recorder retries a twin
    forever. An end dated before the start (clocks, rounding) still comes after it."""
    plan = _plan()
    rep = _Reporter()
    tr = TaskRunRecord(rep, plan, plan.step("migrate"), 0, [])
    at = time.time()
    tr.state("PENDING", "Pending", at=at)
    tr.state("RUNNING", "Running", at=at)
    tr.state("COMPLETED", "Completed", at=at - 1)
    stamps = [e["resource"]["prefect.state-timestamp"] for e in rep.events]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3, stamps
    body = rep.events[-1]["payload"]["task_run"]
    assert body["start_time"] < body["end_time"] and body["total_run_time"] >= 0
