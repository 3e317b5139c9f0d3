"""An `up` killed in the middle of a replacement (SIGKILL, OOM, reboot) leaves the old
container set aside as ``NAME-rollback-ID`` (stopped), and maybe the new one under its
temporary name ``ID_NAME`` (never started). The next `up`, `down` or `ps` settles it (SPEC
"Safety", nothing outlives its deployment): the old one restored when no new container of
the service is running, removed when one is, and said so.

Scenario: ``scenarios/rollback`` (see test_safety_rollback.py).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from safety_support import running_job
from test_safety_rollback import SCENARIO, V1, deploy_v1, serve, webs

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(300)]


@pytest.fixture
def where(tmp_path) -> Path:
    dest = tmp_path / "rollback"
    shutil.copytree(SCENARIO, dest)
    return dest


def names_of(pc, client, project) -> list[str]:
    return sorted(c["Name"].lstrip("/") for c in pc.containers_of(client, project))


def leftovers(pc, client, project) -> list[str]:
    return [n for n in names_of(pc, client, project)
            if re.search(r"-rollback-[0-9a-f]{12}$|^[0-9a-f]{12}_", n)]


def test_an_up_killed_mid_replace_must_leave_one_running_web_after_the_next_up(
        up, project, where, docker_client, pc):
    """v1 up; the v2 `up` replaces web (v1 set aside, stopped) and is SIGKILLed while its job
    runs. The next `up` must remove the set-aside v1 (a new web is running), say so, and end
    with one web, running, serving v2, and no rollback or temporary containers."""
    v1 = deploy_v1(up, where, project, pc, docker_client)
    name = v1["Name"].lstrip("/")
    backup = f"{name}-rollback-{v1['Id'][:12]}"
    v2 = V1.replace("WEB_VERSION=1", "WEB_VERSION=2")
    (where / ".env").write_text(v2.replace("CHECK_SLEEP=0", "CHECK_SLEEP=120"))
    proc = pc.popen_cli("up", where, project)
    try:
        running_job(docker_client, pc, project, "check")  # web was replaced before it
        assert backup in names_of(pc, docker_client, project)
    finally:
        proc.kill()  # SIGKILL: no rollback, no cleanup
        proc.communicate(timeout=30)
    state = docker_client.api.inspect_container(v1["Id"])["State"]
    assert not state["Running"], "the set-aside v1 is stopped"

    (where / ".env").write_text(v2)
    r = up(where, project)
    assert r.rc == 0, r.show()
    assert f"removed {backup}" in r.stderr, r.stderr
    [web] = webs(pc, docker_client, project)
    assert web["Name"].lstrip("/") == name and web["State"]["Running"]
    assert serve(docker_client, web["Id"]) == (0, "web-2")
    assert leftovers(pc, docker_client, project) == []
    assert not pc.by_service(pc.containers_of(docker_client, project)).get("check")


@pytest.mark.parametrize("command", ["ps", "up"])
def test_an_old_web_set_aside_with_no_new_one_running_must_be_restored(
        up, project, where, docker_client, pc, busybox_image, command):
    """The state a kill between "old set aside" and "new started" leaves, made by hand: v1
    stopped and renamed NAME-rollback-ID, the new one created under ID_NAME and never started.
    `ps` (or `up`) must restore v1 (the same container, under its name, running, serving),
    remove the never-started one, and say so; a later `up` must keep that same v1."""
    v1 = deploy_v1(up, where, project, pc, docker_client)
    api = docker_client.api
    name, id12 = v1["Name"].lstrip("/"), v1["Id"][:12]
    api.stop(v1["Id"], timeout=1)
    api.rename(v1["Id"], f"{name}-rollback-{id12}")
    half = api.create_container(busybox_image, ["sleep", "600"], name=f"{id12}_{name}",
                                labels=v1["Config"]["Labels"])["Id"]

    r = pc.run_cli(command, where, project) if command == "ps" else up(where, project)
    assert r.rc == 0, r.show()
    assert f"restored {name} ({id12})" in r.stderr, r.stderr
    [web] = webs(pc, docker_client, project)
    assert web["Id"] == v1["Id"] and web["Name"].lstrip("/") == name
    assert web["State"]["Running"] and serve(docker_client, web["Id"]) == (0, "web-1")
    assert half not in {c["Id"] for c in pc.containers_of(docker_client, project)}
    assert leftovers(pc, docker_client, project) == []

    r = up(where, project)
    assert r.rc == 0, r.show()
    [web] = webs(pc, docker_client, project)
    assert web["Id"] == v1["Id"] and web["State"]["Running"]
