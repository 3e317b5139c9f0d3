"""Canonical forms: anchors and merge keys, depends_on, restart, ports. Expected values follow
Docker Compose v2 (`docker-compose config --format json`), run by hand on the same inputs."""

from __future__ import annotations

from prefect_compose.model.types import Dependency, Port

from inline_project import write, load


# -- anchors, merge keys, extension keys ------------------------------------------------------
def test_anchors_merge_keys_and_x_keys(proj):
    write(proj, {"compose.yaml": """\
        x-common: &common
          image: busybox
          environment: &env
            LEVEL: info
          x-note: ignored
        x-anything: [1, 2, 3]
        services:
          a:
            <<: *common
            command: echo a
          b:
            <<: *common
            image: alpine
            environment:
              <<: *env
              EXTRA: "1"
            x-owner: team-b
        """})
    p = load()
    a, b = p.services["a"], p.services["b"]
    assert (a.image, a.environment, a.command) == ("busybox", {"LEVEL": "info"}, ("echo", "a"))
    assert (b.image, b.environment) == ("alpine", {"LEVEL": "info", "EXTRA": "1"})
    assert p.warnings == ()


# -- depends_on canonical form ---------------------------------------------------------------
def test_depends_on_short_and_long(proj):
    write(proj, {"compose.yaml": """\
        services:
          db: {image: x}
          cache: {image: x}
          web:
            image: x
            depends_on:
              db:
                condition: service_healthy
                restart: true
              cache:
                condition: service_started
                required: false
          worker:
            image: x
            depends_on: [db]
        """})
    p = load()
    assert p.services["web"].depends_on == {
        "db": Dependency(condition="service_healthy", restart=True),
        "cache": Dependency(condition="service_started", required=False)}
    assert p.services["worker"].depends_on == {"db": Dependency(short_form=True)}


def test_restart_yaml_no_means_no(proj):
    write(proj, {"compose.yaml": "services:\n  a:\n    image: x\n    restart: no\n"
                                 "  b:\n    image: x\n    restart: false\n"
                                 "  c:\n    image: x\n    restart: on-failure:3\n"
                                 "  d:\n    image: x\n"})
    s = load().services
    assert (s["a"].restart, s["b"].restart, s["c"].restart, s["d"].restart) == (
        "no", "no", "on-failure:3", None)


def test_unquoted_port_pair_is_host_and_container(proj):
    write(proj, {"compose.yaml": "services:\n  ssh:\n    image: x\n    ports:\n      - 22:22\n"})
    assert load().services["ssh"].ports == (Port(target=22, published="22"),)


def test_port_forms(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: x
            ports:
              - 8080
              - "127.0.0.1:8081:81/udp"
              - "8000-8001:9000-9001"
              - "7000-7002:80"
              - "[::1]:6000:60"
              - target: 443
                published: "8443"
        """})
    assert load().services["web"].ports == (
        Port(target=8080), Port(target=81, published="8081", host_ip="127.0.0.1",
                                protocol="udp"),
        Port(target=9000, published="8000"), Port(target=9001, published="8001"),
        Port(target=80, published="7000-7002"), Port(target=60, published="6000",
                                                     host_ip="::1"),
        Port(target=443, published="8443"))
