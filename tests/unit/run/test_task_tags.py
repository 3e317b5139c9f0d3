"""Which tags a step's task run is created with (run/milestones.py): none when no Prefect tag
concurrency limit names one of its tags (Prefect then acquires no slot for it), else the
ones a limit can name, so that the limit is honoured."""

from __future__ import annotations

import textwrap

from prefect_compose.load.project import load_project
from prefect_compose.plan.compile import compile_plan
from prefect_compose.run.milestones import creation_tags, task_tags


def _plan(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text(textwrap.dedent("""
        services:
          db: {image: x}
          migrate: {image: x, restart: "no", depends_on: [db]}
    """))
    return compile_plan(load_project([str(path)], project_name="demo", environ={}))


def test_no_limit_must_mean_task_runs_created_without_tags(tmp_path):
    plan = _plan(tmp_path)
    for step in plan.steps:
        assert creation_tags(plan, step, frozenset()) == []
        assert creation_tags(plan, step, frozenset({"project:other"})) == []


def test_a_limit_on_the_project_must_put_the_shared_tags_on_every_task_run(tmp_path):
    plan = _plan(tmp_path)
    for step in plan.steps:
        tags = creation_tags(plan, step, frozenset({"project:demo"}))
        assert "project:demo" in tags and not any(t.startswith("service:") for t in tags)
        assert set(tags) <= set(task_tags(plan, step))


def test_a_limit_on_a_service_must_tag_only_that_services_task_runs_at_creation(tmp_path):
    plan = _plan(tmp_path)
    limited = frozenset({"service:migrate"})
    by_service = {s.service: creation_tags(plan, s, limited) for s in plan.steps}
    assert "service:migrate" in by_service["migrate"]
    assert by_service["db"] == []


def test_a_limit_on_a_kind_must_tag_the_steps_of_that_kind(tmp_path):
    plan = _plan(tmp_path)
    limited = frozenset({"kind:job"})
    for step in plan.steps:
        tags = creation_tags(plan, step, limited)
        assert ("kind:job" in tags) == ("kind:job" in task_tags(plan, step))
