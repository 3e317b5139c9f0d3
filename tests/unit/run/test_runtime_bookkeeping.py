"""The runtime's bookkeeping on a fake engine: the verdict, upstream waits, optional jobs and
cleanup of what a run started (no Docker, no Prefect)."""

from __future__ import annotations

import time

from conftest import FakeEngine

ORDERED = """\
services:
  db:
    image: busybox:latest
    healthcheck: {test: ["CMD", "true"], interval: 1s}
  migrate:
    image: busybox:latest
    restart: "no"
    depends_on: {db: {condition: service_healthy}}
  web:
    image: busybox:latest
    depends_on: [migrate]
"""

SIBLINGS = """\
services:
  fail:
    image: busybox:latest
    restart: "no"
  long:
    image: busybox:latest
    restart: "no"
  web:
    image: busybox:latest
    depends_on: [fail, long]
"""

OPTIONAL = """\
services:
  fail:
    image: busybox:latest
    restart: "no"
  app:
    image: busybox:latest
    depends_on: {fail: {condition: service_completed_successfully, required: false}}
"""


def test_a_deploy_whose_steps_all_succeed_must_be_completed_in_order(deploy):
    run = deploy(ORDERED)
    assert run.verdict.succeeded, run.verdict
    assert {s: run.outcome(s) for s in run.rs.records} == {
        "db": "created", "db: healthy": "ok", "migrate": "ok", "web": "created"}
    ops = [(op, name) for op, name in run.engine.calls if op in ("start", "remove")]
    order = [name for op, name in ops if op == "start"]
    assert order[0] == "demo-db-1" and order[-1] == "demo-web-1", ops
    assert run.engine.running() == {"db": "demo-db-1", "web": "demo-web-1"}
    assert not run.engine.of("migrate"), "a completed job's container must be removed"


def test_a_failing_job_must_fail_the_verdict_and_never_start_its_dependents(deploy):
    run = deploy(SIBLINGS, FakeEngine(exits={"fail": (3, "long"), "long": "hang"}))
    assert run.verdict.status == "failed"
    assert "job fail failed with exit code 3" in run.verdict.message
    assert "last line of fail" in run.verdict.message  # the tail of its output
    assert run.outcome("fail") == "failed" and run.rs.records["fail"].exit_code == 3
    assert run.outcome("web") == "not started"
    assert run.outcome("long") == "cancelled"
    assert not run.engine.of("web")
    assert not run.engine.containers, "the sibling job must be stopped and removed"


def test_an_unexpected_exception_in_a_step_must_fail_the_step_and_the_verdict(deploy):
    engine = FakeEngine(raise_in={"migrate": ValueError("invalid literal for int()")})
    run = deploy(ORDERED, engine)
    assert run.outcome("migrate") == "failed"
    assert "ValueError: invalid literal" in run.rs.records["migrate"].message
    assert run.verdict.status == "failed" and "ValueError" in run.verdict.message
    assert run.outcome("web") == "not started"
    assert run.rs.abort.is_set()
    assert "ValueError" in run.logger.text("ERROR")


def test_an_engine_refusal_in_a_service_step_must_fail_the_verdict(deploy):
    run = deploy(ORDERED, FakeEngine(refuse_create={"web"}))
    assert run.outcome("web") == "failed" and "refused" in run.rs.records["web"].message
    assert run.verdict.status == "failed", run.verdict


def test_a_step_that_never_reached_success_must_not_count_as_success(deploy):
    """Even with no error recorded, a step left pending fails the verdict."""
    from prefect_compose.run.state import StepOutcome, verdict

    run = deploy(ORDERED)
    run.rs.records["web"].outcome = StepOutcome.PENDING
    v = verdict(run.rs)
    assert v.status == "failed" and "web" in v.message, v


def test_an_unhealthy_dependency_must_block_its_dependents(deploy):
    run = deploy(ORDERED, FakeEngine(health={"db": "timeout"}))
    assert run.outcome("db: healthy") == "failed"
    assert "db is unhealthy" in run.verdict.message
    assert run.outcome("migrate") == "not started" and run.outcome("web") == "not started"
    assert run.engine.running() == {"db": "demo-db-1"}, "db converged: it keeps running"


