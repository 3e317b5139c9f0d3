"""pull_policy and builds reach the engine as Compose v2 does them (no registry is reachable
here: a policy that must pull fails, named, before anything is created), and a
dockerfile_inline build with labels, inspected on the engine."""

from __future__ import annotations

import uuid

import pytest
from helpers import deadline_poll

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(300)]


@pytest.fixture
def local_tag(docker_client, busybox_image, request):
    """``local_tag(ref)``: tag busybox as ``ref`` (removed after the test)."""

    def make(ref: str) -> str:
        repo, tag = ref.rsplit(":", 1)
        docker_client.api.tag(busybox_image, repo, tag=tag)
        request.addfinalizer(lambda: docker_client.api.remove_image(ref))
        return ref

    return make


def up_pull(pc, project: str, img: str, policy: str):
    return pc.run_cli("up", "images", project,
                      env={"COMPOSE_FILE": "pull.yaml", "IMG": img, "POLICY": policy})


def test_never_with_a_missing_image_must_fail_named_before_anything_starts(
        up, project, pc, docker_client):
    img = f"pc-test-nosuch-{uuid.uuid4().hex[:8]}:latest"
    r = up_pull(pc, project, img, "never")
    assert r.rc == 1, r.show()
    assert f"image {img} of service app is not on the engine and pull_policy is never" in \
        r.stderr, r.show()
    assert pc.on_engine(docker_client, project) == []


def test_always_must_pull_even_a_present_image(up, project, pc, docker_client, local_tag):
    # localhost:1 refuses at once: the pull is attempted, fails, and nothing starts
    # (Compose v2.40: "Error response from daemon: Get http://localhost:1/v2/ ...", no container)
    img = local_tag(f"localhost:1/pc-test-{uuid.uuid4().hex[:8]}:latest")
    r = up_pull(pc, project, img, "always")
    assert r.rc == 1, r.show()
    assert f"pull_policy always: image {img} could not be pulled" in r.stderr, r.show()
    assert pc.on_engine(docker_client, project) == []


def test_missing_must_not_pull_a_present_image(up, project, pc, docker_client, local_tag):
    img = local_tag(f"localhost:1/pc-test-{uuid.uuid4().hex[:8]}:latest")
    r = up_pull(pc, project, img, "missing")
    assert r.rc == 0, r.show()
    assert "app-ran" in r.stdout + r.stderr


def test_a_refresh_policy_must_pull_once_the_image_is_older_than_its_interval(
        up, new_project, pc, docker_client, local_tag):
    from prefect_compose.engine import Engine

    img = local_tag(f"localhost:1/pc-test-{uuid.uuid4().hex[:8]}:latest")
    r = up_pull(pc, new_project(), img, "daily")  # tagged just now: not pulled
    assert r.rc == 0, r.show()
    with Engine.connect() as engine:
        deadline_poll(lambda: (engine.image_tagged_ago(img) or 0) > 2, timeout=30,
                      message=f"{img} tagged more than 2 s ago")
    project = new_project()
    r = up_pull(pc, project, img, "every_2s")
    assert r.rc == 1, r.show()
    assert f"pull_policy every_2s: image {img} could not be pulled" in r.stderr, r.show()
    assert pc.on_engine(docker_client, project) == []


def test_build_policy_must_build_dockerfile_inline_with_its_labels(
        up, project, pc, docker_client, busybox_image):
    tag = f"{project}-app"
    docker_client.api.tag(busybox_image, tag, tag="latest")  # present: built all the same
    r = pc.run_cli("up", "images", project, env={"COMPOSE_FILE": "build.yaml"})
    assert r.rc == 0, r.show()
    assert "inline-build-marker" in r.stdout + r.stderr
    image = docker_client.api.inspect_image(f"{tag}:latest")
    assert image["Id"] != docker_client.api.inspect_image(busybox_image)["Id"]
    labels = image["Config"]["Labels"]
    assert labels["from.inline"] == "yes"
    assert labels["org.example.team"] == "images"
    assert labels["built.by"] == "prefect-compose"


def test_build_secrets_must_be_refused_naming_the_key(tmp_path, pc, project):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    build:\n      context: .\n      secrets: [tok]\n"
        "secrets:\n  tok:\n    file: ./tok.txt\n")
    r = pc.run_cli("up", tmp_path, project)
    assert r.rc == 2, r.show()
    assert "services.app.build.secrets" in r.stderr and "BuildKit" in r.stderr, r.show()


def test_build_options_must_reach_the_builder(up, project, pc, docker_client):
    tag2 = f"{project}-extra:v1"
    env = {"COMPOSE_FILE": "build_opts.yaml", "TAG2": tag2}
    r = pc.run_cli("up", "images", project, env=env)
    assert r.rc == 0, r.show()
    out = r.stdout + r.stderr
    assert "10.1.2.3\th.example" in out  # build extra_hosts, seen by the RUN step
    assert " 8192 " in out  # build shm_size 8m: /dev/shm of the RUN step, in KiB
    first = docker_client.api.inspect_image(f"{project}-app:latest")
    assert tag2 in first["RepoTags"]  # build tags
    r = pc.run_cli("up", "images", project, env=env)
    assert r.rc == 0, r.show()
    # no_cache: the RUN step ran again, a new image (a cached build gives the same id)
    assert docker_client.api.inspect_image(f"{project}-app:latest")["Id"] != first["Id"]


def test_build_pull_must_pull_the_base_image_first(up, project, pc, docker_client):
    r = pc.run_cli("up", "images", project, env={"COMPOSE_FILE": "build_opts.yaml",
                                                 "TAG2": f"{project}-extra:v1",
                                                 "BUILD_PULL": "true"})
    assert r.rc == 1, r.show()  # no registry is reachable: the pull of busybox fails
    assert f"build {project}-app failed" in r.stderr, r.show()
    assert pc.on_engine(docker_client, project) == []
