"""include: other projects pulled in. Expected values follow Docker Compose v2 (`docker-compose
config --format json`), run by hand on the same inputs."""

from __future__ import annotations

from inline_project import write, load, load_error, SIMPLE


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
