"""CLI `run` and `exec` must leave a flow run on the server in use, so `ps --jobs` (which reads
the Prefect API) lists them next to the jobs of `compose-up` runs: when, outcome, exit code,
duration and size-seconds. The commands themselves stay engine-only (run/cli_record.py).

Against the session's Prefect server (its URL inherited through PREFECT_API_URL), with the
oneoff scenario deployed once by `up`.
"""

from __future__ import annotations

import uuid

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(180)]

SCENARIO = "oneoff"
SECRET = "s3cr3t-" + uuid.uuid4().hex[:8]


def _cli_runs(project: str) -> dict[str, list]:
    """{flow run name: [flow runs]} of the project's CLI records (tag `cli`)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[f"project:{project}", "cli"])), limit=50)
    out: dict[str, list] = {}
    for r in runs:
        out.setdefault(r.name, []).append(r)
    return out


@pytest.fixture(scope="module")
def recorded(request, pc, docker_client, busybox_image, prefect_server):
    project = f"pc-test-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, project))
    r = pc.run_cli("up", SCENARIO, project)
    assert r.rc == 0, r.show()
    run = pc.run_cli("run", SCENARIO, project, "-e", f"API_TOKEN={SECRET}", "job", "sh", "-c",
                     f"echo {SECRET}; sleep 1; exit 3")
    ok = pc.run_cli("run", SCENARIO, project, "job")
    exe = pc.run_cli("exec", SCENARIO, project, "web", "sh", "-c", "echo in-web; exit 0")
    bad = pc.run_cli("exec", SCENARIO, project, "job", "true")  # a job: never running
    jobs = pc.run_cli("ps", SCENARIO, project, "--jobs")
    return {"project": project, "run": run, "ok": ok, "exec": exe, "bad": bad, "jobs": jobs}


def test_cli_run_and_exec_keep_their_exit_codes(recorded):
    assert recorded["run"].rc == 3, recorded["run"].show()
    assert recorded["ok"].rc == 0, recorded["ok"].show()
    assert recorded["exec"].rc == 0 and "in-web" in recorded["exec"].stdout
    assert recorded["bad"].rc == 1, recorded["bad"].show()


def test_cli_run_and_exec_must_be_flow_runs_with_outcome_exit_code_and_times(recorded):
    runs = _cli_runs(recorded["project"])
    assert set(runs) >= {"run job (cli)", "exec web (cli)", "exec job (cli)"}, list(runs)
    failed = [r for r in runs["run job (cli)"] if r.state.is_failed()]
    assert failed, {n: [r.state for r in rs] for n, rs in runs.items()}
    run = failed[0]
    assert "exit code 3" in run.state.message and "size-seconds" in run.state.message, \
        run.state.message
    assert run.start_time and run.end_time
    assert (run.end_time - run.start_time).total_seconds() >= 1.0  # it sleeps 1 s
    assert run.parameters["project_name"] == recorded["project"]
    assert run.parameters["service"] == "job"
    # never a secret in a parameter: -e values are not stored, the command is masked
    assert SECRET not in repr(run.parameters), run.parameters
    assert "********" in " ".join(run.parameters["command"]), run.parameters
    assert SECRET not in (run.state.message or "")
    [exe] = runs["exec web (cli)"]
    assert exe.state.is_completed() and "exit code 0" in exe.state.message
    [bad] = runs["exec job (cli)"]
    assert bad.state.is_failed() and "not running" in bad.state.message


def test_ps_jobs_must_list_cli_run_and_exec_next_to_the_jobs_of_up(recorded):
    r = recorded["jobs"]
    assert r.rc == 0, r.show()
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["JOB", "WHEN", "OUTCOME"], r.stdout
    rows = [line.split() for line in lines[1:]]
    # JOB is two words for run/exec: ("run", "job", date, time, outcome, exit, dur, size, ...)
    runs = [row for row in rows if row[:2] == ["run", "job"]]
    assert any(row[4] == "Failed" and row[5] == "3" and row[6].endswith("s")
               and row[7] != "-" for row in runs), r.stdout
    assert any(row[4] == "Completed" and row[5] == "0" for row in runs), r.stdout
    assert any(row[:2] == ["exec", "web"] and row[4] == "Completed" and row[5] == "0"
               for row in rows), r.stdout
    assert any(row[0] == "job" and row[3:5] == ["succeeded", "0"] for row in rows), \
        "the job of the compose-up run, its outcome in words: " + r.stdout
    assert SECRET not in r.stdout
