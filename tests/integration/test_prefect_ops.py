"""Prefect-native operations for real: `prefect-compose deploy` on the session's Prefect server,
a real `prefect worker start` (process pool) started by the test in another directory,
`prefect deployment run` and `prefect flow-run cancel` through Prefect's own CLI, scheduled
jobs, a project named by a `compose-project` block, and `ps --jobs` reading the runs back.

Every flow run here goes through the worker: a subprocess per run (about 5-10 s of Prefect
start-up each on this machine), so the module shares one deployed project and one worker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest
from prefect_fixtures import logs_of, wait_for_flow_run

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers import deadline_poll  # noqa: E402
from prefect_workers import PREFECT, Worker, deployment_run, prefect_cli  # noqa: E402

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(600)]

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "ops"
RUN_WAIT_S = 240.0  # a worker-run flow: process start, pull step, import prefect, the run


def _client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


@pytest.fixture(scope="module")
def ops(request, tmp_path_factory, pc, docker_client, busybox_image, prefect_server):
    """The scenario copied to a fresh directory, deployed as a unique project on a unique
    pool, and one worker on that pool started in another directory. Teardown: the worker,
    the deployments, the pool, and everything on the engine labelled with the project."""
    root = tmp_path_factory.mktemp("ops")
    project_dir = root / "project"
    shutil.copytree(SCENARIO, project_dir)
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    name = f"pc-test-{uuid.uuid4().hex[:8]}"
    pool = f"pc-test-pool-{uuid.uuid4().hex[:6]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, name))
    request.addfinalizer(lambda: _delete_pool_and_deployments(pool))
    r = pc.run_cli("deploy", project_dir, name, "--pool", pool, "--cron", "0 4 * * *",
                   "--timezone", "UTC")
    assert r.rc == 0, r.show()
    worker = Worker(pool, elsewhere, root / "worker.log")
    request.addfinalizer(worker.stop)
    return {"name": name, "pool": pool, "dir": project_dir, "elsewhere": elsewhere,
            "worker": worker, "deploy": r}


def _delete_pool_and_deployments(pool: str) -> None:
    from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName

    with _client() as client, contextlib.suppress(Exception):
        for d in client.read_deployments(work_pool_filter=WorkPoolFilter(
                name=WorkPoolFilterName(any_=[pool]))):
            client.delete_deployment(d.id)
        client.delete_work_pool(pool)


def _deployment(name: str):
    with _client() as client:
        return client.read_deployment_by_name(name)


def _schedules(dep) -> list[tuple[str, str]]:
    with _client() as client:
        return [(s.schedule.cron, s.schedule.timezone)
                for s in client.read_deployment_schedules(dep.id)]


def _finished(ops, flow_run_id: str):
    try:
        return wait_for_flow_run(flow_run_id, timeout=RUN_WAIT_S)
    except BaseException:
        print(ops["worker"].tail(), file=sys.stderr)
        raise


def test_deploy_must_register_the_four_deployments_with_pool_limit_and_schedules(ops):
    name, pool = ops["name"], ops["pool"]
    up = _deployment(f"compose-up/{name}")
    assert up.work_pool_name == pool
    assert up.global_concurrency_limit is not None and up.global_concurrency_limit.limit == 1
    assert str(up.concurrency_options.collision_strategy.value) == "ENQUEUE"
    assert _schedules(up) == [("0 4 * * *", "UTC")], "--cron is a redeploy schedule"
    assert up.entrypoint == "prefect_compose.run.flow.compose_up"
    assert up.parameters["project_dir"] == str(ops["dir"])
    assert all(os.path.isabs(f) for f in up.parameters["files"])
    for flow in ("compose-run", "compose-exec"):
        dep = _deployment(f"{flow}/{name}")
        assert dep.work_pool_name == pool and _schedules(dep) == []
        assert dep.global_concurrency_limit is None, "one-off commands may overlap"
    report = _deployment(f"compose-run/{name}-report")
    assert report.parameters["service"] == "report"
    assert _schedules(report) == [("*/5 * * * *", "Europe/Paris")]
    out = ops["deploy"].stdout
    assert f"{PREFECT} worker start --pool {pool}" in out, out


def test_deploy_again_must_update_in_place(ops, pc):
    name = ops["name"]
    before = {n: _deployment(n).id for n in (f"compose-up/{name}", f"compose-run/{name}-report")}
    r = pc.run_cli("deploy", ops["dir"], name, "--pool", ops["pool"])
    assert r.rc == 0, r.show()
    after = {n: _deployment(n).id for n in before}
    assert after == before
    assert _schedules(_deployment(f"compose-up/{name}")) == [], "no --cron: no redeploy"
    assert _schedules(_deployment(f"compose-run/{name}-report")) == [
        ("*/5 * * * *", "Europe/Paris")]
    r = pc.run_cli("deploy", ops["dir"], name, "--pool", ops["pool"], "--cron", "0 4 * * *",
                   "--timezone", "UTC")
    assert r.rc == 0, r.show()
    assert _schedules(_deployment(f"compose-up/{name}")) == [("0 4 * * *", "UTC")]


def test_prefect_must_refuse_a_pool_named_prefect_and_deploy_must_say_so(ops, pc):
    """Why the default pool is `docker-host`, not the SPEC's `prefect-compose`."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import PrefectHTTPStatusError

    with _client() as client, pytest.raises(PrefectHTTPStatusError, match="403"):
        client.create_work_pool(WorkPoolCreate(name="prefect-compose", type="process"))
    r = pc.run_cli("deploy", ops["dir"], ops["name"], "--pool", "prefect-compose")
    assert r.rc == 2 and "reserved by Prefect" in r.stderr, r.show()


