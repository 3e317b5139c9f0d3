"""Nothing outlives its deployment (SPEC "Safety"): job containers carry their owner, flow run
id and deadline; `ps`, `down` and `up` remove the ones whose run is gone, one line each, and
leave alone the ones of a live run and the ones they cannot judge before their deadline."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from safety_support import Proc, running_job

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

STAMP = "%Y-%m-%dT%H:%M:%SZ"


def killed_up_with_job(pc, docker_client, project) -> tuple[Proc, dict]:
    """`up` of the hold scenario, SIGKILLed while its job runs: (the dead Proc, the job)."""
    proc = Proc(pc, "up", "hold", project, env={"HOLD": "1"})
    try:
        job = running_job(docker_client, pc, project, "job")
    finally:
        proc.popen.kill()
        proc.result(timeout=30)
    return proc, job


def exists(docker_client, cid: str) -> bool:
    import docker.errors

    try:
        docker_client.api.inspect_container(cid)
    except docker.errors.NotFound:
        return False
    return True


def hand_made_job(docker_client, busybox_image, project: str, labels: dict[str, str]) -> str:
    """A running one-off container of ``project`` with the given owner labels."""
    api = docker_client.api
    cid = api.create_container(busybox_image, ["sleep", "600"], stop_signal="SIGKILL", labels={
        pc_label: value for pc_label, value in {
            "com.docker.compose.project": project, "com.docker.compose.service": "job",
            "com.docker.compose.oneoff": "True", **labels}.items()})["Id"]
    api.start(cid)
    return cid


@pytest.mark.prefect
def test_job_containers_must_carry_deadline_flow_run_id_host_and_pid_labels(
        pc, docker_client, project, prefect_server):
    proc = Proc(pc, "up", "hold", project, env={"HOLD": "1"})
    try:
        job = running_job(docker_client, pc, project, "job")
    finally:
        proc.popen.terminate()  # SIGTERM: an orderly stop
        proc.result(timeout=120)
    labels = job["Config"]["Labels"]
    assert labels["org.prefect-compose.pid"] == str(proc.pid)
    assert labels["org.prefect-compose.host"] == socket.gethostname()
    since = datetime.strptime(labels["org.prefect-compose.since"], STAMP)
    deadline = datetime.strptime(labels["org.prefect-compose.deadline"], STAMP)
    # the default job timeout (5m) + stop_grace_period (1s) + the reaper's margin (30s)
    assert deadline - since == timedelta(seconds=331), (since, deadline)
    run = pc.flow_run_of(project)
    assert labels["org.prefect-compose.flow-run-id"] == str(run.id)


@pytest.mark.prefect
def test_ps_must_remove_the_job_containers_of_a_killed_up_and_say_so(
        pc, docker_client, project, prefect_server):
    proc, job = killed_up_with_job(pc, docker_client, project)
    assert exists(docker_client, job["Id"])
    result = pc.run_cli("ps", Proc.scenario("hold"), project)
    assert result.rc == 0, result.show()
    name = job["Name"].lstrip("/")
    lines = [line for line in result.stderr.splitlines() if "leftover" in line]
    assert lines == [f"removed leftover job container {name} (job) of flow run "
                     f"{job['Config']['Labels']['org.prefect-compose.flow-run-id']}: its run "
                     f"(pid {proc.pid} on host {socket.gethostname()}) is gone"], result.stderr
    assert not exists(docker_client, job["Id"])
    assert name not in result.stdout


@pytest.mark.prefect
def test_down_must_remove_the_job_containers_of_a_killed_up_and_say_so(
        pc, docker_client, project, prefect_server):
    _, job = killed_up_with_job(pc, docker_client, project)
    result = pc.run_cli("down", Proc.scenario("hold"), project)
    assert result.rc == 0, result.show()
    assert f"removed leftover job container {job['Name'].lstrip('/')}" in result.stderr
    assert not exists(docker_client, job["Id"])


@pytest.mark.prefect
def test_up_again_after_a_sigkill_during_a_job_must_leave_no_leftover_job_and_no_duplicates(
        pc, docker_client, project, prefect_server):
    """SIGKILL while the job runs, then `up` again (the job now ends at once): the killed
    run's job container must be removed (and said), the new run's job must have run, and
    the project must end with one web, running, and no job container left running."""
    _, job = killed_up_with_job(pc, docker_client, project)
    result = pc.run_cli("up", Proc.scenario("hold"), project)
    assert result.rc == 0, result.show()
    assert f"removed leftover job container {job['Name'].lstrip('/')}" in result.stderr
    assert not exists(docker_client, job["Id"])
    assert "job-started" in result.stdout
    services = pc.by_service(pc.containers_of(docker_client, project))
    [web] = services["web"]
    assert web["State"]["Running"], web["State"]
    assert not [j for j in services.get("job", []) if j["State"]["Running"]]
    assert len(services.get("job", [])) <= 1, [j["Name"] for j in services["job"]]


@pytest.mark.prefect
def test_ps_must_leave_the_job_containers_of_a_live_up_alone(
        pc, docker_client, project, prefect_server):
    proc = Proc(pc, "up", "hold", project, env={"HOLD": "1"})
    try:
        job = running_job(docker_client, pc, project, "job")
        result = pc.run_cli("ps", Proc.scenario("hold"), project)
        state = docker_client.api.inspect_container(job["Id"])["State"]
    finally:
        proc.popen.terminate()
        proc.result(timeout=120)
    assert result.rc == 0, result.show()
    assert "leftover" not in result.stderr
    assert state["Running"], state


def test_a_job_container_of_another_host_must_be_removed_only_past_its_deadline(
        pc, docker_client, busybox_image, project):
    now = datetime.now(UTC)
    elsewhere = {"org.prefect-compose.host": "some-other-host", "org.prefect-compose.pid": "1",
                 "org.prefect-compose.flow-run-id": "00000000-0000-0000-0000-000000000001"}
    past = hand_made_job(docker_client, busybox_image, project, {
        **elsewhere, "org.prefect-compose.deadline": (now - timedelta(minutes=1)).strftime(STAMP)})
    future = hand_made_job(docker_client, busybox_image, project, {
        **elsewhere, "org.prefect-compose.deadline": (now + timedelta(hours=1)).strftime(STAMP)})
    unlabelled = hand_made_job(docker_client, busybox_image, project, {})
    result = pc.run_cli("ps", Proc.scenario("hold"), project)
    assert result.rc == 0, result.show()
    assert not exists(docker_client, past)
    assert exists(docker_client, future) and exists(docker_client, unlabelled)
    lines = [line for line in result.stderr.splitlines() if "leftover" in line]
    assert len(lines) == 1 and "past its deadline" in lines[0], result.stderr
