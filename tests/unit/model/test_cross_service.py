"""Rules Compose checks across services. Expected values follow Docker Compose v2 (`docker-
compose config --format json`), run by hand on the same inputs."""

from __future__ import annotations

from inline_project import write, load, load_error


# -- rules Compose checks across services -----------------------------------------------------
def test_duplicate_container_name_is_an_error(proj):
    write(proj, {"compose.yaml": "services:\n  a:\n    image: x\n    container_name: same\n"
                                 "  b:\n    image: x\n    container_name: same\n"})
    assert "same" in str(load_error())


def test_network_mode_service_implies_a_dependency(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n"
                                 "    network_mode: 'service:db'\n  db:\n    image: x\n"})
    assert "db" in load().services["web"].depends_on


def test_network_mode_unknown_service_is_an_error(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n"
                                 "    network_mode: 'service:ghost'\n"})
    assert "ghost" in str(load_error())


def test_links_imply_a_dependency(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    links: ['db:database']\n"
                                 "  db:\n    image: x\n"})
    assert "db" in load().services["web"].depends_on
