"""The loader and the model stage on inline YAML: discovery, merging, .env, interpolation,
profiles, extends, include, !reset/!override, and canonical forms.

Expected values follow Docker Compose v2 (`docker-compose config --format json`), which was
run by hand on the same inputs.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from prefect_compose.errors import InputError
from prefect_compose.load.project import load_project, normalize_project_name
from prefect_compose.model.types import Dependency, Healthcheck, Mount, Port


@pytest.fixture
def proj(tmp_path, monkeypatch):
    """An empty project directory that is also the working directory."""
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES",
                "COMPOSE_PATH_SEPARATOR"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def load(*files: str, **kwargs):
    kwargs.setdefault("environ", {})
    return load_project(list(files) or None, **kwargs)


def load_error(*files: str, **kwargs) -> InputError:
    with pytest.raises(InputError) as err:
        load(*files, **kwargs)
    return err.value


SIMPLE = """\
services:
  web:
    image: busybox
"""


# -- discovery ---------------------------------------------------------------------------------
def test_finds_compose_yaml_in_cwd(proj):
    write(proj, {"compose.yaml": SIMPLE})
    p = load()
    assert list(p.services) == ["web"]
    assert p.files == ("compose.yaml",)
    assert p.working_dir == str(proj)
    assert p.name == "proj"


@pytest.mark.parametrize("name", ["compose.yml", "docker-compose.yaml", "docker-compose.yml"])
def test_other_default_names(proj, name):
    write(proj, {name: SIMPLE})
    assert load().files == (name,)


def test_compose_yaml_is_preferred_over_docker_compose_yml(proj):
    write(proj, {"compose.yaml": SIMPLE,
                 "docker-compose.yml": "services:\n  other:\n    image: x\n"})
    assert list(load().services) == ["web"]


def test_override_file_is_picked_up_automatically(proj):
    write(proj, {"compose.yaml": SIMPLE,
                 "compose.override.yaml": "services:\n  web:\n    image: alpine\n"})
    p = load()
    assert p.files == ("compose.yaml", "compose.override.yaml")
    assert p.services["web"].image == "alpine"


def test_docker_compose_override_pairs_with_docker_compose(proj):
    write(proj, {"docker-compose.yml": SIMPLE,
                 "docker-compose.override.yml": "services:\n  web:\n    command: echo hi\n"})
    p = load()
    assert p.files == ("docker-compose.yml", "docker-compose.override.yml")
    assert p.services["web"].command == ("echo", "hi")


def test_override_is_not_used_with_explicit_files(proj):
    write(proj, {"compose.yaml": SIMPLE,
                 "compose.override.yaml": "services:\n  web:\n    image: alpine\n"})
    assert load("compose.yaml").services["web"].image == "busybox"


def test_parent_directory_search(proj, monkeypatch):
    write(proj, {"compose.yaml": SIMPLE, "compose.override.yaml":
                 "services:\n  web:\n    environment: [A=1]\n",
                 ".env": "TAG=fromdotenv\n"})
    deep = proj / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    p = load()
    assert p.working_dir == str(proj)
    assert p.name == "proj"
    assert p.services["web"].environment == {"A": "1"}
    assert p.files == ("../../compose.yaml", "../../compose.override.yaml")


def test_no_file_found(proj):
    err = load_error()
    assert "no configuration file provided" in str(err)
    assert "compose.yaml" in str(err)


def test_compose_file_variable(proj):
    write(proj, {"a.yaml": SIMPLE, "b.yaml": "services:\n  web:\n    image: alpine\n"})
    p = load(environ={"COMPOSE_FILE": "a.yaml:b.yaml", "COMPOSE_PATH_SEPARATOR": ":"})
    assert p.files == ("a.yaml", "b.yaml")
    assert p.services["web"].image == "alpine"


def test_missing_explicit_file(proj):
    err = load_error("nope.yaml")
    assert str(err) == "nope.yaml: file not found"


def test_directory_instead_of_file(proj):
    (proj / "dir.yaml").mkdir()
    assert "is a directory" in str(load_error("dir.yaml"))


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
    assert web.engine_options["dns"] == ["1.1.1.1", "8.8.8.8"]
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


# -- project name ------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [
    ("My.App_X", "myapp_x"), ("proj", "proj"), ("_under", "under"), ("--dash", "dash"),
    ("Hello World", "helloworld"), ("a-b_c9", "a-b_c9"), ("UPPER", "upper"),
])
def test_normalize_project_name(raw, expected):
    assert normalize_project_name(raw) == expected


def test_project_name_from_directory_is_normalised(tmp_path, monkeypatch):
    root = tmp_path / "My.App_X"
    write(root, {"compose.yaml": SIMPLE})
    monkeypatch.chdir(root)
    assert load().name == "myapp_x"


def test_project_name_precedence(proj):
    write(proj, {"compose.yaml": "name: fromfile\n" + SIMPLE})
    assert load().name == "fromfile"
    assert load(environ={"COMPOSE_PROJECT_NAME": "fromenv"}).name == "fromenv"
    assert load(project_name="fromflag", environ={"COMPOSE_PROJECT_NAME": "fromenv"}).name \
        == "fromflag"


def test_project_name_from_dotenv(proj):
    write(proj, {"compose.yaml": SIMPLE, ".env": "COMPOSE_PROJECT_NAME=dotenvname\n"})
    assert load().name == "dotenvname"


def test_project_name_is_interpolated(proj):
    write(proj, {"compose.yaml": "name: app-${STAGE}\n" + SIMPLE})
    assert load(environ={"STAGE": "prod"}).name == "app-prod"


@pytest.mark.parametrize("bad", ["My_App", "-x", "a b", "Abc"])
def test_invalid_project_name_flag(proj, bad):
    write(proj, {"compose.yaml": SIMPLE})
    err = load_error(project_name=bad)
    assert f'invalid project name "{bad}" (from -p/--project-name)' in str(err)
    assert str(err).startswith("compose.yaml: ")


def test_top_level_name_is_normalised_as_compose_does(proj):
    write(proj, {"compose.yaml": "name: My App\n" + SIMPLE})
    assert load().name == "myapp"


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


# -- include -------------------------------------------------------------------------------------
INCLUDED = """\
services:
  db:
    image: postgres:${PGV:-15}
    volumes: ["./init:/init"]
