"""`down` stops and removes a project's containers with a bounded number of workers (engine
20.10 deadlocks under ~200 concurrent force-removes): COMPOSE_PARALLEL_LIMIT, as Compose v2
reads it, else a default bound. A fake engine records how many stop/remove calls overlap."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from prefect_compose.cli import commands
from prefect_compose.cli.main import main


class FakeEngine:
    """The calls `down` makes; stop and remove sleep a little and count who else is inside."""

    def __init__(self, n: int, fail: set[str] = frozenset()) -> None:
        self.containers = [
            SimpleNamespace(id=f"id{i:03d}", name=f"demo-svc{i:03d}-1", service=f"svc{i:03d}",
                            state="running" if i % 2 else "exited")
            for i in range(n)]
        self.fail = fail
        self.removed: list[str] = []
        self.stopped: list[tuple[str, float]] = []
        self.peak = 0
        self._inside = 0
        self._lock = threading.Lock()
        self.closed = False

    def _call(self) -> None:
        with self._lock:
            self._inside += 1
            self.peak = max(self.peak, self._inside)
        time.sleep(0.02)
        with self._lock:
            self._inside -= 1

    def list_containers(self, project: str, inspect: bool = True):
        assert project == "demo"
        return list(self.containers)

    def stop(self, cid: str, grace: float) -> None:
        self._call()
        with self._lock:
            self.stopped.append((cid, grace))

    def remove(self, cid: str, force: bool = True, volumes: bool = False) -> None:
        assert force
        self._call()
        if cid in self.fail:
            raise RuntimeError(f"cannot remove {cid}")
        with self._lock:
            self.removed.append(cid)

    def remove_project_networks(self, project: str) -> list[str]:
        return ["demo_default"]

    def remove_project_volumes(self, project: str) -> list[str]:
        return ["demo_data"]

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake(proj, monkeypatch):
    """`down -p demo` (no compose file: default grace) against a FakeEngine of 80
    containers."""
    monkeypatch.delenv("COMPOSE_PARALLEL_LIMIT", raising=False)
    engine = FakeEngine(80)
    monkeypatch.setattr(commands, "_engine", lambda: engine)
    monkeypatch.setattr(commands, "_reap", lambda engine, project: None)
    return engine


def down(capsys, *argv: str) -> tuple[int, list[str]]:
    code = main(["down", "-p", "demo", *argv])
    return code, capsys.readouterr().err.splitlines()


def expected_lines(engine: FakeEngine, volumes: bool = False) -> list[str]:
    return ([f"removed container {c.name}" for c in engine.containers]
            + ["removed network demo_default"] + (["removed volume demo_data"] if volumes else []))


def test_down_must_remove_every_container_with_at_most_the_default_workers(fake, capsys):
    code, lines = down(capsys)
    assert code == 0
    assert sorted(fake.removed) == [c.id for c in fake.containers]
    assert sorted(cid for cid, _ in fake.stopped) == [c.id for c in fake.containers
                                                      if c.state == "running"]
    assert all(grace == 10.0 for _, grace in fake.stopped)
    assert 1 < fake.peak <= commands.DOWN_PARALLEL_DEFAULT
    assert lines == expected_lines(fake)  # in the order the engine listed them
    assert fake.closed


@pytest.mark.parametrize("limit", ["1", "3"])
def test_down_must_honour_compose_parallel_limit(fake, capsys, monkeypatch, limit):
    monkeypatch.setenv("COMPOSE_PARALLEL_LIMIT", limit)
    del fake.containers[20:]  # 20 containers, 3 workers: enough to overlap, quick with 1
    code, lines = down(capsys, "-v")
    assert code == 0
    assert sorted(fake.removed) == [c.id for c in fake.containers]
    assert fake.peak <= int(limit)
    assert lines == expected_lines(fake, volumes=True)


def test_a_non_positive_limit_must_mean_unlimited_as_in_compose(fake, capsys, monkeypatch):
    monkeypatch.setenv("COMPOSE_PARALLEL_LIMIT", "-1")
    assert commands.parallel_limit() is None
    code, _ = down(capsys)
    assert code == 0
    assert sorted(fake.removed) == [c.id for c in fake.containers]


def test_a_bad_limit_must_exit_2_before_the_engine_is_touched(fake, capsys, monkeypatch):
    monkeypatch.setenv("COMPOSE_PARALLEL_LIMIT", "many")
    code, lines = down(capsys)
    assert code == 2
    assert "COMPOSE_PARALLEL_LIMIT must be an integer" in "\n".join(lines)
    assert fake.removed == [] and fake.stopped == []


def test_one_failed_removal_must_not_stop_the_others_and_must_be_reported(fake, capsys,
                                                                         monkeypatch):
    """As with one thread per container: a failure is reported as an unhandled error in a
    thread (threading.excepthook) and the other containers are still removed."""
    fake.fail = {"id007"}
    seen = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    code, lines = down(capsys)
    assert code == 0
    assert sorted(fake.removed) == [c.id for c in fake.containers if c.id != "id007"]
    assert [str(e) for e in seen] == ["cannot remove id007"]
    assert lines == expected_lines(fake)


def test_down_with_no_containers_must_still_remove_the_network(fake, capsys):
    fake.containers.clear()
    code, lines = down(capsys)
    assert (code, lines) == (0, ["removed network demo_default"])
