"""Replace, never remove first, and rollback, on the fake engine: the new container is created
(under a temporary name) before the old one is touched; a refused one leaves the old serving;
a later failure puts the old container back; success removes it."""

from __future__ import annotations

from conftest import FakeEngine

V1 = """\
services:
  web:
    image: busybox:latest
    environment: {VERSION: "1"}
  check:
    image: busybox:latest
    restart: "no"
    depends_on: [web]
"""
V2 = V1.replace('VERSION: "1"', 'VERSION: "2"')


def web(engine: FakeEngine):
    [c] = [c for c in engine.of("web") if c.state == "running"] or [None]
    return c


def test_a_changed_service_must_be_created_before_the_old_one_is_stopped(deploy):
    engine = FakeEngine()
    deploy(V1, engine)
    old = web(engine)
    engine.calls.clear()
    run = deploy(V2, engine)
    assert run.verdict.succeeded, run.verdict
    ops = engine.calls
    create = ops.index(("create", f"{old.id[:12]}_demo-web-1"))
    assert create < ops.index(("stop", "demo-web-1")), ops
    new = web(engine)
    assert new.id != old.id and new.name == "demo-web-1"
    assert new.spec.environment["VERSION"] == "2"
    assert old.id not in engine.containers, "after success the old container is removed"
    assert run.outcome("web") == "recreated"


def test_a_refused_new_container_must_leave_the_old_one_serving(deploy):
    engine = FakeEngine()
    deploy(V1, engine)
    old = web(engine)
    engine.refuse_create.add("web")
    run = deploy(V2, engine)
    assert run.verdict.status == "failed" and "refused" in run.verdict.message
    assert web(engine) is old and old.state == "running" and old.name == "demo-web-1"
    assert ("stop", "demo-web-1") not in engine.calls[-5:]
    assert run.outcome("check") == "not started"


def test_a_new_container_that_cannot_start_must_give_the_old_one_back(deploy):
    engine = FakeEngine()
    deploy(V1, engine)
    old = web(engine)
    engine.refuse_start.add("web")
    run = deploy(V2, engine)
    assert run.verdict.status == "failed" and "port is already allocated" in run.verdict.message
    assert web(engine) is old and old.name == "demo-web-1"
    assert [c.id for c in engine.of("web")] == [old.id], "the new container must be removed"


def test_a_later_failure_must_roll_the_replaced_service_back(deploy):
    engine = FakeEngine()
    deploy(V1, engine)
    old = web(engine)
    engine.exits["check"] = 1
    run = deploy(V2, engine)
    assert run.verdict.status == "failed"
    assert "rolled back web" in run.verdict.message, run.verdict.message
    assert web(engine) is old and old.name == "demo-web-1" and old.state == "running"
    assert [c.id for c in engine.of("web")] == [old.id]
    assert run.outcome("web") == "rolled back"
    assert run.rs.journal.rolled_back == ["web"]
    assert "rolled back web" in run.logger.text("WARNING")


def test_rollback_off_must_keep_the_new_container_and_remove_the_old(deploy):
    engine = FakeEngine()
    deploy(V1, engine)
    old = web(engine)
    engine.exits["check"] = 1
    run = deploy(V2, engine, rollback=False)
    assert run.verdict.status == "failed" and "rolled back" not in run.verdict.message
    new = web(engine)
    assert new is not None and new.id != old.id and new.name == "demo-web-1"
    assert old.id not in engine.containers
    assert run.outcome("web") == "recreated"


def test_x_prefect_rollback_false_must_turn_rollback_off(deploy):
    engine = FakeEngine()
    deploy(V1, engine)
    old = web(engine)
    engine.exits["check"] = 1
    run = deploy("x-prefect: {rollback: false}\n" + V2, engine)
    assert run.verdict.status == "failed"
    assert web(engine).id != old.id and old.id not in engine.containers


def test_an_interrupt_after_a_replacement_must_roll_it_back(deploy):
    engine = FakeEngine()
    deploy(V1, engine)
    old = web(engine)
    engine.exits["check"] = "hang"
    run = deploy(V2, engine, interrupt_when=lambda rs: rs.started["check"].is_set())
    assert run.verdict.status == "cancelled" and "rolled back web" in run.verdict.message
    assert web(engine) is old and old.state == "running"
    assert [c.id for c in engine.of("web")] == [old.id]
    assert not engine.of("check")


def test_jobs_must_not_be_undone_and_new_services_must_stay(deploy):
    """Only replaced services are rolled back: a service created for the first time by the
    failed deployment keeps running (as before), and a job's effect stays."""
    engine = FakeEngine(exits={"check": 1})
    run = deploy(V1, engine)
    assert run.verdict.status == "failed" and "rolled back" not in run.verdict.message
    assert web(engine) is not None and run.outcome("web") == "created"
