"""One deployment of a project at a time on an engine (SPEC "Safety"), against the real engine
and the session's real Prefect server. The lock lives on the engine, so what holds here holds
for two CLI runs on ephemeral servers too (the last test runs one of them that way).

The `mutex` scenario's job takes a mkdir mutex in a shared volume and records start/end: two
overlapping jobs would make the second exit 3. With HOLD=1 the job holds until the test
touches /shared/go, so the second `up` surely meets the first one's lock (no timing).
"""

from __future__ import annotations

import pytest
from safety_support import Proc, exec_out, lock_of, run_ephemeral, running_job

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(420)]


def release(docker_client, job: dict) -> None:
    code, out = exec_out(docker_client, job["Id"], "touch", "/shared/go")
    assert code == 0, out


def web_containers(pc, docker_client, project: str) -> list[dict]:
    return pc.by_service(pc.containers_of(docker_client, project)).get("web", [])


def test_two_concurrent_ups_must_never_overlap_a_job_and_end_with_one_web(
        pc, docker_client, project, prefect_server):
    first = Proc(pc, "up", "mutex", project, env={"HOLD": "1"})
    second = None
    try:
        job = running_job(docker_client, pc, project, "migrate")
        second = Proc(pc, "up", "mutex", project, "--wait-lock", "5m", env={"HOLD": "1"})
        second.wait_for_stderr("waiting up to 5m")
        release(docker_client, job)  # /shared/go stays: the second job does not hold
        a, b = first.result(), second.result()
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert a.rc == 0, a.show()
    assert b.rc == 0, b.show()
    assert "OVERLAP" not in a.stdout + b.stdout
    webs = web_containers(pc, docker_client, project)
    assert len(webs) == 1 and webs[0]["State"]["Running"], [w["Name"] for w in webs]
    code, seq = exec_out(docker_client, webs[0]["Id"], "cat", "/shared/seq")
    assert seq.split() == ["start", "end", "start", "end"], seq
    assert lock_of(docker_client, project) is None, "the lock must be released"


def test_a_second_up_without_wait_lock_must_exit_1_naming_the_deployment_in_progress(
        pc, docker_client, project, prefect_server):
    first = Proc(pc, "up", "mutex", project, env={"HOLD": "1"})
    try:
        job = running_job(docker_client, pc, project, "migrate")
        held = lock_of(docker_client, project)
        assert held is not None
        run_id = held["Config"]["Labels"]["org.prefect-compose.flow-run-id"]
        second = pc.run_cli("up", Proc.scenario("mutex"), project, env={"HOLD": "1"})
        release(docker_client, job)
        a = first.result()
    finally:
        first.stop()
    assert second.rc == 1, second.show()
    assert "in progress" in second.stderr, second.stderr
    for part in (run_id, f"pid {first.pid}", "on host", "since", "--wait-lock"):
        assert part in second.stderr, (part, second.stderr)
    assert a.rc == 0, a.show()
    code, seq = exec_out(docker_client, web_containers(pc, docker_client, project)[0]["Id"],
                         "cat", "/shared/seq")
    assert seq.split() == ["start", "end"], "the refused up must not have run its job"


def test_wait_lock_must_give_up_after_its_duration_naming_the_holder(
        pc, docker_client, project, prefect_server):
    first = Proc(pc, "up", "mutex", project, env={"HOLD": "1"})
    try:
        job = running_job(docker_client, pc, project, "migrate")
        second = pc.run_cli("up", Proc.scenario("mutex"), project, "--wait-lock", "2s",
                            env={"HOLD": "1"})
        release(docker_client, job)
        a = first.result()
    finally:
        first.stop()
    assert second.rc == 1, second.show()
    assert "still held after waiting 2s" in second.stderr, second.stderr
    assert f"pid {first.pid}" in second.stderr
    assert a.rc == 0, a.show()


def test_a_lock_left_by_a_sigkilled_up_must_be_taken_over_and_said(
        pc, docker_client, project, prefect_server):
    first = Proc(pc, "up", "hold", project, env={"HOLD": "1"})
    try:
        old_job = running_job(docker_client, pc, project, "job")
        first.popen.kill()  # SIGKILL: no finally runs, the lock and the job stay behind
        first.result(timeout=30)
        assert lock_of(docker_client, project) is not None
        again = pc.run_cli("up", Proc.scenario("hold"), project, timeout=240)
    finally:
        first.stop()
    assert again.rc == 0, again.show()
    assert "took over the lock left by a dead run" in again.stderr, again.stderr
    assert f"pid {first.pid} on host" in again.stderr
    assert f"removed leftover job container {old_job['Name'].lstrip('/')}" in again.stderr
    by = pc.by_service(pc.containers_of(docker_client, project))
    assert "job" not in by, [c["Name"] for c in by["job"]]  # the old job is gone too
    assert len(by["web"]) == 1 and by["web"][0]["State"]["Running"]
    assert lock_of(docker_client, project) is None


def test_the_lock_must_hold_between_an_ephemeral_server_run_and_a_shared_server_run(
        pc, docker_client, project, prefect_server, tmp_path):
    """Two CLI runs that share no Prefect server (one ephemeral) share only the engine."""
    first = Proc(pc, "up", "mutex", project, env={"HOLD": "1"})
    try:
        job = running_job(docker_client, pc, project, "migrate")
        second = run_ephemeral(pc, tmp_path, "up", "mutex", project, env={"HOLD": "1"})
        release(docker_client, job)
        a = first.result()
    finally:
        first.stop()
    assert second.rc == 1, second.show()
    assert "in progress" in second.stderr and f"pid {first.pid}" in second.stderr
    assert a.rc == 0, a.show()
