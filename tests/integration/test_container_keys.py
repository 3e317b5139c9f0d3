"""Every per-service container key the key table marks honoured reaches the container: a
compose file is loaded and compiled as `up` does (load_project -> build_spec), the container
is created and started on the real engine (Engine.create), and then both the engine's inspect
and the container itself (`exec`: /proc, mounts, devices) are checked. No mocks.

One container is shared by the module; each test owns its assertions.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from prefect_compose.engine import Engine
from prefect_compose.load import load_project
from prefect_compose.plan.compile import config_hash
from prefect_compose.plan.containers import build_spec

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]

COMPOSE = """\
services:
  box:
    image: busybox:latest
    command: ["sleep", "600"]
    init: true
    read_only: true
    user: "65534:65534"
    working_dir: /work
    hostname: boxhost
    domainname: example.test
    group_add: ["10", "20"]
    stop_signal: SIGUSR1
    labels: {org.example.keys: "yes"}
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    devices:
      - /dev/null:/dev/xnull
      - source: /dev/zero
        target: /dev/xzero
        permissions: r
    sysctls:
      net.core.somaxconn: 1024
      net.ipv4.ip_forward: 1
    tmpfs:
      - /work
      - /scratch:size=1m,mode=1777
    security_opt: ["no-new-privileges:true"]
    cap_drop: [ALL]
    cap_add: [NET_BIND_SERVICE, CHOWN]
    shm_size: 32m
    pids_limit: 64
    oom_score_adj: 300
    dns: [10.0.0.53]
    dns_search: example.test
    dns_opt: [ndots:2]
    expose: ["8080", "9000-9001/udp"]
    cpu_period: 100000
    cpu_quota: 50000
    mem_reservation: 16m
    device_cgroup_rules: ["c 1:3 r"]
    stdin_open: true
    logging: {driver: local, options: {max-size: 1m}}