"""


def test_include_string_form(proj):
    write(proj, {"sub/compose.yaml": INCLUDED, "sub/.env": "PGV=16\n",
                 "compose.yaml": "include:\n  - sub/compose.yaml\n"
                                 "services:\n  web:\n    image: x\n    depends_on: [db]\n"})
    p = load()
    assert sorted(p.services) == ["db", "web"]
    assert p.services["db"].image == "postgres:16"  # the included project's own .env
    assert p.services["db"].volumes[0].source == str(proj / "sub/init")


def test_include_mapping_form_with_env_file(proj):
    write(proj, {"sub/compose.yaml": INCLUDED, "other.env": "PGV=17\n",
                 "compose.yaml": "include:\n  - path: sub/compose.yaml\n    env_file: other.env\n"
                                 "services:\n  web:\n    image: x\n"})
    assert load().services["db"].image == "postgres:17"


def test_include_conflict_with_local_service(proj):
    write(proj, {"sub/compose.yaml": INCLUDED,
                 "compose.yaml": "include:\n  - sub/compose.yaml\n"
                                 "services:\n  db:\n    image: x\n"})
    err = str(load_error())
    assert err.startswith("compose.yaml: services.db: ")
    assert "conflicts" in err and "sub/compose.yaml" in err


def test_include_cycle(proj):
    write(proj, {"a.yaml": "include: [b.yaml]\nservices:\n  a:\n    image: x\n",
                 "b.yaml": "include: [a.yaml]\nservices:\n  b:\n    image: x\n"})
    assert "cycle" in str(load_error("a.yaml"))


def test_include_missing_file_names_the_reference(proj):
    write(proj, {"compose.yaml": "include:\n  - nope/compose.yaml\n" + SIMPLE})
    err = str(load_error())
    assert err.startswith("compose.yaml: include[0]") and "nope/compose.yaml" in err


# -- secrets, configs and accepted keys -----------------------------------------------------
def test_secrets_and_configs_with_file_sources(proj):
    write(proj, {"pw.txt": "s3cret\n", "app.conf": "x=1\n", "compose.yaml": """\
        services:
          web:
            image: x
            secrets:
              - pw
              - source: pw
                target: pw2
            configs:
              - source: conf
                target: /etc/app.conf
                mode: 0440
        secrets:
          pw:
            file: ./pw.txt
        configs:
          conf:
            file: ./app.conf
        """})
    p = load()
    web = p.services["web"]
    assert [(s.target, s.file) for s in web.secrets] == [
        ("/run/secrets/pw", str(proj / "pw.txt")), ("/run/secrets/pw2", str(proj / "pw.txt"))]
    assert [(c.target, c.file, c.mode) for c in web.configs] == [
        ("/etc/app.conf", str(proj / "app.conf"), 0o440)]
    assert p.secrets["pw"]["file"] == str(proj / "pw.txt")


def test_undefined_secret(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    secrets: [pw]\n"})
    assert str(load_error()) == ('compose.yaml: services.web.secrets[0]: undefined secret "pw": '
                                 "declare it under top-level secrets")


def test_container_name_expose_platform_command_and_resources(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: x
            container_name: my-web
            expose: ["80", 8080]
            platform: linux/amd64
            command: sh -c 'echo "hello world" && sleep 1'
            entrypoint: ["/bin/tini", "--"]
            cpus: 0.5
            mem_limit: 512m
          w2:
            image: x
            deploy:
              resources:
                limits:
                  cpus: "1.5"
                  memory: 1g
        """})
    p = load()
    web, w2 = p.services["web"], p.services["w2"]
    assert web.container_name == "my-web"
    assert web.expose == ("80", "8080")
    assert web.platform == "linux/amd64"
    assert web.command == ("sh", "-c", 'echo "hello world" && sleep 1')
    assert web.entrypoint == ("/bin/tini", "--")
    assert (web.cpus, web.mem_limit) == (0.5, 512 * 1024**2)
    assert (w2.cpus, w2.mem_limit) == (1.5, 1024**3)
    assert p.warnings == ()


