"""`prefect-compose run / exec / ps / logs / down` against a project deployed once with `up`
(scenarios/oneoff), each command run as a subprocess, as users do.

The module deploys one project (and one container of *another* project that every command
must leave alone); `down` comes last in this file, as it removes the deployment.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(120)]

SCENARIO = "oneoff"


@dataclass
class Deployment:
    project: str
    intruder: str  # id of a container of another project, named like one of ours
    intruder_project: str


@pytest.fixture(scope="module")
def deployed(request, pc, docker_client, busybox_image, prefect_server) -> Deployment:
    project = f"pc-test-{uuid.uuid4().hex[:8]}"
    other = f"pc-test-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, project))
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, other))
    r = pc.run_cli("up", SCENARIO, project)
    assert r.rc == 0, r.show()
    # another project's container, named as ours would be and labelled as a service of ours
    intruder = docker_client.api.create_container(
        "busybox:latest", ["sleep", "3600"], name=f"{project}-web-9", stop_signal="SIGKILL",
        labels={pc.LABEL_PROJECT: other, pc.LABEL_SERVICE: "web", pc.LABEL_ONEOFF: "False",
                "com.docker.compose.config-hash": "x"})["Id"]
    docker_client.api.start(intruder)
    return Deployment(project, intruder, other)


def cli(pc, deployed: Deployment, command: str, *args: str, timeout: float = 60):
    return pc.run_cli(command, SCENARIO, deployed.project, *args, timeout=timeout)


def oneoff_containers(pc, client, project: str) -> list[str]:
    return [c["Name"] for c in pc.containers_of(client, project)
            if c["Config"]["Labels"].get(pc.LABEL_ONEOFF) == "True"]


def intruder_alive(client, deployed: Deployment) -> bool:
    return client.api.inspect_container(deployed.intruder)["State"]["Running"]


# -- run ------------------------------------------------------------------------------------------
def test_run_must_return_the_commands_exit_code_and_remove_its_container(deployed, pc,
                                                                         docker_client):
    """`run job sh -c 'exit 7'` must exit 7 and leave no container behind."""
    r = cli(pc, deployed, "run", "job", "sh", "-c", "exit 7")
    assert r.rc == 7, r.show()
    assert oneoff_containers(pc, docker_client, deployed.project) == []
    print(f"\n[figure] run (exit 7) wall time: {r.elapsed:.2f} s")


def test_run_must_pass_arguments_through_unchanged(deployed, pc):
    """`run SERVICE CMD...` must hand CMD to the container as given (no shell, no
    interpolation), and `-e K=V` must add to the service's environment."""
    r = cli(pc, deployed, "run", "-e", "EXTRA=given", "job", "sh", "-c",
            'printf "%s|" "$0" "$1" "$EXTRA"; echo', "a b", "$HOME")
    assert r.rc == 0, r.show()
    assert r.stdout.strip() == "a b|$HOME|given|", r.show()


def test_run_must_have_the_services_environment_and_network(deployed, pc):
    """A `run` container must carry the service's environment and reach `db` by name on the
    project network after an `up`."""
    r = cli(pc, deployed, "run", "job", "sh", "-c",
            'echo "setting=$JOB_SETTING"; wget -q -O - http://db:5432/')
    assert r.rc == 0, r.show()
    assert r.stdout.splitlines() == ["setting=from-compose", "db-answers"], r.show()


def test_run_must_print_stdout_and_stderr_apart_and_return_the_exit_code(deployed, pc,
                                                                        docker_client):
    """`run job sh -c 'echo a; echo b >&2; exit 3'` must print `a` on stdout, `b` on stderr
    and exit 3, leaving no container behind."""
    r = cli(pc, deployed, "run", "job", "sh", "-c", "echo a; echo b >&2; exit 3")
    assert r.rc == 3, r.show()
    assert r.stdout.splitlines() == ["a"], r.show()
    assert "b" in r.stderr.splitlines() and "a" not in r.stderr.splitlines(), r.show()
    assert oneoff_containers(pc, docker_client, deployed.project) == []


