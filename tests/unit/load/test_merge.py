"""Merging several -f files, !reset and !override, and where a merged error comes from. Expected
values follow Docker Compose v2 (`docker-compose config --format json`), run by hand on the
same inputs."""

from __future__ import annotations

import pytest

from prefect_compose.model.types import Mount, Port

from inline_project import write, load, load_error, SIMPLE


# -- merging several -f files ------------------------------------------------------------------
BASE = """\
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo base"]
    entrypoint: /bin/sh
    environment:
      A: "1"
      B: "2"
    ports:
      - "8080:80"
    volumes:
      - ./a:/data
      - cache:/cache
    labels: [x=1]
    dns: [1.1.1.1]
    expose: ["80"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 10s
  db:
    image: postgres
volumes:
  cache: {}
"""

OVERRIDE = """\
services:
  web:
    command: echo over
    environment:
      B: "3"
      C: "4"
    ports:
      - "9090:90"
      - "8080:80"
    volumes:
      - ./b:/data
    labels: {y: "2"}
    dns: [8.8.8.8]
    expose: ["81"]
    healthcheck:
      test: ["CMD", "false"]
  worker:
    image: alpine
"""


@pytest.fixture
def merged(proj):
    write(proj, {"compose.yaml": BASE, "override.yaml": OVERRIDE})
    return load("compose.yaml", "override.yaml")


def test_merge_environment_is_merged(merged):
    assert merged.services["web"].environment == {"A": "1", "B": "3", "C": "4"}


def test_merge_command_is_replaced(merged):
    assert merged.services["web"].command == ("echo", "over")
    assert merged.services["web"].entrypoint == ("/bin/sh",)


def test_merge_ports_are_appended_without_duplicates(merged):
    assert merged.services["web"].ports == (Port(target=80, published="8080"),
                                            Port(target=90, published="9090"))


def test_merge_volumes_by_target(merged, proj):
    assert merged.services["web"].volumes == (
        Mount(type="bind", source=str(proj / "b"), target="/data"),
        Mount(type="volume", source="cache", target="/cache"))


def test_merge_labels_and_lists(merged):
    web = merged.services["web"]
    assert web.labels == {"x": "1", "y": "2"}
    assert web.engine_options["dns"] == ("1.1.1.1", "8.8.8.8")
    assert web.expose == ("80", "81")


def test_merge_healthcheck_test_replaced_other_keys_kept(merged):
    hc = merged.services["web"].healthcheck
    assert hc.test == ("CMD", "false")
    assert hc.interval_s == 10.0


def test_merge_adds_new_services_and_keeps_others(merged):
    assert sorted(merged.services) == ["db", "web", "worker"]
    assert merged.services["db"].image == "postgres"
    assert merged.files == ("compose.yaml", "override.yaml")


def test_merge_relative_paths_resolve_against_project_dir(proj):
    write(proj, {"compose.yaml": SIMPLE,
                 "sub/over.yaml": "services:\n  web:\n    volumes: ['./data:/data']\n"
                                  "    build: ./ctx\n"})
    web = load("compose.yaml", "sub/over.yaml").services["web"]
    assert web.volumes[0].source == str(proj / "data")
    assert web.build.context == str(proj / "ctx")


def test_merge_depends_on_short_plus_short(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    depends_on: [db]\n"
                                 "  db:\n    image: x\n  cache:\n    image: x\n",
                 "o.yaml": "services:\n  web:\n    depends_on: [cache]\n"})
    assert sorted(load("compose.yaml", "o.yaml").services["web"].depends_on) == ["cache", "db"]


def test_merge_long_form_depends_on_overrides_short_form(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    depends_on: [db]\n"
                                 "  db:\n    image: x\n",
                 "o.yaml": "services:\n  web:\n    depends_on:\n      db:\n"
                           "        condition: service_healthy\n"})
    dep = load("compose.yaml", "o.yaml").services["web"].depends_on["db"]
    assert dep.condition == "service_healthy"


# -- !reset and !override ---------------------------------------------------------------------
def test_reset_removes_a_key(proj):
    write(proj, {"compose.yaml": BASE,
                 "o.yaml": "services:\n  web:\n    environment: !reset {}\n"
                           "    ports: !reset []\n    healthcheck: !reset\n"})
    web = load("compose.yaml", "o.yaml").services["web"]
    assert web.environment == {} and web.ports == () and web.healthcheck is None


def test_reset_one_environment_entry(proj):
    write(proj, {"compose.yaml": BASE,
                 "o.yaml": "services:\n  web:\n    environment:\n      A: !reset\n"})
    assert load("compose.yaml", "o.yaml").services["web"].environment == {"B": "2"}


def test_override_replaces_a_mapping(proj):
    write(proj, {"compose.yaml": BASE,
                 "o.yaml": "services:\n  web:\n    environment: !override\n      Z: '9'\n"})
    assert load("compose.yaml", "o.yaml").services["web"].environment == {"Z": "9"}


def test_override_replaces_ports(proj):
    write(proj, {"compose.yaml": BASE, "o.yaml": "services:\n  web:\n    ports: !override "
                                                 "['6543:5432']\n"})
    assert load("compose.yaml", "o.yaml").services["web"].ports == (
        Port(target=5432, published="6543"),)


def test_override_environment_list(proj):
    write(proj, {"compose.yaml": BASE,
                 "o.yaml": "services:\n  web:\n    environment: !override [Q=1]\n"})
    assert load("compose.yaml", "o.yaml").services["web"].environment == {"Q": "1"}


def test_override_depends_on(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    depends_on: [db]\n"
                                 "  db:\n    image: x\n  cache:\n    image: x\n",
                 "o.yaml": "services:\n  web:\n    depends_on: !override [cache]\n"})
    assert list(load("compose.yaml", "o.yaml").services["web"].depends_on) == ["cache"]


def test_reset_in_a_single_file_drops_the_key_as_compose_does(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    ports: !reset []\n"
                                 "    environment:\n      A: !reset\n      B: b\n"})
    web = load("compose.yaml").services["web"]
    assert web.ports == () and web.environment == {"B": "b"}


# -- where a merged error comes from -------------------------------------------------------
@pytest.mark.parametrize("bad, path", [
    ("    imagee: y\n", "services.web.imagee"),
    ("    healthcheck:\n      interval: 5x\n", "services.web.healthcheck.interval"),
])
def test_error_from_an_override_file_names_that_file(proj, bad, path):
    write(proj, {"compose.yaml": SIMPLE, "override.yaml": "services:\n  web:\n" + bad})
    assert str(load_error("compose.yaml", "override.yaml")).startswith(f"override.yaml: {path}")


def test_error_in_a_service_only_an_override_defines_names_that_file(proj):
    write(proj, {"compose.yaml": SIMPLE, "override.yaml": "services:\n  wrker:\n"
                                                          "    command: echo\n"})
    assert str(load_error("compose.yaml", "override.yaml")) == (
        "override.yaml: services.wrker: has neither an image nor a build context specified")
