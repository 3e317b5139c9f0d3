"""A service's env_file: and environment:, resolved by the loader. Expected values follow Docker
Compose v2 (`docker-compose config --format json`), run by hand on the same inputs."""

from __future__ import annotations

from inline_project import write, load, load_error


# -- env_file: and environment ------------------------------------------------------------------
def test_env_file_and_environment_precedence(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: x
            env_file: [a.env, b.env]
            environment:
              OVER: from-environment
              BARE:
        """, "a.env": "A=1\nSHARED=a\nOVER=a\n", "b.env": "SHARED=b\nFROM_OS\n"})
    env = load(environ={"FROM_OS": "os", "BARE": "bare"}).services["web"].environment
    assert env == {"A": "1", "SHARED": "b", "OVER": "from-environment", "FROM_OS": "os",
                   "BARE": "bare"}


def test_env_file_required_false(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: x
            env_file:
              - path: ./missing.env
                required: false
              - path: ./present.env
        """, "present.env": "P=1\n"})
    assert load().services["web"].environment == {"P": "1"}


def test_env_file_missing_is_an_error_naming_it(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    env_file: ./nope.env\n"})
    err = load_error()
    assert str(err) == (f"compose.yaml: services.web.env_file[0]: env file not found: "
                        f"{proj / 'nope.env'}")


def test_environment_list_and_bare_names(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: x
            environment:
              - A=1
              - B=x=y
              - EMPTY=
              - FROM_ENV
              - UNSET_ONE
        """})
    env = load(environ={"FROM_ENV": "e"}).services["web"].environment
    assert env == {"A": "1", "B": "x=y", "EMPTY": "", "FROM_ENV": "e", "UNSET_ONE": None}


def test_environment_scalars_as_compose_prints_them(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: x
            environment:
              MODE: 0755
              YES_: yes
              T: true
              F: 1.50
              E: 1e3
              H: 0x1F
              N: ~
              C: 12:30
        """})
    env = load().services["web"].environment
    assert env == {"MODE": "493", "YES_": "yes", "T": "true", "F": "1.5", "E": "1000",
                   "H": "31", "N": None, "C": "12:30"}