def test_run_must_deliver_every_line_written_right_before_the_exit(deployed, pc,
                                                                   docker_client):
    """A burst of output on both streams written just before the command exits (and a last
    line with no newline) must all arrive, in order per stream, before `run` returns: the
    log follow is cut at the container's exit and the rest read without follow, not waited
    for and then dropped."""
    n = 400
    script = (f"i=1; while [ $i -le {n} ]; do echo out-$i; echo err-$i >&2; i=$((i+1)); "
              "done; printf out-last; exit 5")
    r = cli(pc, deployed, "run", "job", "sh", "-c", script)
    assert r.rc == 5, r.show()
    assert r.stdout.splitlines() == [f"out-{i}" for i in range(1, n + 1)] + ["out-last"], \
        r.show()
    assert [x for x in r.stderr.splitlines() if x.startswith("err-")] == \
        [f"err-{i}" for i in range(1, n + 1)], r.show()
    assert oneoff_containers(pc, docker_client, deployed.project) == []
    print(f"\n[figure] run ({2 * n} lines, exit 5) wall time: {r.elapsed:.2f} s")


def test_run_oneoff_must_cut_its_log_follow_at_the_exit_and_return_with_all_output(
        deployed, pc, docker_client):
    """In process, on the real engine: when `run_oneoff` returns, every line has reached
    `on_line`, its log follow has ended, and it ended by being cut at the container's exit
    (the rest read without follow, `LogFollow.finish()`, as a job's), not by being waited
    for: engine 20.10 ends the follow of an exited container up to seconds late on a loaded
    machine, and a bounded wait for it then drops what it has not delivered. The engine is
    the real one; the subclass only keeps the follow it returns, so that the test checks
    how it ended instead of a timing bound."""
    from prefect_compose.engine import Engine
    from prefect_compose.project import ProjectOptions, load_and_compile
    from prefect_compose.run.oneoff import run_oneoff

    follows: list = []

    class Recording(Engine):
        def stream_logs(self, *args, **kwargs):
            follow = super().stream_logs(*args, **kwargs)
            follows.append(follow)
            return follow

    project, plan = load_and_compile(ProjectOptions(
        project_dir=str(pc.scenario_dir(SCENARIO)), project_name=deployed.project))
    n = 400
    script = (f"i=1; while [ $i -le {n} ]; do echo out-$i; echo err-$i >&2; i=$((i+1)); "
              "done; printf err-last >&2; exit 5")
    lines: list[tuple[str, str]] = []
    with Recording.connect() as engine:
        result = run_oneoff(engine, project, plan, "job", ["sh", "-c", script],
                            check_deps=False, on_line=lambda s, line: lines.append((s, line)))
        got = list(lines)
        [follow] = follows
        alive, cut = follow.is_alive(), follow.cut
    assert (result.exit_code, result.timed_out) == (5, False)
    assert not alive, "run_oneoff returned with its log follow still running"
    assert cut, "the log follow was waited for, not cut at the exit (LogFollow.finish)"
    assert [line for s, line in got if s == "stdout"] == [f"out-{i}" for i in range(1, n + 1)]
    assert [line for s, line in got if s == "stderr"] == \
        [f"err-{i}" for i in range(1, n + 1)] + ["err-last"]
    assert oneoff_containers(pc, docker_client, deployed.project) == []


def test_run_past_its_timeout_must_exit_124_and_remove_its_container(deployed, pc,
                                                                     docker_client):
    """`run --timeout 1s job sleep 30` must stop the command (1 s grace) and exit 124."""
    r = cli(pc, deployed, "run", "--timeout", "1s", "job", "sleep", "30")
    assert r.rc == 124, r.show()
    assert "timed out" in r.stderr
    print(f"\n[figure] run --timeout 1s (grace 1 s) wall time: {r.elapsed:.2f} s")
    assert r.elapsed < 10
    assert oneoff_containers(pc, docker_client, deployed.project) == []


