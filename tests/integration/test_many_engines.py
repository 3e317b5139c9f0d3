"""Many engines: one Prefect server drives projects on two Docker engines, one worker per
engine (each on its own work pool), each project's `compose-project` block naming the
prefect-docker `DockerHost` block of its engine.

The second engine is a `dockerd` the test starts and stops itself (tests/support/
second_dockerd.py: its own data root, exec root, pid file and unix socket under /tmp, no
default bridge, no iptables; the main engine and docker0 are never touched). The busybox test
image is copied into it (`docker save` | `docker load`, through the SDK). Both projects are
deployed with `prefect-compose deploy --block ... --docker-host-block ...` on the session's
server, run with `prefect deployment run` by two `prefect worker start` processes, and each
project's containers must be on its own engine and not on the other; a run and a deploy
cancelled on the second engine must have their containers removed there.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from pathlib import Path

import pytest
from prefect_fixtures import wait_for_flow_run

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from helpers import deadline_poll  # noqa: E402
from prefect_workers import Worker, deployment_run, prefect_cli  # noqa: E402
from second_dockerd import NestedDockerdUnavailable, second_dockerd  # noqa: E402

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(600)]

RUN_WAIT_S = 300.0  # two worker-run flows at once on a loaded 2-core machine
COMPOSE = """\
services:
  migrate:
    image: busybox:latest
    restart: "no"
    command: ["echo", "migrated"]
  web:
    image: busybox:latest
    command: ["sh", "-c", "exec sleep 3600"]
    stop_grace_period: 1s
    depends_on: [migrate]
  slow:  # only with profile "slow": a deploy that is still running when it is cancelled
    image: busybox:latest
    restart: "no"
    command: ["sh", "-c", "exec sleep 300"]
    stop_grace_period: 1s
    profiles: [slow]
"""
LABEL_PROJECT = "com.docker.compose.project"


def _on(client, project: str) -> dict[str, str]:
    """{container name: state} of the project's containers on one engine."""
    return {c["Names"][0].lstrip("/"): c["State"] for c in client.api.containers(
        all=True, filters={"label": f"{LABEL_PROJECT}={project}"})}


def _oneoff_of(client, project: str, flow_run_id: str) -> list[str]:
    return [c["Id"] for c in client.api.containers(all=True, filters={"label": [
        f"{LABEL_PROJECT}={project}", f"org.prefect-compose.flow-run-id={flow_run_id}"]})]


def _networks_on(client, project: str) -> list[str]:
    return [n["Name"] for n in client.api.networks(
        filters={"label": f"{LABEL_PROJECT}={project}"})]


