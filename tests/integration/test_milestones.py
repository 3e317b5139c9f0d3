"""What a deployment reports to Prefect besides states and logs, read back through the client
from the session's real server: the progress artifact reaching 100 %, the tags on the flow run
and on every task run, the milestone events (started, completed; a failed deployment's
`deployment.failed` and `step.failed` naming the job). The bundled example is the project."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "release"
KINDS = {"db": "service", "db: healthy": "service", "migrate": "job", "web": "service",
         "web: healthy": "service", "warm-cache": "job"}


def events_of(project: str, *, want: set[str], timeout: float = 60.0) -> dict[str, Any]:
    """The `prefect-compose.*` events about ``project`` by name (the latest of each), waiting
    until every name in ``want`` arrived (events reach the server's store asynchronously)."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:  # a new filter each time: its `until` is the time it is made
            flt = EventFilter(event=EventNameFilter(prefix=["prefect-compose."]),
                              resource=EventResourceFilter(
                                  id=[f"prefect-compose.project.{project}"]))
            page = client.read_events(filter=flt, limit=50)
            found: dict[str, Any] = {}
            for e in sorted(page.events, key=lambda e: e.occurred):
                found[e.event] = e
            if want <= set(found) or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


def _progress(pc, flow_run_id) -> Any:
    found = [a for a in pc.artifacts_of(flow_run_id) if a.type == "progress"]
    assert len(found) == 1, [(a.key, a.type) for a in pc.artifacts_of(flow_run_id)]
    return found[0]


def test_a_deployment_of_the_example_must_report_progress_tags_and_events(
        prefect_server, busybox_image, project, pc):
    r = pc.run_cli("up", EXAMPLE, project, timeout=240)
    assert r.rc == 0, r.show()
    run = pc.flow_run_of(project, count=1)
    assert f"project:{project}" in run.tags, run.tags

    progress = _progress(pc, run.id)
    assert progress.data == 100.0, progress
    assert progress.key == f"{project}-progress"
    assert progress.description.startswith(f"6 of 6 steps of {project} finished"), progress

    tasks = pc.task_runs_by_name(run.id)
    assert set(tasks) == set(KINDS), sorted(tasks)
    for name, tr in tasks.items():
        service = name.split(":")[0]
        assert {f"project:{project}", f"service:{service}", f"kind:{KINDS[name]}"} <= \
            set(tr.tags), (name, tr.tags)

    events = events_of(project, want={"prefect-compose.deployment.started",
                                      "prefect-compose.deployment.completed"})
    assert {"prefect-compose.deployment.started",
            "prefect-compose.deployment.completed"} <= set(events), sorted(events)
    assert "prefect-compose.deployment.failed" not in events
    assert "prefect-compose.step.failed" not in events
    started = events["prefect-compose.deployment.started"]
    assert started.payload["steps"] == 6 and started.payload["services"] == 4
    for e in (started, events["prefect-compose.deployment.completed"]):
        assert e.resource.get("prefect.resource.name") == project
        related = {rr.id: rr for rr in e.related}
        assert f"prefect.flow-run.{run.id}" in related, e.related
        assert related[f"prefect.flow-run.{run.id}"].role == "flow-run"


def test_a_failed_deployment_must_emit_the_failed_event_naming_the_job(
        prefect_server, busybox_image, project, pc):
    r = pc.run_cli("up", "job_failure", project, timeout=240)
    assert r.rc == 1, r.show()
    run = pc.flow_run_of(project, count=1)
    assert run.state.is_failed()

    events = events_of(project, want={"prefect-compose.deployment.failed",
                                      "prefect-compose.step.failed"})
    failed = events.get("prefect-compose.deployment.failed")
    assert failed is not None, sorted(events)
    assert failed.payload["step"] == "fail" and failed.payload["service"] == "fail"
    assert failed.payload["exit_code"] == 3
    assert "job fail failed with exit code 3" in failed.payload["message"]
    assert failed.payload["flow_run_id"] == str(run.id)
    step = events["prefect-compose.step.failed"]
    assert step.payload["step"] == "fail" and step.payload["kind"] == "job"
    assert "prefect-compose.deployment.completed" not in events

    progress = _progress(pc, run.id)  # every step ended, most of them without running
    assert "failed" in progress.description, progress


@pytest.mark.parametrize("flow_name", ["compose-run", "compose-exec"])
def test_one_off_flow_runs_must_carry_the_project_service_and_kind_tags(
        prefect_server, busybox_image, project, pc, flow_name):
    from prefect_compose.run.oneoff_flows import compose_exec, compose_run

    directory = str(pc.scenario_dir("oneoff"))
    if flow_name == "compose-exec":
        r = pc.run_cli("up", "oneoff", project, timeout=240)
        assert r.rc == 0, r.show()
        state = compose_exec(service="web", command=["true"], project_dir=directory,
                             project_name=project, return_state=True)
    else:
        state = compose_run(service="job", command=["true"], project_dir=directory,
                            project_name=project, return_state=True)
    assert state.is_completed(), state
    from prefect_fixtures import read_flow_run

    run = read_flow_run(state.state_details.flow_run_id)
    service = "web" if flow_name == "compose-exec" else "job"
    assert {f"project:{project}", f"service:{service}", "kind:one-off"} <= set(run.tags), \
        run.tags


def test_a_prefect_tag_concurrency_limit_on_the_project_must_be_honoured(
        prefect_server, busybox_image, project, pc, tmp_path):
    """Task runs are created without tags (Prefect's slot acquisition per tagged task run
    queues them one by one) unless a tag concurrency limit names one of their tags: with a
    limit of 1 on `project:NAME`, three independent 1 s jobs run one after the other, and
    each task run still ends with all its tags."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    (tmp_path / "compose.yaml").write_text("services:\n" + "".join(
        f"  j{i}:\n    image: {busybox_image}\n    restart: \"no\"\n"
        f"    command: [\"sleep\", \"1\"]\n" for i in range(3)))
    with get_client(sync_client=True) as client:
        limit_id = client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=f"tag:project:{project}", limit=1))
    try:
        r = pc.run_cli("up", tmp_path, project, timeout=240)
        assert r.rc == 0, r.show()
    finally:
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name(f"tag:project:{project}")
    run = pc.flow_run_of(project, count=1)
    tasks = sorted(pc.task_runs_by_name(run.id).values(), key=lambda t: t.start_time)
    assert [t.name for t in tasks] and len(tasks) == 3, [t.name for t in tasks]
    for before, after in zip(tasks, tasks[1:]):
        assert after.start_time >= before.end_time, [(t.name, t.start_time, t.end_time)
                                                     for t in tasks]
    for t in tasks:
        assert {f"project:{project}", f"service:{t.name}", "kind:job"} <= set(t.tags), t.tags
    assert limit_id is not None


def test_without_tag_limits_independent_steps_must_run_at_once(
        prefect_server, busybox_image, project, pc, tmp_path):
    """The other side: with no limit, the three 1 s jobs overlap (they start together)."""
    (tmp_path / "compose.yaml").write_text("services:\n" + "".join(
        f"  j{i}:\n    image: {busybox_image}\n    restart: \"no\"\n"
        f"    command: [\"sleep\", \"2\"]\n" for i in range(3)))
    r = pc.run_cli("up", tmp_path, project, timeout=240)
    assert r.rc == 0, r.show()
    run = pc.flow_run_of(project, count=1)
    tasks = list(pc.task_runs_by_name(run.id).values())
    assert len(tasks) == 3
    assert max(t.start_time for t in tasks) < min(t.end_time for t in tasks), \
        [(t.name, t.start_time, t.end_time) for t in tasks]
    for t in tasks:
        assert {f"project:{project}", f"service:{t.name}", "kind:job"} <= set(t.tags), t.tags