# -- exec -----------------------------------------------------------------------------------------
def test_exec_must_return_the_commands_exit_code(deployed, pc):
    """`exec web sh -c 'exit 4'` must exit 4; the command sees the service's environment."""
    r = cli(pc, deployed, "exec", "web", "sh", "-c", "exit 4")
    assert r.rc == 4, r.show()
    print(f"\n[figure] exec wall time: {r.elapsed:.2f} s")
    r = cli(pc, deployed, "exec", "web", "sh", "-c", 'echo "role=$WEB_ROLE"')
    assert (r.rc, r.stdout.strip()) == (0, "role=frontend"), r.show()


def test_exec_must_exit_1_when_the_service_is_not_running(deployed, pc):
    """`exec` on a service with no running container (a job) must exit 1 and say so."""
    r = cli(pc, deployed, "exec", "job", "true")
    assert r.rc == 1, r.show()
    assert "not running" in r.stderr


# -- ps / logs ------------------------------------------------------------------------------------
def test_ps_must_list_the_projects_containers_only(deployed, pc):
    """`ps` must list the project's db and web containers, running, and not another
    project's container even when its name starts like ours."""
    r = cli(pc, deployed, "ps")
    assert r.rc == 0, r.show()
    rows = [line.split() for line in r.stdout.splitlines()[1:] if line.strip()]
    assert [(row[0], row[1], row[2]) for row in rows] == [
        (f"{deployed.project}-db-1", "db", "running"),
        (f"{deployed.project}-web-1", "web", "running")], r.stdout
    assert f"{deployed.project}-web-9" not in r.stdout


def test_compose_v2_ps_must_list_the_containers_we_created(deployed, pc, compose_v2):
    """`docker compose -p NAME ps` (v2) must list the containers prefect-compose created."""
    r = pc.run_compose(compose_v2, SCENARIO, deployed.project, "ps", "--format", "json")
    assert r.rc == 0, r.show()
    text = r.stdout.strip()
    rows = json.loads(text) if text.startswith("[") else [json.loads(x) for x in
                                                          text.splitlines()]
    assert sorted((row["Name"], row["Service"], row["State"]) for row in rows) == [
        (f"{deployed.project}-db-1", "db", "running"),
        (f"{deployed.project}-web-1", "web", "running")], r.stdout


def test_logs_must_print_the_services_lines_prefixed(deployed, pc):
    """`logs web` must print web's output, each line prefixed `web | `, and only web's."""
    r = cli(pc, deployed, "logs", "web")
    assert r.rc == 0, r.show()
    assert r.stdout.splitlines() == ["web | web-log-marker"], r.show()


# -- down (last: it removes the deployment) -------------------------------------------------------
def test_down_must_remove_containers_and_network_then_volumes_and_nothing_of_others(
        deployed, pc, docker_client):
    """`down` must remove the project's containers and network and keep its volumes;
    `down -v` must remove the volumes; neither touches another project's container."""
    api = docker_client.api
    label = {"label": f"{pc.LABEL_PROJECT}={deployed.project}"}
    assert api.networks(filters=label) and api.volumes(filters=label).get("Volumes")
    r = cli(pc, deployed, "down")
    assert r.rc == 0, r.show()
    print(f"\n[figure] down wall time: {r.elapsed:.2f} s")
    assert pc.containers_of(docker_client, deployed.project) == []
    assert api.networks(filters=label) == []
    volumes = [v["Name"] for v in api.volumes(filters=label).get("Volumes") or []]
    assert volumes == [f"{deployed.project}_data"]
    assert intruder_alive(docker_client, deployed)

    t0 = time.monotonic()
    r = cli(pc, deployed, "down", "-v")
    assert r.rc == 0, r.show()
    assert time.monotonic() - t0 < 30
    assert (api.volumes(filters=label).get("Volumes") or []) == []
    assert intruder_alive(docker_client, deployed)
    assert docker_client.api.inspect_container(deployed.intruder)["Name"] == \
        f"/{deployed.project}-web-9"