"""


@pytest.fixture(scope="module")
def box(tmp_path_factory, docker_client, busybox_image):
    """(engine inspect of the started container, exec helper)."""
    root: Path = tmp_path_factory.mktemp("keys")
    (root / "compose.yaml").write_text(textwrap.dedent(COMPOSE))
    name = f"pc-test-keys-{uuid.uuid4().hex[:8]}"
    project = load_project([str(root / "compose.yaml")], project_name=name, environ={})
    svc = project.services["box"]
    spec = build_spec(project, svc, image="busybox:latest", config_hash=config_hash(svc),
                      oneoff=False)
    engine = Engine.connect()
    engine.ensure_network(project.networks["default"].name, name, "default")
    cid = None
    try:
        cid = engine.create(spec)
        engine.start(cid)

        def run(*cmd: str, user: str | None = None) -> tuple[int, str]:
            out: list[bytes] = []
            code = engine.exec(cid, cmd, user=user, on_output=out.append)
            return code, b"".join(out).decode()

        yield engine.inspect(cid), run, project
    finally:
        if cid:
            engine.remove(cid, force=True)
        engine.remove_project_networks(name)
        engine.close()


def test_no_key_of_the_file_is_warned_about(box):
    _, _, project = box
    assert project.warnings == ()


def test_ulimits_must_reach_the_container(box):
    data, run, _ = box
    assert sorted((u["Name"], u["Soft"], u["Hard"]) for u in data["HostConfig"]["Ulimits"]) == [
        ("nofile", 1024, 2048), ("nproc", 512, 512)]
    # short outputs only: engine 20.10 can end an exec's stream before a long output is out
    _, limits = run("grep", "open files", "/proc/self/limits")
    assert limits.split()[3:5] == ["1024", "2048"], limits


def test_devices_must_be_mapped_with_their_permissions(box):
    data, run, _ = box
    assert [(d["PathOnHost"], d["PathInContainer"], d["CgroupPermissions"])
            for d in data["HostConfig"]["Devices"]] == [
        ("/dev/null", "/dev/xnull", "rwm"), ("/dev/zero", "/dev/xzero", "r")]
    code, out = run("sh", "-c", "echo hi > /dev/xnull && ls -l /dev/xnull /dev/xzero")
    assert code == 0, out
    assert "/dev/xnull" in out and "/dev/xzero" in out


def test_namespaced_sysctls_must_be_set(box):
    data, run, _ = box
    assert data["HostConfig"]["Sysctls"] == {"net.core.somaxconn": "1024",
                                             "net.ipv4.ip_forward": "1"}
    assert run("cat", "/proc/sys/net/core/somaxconn")[1].strip() == "1024"
    assert run("cat", "/proc/sys/net/ipv4/ip_forward")[1].strip() == "1"


def test_tmpfs_mounts_must_exist_with_their_options(box):
    data, run, _ = box
    assert data["HostConfig"]["Tmpfs"] == {"/work": "", "/scratch": "size=1m,mode=1777"}
    mounts = run("grep", "scratch", "/proc/mounts")[1]
    scratch = [m for m in mounts.splitlines() if m.split()[1] == "/scratch"]
    assert scratch and scratch[0].split()[2] == "tmpfs" and "size=1024k" in scratch[0], mounts


def test_read_only_root_and_init_and_user(box):
    data, run, _ = box
    assert data["HostConfig"]["ReadonlyRootfs"] is True
    assert data["HostConfig"]["Init"] is True
    code, out = run("touch", "/probe")
    assert code != 0 and "Read-only file system" in out
    assert run("touch", "/scratch/ok")[0] == 0  # the tmpfs stays writable
    assert "init" in run("cat", "/proc/1/cmdline")[1]  # docker-init is PID 1
    assert run("id", "-u")[1].strip() == "65534"
    assert sorted(data["HostConfig"]["GroupAdd"]) == ["10", "20"]
    assert run("pwd")[1].strip() == "/work"


def test_capabilities_and_security_options(box):
    data, run, _ = box
    assert data["HostConfig"]["CapDrop"] == ["ALL"]
    assert sorted(data["HostConfig"]["CapAdd"]) == ["CHOWN", "NET_BIND_SERVICE"]
    assert data["HostConfig"]["SecurityOpt"] == ["no-new-privileges=true"]
    status = run("grep", "-E", "^(CapBnd|NoNewPrivs)", "/proc/self/status")[1]
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    # CHOWN is bit 0, NET_BIND_SERVICE bit 10; run as root the bounding set is exactly those
    assert int(fields["CapBnd"], 16) == (1 << 0) | (1 << 10)
    assert fields["NoNewPrivs"].strip() == "1"


def test_limits_and_names(box):
    data, run, _ = box
    host, config = data["HostConfig"], data["Config"]
    assert host["ShmSize"] == 32 * 1024**2
    assert host["PidsLimit"] == 64
    assert host["OomScoreAdj"] == 300
    assert host["CpuPeriod"] == 100000 and host["CpuQuota"] == 50000
    assert host["MemoryReservation"] == 16 * 1024**2
    assert host["DeviceCgroupRules"] == ["c 1:3 r"]
    assert host["Dns"] == ["10.0.0.53"] and host["DnsSearch"] == ["example.test"]
    assert host["DnsOptions"] == ["ndots:2"]
    assert host["LogConfig"] == {"Type": "local", "Config": {"max-size": "1m"}}
    assert (config["Hostname"], config["Domainname"]) == ("boxhost", "example.test")
    assert config["StopSignal"] == "SIGUSR1"
    assert config["Labels"]["org.example.keys"] == "yes"
    assert config["OpenStdin"] is True
    assert set(config["ExposedPorts"]) == {"8080/tcp", "9000/udp", "9001/udp"}
    assert run("hostname")[1].strip() == "boxhost"
    assert "options ndots:2" in run("cat", "/etc/resolv.conf")[1]
    assert run("cat", "/proc/self/oom_score_adj")[1].strip() == "300"