def test_deployment_run_of_up_by_a_worker_elsewhere_must_deploy_and_skip_the_scheduled_job(
        ops, pc, docker_client):
    name = ops["name"]
    run_id = deployment_run(f"compose-up/{name}", cwd=ops["elsewhere"])
    run = _finished(ops, run_id)
    assert run.state.is_completed(), run.state.message
    states = pc.task_runs_by_name(run_id)
    assert {"db", "db: healthy", "migrate", "web"} <= set(states)
    assert "report" not in states, "up must not run a scheduled job"
    running = {c["Config"]["Labels"][pc.LABEL_SERVICE] for c in
               pc.containers_of(docker_client, name) if c["State"]["Running"]}
    assert running == {"db", "web"}


def test_the_scheduled_job_deployment_must_be_scheduled_and_run_the_job(ops):
    dep = _deployment(f"compose-run/{ops['name']}-report")

    def scheduled():
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        with _client() as client:
            return client.read_flow_runs(deployment_filter=DeploymentFilter(
                id=DeploymentFilterId(any_=[dep.id])), limit=5)

    runs = deadline_poll(scheduled, timeout=150, interval=2,
                         message="the scheduler creates runs of the scheduled job")
    assert any(r.state.is_scheduled() for r in runs)
    run_id = deployment_run(f"compose-run/{ops['name']}-report", cwd=ops["elsewhere"])
    run = _finished(ops, run_id)
    assert run.state.is_completed() and "exit code 0" in run.state.message
    assert "report-ran" in " ".join(logs_of(run_id, contains="report-ran"))


def test_a_run_deployment_must_fail_with_the_exit_code(ops):
    run_id = deployment_run(f"compose-run/{ops['name']}", "service=migrate",
                            'command=["sh","-c","exit 3"]', cwd=ops["elsewhere"])
    run = _finished(ops, run_id)
    assert run.state.is_failed() and "exit code 3" in run.state.message


def test_cancelling_a_run_under_the_worker_must_end_cancelled_with_its_container_gone(
        ops, pc, docker_client):
    run_id = deployment_run(f"compose-run/{ops['name']}", "service=migrate",
                            'command=["sh","-c","echo long-run-started; exec sleep 300"]',
                            cwd=ops["elsewhere"])

    def container():
        return [c for c in pc.containers_of(docker_client, ops["name"])
                if c["Config"]["Labels"].get("org.prefect-compose.flow-run-id") == run_id]

    deadline_poll(container, timeout=RUN_WAIT_S, interval=0.5,
                  message="the long run's container exists")
    proc = prefect_cli("flow-run", "cancel", run_id, cwd=ops["elsewhere"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = _finished(ops, run_id)
    assert run.state.is_cancelled(), run.state
    deadline_poll(lambda: not container(), timeout=60, interval=0.5,
                  message="the cancelled run's container is removed")


def test_ps_jobs_must_list_the_runs_of_jobs_run_and_exec(ops, pc):
    run_id = deployment_run(f"compose-exec/{ops['name']}", "service=web",
                            'command=["sh","-c","exit 5"]', cwd=ops["elsewhere"])
    assert _finished(ops, run_id).state.is_failed()
    r = pc.run_cli("ps", ops["dir"], ops["name"], "--jobs")
    assert r.rc == 0, r.show()
    rows = [line.split() for line in r.stdout.splitlines()[1:]]
    header = r.stdout.splitlines()[0].split()
    assert header[:3] == ["JOB", "WHEN", "OUTCOME"] and "SIZE-SECONDS" in header
    by_job: dict[str, list[list[str]]] = {}
    for row in rows:
        key = row[0] if row[0] not in ("run", "exec") else f"{row[0]} {row[1]}"
        by_job.setdefault(key, []).append(row)
    assert "migrate" in by_job, r.stdout  # the job of the compose-up run
    assert any("3" in row for row in by_job["run migrate"]), r.stdout
    assert any("Completed" in row for row in by_job["run report"]), r.stdout
    assert any("5" in row and "Failed" in row for row in by_job["exec web"]), r.stdout


def test_a_project_named_by_its_block_must_deploy_from_the_block(ops, pc, docker_client,
                                                                 request):
    name = f"pc-test-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, name))
    block = f"{name}-block"
    r = pc.run_cli("deploy", ops["dir"], name, "--pool", ops["pool"], "--block", block)
    assert r.rc == 0, r.show()
    from prefect_compose.blocks.compose_project import ComposeProject

    saved = ComposeProject.load(block)
    assert saved.project_name == name and saved.project_dir == str(ops["dir"])
    up = _deployment(f"compose-up/{name}")
    assert up.parameters == {"block": block}, "the deployment names the project by its block"
    run = _finished(ops, deployment_run(f"compose-up/{name}", cwd=ops["elsewhere"]))
    assert run.state.is_completed(), run.state.message
    assert run.name == name, "the flow run is named after the project, not the block"
    running = {c["Config"]["Labels"][pc.LABEL_SERVICE] for c in
               pc.containers_of(docker_client, name) if c["State"]["Running"]}
    assert running == {"db", "web"}