def _cleanup_prefect(pools: list[str], blocks: list[str]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName

    with get_client(sync_client=True) as client:
        for pool in pools:
            with contextlib.suppress(Exception):
                for d in client.read_deployments(work_pool_filter=WorkPoolFilter(
                        name=WorkPoolFilterName(any_=[pool]))):
                    client.delete_deployment(d.id)
            with contextlib.suppress(Exception):
                client.delete_work_pool(pool)
        for name in blocks:
            with contextlib.suppress(Exception):
                slug, doc = name.split("/", 1)
                client.delete_block_document(
                    client.read_block_document_by_name(doc, slug).id)


def test_one_server_must_drive_two_engines_through_their_docker_host_blocks(
        tmp_path, request, pc, docker_client, busybox_image, prefect_server):
    from prefect_docker.host import DockerHost

    from prefect_compose.blocks.compose_project import ComposeProject

    tag = uuid.uuid4().hex[:6]
    names = {"a": f"pc-test-{tag}-a", "b": f"pc-test-{tag}-b"}
    pools = {k: f"pc-test-pool-{tag}-{k}" for k in names}
    hosts = {k: f"pc-test-host-{tag}-{k}" for k in names}
    blocks = {k: f"pc-test-project-{tag}-{k}" for k in names}
    for n in names.values():  # main engine: remove anything that would land there
        request.addfinalizer(lambda n=n: pc.cleanup_project(docker_client, n))
    request.addfinalizer(lambda: _cleanup_prefect(
        list(pools.values()), [f"docker-host/{h}" for h in hosts.values()]
        + [f"compose-project/{b}" for b in blocks.values()]))
    workers: list[Worker] = []
    try:
        with second_dockerd() as other:
            try:
                t0 = time.monotonic()
                image = b"".join(docker_client.images.get(busybox_image).save(named=True))
                other.client.images.load(image)
                print(f"\n[figure] second dockerd up and busybox loaded: "
                      f"{time.monotonic() - t0:.1f} s (pool {other.address_pool})")
                main_url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
                DockerHost.register_type_and_schema()
                DockerHost(base_url=main_url).save(hosts["a"], overwrite=True)
                DockerHost(base_url=other.base_url).save(hosts["b"], overwrite=True)
                elsewhere = tmp_path / "elsewhere"
                elsewhere.mkdir()
                for k, name in names.items():
                    project_dir = tmp_path / name
                    project_dir.mkdir()
                    (project_dir / "compose.yaml").write_text(COMPOSE)
                    r = pc.run_cli("deploy", project_dir, name, "--pool", pools[k], "--block",
                                   blocks[k], "--docker-host-block", hosts[k])
                    assert r.rc == 0, r.show()
                    saved = ComposeProject.load(blocks[k])
                    assert saved.docker_host is not None
                    assert saved.docker_host.base_url == (main_url if k == "a"
                                                          else other.base_url)
                    workers.append(Worker(pools[k], elsewhere, tmp_path / f"worker-{k}.log"))
                run_ids = {k: deployment_run(f"compose-up/{n}", cwd=elsewhere)
                           for k, n in names.items()}
                runs = {}
                for k, run_id in run_ids.items():
                    try:
                        runs[k] = wait_for_flow_run(run_id, timeout=RUN_WAIT_S)
                    except BaseException:
                        for w in workers:
                            print(w.tail(), file=sys.stderr)
                        raise
                for k, run in runs.items():
                    assert run.state.is_completed(), (k, run.state, workers[0].tail(),
                                                      workers[1].tail())
                    assert run.work_pool_name == pools[k], "each engine's worker, its own pool"
                    assert run.name == names[k]
                a, b = names["a"], names["b"]
                engines = {"main": docker_client, "second": other.client}
                assert _on(engines["main"], a) == {f"{a}-web-1": "running"}
                assert _on(engines["second"], b) == {f"{b}-web-1": "running"}
                assert _on(engines["second"], a) == {}, "a must not touch the second engine"
                assert _on(engines["main"], b) == {}, "b must not touch the main engine"
                assert _networks_on(engines["second"], b) == [f"{b}_default"]
                assert _networks_on(engines["main"], b) == []
                assert _networks_on(engines["second"], a) == []
                # cancelling a run on the second engine removes its container there
                def cancel_on_second(run_id: str, what: str) -> None:
                    """Cancel a run once its container is up on engine 2; it must end
                    Cancelled with that container removed there."""
                    deadline_poll(lambda: _oneoff_of(other.client, b, run_id),
                                  timeout=RUN_WAIT_S, interval=0.5,
                                  message=f"the {what}'s container on engine 2")
                    proc = prefect_cli("flow-run", "cancel", run_id, cwd=elsewhere)
                    assert proc.returncode == 0, proc.stdout + proc.stderr
                    assert wait_for_flow_run(run_id, timeout=RUN_WAIT_S).state.is_cancelled()
                    deadline_poll(lambda: not _oneoff_of(other.client, b, run_id), timeout=60,
                                  interval=0.5, message=f"the cancelled {what}'s container removed")
                    assert _on(engines["second"], b) == {f"{b}-web-1": "running"}

                cancel_on_second(deployment_run(f"compose-run/{b}", "service=migrate",
                                                'command=["sh","-c","exec sleep 300"]',
                                                cwd=elsewhere), "long run")
                # and so does cancelling a deploy there (the block's engine, not the local one)
                cancel_on_second(deployment_run(f"compose-up/{b}", 'profiles=["slow"]',
                                                cwd=elsewhere), "slow deploy's job")
                assert _on(engines["main"], b) == {}
            finally:  # before the engine goes away: no run may be left using it
                for w in workers:
                    w.stop()
    except NestedDockerdUnavailable as exc:
        pytest.fail(f"a second dockerd cannot run here: {exc}", pytrace=False)