def test_provider_service_needs_no_image(proj):
    write(proj, {"compose.yaml": """\
        services:
          ai:
            provider:
              type: model
              options:
                model: ai/smollm2
          web:
            image: x
            depends_on: [ai]
        """})
    ai = load().services["ai"]
    assert ai.is_provider and ai.image is None and ai.provider["type"] == "model"


def test_neither_image_nor_build(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    command: echo\n"})
    assert str(load_error()) == ("compose.yaml: services.web: has neither an image nor a build "
                                 "context specified")


def test_build_short_and_long_forms(proj):
    write(proj, {"compose.yaml": """\
        services:
          a:
            build: .
          b:
            build:
              context: ./b
              dockerfile: Dockerfile.dev
              args: [VERSION=1, FLAG]
              target: dev
        """})
    p = load()
    assert p.services["a"].build.context == str(proj)
    b = p.services["b"].build
    assert (b.context, b.dockerfile, b.target) == (str(proj / "b"), "Dockerfile.dev", "dev")
    assert b.args == {"VERSION": "1", "FLAG": None}


# -- healthcheck forms ---------------------------------------------------------------------------
@pytest.mark.parametrize("block, expected", [
    ("test: curl -f http://localhost || exit 1",
     Healthcheck(test=("CMD-SHELL", "curl -f http://localhost || exit 1"))),
    ('test: ["CMD", "pg_isready", "-U", "postgres"]',
     Healthcheck(test=("CMD", "pg_isready", "-U", "postgres"))),
    ('test: ["CMD-SHELL", "true"]\ninterval: 1m30s\ntimeout: 500ms\nretries: 5\n'
     "start_period: 2s\nstart_interval: 1s",
     Healthcheck(test=("CMD-SHELL", "true"), interval_s=90.0, timeout_s=0.5, retries=5,
                 start_period_s=2.0, start_interval_s=1.0)),
    ("disable: true", Healthcheck(test=None, disable=True)),
    ('test: ["NONE"]', Healthcheck(test=("NONE",), disable=True)),
    ("interval: 5s", Healthcheck(test=None, interval_s=5.0)),
])
def test_healthcheck_forms(proj, block, expected):
    body = textwrap.indent(block, " " * 6)
    write(proj, {"compose.yaml": f"services:\n  web:\n    image: x\n    healthcheck:\n{body}\n"})
    assert load().services["web"].healthcheck == expected


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


# -- warnings: accepted but not honoured, or outside the project --------------------------
def test_unsupported_compose_key_is_a_warning(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    logging:\n"
                                 "      driver: json-file\n"})
    assert load().warnings == ("compose.yaml: services.web.logging: not supported yet, ignored",)


