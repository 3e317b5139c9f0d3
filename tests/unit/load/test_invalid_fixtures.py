"""Bad inputs (issue #2): each fixture under tests/fixtures/invalid/ is run through
`main(["plan", "-f", FILE, *args])` from the fixture's own directory, so messages name the file
exactly as a user who ran `prefect-compose plan` there would see it. The fixture layout and the
``.expected`` format are described in tests/support/invalid_fixtures.py; Compose v2's verdict
on the same files is checked by tests/conformance/test_invalid_agree.py.

For exit 2 the first stderr expectation (plain or ``re:``) must match at the very start of
stderr, and it must itself begin with ``FILE:LINE: `` or ``FILE: KEY.PATH`` so every fixture
proves that the message names the file and where in it. Every run asserts that no traceback
is printed.
"""

from __future__ import annotations

import re

import pytest
from support.invalid_fixtures import COMPOSE_VERDICTS, FIXTURES, collect, parse_expected

from prefect_compose.cli.main import main
from prefect_compose.load import load_project
from prefect_compose.model.types import Port

CASES = collect()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES",
                "COMPOSE_PATH_SEPARATOR", "PC_FIXTURE_RELEASE_TAG", "NAME"):
        monkeypatch.delenv(var, raising=False)


def test_every_fixture_has_an_expected_file():
    assert len(CASES) >= 30
    for _, compose, expected in CASES:
        assert compose.is_file(), compose
        assert expected.is_file(), f"{compose} has no expected file {expected.name}"
        exp = parse_expected(expected)
        assert exp.compose in COMPOSE_VERDICTS, (
            f"{expected.name}: state Compose's verdict (compose: rejects|accepts|-)")
        if exp.compose == "accepts" and exp.exit == 2:
            assert exp.why, f"{expected.name}: a deliberate difference from Compose needs why:"
    stray = ({p.stem for p in FIXTURES.glob("*.expected")}
             - {p.stem for p in FIXTURES.glob("*.yaml")})
    assert not stray, f"expected files without a fixture: {sorted(stray)}"


def _matches_at_start(kind: str, pattern: str, text: str) -> bool:
    if kind == "re":
        return re.match(pattern, text) is not None
    return text.startswith(pattern)


def _names_file_and_place(kind: str, pattern: str, file: str, has_path: bool) -> bool:
    """The expectation itself starts with FILE:LINE: or FILE: KEY.PATH (the contract)."""
    literal = pattern if kind == "text" else pattern.lstrip("^").replace("\\", "")
    if not literal.startswith(file):
        return False
    rest = literal[len(file):]
    if re.match(r":(\d+|\[\d+\]): ", rest):  # a line number (or a class of them, in a regex)
        return True
    if not has_path:
        return rest.startswith(": ")
    return re.match(r": (name|services|x-prefect|include|networks|volumes|secrets|configs)\b",
                    rest) is not None


@pytest.mark.parametrize("name, compose, expected_file", CASES, ids=[c[0] for c in CASES])
def test_invalid_fixture(name, compose, expected_file, monkeypatch, capsys):
    exp = parse_expected(expected_file)
    monkeypatch.chdir(compose.parent)
    code = main(["plan", "-f", compose.name, *exp.args])
    out, err = capsys.readouterr()

    assert "Traceback" not in err and "Traceback" not in out
    assert code == exp.exit, f"exit {code}, stderr: {err!r}"
    for kind, pattern in exp.stderr:
        if kind == "re":
            assert re.search(pattern, err, re.M), f"/{pattern}/ not in stderr {err!r}"
        else:
            assert pattern in err, f"{pattern!r} not in stderr {err!r}"
    for text in exp.stdout:
        assert text in out, f"{text!r} not in stdout {out!r}"

    if exp.exit == 2:
        assert out == "", "nothing is printed on stdout for invalid input"
        assert exp.stderr, "an exit-2 fixture must state its message"
        kind, first = exp.stderr[0]
        assert _matches_at_start(kind, first, err), f"stderr does not start with {first!r}: {err!r}"
        shown = exp.file or compose.name
        if shown != "-":
            assert err.startswith(shown), err
            assert _names_file_and_place(kind, first, shown, exp.has_path), (
                f"{expected_file.name}: the expected message must start with "
                f"'{shown}:LINE: ' or '{shown}: KEY.PATH'")
        assert len(err.strip().splitlines()) == 1, "one error, one line"


# -- the YAML 1.1 traps: what the plan cannot show, the loaded project can ----------------
def _load(name: str, monkeypatch):
    monkeypatch.chdir(FIXTURES)
    return load_project([f"{name}.yaml"], environ={})


def test_unquoted_port_is_host_22_to_container_22(monkeypatch):
    ssh = _load("port_unquoted", monkeypatch).services["ssh"]
    assert ssh.ports == (Port(target=22, published="22"),)


def test_octal_environment_value_is_493(monkeypatch):
    assert _load("env_value_octal", monkeypatch).services["web"].environment == {"UMASK": "493"}


def test_yaml_no_restart_is_the_string_no(monkeypatch):
    assert _load("restart_yaml_no", monkeypatch).services["migrate"].restart == "no"


def test_alias_bomb_is_rejected(monkeypatch, capsys):
    monkeypatch.chdir(FIXTURES)
    assert main(["plan", "-f", "alias_bomb.yaml"]) == 2
    assert "alias bomb" in capsys.readouterr().err


# -- the edges Compose accepts: what the model makes of them ------------------------------
def test_memswap_minus_one_is_unlimited_swap(monkeypatch):
    web = _load("memswap_limit_minus_one", monkeypatch).services["web"]
    assert web.engine_options["memswap_limit"] == -1


def test_memswap_default_minus_one_is_fine_once_the_variable_is_set(monkeypatch):
    monkeypatch.chdir(FIXTURES)
    project = load_project(["memswap_limit_default_minus_one.yaml"],
                           environ={"PC_FIXTURE_SWAP": "1g"})
    assert project.services["web"].engine_options["memswap_limit"] == 1024**3


def test_empty_restart_is_no_policy_and_empty_test_inherits(monkeypatch):
    assert _load("restart_empty", monkeypatch).services["web"].restart is None
    hc = _load("healthcheck_test_empty_list", monkeypatch).services["web"].healthcheck
    assert hc is not None and hc.test is None and not hc.disable


def test_port_edges(monkeypatch):
    assert _load("port_host_range_one_target", monkeypatch).services["web"].ports == (
        Port(target=80, published="8080-8081"),)
    assert _load("port_protocol_uppercase", monkeypatch).services["web"].ports == (
        Port(target=80, protocol="tcp"),)
    assert _load("port_ipv6_host", monkeypatch).services["web"].ports == (
        Port(target=80, published="8080", host_ip="::1"),)


def test_literal_empty_name_falls_back_to_the_directory(monkeypatch):
    assert _load("project_name_literal_empty", monkeypatch).name == "invalid"


def test_empty_name_is_fine_with_an_explicit_project_name(monkeypatch):
    monkeypatch.chdir(FIXTURES)
    project = load_project(["project_name_interpolates_empty.yaml"], project_name="given",
                           environ={})
    assert project.name == "given"
