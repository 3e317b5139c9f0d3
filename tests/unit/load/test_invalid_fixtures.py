"""Bad inputs (issue #2): each fixture under tests/fixtures/invalid/ is run through
`main(["plan", "-f", FILE, *args])` from the fixture's own directory, so messages name the file
exactly as a user who ran `prefect-compose plan` there would see it.

Fixture layout
--------------
* ``NAME.yaml`` with a sibling ``NAME.expected``, or
* ``NAME/compose.yaml`` with ``NAME/expected`` when the case needs side files (included
  files, env files, ...).

The ``.expected`` format, one item a line (blank lines and lines starting with ``#`` ignored):

* ``exit: N``     the expected exit code (default 2: invalid input).
* ``args: ...``   extra arguments after ``plan -f FILE`` (split as a shell would).
* ``file: NAME``  the file name the message must start with (default: the fixture's file name
  as given to ``-f``); ``file: -`` for errors about a command-line option, which name no file.
* ``path: -``     a file-level error (empty file, alias bomb, unknown top-level key) that has
  no key path; otherwise a key path or a line number is required.
* ``stdout: TEXT`` TEXT must appear in stdout.
* ``re: REGEX``   REGEX must match somewhere in stderr (``re.search``, multiline).
* any other line: the text must appear verbatim in stderr (a substring).

For exit 2 the first stderr expectation (plain or ``re:``) must match at the very start of
stderr, and it must itself begin with ``FILE:LINE: `` or ``FILE: KEY.PATH`` so every fixture
proves that the message names the file and where in it. Every run asserts that no traceback
is printed.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from prefect_compose.cli.main import main
from prefect_compose.load import load_project
from prefect_compose.model.types import Port

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "invalid"


@dataclass
class Expected:
    exit: int = 2
    args: list[str] = field(default_factory=list)
    file: str | None = None
    has_path: bool = True
    stdout: list[str] = field(default_factory=list)
    stderr: list[tuple[str, str]] = field(default_factory=list)  # ("text"|"re", pattern)


def parse_expected(path: Path) -> Expected:
    exp = Expected()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, rest = line.partition(": ")
        if sep and key == "exit":
            exp.exit = int(rest)
        elif sep and key == "args":
            exp.args = shlex.split(rest)
        elif sep and key == "file":
            exp.file = rest
        elif sep and key == "path" and rest == "-":
            exp.has_path = False
        elif sep and key == "stdout":
            exp.stdout.append(rest)
        elif line.startswith("re:"):
            exp.stderr.append(("re", line[3:].strip()))
        else:
            exp.stderr.append(("text", line))
    return exp


def collect() -> list[tuple[str, Path, Path]]:
    cases = []
    for yaml_file in sorted(FIXTURES.glob("*.yaml")):
        cases.append((yaml_file.stem, yaml_file, yaml_file.with_suffix(".expected")))
    for sub in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        cases.append((sub.name, sub / "compose.yaml", sub / "expected"))
    return cases


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
    return re.match(r": (services|x-prefect|include|networks|volumes|secrets|configs)\b",
                    rest) is not None


@pytest.mark.parametrize("name, compose, expected_file", CASES, ids=[c[0] for c in CASES])
def test_invalid_fixture(name, compose, expected_file, monkeypatch, capsys):
    exp = parse_expected(expected_file)
    monkeypatch.chdir(compose.parent)
    started = time.monotonic()
    code = main(["plan", "-f", compose.name, *exp.args])
    elapsed = time.monotonic() - started
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
    assert elapsed < 2.0, f"{name} took {elapsed:.2f} s"  # a safety bound (the alias bomb)


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


def test_alias_bomb_is_rejected_fast(monkeypatch, capsys):
    monkeypatch.chdir(FIXTURES)
    started = time.monotonic()
    assert main(["plan", "-f", "alias_bomb.yaml"]) == 2
    assert time.monotonic() - started < 2.0
    assert "alias bomb" in capsys.readouterr().err
