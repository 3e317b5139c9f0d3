"""Faults are named, exit 1, with nothing half-created left behind (SPEC "Safety"), against
the real engine and the session's real Prefect server."""

from __future__ import annotations

import socket
import uuid

import pytest
from safety_support import Proc

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(300)]


def networks_of(docker_client, project: str) -> list[str]:
    return [n["Name"] for n in docker_client.api.networks(
        filters={"label": f"com.docker.compose.project={project}"})]


def volumes_of(docker_client, project: str) -> list[str]:
    vols = docker_client.api.volumes(
        filters={"label": f"com.docker.compose.project={project}"}).get("Volumes") or []
    return [v["Name"] for v in vols]


def test_a_job_killed_for_memory_must_fail_up_saying_out_of_memory(
        pc, docker_client, project, up):
    result = up(Proc.scenario("oom"), project)
    assert result.rc == 1, result.show()
    assert "job hog failed with exit code 137: out of memory" in result.stderr, result.stderr
    assert "limit of 16MiB" in result.stderr
    by = pc.by_service(pc.containers_of(docker_client, project))
    assert "hog" not in by and "web" not in by, list(by)


def test_a_missing_image_must_fail_up_before_anything_is_created(
        pc, docker_client, project, up, watch):
    seen = watch(project)
    result = up(Proc.scenario("missing_image"), project)
    seen.stop()
    assert result.rc == 1, result.show()
    assert "service web: image localhost:1/pc-test-no-such-image:1 is missing and cannot be " \
           "built or pulled" in result.stderr, result.stderr
    assert "nothing was created" in result.stderr
    assert seen.seen == {}, "no container may start, not even the job that comes first"
    assert "first-ran" not in result.stdout
    assert networks_of(docker_client, project) == []
    assert volumes_of(docker_client, project) == []


def test_an_unreachable_engine_must_fail_up_naming_the_host(project, pc, tmp_path):
    host = f"unix://{tmp_path}/no-engine-here.sock"
    result = pc.run_cli("up", Proc.scenario("hold"), project, env={"DOCKER_HOST": host})
    assert result.rc == 1, result.show()
    assert f"Docker engine unreachable at {host}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def busy_port():
    """A host port held by a listening socket of the test."""
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    s.listen()
    yield s.getsockname()[1]
    s.close()


def test_a_published_port_in_use_must_fail_up_naming_service_and_port_and_leave_no_container(
        pc, docker_client, project, up, busy_port):
    result = up(Proc.scenario("port"), project, env={"PORT": str(busy_port)})
    assert result.rc == 1, result.show()
    assert f"service web: host port {busy_port} is already in use" in result.stderr, \
        result.stderr
    assert pc.containers_of(docker_client, project) == [], "the refused container must go"


@pytest.fixture
def foreign_container(docker_client, busybox_image):
    """A running container that is not part of any compose project, removed afterwards."""
    name = f"pc-test-foreign-{uuid.uuid4().hex[:8]}"
    api = docker_client.api
    cid = api.create_container(busybox_image, ["sleep", "600"], name=name,
                               stop_signal="SIGKILL")["Id"]
    api.start(cid)
    yield name, cid
    api.remove_container(cid, force=True)


def test_a_container_name_taken_by_a_container_not_ours_must_fail_up_and_stay_untouched(
        pc, docker_client, project, up, foreign_container):
    name, cid = foreign_container
    before = docker_client.api.inspect_container(cid)
    result = up(Proc.scenario("name_taken"), project, env={"CNAME": name})
    assert result.rc == 1, result.show()
    assert f"service web: the container name {name} is taken by a container of no compose " \
           "project" in result.stderr, result.stderr
    after = docker_client.api.inspect_container(cid)
    assert after["State"]["Running"] and after["State"]["StartedAt"] == \
        before["State"]["StartedAt"], "the foreign container must not be touched"
    assert pc.containers_of(docker_client, project) == []
    assert networks_of(docker_client, project) == []
