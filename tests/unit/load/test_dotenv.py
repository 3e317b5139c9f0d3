""".env and --env-file: the variables that interpolation reads. Expected values follow Docker
Compose v2 (`docker-compose config --format json`), run by hand on the same inputs."""

from __future__ import annotations

import os

from inline_project import write, load, load_error


# -- .env and --env-file -------------------------------------------------------------------------
ENVED = """\
services:
  web:
    image: "busybox:${TAG}"
    environment:
      FROM_DOTENV: "${ONLY_IN_DOTENV:-unset}"
"""


def test_dotenv_feeds_interpolation(proj):
    write(proj, {"compose.yaml": ENVED, ".env": "TAG=1.36\nONLY_IN_DOTENV=yes\n"})
    web = load().services["web"]
    assert web.image == "busybox:1.36"
    assert web.environment == {"FROM_DOTENV": "yes"}


def test_os_environment_wins_over_dotenv(proj):
    write(proj, {"compose.yaml": ENVED, ".env": "TAG=1.36\n"})
    assert load(environ={"TAG": "from-os"}).services["web"].image == "busybox:from-os"


def test_dotenv_is_beside_the_first_file_not_the_cwd(proj, monkeypatch):
    write(proj, {"sub/compose.yaml": ENVED, "sub/.env": "TAG=sub\n", ".env": "TAG=cwd\n"})
    assert load("sub/compose.yaml").services["web"].image == "busybox:sub"


def test_env_file_flag_replaces_dotenv(proj):
    write(proj, {"compose.yaml": ENVED, ".env": "TAG=dotenv\nONLY_IN_DOTENV=yes\n",
                 "prod.env": "TAG=prod\n"})
    web = load(env_files=["prod.env"]).services["web"]
    assert web.image == "busybox:prod"
    assert web.environment == {"FROM_DOTENV": "unset"}  # .env was not read


def test_several_env_file_flags_later_wins(proj):
    write(proj, {"compose.yaml": ENVED, "a.env": "TAG=a\nONLY_IN_DOTENV=a\n", "b.env": "TAG=b\n"})
    web = load(env_files=["a.env", "b.env"]).services["web"]
    assert (web.image, web.environment["FROM_DOTENV"]) == ("busybox:b", "a")


def test_env_file_flag_missing(proj):
    write(proj, {"compose.yaml": ENVED})
    err = load_error(env_files=["nope.env"])
    assert "env file not found" in str(err) and "nope.env" in str(err)


def test_dotenv_can_use_os_environment(proj):
    write(proj, {"compose.yaml": ENVED, ".env": "TAG=${BASE_TAG}-slim\n"})
    assert load(environ={"BASE_TAG": "1.36"}).services["web"].image == "busybox:1.36-slim"


def test_unset_variable_warns_once(proj):
    write(proj, {"compose.yaml": ENVED.replace("FROM_DOTENV: ", "X: ${TAG}\n      Y: ")})
    p = load()
    assert p.services["web"].image == "busybox:"
    assert [w for w in p.warnings if "TAG" in w] == [
        'the "TAG" variable is not set: defaulting to a blank string']


def test_interpolation_forms_end_to_end(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: busybox
            environment:
              a: "${SET}"
              b: "${UNSET:-d}"
              c: "${EMPTY-d}"
              d: "${SET:?never}"
              e: "${EMPTY?never}"
              f: "${SET:+alt}"
              g: "${UNSET+alt}"
              h: "${UNSET:-${SET:-x}}"
              i: "$$SET"
              j: "$SET"
            command: echo $${HOME} "${SET}"
        """})
    web = load(environ={"SET": "val", "EMPTY": ""}).services["web"]
    assert web.environment == {"a": "val", "b": "d", "c": "", "d": "val", "e": "", "f": "alt",
                               "g": "", "h": "val", "i": "$SET", "j": "val"}
    assert web.command == ("echo", "${HOME}", "val")


def test_required_variable_error_names_path(proj):
    write(proj, {"compose.yaml": 'services:\n  web:\n    image: "x:${TAG:?set TAG}"\n'})
    assert str(load_error()) == ('compose.yaml: services.web.image: required variable "TAG" is '
                                 "missing a value: set TAG")


def test_loading_never_reads_os_environ_when_environ_is_given(proj, monkeypatch):
    monkeypatch.setenv("TAG", "from-real-os")
    write(proj, {"compose.yaml": ENVED})
    assert load(environ={}).services["web"].image == "busybox:"
    assert os.environ["TAG"] == "from-real-os"
