"""Discovery of the compose files, the project name and --project-directory. Expected values
follow Docker Compose v2 (`docker-compose config --format json`), run by hand on the same
inputs."""

from __future__ import annotations

import pytest

from prefect_compose.load import normalize_project_name

from inline_project import write, load, load_error, SIMPLE


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
