"""Profiles: which services are enabled. Expected values follow Docker Compose v2 (`docker-
compose config --format json`), run by hand on the same inputs."""

from __future__ import annotations

from inline_project import write, load, load_error


# -- profiles ------------------------------------------------------------------------------------
PROFILED = """\
services:
  web:
    image: x
  db:
    image: x
    profiles: [dbp]
  debug:
    image: x
    profiles: [debug, tools]
"""


def test_profiles_disable_services_by_default(proj):
    write(proj, {"compose.yaml": PROFILED})
    p = load()
    assert list(p.services) == ["web"]
    assert p.disabled_services == ("db", "debug")


def test_profile_flag_enables(proj):
    write(proj, {"compose.yaml": PROFILED})
    assert sorted(load(profiles=["tools"]).services) == ["debug", "web"]
    assert sorted(load(profiles=["*"]).services) == ["db", "debug", "web"]


def test_compose_profiles_variable(proj):
    write(proj, {"compose.yaml": PROFILED})
    assert sorted(load(environ={"COMPOSE_PROFILES": "dbp, debug"}).services) == [
        "db", "debug", "web"]
    # the flag wins over the variable
    assert sorted(load(profiles=["dbp"], environ={"COMPOSE_PROFILES": "debug"}).services) == [
        "db", "web"]


def test_dependency_on_a_disabled_service_is_a_clear_error(proj):
    write(proj, {"compose.yaml": PROFILED + "  app:\n    image: x\n    depends_on: [db]\n"})
    assert str(load_error()) == ('compose.yaml: services.app.depends_on.db: unknown service "db" '
                                 "(disabled by its profiles)")
    assert "app" in load(profiles=["dbp"]).services


def test_optional_dependency_on_a_disabled_service_is_accepted(proj):
    write(proj, {"compose.yaml": PROFILED + "  app:\n    image: x\n    depends_on:\n"
                 "      db:\n        condition: service_started\n        required: false\n"})
    assert "app" in load().services
