"""Owner labels and liveness (prefect_compose.owner) and the lock's staleness rule."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from prefect_compose.owner import (
    LABEL_DEADLINE,
    Owner,
    deadline_labels,
    parse_stamp,
    utc_stamp,
    why_dead,
)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_this_process_must_be_alive_by_its_own_labels():
    me = Owner.me()
    assert Owner.from_labels(me.labels()) == me
    assert me.alive() is True


def test_a_dead_pid_on_this_host_must_be_dead():
    assert Owner(host=socket.gethostname(), pid=dead_pid()).alive() is False


def test_a_zombie_must_be_dead():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    try:
        assert Owner(host=socket.gethostname(), pid=proc.pid).alive() is False
    finally:
        proc.wait()


def test_a_recycled_pid_must_be_dead():
    me = Owner.me()
    assert Owner(host=me.host, pid=me.pid, boot_id=me.boot_id, pid_start="1").alive() is False


def test_another_boot_must_be_dead():
    me = Owner.me()
    if me.boot_id:  # /proc present
        assert Owner(host=me.host, pid=me.pid, boot_id="other-boot").alive() is False


def test_an_owner_on_another_host_must_be_unknown():
    assert Owner(host="not-" + socket.gethostname(), pid=os.getpid()).alive() is None


def test_labels_without_an_owner_must_give_none():
    assert Owner.from_labels({}) is None
    assert Owner.from_labels({"org.prefect-compose.host": "h",
                              "org.prefect-compose.pid": "x"}) is None


def test_deadline_labels_must_round_trip_and_decide_deadness():
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    labels = {**Owner(host="elsewhere", pid=1).labels(), **deadline_labels(60, now=now)}
    assert parse_stamp(labels[LABEL_DEADLINE]) == now + timedelta(seconds=60)
    assert utc_stamp(now) == "2026-01-02T03:04:05Z"
    assert why_dead(labels, now=now + timedelta(seconds=59)) is None
    assert "past its deadline" in why_dead(labels, now=now + timedelta(seconds=61))


def test_a_dead_owner_must_be_dead_before_its_deadline():
    labels = {**Owner(host=socket.gethostname(), pid=dead_pid()).labels(),
              **deadline_labels(3600)}
    assert "is gone" in why_dead(labels)


def test_a_lock_of_another_host_must_be_stale_only_when_its_flow_run_is_over():
    from prefect_compose.run.lock import stale_reason

    labels = {**Owner(host="elsewhere", pid=1).labels(),
              "org.prefect-compose.flow-run-id": "abc"}
    assert stale_reason(labels, finished=lambda run: None) is None
    assert stale_reason(labels, finished=lambda run: False) is None
    assert "flow run abc is over" in stale_reason(labels, finished=lambda run: True)
    mine = Owner.me().labels()
    assert stale_reason(mine, finished=lambda run: True) is None  # alive here: pid decides