def test_unknown_service_key_is_an_error(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    imagee: y\n"})
    assert str(load_error()) == 'compose.yaml: services.web.imagee: unknown key "imagee"'


def test_paths_outside_the_project_are_warnings(proj):
    write(proj.parent, {"secret.env": "S=1\n"})
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: x
            env_file: ../secret.env
            volumes:
              - /etc:/host-etc:ro
              - ./inside:/inside
        """})
    p = load()
    assert p.services["web"].environment == {"S": "1"}
    assert p.services["web"].volumes[0] == Mount(type="bind", source="/etc", target="/host-etc",
                                                 read_only=True)
    joined = "\n".join(p.warnings)
    assert len(p.warnings) == 2
    assert "services.web.env_file[0]" in joined and "secret.env" in joined
    assert "services.web.volumes[0]" in joined and "/etc" in joined
    assert "outside the project directory" in joined


def test_no_outside_warning_through_a_symlinked_project_dir(tmp_path, monkeypatch):
    real = tmp_path / "real"
    write(real, {"compose.yaml": "services:\n  web:\n    image: x\n    env_file: ./a.env\n"
                                 "    volumes: ['./data:/data']\n", "a.env": "A=1\n"})
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path)
    assert load(str(tmp_path / "link" / "compose.yaml")).warnings == ()


def test_version_is_obsolete_warning(proj):
    write(proj, {"compose.yaml": "version: '3.8'\n" + SIMPLE})
    assert load().warnings == ("compose.yaml: the top-level `version` is obsolete and ignored",)


# -- malformed values must be InputErrors, never crashes ------------------------------------
@pytest.mark.parametrize("snippet", [
    "    volumes: 1",
    "    profiles: 1",
    "    profiles: [[a]]",
    "    secrets: 1",
    "    configs: true",
    "    networks: [{a: 1}]",
])
def test_wrong_types_are_input_errors(proj, snippet):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n" + snippet + "\n"})
    load_error()


@pytest.mark.parametrize("top", ["secrets: 1", "configs: [a]", "secrets:\n  pw: text"])
def test_top_level_secrets_configs_wrong_types(proj, top):
    write(proj, {"compose.yaml": SIMPLE + top + "\n"})
    load_error()


def test_loading_never_reads_os_environ_when_environ_is_given(proj, monkeypatch):
    monkeypatch.setenv("TAG", "from-real-os")
    write(proj, {"compose.yaml": ENVED})
    assert load(environ={}).services["web"].image == "busybox:"
    assert os.environ["TAG"] == "from-real-os"


# -- durations (normalised to seconds once, in the model stage) -----------------------------
@pytest.mark.parametrize("text, seconds", [
    ("90s", 90.0), ("1m30s", 90.0), ("2h", 7200.0), ("500ms", 0.5), ("1h30m", 5400.0),
    ("1.5h", 5400.0), ("5.s", 5.0), (".5s", 0.5), ("+5s", 5.0), ("0", 0.0), ("1us", 1e-6),
    ("1\u00b5s", 1e-6), ("2h45m30.5s", 9930.5),
])
def test_durations_as_compose_reads_them(text, seconds):
    from prefect_compose.units import parse_duration

    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5x", "00", "1m30", "1e3s", "1 m", "", "30", "1M", "1y"])
def test_invalid_durations(text):
    from prefect_compose.units import parse_duration

    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("value", [30, 1.5, True, None, ["1s"]])
def test_non_string_durations(value):
    from prefect_compose.units import parse_duration

    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


@pytest.mark.parametrize("text, seconds", [("1d", 86400.0), ("1w", 604800.0),
                                           ("2d12h", 216000.0)])
def test_day_and_week_durations(text, seconds):
    from prefect_compose.units import parse_duration

    assert parse_duration(text) == seconds


# -- nested keys: validated as Compose does, or warned about --------------------------------
def test_unknown_key_in_long_volume_is_an_error(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: x
            volumes:
              - type: bind
                source: ./data
                target: /data
                typo_key: 1
        """})
    err = load_error()
    assert "services.web.volumes[0]" in str(err) and "typo_key" in str(err)


