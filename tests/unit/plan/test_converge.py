"""plan/converge.py: the plan + observed containers (fake, plain data) -> create / replace /
start / keep for each long-running service, with its reason."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import pytest

from prefect_compose.load.project import load_project
from prefect_compose.plan.compile import compile_plan
from prefect_compose.plan.converge import Action, Observed, converge, desired_hash

COMPOSE = """\
services:
  db:
    image: busybox:latest
    command: ["sleep", "3600"]
  web:
    image: busybox:latest
    command: ["sleep", "3600"]
  migrate:
    image: busybox:latest
    restart: "no"
"""
IMAGES = {"db": "sha256:img1", "web": "sha256:img1", "migrate": "sha256:img1"}


@pytest.fixture
def plan(tmp_path):
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    project = load_project([str(tmp_path / "compose.yaml")], project_name="demo", environ={})
    return compile_plan(project)


def current(plan, service: str, state: str = "running", image_id: str = "sha256:img1",
            name: str | None = None, cid: str | None = None) -> Observed:
    """A container of ``service`` as the plan would have created it."""
    h = desired_hash(plan.service(service).config_hash, image_id)
    return Observed(id=cid or f"id-{service}", name=name or f"demo-{service}-1",
                    service=service, state=state, config_hash=h, image_id=image_id)


def test_converge_must_create_missing_services_and_ignore_jobs(plan):
    out = converge(plan, [], image_ids=IMAGES)
    assert list(out) == ["db", "web"]  # jobs are not converged; sorted by name
    assert {d.action for d in out.values()} == {Action.CREATE}
    assert out["db"].reason.startswith("missing")
    assert out["db"].want_hash == desired_hash(plan.service("db").config_hash, "sha256:img1")


def test_an_up_to_date_running_container_must_be_kept(plan):
    out = converge(plan, [current(plan, "db"), current(plan, "web")], image_ids=IMAGES)
    assert out["db"].action is Action.KEEP and out["db"].reason == "up to date"
    assert out["db"].current.id == "id-db"


def test_an_up_to_date_stopped_container_must_be_started(plan):
    out = converge(plan, [current(plan, "db", state="exited")], image_ids=IMAGES)
    assert out["db"].action is Action.START
    assert "stopped (exited)" in out["db"].reason
    assert out["web"].action is Action.CREATE


def test_a_changed_configuration_must_be_replaced(plan):
    stale = Observed(id="old", name="demo-web-1", service="web", state="running",
                     config_hash="something-else", image_id="sha256:img1")
    d = converge(plan, [stale], image_ids=IMAGES)["web"]
    assert d.action is Action.REPLACE and d.reason == "configuration changed"
    assert d.current.id == "old"


def test_a_changed_image_must_be_replaced_and_say_so(plan):
    old = current(plan, "web", image_id="sha256:old")
    d = converge(plan, [old], image_ids={**IMAGES, "web": "sha256:new"})["web"]
    assert d.action is Action.REPLACE and d.reason == "image changed"


def test_force_recreate_must_replace_even_an_up_to_date_container(plan):
    d = converge(plan, [current(plan, "db")], image_ids=IMAGES, force_recreate=True)["db"]
    assert d.action is Action.REPLACE and d.reason == "--force-recreate"


def test_no_recreate_must_keep_a_changed_container(plan):
    stale = Observed(id="old", name="demo-web-1", service="web", state="exited",
                     config_hash="something-else")
    d = converge(plan, [stale], image_ids=IMAGES, no_recreate=True)["web"]
    assert d.action is Action.START and d.reason.startswith("--no-recreate")


def test_a_container_without_a_hash_label_must_be_replaced(plan):
    bare = Observed(id="x", name="demo-db-1", service="db", state="running")
    assert converge(plan, [bare], image_ids=IMAGES)["db"].reason == "no config-hash label"


def test_with_several_containers_the_canonically_named_one_must_be_acted_on(plan):
    extra = current(plan, "db", name="demo-db-2", cid="b")
    main = current(plan, "db", state="exited", cid="a")
    d = converge(plan, [extra, main], image_ids=IMAGES, force_recreate=True,
                 names={"db": "demo-db-1"})["db"]
    assert d.current.id == "a" and [o.id for o in d.others] == ["b"]


def test_converge_must_be_deterministic_text(plan):
    out = converge(plan, [current(plan, "db")], image_ids=IMAGES)
    assert [d.describe() for d in out.values()] == [
        "db: keep (up to date)", "web: create (missing: no container yet)"]


def test_the_converge_module_must_import_neither_docker_nor_prefect():
    code = ("import sys, prefect_compose.plan.converge; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('docker','prefect')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]", textwrap.shorten(out, 300)


def test_a_service_in_anothers_network_namespace_must_be_replaced_with_its_owner(plan):
    web = dataclasses.replace(current(plan, "web"), network_mode="container:id-db")
    owners = {"web": "db"}
    kept = converge(plan, [current(plan, "db"), web], image_ids=IMAGES, network_owners=owners)
    assert kept["web"].action is Action.KEEP
    # the owner gets a new container: the namespace web joined goes away with the old one
    out = converge(plan, [web], image_ids=IMAGES, network_owners=owners)
    assert out["db"].action is Action.CREATE
    assert out["web"].action is Action.REPLACE and "network_mode owner db" in out["web"].reason
    # web joined an older container of db than the one now running
    stale = dataclasses.replace(web, network_mode="container:id-old-db")
    out = converge(plan, [current(plan, "db"), stale], image_ids=IMAGES,
                   network_owners=owners)
    assert out["web"].action is Action.REPLACE and "old container of db" in out["web"].reason
    # --no-recreate keeps it
    out = converge(plan, [web], image_ids=IMAGES, network_owners=owners, no_recreate=True)
    assert out["web"].action is Action.KEEP
