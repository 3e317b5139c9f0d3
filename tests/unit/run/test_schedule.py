"""The scheduler (run/schedule.py): a step is submitted only once its upstreams are done (or,
for `service_started` on a job, once the job's container started), so no step waits in a pool
thread; it sleeps on one event instead of polling; an abort submits every pending step at once."""

from __future__ import annotations

import textwrap
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from prefect_compose.load.project import load_project
from prefect_compose.plan.compile import compile_plan
from prefect_compose.run.schedule import Scheduler
from prefect_compose.run.state import Options, RunState, StepOutcome


def _rs(tmp_path, compose: str) -> RunState:
    path = tmp_path / "compose.yaml"
    path.write_text(textwrap.dedent(compose))
    project = load_project([str(path)], project_name="demo", environ={})
    return RunState(project=project, plan=compile_plan(project), engine=None,
                    flow_run_id="fr", options=Options(echo=False))


LAYERS = "services:\n" + "".join(
    f"  s{i}:\n    image: x\n" + (f"    depends_on: [s{i - 10}]\n" if i >= 10 else "")
    for i in range(60))


def test_a_step_must_be_submitted_only_once_every_upstream_is_done(tmp_path):
    rs = _rs(tmp_path, LAYERS)
    seen_not_done: list[str] = []
    pool = ThreadPoolExecutor(max_workers=2)  # far fewer threads than steps

    def body(step_id: str) -> None:
        time.sleep(0.001)
        rs.records[step_id].outcome = StepOutcome.CREATED
        rs.done[step_id].set()

    def submit(step, wait_for):
        seen_not_done.extend(e.step for e in step.upstream if not rs.done[e.step].is_set())
        return pool.submit(body, step.id)

    scheduler = Scheduler(rs, submit)
    assert scheduler.run(deadline=time.monotonic() + 30)
    pool.shutdown()
    assert seen_not_done == []
    assert set(scheduler.futures) == {s.id for s in rs.plan.steps}


def test_a_dependent_of_a_job_started_must_be_submitted_while_the_job_still_runs(tmp_path):
    rs = _rs(tmp_path, """
        services:
          worker:
            image: x
            restart: "no"
          watcher:
            image: x
            depends_on:
              worker: {condition: service_started}
        """)
    job = next(s for s in rs.plan.steps if s.service == "worker")
    futures: dict[str, Future] = {}

    def submit(step, wait_for):
        futures[step.id] = f = Future()
        return f

    scheduler = Scheduler(rs, submit)
    t = threading.Thread(target=scheduler.run, kwargs={"deadline": time.monotonic() + 30})
    t.start()
    _until(lambda: job.id in futures)
    assert set(futures) == {job.id}
    rs.started["worker"].set()  # the job's container started; the job has not ended
    _until(lambda: len(futures) == len(rs.plan.steps))
    for step_id, f in futures.items():
        rs.records[step_id].outcome = StepOutcome.OK
        rs.done[step_id].set()
        f.set_result(None)
    t.join(10)
    assert not t.is_alive()


def test_an_abort_must_submit_every_pending_step_at_once(tmp_path):
    rs = _rs(tmp_path, LAYERS)
    futures: dict[str, Future] = {}

    def submit(step, wait_for):
        futures[step.id] = f = Future()
        if rs.abort.is_set():  # what the step body does when the run is aborted
            rs.done[step.id].set()
            f.set_result(None)
        return f

    scheduler = Scheduler(rs, submit)
    t = threading.Thread(target=scheduler.run, kwargs={"deadline": time.monotonic() + 30})
    t.start()
    _until(lambda: len(futures) == 10)  # the first layer
    rs.fail("interrupted", cancelled=True)
    _until(lambda: len(futures) == 60)
    for step_id, f in list(futures.items())[:10]:
        rs.done[step_id].set()
        f.set_result(None)
    t.join(10)
    assert not t.is_alive()


def test_a_task_run_that_ended_without_running_its_step_must_fail_the_deployment(tmp_path):
    rs = _rs(tmp_path, "services:\n  a:\n    image: x\n  b:\n    image: x\n"
                       "    depends_on: [a]\n")

    def submit(step, wait_for):
        f: Future = Future()
        f.set_exception(RuntimeError("crashed"))
        return f

    assert Scheduler(rs, submit).run(deadline=time.monotonic() + 30)
    assert rs.abort.is_set() and "before the step ran" in rs.abort_reason


def _until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.005)
