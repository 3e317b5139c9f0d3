"""The bad-input fixtures of tests/fixtures/invalid/ and their ``.expected`` files, read by
tests/unit/load/test_invalid_fixtures.py (our verdict and message) and by
tests/conformance/test_invalid_agree.py (Docker Compose v2's verdict on the same file).

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
* ``compose: rejects|accepts|-``  what ``docker compose config`` (v2) says of the same file:
  every fixture states it. ``rejects`` with exit 2 and ``accepts`` with exit 0 are agreement;
  ``accepts`` with exit 2 is a deliberate difference and needs a ``why:`` line; ``-`` is for
  what is none of Compose's business (``x-prefect``, our own options).
* ``why: TEXT``   the reason for a deliberate difference from Compose.
* ``stdout: TEXT`` TEXT must appear in stdout.
* ``re: REGEX``   REGEX must match somewhere in stderr (``re.search``, multiline).
* any other line: the text must appear verbatim in stderr (a substring).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "invalid"
COMPOSE_VERDICTS = ("rejects", "accepts", "-")


@dataclass
class Expected:
    exit: int = 2
    args: list[str] = field(default_factory=list)
    file: str | None = None
    has_path: bool = True
    compose: str | None = None
    why: str | None = None
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
        elif sep and key == "compose":
            exp.compose = rest.strip()
        elif sep and key == "why":
            exp.why = rest.strip()
        elif sep and key == "stdout":
            exp.stdout.append(rest)
        elif line.startswith("re:"):
            exp.stderr.append(("re", line[3:].strip()))
        else:
            exp.stderr.append(("text", line))
    return exp


def collect() -> list[tuple[str, Path, Path]]:
    """(name, compose file, expected file) of every fixture."""
    cases = []
    for yaml_file in sorted(FIXTURES.glob("*.yaml")):
        cases.append((yaml_file.stem, yaml_file, yaml_file.with_suffix(".expected")))
    for sub in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        cases.append((sub.name, sub / "compose.yaml", sub / "expected"))
    return cases
