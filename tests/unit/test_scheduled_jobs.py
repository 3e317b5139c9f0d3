"""Scheduled jobs: `x-prefect.schedule` (a cron string or {cron, timezone}) and Compose's
experimental top-level `jobs:` with `triggers.schedule` compile to kind `scheduled`, which
`up`'s DAG leaves out and nothing may wait for."""

from __future__ import annotations

import json
import textwrap

import pytest

from prefect_compose.errors import InputError
from prefect_compose.plan.render import plan_json, plan_text
from prefect_compose.project import ProjectOptions, load_and_compile


def compile_yaml(tmp_path, text: str):
    (tmp_path / "compose.yaml").write_text(textwrap.dedent(text))
    return load_and_compile(ProjectOptions(files=(str(tmp_path / "compose.yaml"),),
                                           project_name="demo"), environ={})[1]


def test_x_prefect_schedule_must_make_a_scheduled_job_without_steps(tmp_path):
    plan = compile_yaml(tmp_path, """
        services:
          web: {image: busybox}
          report:
            image: busybox
            restart: "no"
            x-prefect: {schedule: "0 3 * * *", timeout: 2m}
    """)
    report = plan.service("report")
    assert report.kind == "scheduled" and report.steps == ()
    assert (report.schedule.cron, report.schedule.timezone) == ("0 3 * * *", "UTC")
    assert report.timeout_s == 120
    assert [s.id for s in plan.steps] == ["web"], "up does not run it"
    assert 'scheduled report  cron "0 3 * * *" UTC' in plan_text(plan)
    kinds = {s["name"]: s["kind"] for s in json.loads(plan_json(plan))["services"]}
    assert kinds == {"report": "scheduled", "web": "service"}


def test_top_level_jobs_with_triggers_schedule_must_be_read_as_scheduled_jobs(tmp_path):
    plan = compile_yaml(tmp_path, """
        services:
          web: {image: busybox}
        jobs:
          backup:
            image: busybox
            command: ["echo", "backup"]
            triggers:
              schedule: {cron: "30 2 * * 1", timezone: Europe/Paris}
          once:
            image: busybox
    """)
    backup = plan.service("backup")
    assert backup.kind == "scheduled"
    assert (backup.schedule.cron, backup.schedule.timezone) == ("30 2 * * 1", "Europe/Paris")
    assert plan.service("once").kind == "job", "a job without a trigger runs with up"
    assert {s.id for s in plan.steps} == {"web", "once"}


@pytest.mark.parametrize("value, path, message", [
    ('"every day"', "services.report.x-prefect.schedule.cron", "invalid cron"),
    ('{cron: "0 3 * * *", timezone: Mars/Olympus}', "services.report.x-prefect.schedule"
     ".timezone", "unknown timezone"),
    ('{timezone: UTC}', "services.report.x-prefect.schedule.cron", "needs a cron"),
    ('{cron: "0 3 * * *", when: now}', "services.report.x-prefect.schedule", "unknown key"),
])
def test_a_bad_schedule_must_be_an_input_error_naming_the_key_path(tmp_path, value, path,
                                                                    message):
    with pytest.raises(InputError) as err:
        compile_yaml(tmp_path, f"""
            services:
              report:
                image: busybox
                restart: "no"
                x-prefect: {{schedule: {value}}}
        """)
    assert path in str(err.value) and message in str(err.value)


def test_waiting_for_a_scheduled_job_must_be_refused(tmp_path):
    with pytest.raises(InputError, match="services.web.depends_on.report: .*scheduled job"):
        compile_yaml(tmp_path, """
            services:
              web: {image: busybox, depends_on: [report]}
              report:
                image: busybox
                restart: "no"
                x-prefect: {schedule: "@daily"}
        """)


def test_a_job_named_like_a_service_must_be_refused(tmp_path):
    with pytest.raises(InputError, match='jobs.web: "web" is both a service and a job'):
        compile_yaml(tmp_path, """
            services:
              web: {image: busybox}
            jobs:
              web: {image: busybox}
        """)


def test_a_job_that_restarts_must_be_refused(tmp_path):
    with pytest.raises(InputError, match="jobs.backup.restart: a job runs once"):
        compile_yaml(tmp_path, """
            services:
              web: {image: busybox}
            jobs:
              backup: {image: busybox, restart: always}
        """)