def test_a_job_only_optional_dependents_wait_on_may_fail_with_a_warning(deploy):
    run = deploy(OPTIONAL, FakeEngine(exits={"fail": 3}))
    assert run.outcome("fail") == "failed" and run.outcome("app") == "created"
    assert run.verdict.succeeded, run.verdict
    assert "optional" in run.verdict.message and "fail" in run.verdict.message
    assert "optional dependency fail did not succeed" in run.logger.text("WARNING")


def test_a_job_retried_must_succeed_on_a_later_attempt(deploy):
    compose = """\
    services:
      flaky:
        image: busybox:latest
        restart: "no"
        x-prefect: {retries: 2, retry_delay: 10ms}
    """
    attempts = iter([1, 1, 0])

    class Flaky(FakeEngine):
        def wait_exit(self, cid, timeout, abort=None):
            code = next(attempts)
            self.containers[cid].state = "exited"
            return code

    run = deploy(compose, Flaky())
    assert run.outcome("flaky") == "ok" and run.verdict.succeeded
    assert [op for op, _ in run.engine.calls].count("create") == 3


def test_a_job_past_its_timeout_must_be_stopped_and_time_out(deploy):
    compose = """\
    services:
      slow:
        image: busybox:latest
        restart: "no"
        x-prefect: {timeout: 50ms}
    """
    run = deploy(compose, FakeEngine(exits={"slow": "hang"}))
    assert run.outcome("slow") == "timed out"
    assert "timed out after" in run.verdict.message
    assert not run.engine.containers


def test_an_interrupt_must_stop_everything_the_run_started(deploy):
    compose = """\
    services:
      db:
        image: busybox:latest
      longjob:
        image: busybox:latest
        restart: "no"
        depends_on: [db]
      web:
        image: busybox:latest
        depends_on: [longjob]
    """
    engine = FakeEngine(exits={"longjob": "hang"})
    run = deploy(compose, engine,
                 interrupt_when=lambda rs: rs.started["longjob"].is_set())
    assert run.verdict.status == "cancelled"
    assert engine.running() == {}, "nothing this deployment started may be left running"
    assert not engine.of("longjob") and not engine.of("web")


def test_a_failure_must_stop_jobs_but_leave_converged_services_running(deploy):
    compose = """\
    services:
      db:
        image: busybox:latest
      migrate:
        image: busybox:latest
        restart: "no"
        depends_on: [db]
    """
    run = deploy(compose, FakeEngine(exits={"migrate": 1}))
    assert run.verdict.status == "failed"
    assert run.engine.running() == {"db": "demo-db-1"}


def test_an_unchanged_redeploy_must_keep_the_containers_and_run_jobs_again(deploy):
    engine = FakeEngine()
    first = deploy(ORDERED, engine)
    ids = {c.service: c.id for c in engine.containers.values()}
    second = deploy(ORDERED, engine)
    assert second.verdict.succeeded
    assert {c.service: c.id for c in engine.containers.values()} == ids
    assert second.outcome("db") == second.outcome("web") == "unchanged"
    assert second.outcome("migrate") == "ok"
    assert first.rs.flow_run_id == second.rs.flow_run_id  # (same fake id; separate runs)


def test_a_stopped_up_to_date_service_must_be_started_not_recreated(deploy):
    engine = FakeEngine()
    deploy(ORDERED, engine)
    web = engine.of("web")[0]
    engine.stop(web.id, 0)
    run = deploy(ORDERED, engine)
    assert run.outcome("web") == "started" and engine.of("web")[0].id == web.id
    assert engine.running()["web"] == "demo-web-1"


