"""The reaper settles what an `up` killed mid-replacement left (fake engine): the old
container set aside as NAME-rollback-ID is restored when no container of its service runs,
removed when one does; a never-started ID_NAME is removed; anything else is left alone."""

from __future__ import annotations

from conftest import LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE, FakeContainer, FakeEngine

from prefect_compose.run import reaper

OLD = "0123456789ab" + "c" * 52
NEW = "fedcba987654" + "d" * 52


def _engine(*containers: tuple[str, str, str]) -> FakeEngine:
    engine = FakeEngine()
    for cid, name, state in containers:
        engine.containers[cid] = FakeContainer(cid, name, None, {
            LABEL_PROJECT: "p", LABEL_SERVICE: "web", LABEL_ONEOFF: "False"}, state=state)
    return engine


def test_a_set_aside_old_container_is_removed_when_a_new_one_runs():
    engine = _engine((OLD, "p-web-1-rollback-0123456789ab", "exited"), (NEW, "p-web-1", "running"))
    lines: list[str] = []
    assert reaper.reap(engine, "p", lines.append, holding_lock=True) == [
        "p-web-1-rollback-0123456789ab"]
    assert set(engine.containers) == {NEW}
    assert "removed p-web-1-rollback-0123456789ab" in lines[0] and "new one is running" in lines[0]


def test_a_set_aside_old_container_is_restored_when_nothing_runs():
    engine = _engine((OLD, "p-web-1-rollback-0123456789ab", "exited"),
                     (NEW, "0123456789ab_p-web-1", "created"))
    lines: list[str] = []
    reaper.reap(engine, "p", lines.append, holding_lock=True)
    assert set(engine.containers) == {OLD}
    assert engine.containers[OLD].name == "p-web-1" and engine.containers[OLD].state == "running"
    assert lines == ["restored p-web-1 (0123456789ab), the old web container set aside by an "
                     "interrupted up: no new one was running"]


def test_a_never_started_temporary_container_is_removed_next_to_a_running_one():
    engine = _engine((OLD, "p-web-1", "running"), (NEW, "0123456789ab_p-web-1", "created"))
    lines: list[str] = []
    reaper.reap(engine, "p", lines.append, holding_lock=True)
    assert set(engine.containers) == {OLD} and "never started" in lines[0]


def test_other_names_are_left_alone():
    engine = _engine((OLD, "p-web-1", "exited"), (NEW, "web-rollback-notanid", "exited"))
    assert reaper.reap(engine, "p", lambda line: None, holding_lock=True) == []
    assert set(engine.containers) == {OLD, NEW}


def test_nothing_is_touched_while_a_live_deployment_holds_the_lock(monkeypatch):
    engine = _engine((OLD, "p-web-1-rollback-0123456789ab", "exited"), (NEW, "p-web-1", "running"))
    monkeypatch.setattr(reaper, "_live_deployment", lambda engine, project: True)
    assert reaper.reap(engine, "p", lambda line: None) == []
    assert set(engine.containers) == {OLD, NEW}
