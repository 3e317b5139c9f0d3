"""extends: in the same file and from another file. Expected values follow Docker Compose v2
(`docker-compose config --format json`), run by hand on the same inputs."""

from __future__ import annotations

from prefect_compose.model.types import Mount

from inline_project import write, load, load_error, SIMPLE


# -- extends -------------------------------------------------------------------------------------
def test_extends_same_file(proj):
    write(proj, {"compose.yaml": """\
        services:
          tmpl:
            image: alpine
            environment: {T: "1"}
            command: ["echo", "tmpl"]
          a:
            extends: tmpl
            environment: {A: "1"}
          b:
            extends:
              service: a
            command: echo b
        """})
    p = load()
    assert p.services["a"].environment == {"T": "1", "A": "1"}
    assert p.services["a"].command == ("echo", "tmpl")
    assert p.services["b"].environment == {"T": "1", "A": "1"}
    assert p.services["b"].command == ("echo", "b")


def test_extends_other_file_resolves_paths_against_its_directory(proj):
    write(proj, {
        "common/base.yaml": """\
            services:
              base:
                image: busybox
                env_file: ./base.env
                volumes: ["./data:/data"]
                environment: {FROM: base}
                build:
                  context: ./ctx
            """,
        "common/base.env": "BASEV=1\n",
        "app/compose.yaml": """\
            services:
              b:
                extends:
                  service: base
                  file: ../common/base.yaml
                environment: {B: "2"}
            """})
    p = load("app/compose.yaml")
    b = p.services["b"]
    assert b.environment == {"BASEV": "1", "FROM": "base", "B": "2"}
    assert b.volumes == (Mount(type="bind", source=str(proj / "common/data"), target="/data"),)
    assert b.build.context == str(proj / "common/ctx")


def test_extends_cycle(proj):
    write(proj, {"compose.yaml": "services:\n  a:\n    extends: b\n  b:\n    extends: a\n"
                                 "    image: x\n"})
    err = load_error()
    assert "extends cycle" in str(err) and "a -> b -> a" in str(err)
    assert str(err).startswith("compose.yaml: services.")


def test_extends_unknown_service(proj):
    write(proj, {"compose.yaml": "services:\n  a:\n    extends: ghost\n"})
    assert str(load_error()) == ('compose.yaml: services.a.extends: cannot extend unknown '
                                 'service "ghost"')


def test_extends_unknown_service_in_other_file(proj):
    write(proj, {"base.yaml": SIMPLE, "compose.yaml": "services:\n  a:\n    extends:\n"
                 "      file: base.yaml\n      service: ghost\n"})
    assert str(load_error()) == ('compose.yaml: services.a.extends: service "ghost" not found in '
                                 "base.yaml")


def test_extends_missing_file_names_the_reference(proj):
    write(proj, {"compose.yaml": "services:\n  a:\n    extends:\n      file: nope.yaml\n"
                                 "      service: base\n"})
    err = str(load_error())
    assert err.startswith("compose.yaml: services.a.extends") and "nope.yaml" in err