def test_a_service_s_dependents_must_not_wait_for_its_log_follow_to_open(deploy):
    """A long-running container's output is followed from a thread of its own
    (run/services.py): its step ends, and its dependents start, without waiting for the
    follow to open (an inspect and a request on a real engine)."""
    def slow_follow(engine: FakeEngine) -> None:  # db's follow opens once web exists
        deadline = time.monotonic() + 5
        while not engine.of("web") and time.monotonic() < deadline:
            time.sleep(0.01)
        with engine._lock:
            engine.calls.append(("logs", "demo-db-1"))

    engine = FakeEngine(before_logs={"db": slow_follow})
    run = deploy("services:\n  db:\n    image: busybox:latest\n  web:\n"
                 "    image: busybox:latest\n    depends_on: [db]\n", engine)
    assert run.verdict.succeeded, run.verdict
    deadline = time.monotonic() + 5
    while ("logs", "demo-db-1") not in engine.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.calls.index(("create", "demo-web-1")) < \
        engine.calls.index(("logs", "demo-db-1"))


def test_a_job_s_dependents_must_start_at_its_exit_and_its_container_be_gone_at_the_end(
        deploy):
    """A job's step is done once its exit code is known (run/jobs.py): its last output and
    its removal follow off the critical path, and the run does not end (wind_up) before
    they are finished."""
    def slow_remove(engine: FakeEngine) -> None:  # migrate's removal waits for web
        deadline = time.monotonic() + 5
        while not engine.of("web") and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # and ends after the scheduler is done: wind_up must wait for it

    engine = FakeEngine(before_remove={"migrate": slow_remove})
    run = deploy(ORDERED, engine)
    assert run.verdict.succeeded, run.verdict
    ops = [op for op in engine.calls if op[0] in ("create", "remove")]
    migrate = next(name for op, name in ops if "migrate" in name)
    assert ops.index(("create", "demo-web-1")) < ops.index(("remove", migrate)), ops
    assert not engine.of("migrate"), "the job's container must be removed before the end"
    assert run.rs.records["migrate"].outcome.value == "ok"


def test_the_converge_decisions_must_be_one_log_record_a_line_a_service(deploy):
    """200 services were 200 flow-run log records (each one a row the server stores), one
    per decision: they are one record, each service on its line."""
    compose = "services:\n" + "".join(
        f"  s{i}:\n    image: busybox:latest\n    command: [sleep, '60']\n" for i in range(5))
    run = deploy(compose)
    records = [m for _, m in run.logger.lines if m.startswith("converge")]
    assert len(records) == 1, records
    lines = records[0].splitlines()
    assert lines[0] == "converge:"
    assert sorted(ln.strip() for ln in lines[1:]) == [
        f"s{i}: create (missing: no container yet)" for i in range(5)]
    again = deploy(compose, run.engine)
    records = [m for _, m in again.logger.lines if m.startswith("converge")]
    assert len(records) == 1 and records[0].count("keep (up to date)") == 5, records


class _Builder(FakeEngine):
    def build(self, **kwargs) -> str:
        return "sha256:img1"


def test_converge_must_read_the_listing_deploy_made_unless_a_build_ran_since(deploy, tmp_path):
    """deploy lists the project's containers once, for the reaper, the name check and
    converge (run/deploy.py). A build can take minutes: after one, converge lists again,
    or it could keep a container that stopped meanwhile. Here the handed listing is stale on
    purpose (it shows nothing): used without a build, fresh after one."""
    from conftest import ListLogger, _project

    from prefect_compose.plan.compile import compile_plan
    from prefect_compose.plan.converge import Action
    from prefect_compose.run.prepare import prepare
    from prefect_compose.run.state import Options, RunState

    for compose, listed_again in (
            "services:\n  web:\n    image: busybox:latest\n    command: [sleep, '60']\n",
            False), (
            "services:\n  web:\n    build: .\n    image: web:dev\n    command: [sleep, '60']\n",
            True):
        engine = _Builder()
        deploy(compose, engine)  # web runs, up to date
        project = _project(tmp_path, compose, "demo")
        rs = RunState(project=project, plan=compile_plan(project), engine=engine,
                      flow_run_id="flow-run-2", options=Options(echo=False))
        rs.observed_rows = []  # stale: web is running
        prepare(rs, ListLogger())
        want = Action.KEEP if listed_again else Action.CREATE
        assert rs.decisions["web"].action is want, (compose, rs.decisions["web"])