@pytest.mark.parametrize("snippet, key", [
    ("    volumes:\n      - type: bind\n        source: ./d\n        target: /d\n"
     "        bind:\n          propagation: rshared\n", "propagation"),
    ("    volumes:\n      - type: volume\n        source: v\n        target: /v\n"
     "        volume:\n          nocopy: true\n", "nocopy"),
    ("    volumes:\n      - type: tmpfs\n        target: /t\n        tmpfs:\n"
     "          size: 1000000\n", "size"),
    ("networks:\n  default:\n    ipam:\n      config:\n        - subnet: 172.28.0.0/16\n",
     "ipam"),
    ("networks:\n  default:\n    enable_ipv6: true\n", "enable_ipv6"),
])
def test_unhonoured_nested_options_are_warned_about(proj, snippet, key):
    service = "services:\n  web:\n    image: x\n"
    text = (service + snippet) if snippet.startswith("    ") else (service + snippet)
    write(proj, {"compose.yaml": text + "volumes:\n  v: {}\n"})
    assert any(key in w for w in load().warnings)


# -- include: the same file reached twice ------------------------------------------------
def test_include_diamond_is_accepted(proj):
    write(proj, {"d.yaml": "services:\n  d:\n    image: x\n",
                 "b.yaml": "include: [d.yaml]\nservices:\n  b:\n    image: x\n",
                 "c.yaml": "include: [d.yaml]\nservices:\n  c:\n    image: x\n",
                 "compose.yaml": "include: [b.yaml, c.yaml]\nservices:\n  a:\n    image: x\n"})
    assert sorted(load().services) == ["a", "b", "c", "d"]


def test_include_env_uses_the_given_environ_not_os_environ(proj, monkeypatch):
    monkeypatch.setenv("PGV", "99")
    write(proj, {"sub/compose.yaml": INCLUDED, "sub/.env": "PGV=16\n",
                 "compose.yaml": "include:\n  - sub/compose.yaml\n"})
    assert load(environ={}).services["db"].image == "postgres:16"


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


# -- --project-directory ---------------------------------------------------------------------
def test_project_directory_is_the_base_for_paths_and_dotenv(proj):
    write(proj, {"files/compose.yaml": "services:\n  web:\n    image: 'x:${TAG}'\n"
                                       "    volumes: ['./data:/data']\n",
                 "base/.env": "TAG=from-base\n"})
    p = load("files/compose.yaml", project_dir="base")
    assert p.working_dir == str(proj / "base")
    assert p.name == "base"
    web = p.services["web"]
    assert web.image == "x:from-base"
    assert web.volumes[0].source == str(proj / "base" / "data")
