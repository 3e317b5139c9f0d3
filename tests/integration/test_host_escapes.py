"""Host escapes on the real engine: a refused one creates nothing (no container, network or
volume of the project), an allowed privileged container really is privileged (the engine's
inspect and the kernel's capability sets inside it), by `up --allow` or `x-prefect.allow`."""

from __future__ import annotations

import uuid

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(300)]

SYS_ADMIN = 21  # the capability's bit


def compose(root, allow: str = "") -> None:
    (root / "compose.yaml").write_text(
        "services:\n  web:\n    image: busybox:latest\n    command: [sleep, '600']\n"
        "    privileged: true\n    volumes: [data:/data]\n" + allow + "volumes:\n  data: {}\n")


@pytest.fixture
def project(request, pc, docker_client):
    name = f"pc-test-escape-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, name))
    return name


def test_a_refused_privileged_service_must_create_nothing(tmp_path, pc, project,
                                                          docker_client, busybox_image,
                                                          prefect_server):
    compose(tmp_path)
    r = pc.run_cli("up", tmp_path, project)
    assert r.rc == 2, r.show()
    assert ("compose.yaml: services.web.privileged: a host escape (every capability and "
            "device of the host), refused: allow it with x-prefect: {allow: [privileged]} on "
            "service web, or --allow privileged") in r.stderr
    assert "Traceback" not in r.stderr
    assert pc.on_engine(docker_client, project) == []
    r = pc.run_cli("run", tmp_path, project, "web", "true")
    assert r.rc == 2, r.show()
    assert pc.on_engine(docker_client, project) == []


def _caps(docker_client, project: str) -> dict[str, int]:
    c = docker_client.containers.get(f"{project}-web-1")
    code, out = c.exec_run(["grep", "-E", "^Cap(Eff|Bnd)", "/proc/self/status"])
    assert code == 0, out
    return {k: int(v, 16) for k, v in (line.split(":\t") for line in out.decode().splitlines())}


def _engine_runs_privileged(docker_client) -> bool:
    """A dockerd that itself lacks a capability (a nested engine) cannot start one."""
    import docker.errors

    probe = docker_client.containers.create("busybox:latest", ["true"], privileged=True,
                                            labels={"org.prefect-compose.test": "probe"})
    try:
        probe.start()
        return True
    except docker.errors.APIError as exc:
        assert "unable to apply caps" in str(exc)
        return False
    finally:  # a start that failed leaves the container Created: never leave it behind
        probe.remove(force=True)


def test_an_allowed_privileged_service_must_be_privileged(tmp_path, pc, project, docker_client,
                                                          busybox_image, prefect_server):
    compose(tmp_path)
    r = pc.run_cli("up", tmp_path, project, "--allow", "privileged")
    if not _engine_runs_privileged(docker_client):
        # this engine refuses every privileged container: the request reached it (exit 1, the
        # engine's own message), it was not refused by us (exit 2)
        assert r.rc == 1 and "unable to apply caps" in r.stderr, r.show()
        return
    assert r.rc == 0, r.show()
    c = docker_client.containers.get(f"{project}-web-1")
    assert c.attrs["HostConfig"]["Privileged"] is True
    caps = _caps(docker_client, project)
    assert caps["CapEff"] == caps["CapBnd"] and caps["CapEff"] >> SYS_ADMIN & 1


@pytest.mark.parametrize("line, name, how", [
    ("cap_add: [SYS_ADMIN]", "cap_sys_admin", "--allow"),
    ("pid: host", "host_pid", "x-prefect"),
])
def test_an_allowed_escape_must_really_apply(line, name, how, tmp_path, pc, project,
                                             docker_client, busybox_image, prefect_server):
    allow = f"    x-prefect: {{allow: [{name}]}}\n" if how == "x-prefect" else ""
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  web:\n    image: busybox:latest\n    command: [sleep, '600']\n"
        f"    {line}\n{allow}")
    refused = pc.run_cli("up", tmp_path, project)
    if how == "--allow":
        assert refused.rc == 2 and f"--allow {name}" in refused.stderr, refused.show()
        assert pc.on_engine(docker_client, project) == []
    r = pc.run_cli("up", tmp_path, project, *(["--allow", name] if how == "--allow" else []))
    assert r.rc == 0, r.show()
    c = docker_client.containers.get(f"{project}-web-1")
    if name == "cap_sys_admin":
        assert c.attrs["HostConfig"]["CapAdd"] == ["SYS_ADMIN"]
        assert _caps(docker_client, project)["CapEff"] >> SYS_ADMIN & 1
    else:
        assert c.attrs["HostConfig"]["PidMode"] == "host"
        code, out = c.exec_run(["cat", "/proc/1/comm"])
        assert code == 0 and out.decode().strip() != "sleep"  # the host's PID 1, not ours
