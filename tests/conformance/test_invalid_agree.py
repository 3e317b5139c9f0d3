"""Compose v2's verdict on every bad-input fixture of tests/fixtures/invalid/ (issue 7: what
Compose rejects, ``plan`` rejects, exit 2, found on real files).

Each fixture's ``.expected`` file states what ``docker compose config`` says of it
(``compose: rejects|accepts|-``, see tests/support/invalid_fixtures.py). Here the real
binary runs on the same file, from the same directory, with the same arguments where they are
Compose's (``-p``), in a clean environment (PATH and HOME), and must say so; then ``plan``
runs in the same clean environment and must agree: exit 2 with one line naming the file when
Compose rejects, exit 0 when Compose accepts (unless the fixture records a deliberate
difference with its reason). The messages themselves are checked by
tests/unit/load/test_invalid_fixtures.py.
"""

from __future__ import annotations

import subprocess

import pytest
from support.invalid_fixtures import collect, parse_expected

from compose_oracle import clean_env, compose_binary, compose_error

CASES = collect()
COMPOSE_OPTIONS = ("-p", "--project-name", "--profile", "--env-file")


def _params():
    out = []
    for name, compose, expected in CASES:
        exp = parse_expected(expected)
        if exp.compose == "-":
            continue
        out.append(pytest.param(compose, exp, id=name))
    return out


def _compose_args(args: list[str]) -> list[str]:
    """The fixture's arguments that Compose understands too (global options with a value)."""
    out = []
    for i, arg in enumerate(args):
        if arg in COMPOSE_OPTIONS and i + 1 < len(args):
            out += [arg, args[i + 1]]
    return out


def run_compose(compose, args: list[str]) -> tuple[int, str]:
    proc = subprocess.run([str(compose_binary()), "-f", compose.name, *_compose_args(args),
                           "config", "--format", "json"], cwd=compose.parent, env=clean_env(),
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, compose_error(proc.stderr)


def test_every_verdict_is_checked():
    """Most fixtures are Compose's business; at least 40 of them are compared here."""
    assert len(_params()) >= 40


@pytest.mark.parametrize(("compose", "exp"), _params())
def test_compose_agrees(compose_v2, compose, exp, capsys, monkeypatch, isolated_environ):
    from prefect_compose.cli.main import main

    rc, err = run_compose(compose, exp.args)
    if exp.compose == "rejects":
        assert rc != 0, f"Compose v2 accepts {compose.name}; the fixture says it rejects it"
    else:
        assert rc == 0, (f"Compose v2 rejects {compose.name} ({err!r}); "
                         "the fixture says it accepts it")
    isolated_environ()
    monkeypatch.chdir(compose.parent)
    capsys.readouterr()
    ours = main(["plan", "-f", compose.name, *exp.args])
    out, our_err = capsys.readouterr()
    assert "Traceback" not in our_err
    if exp.compose == "rejects":
        assert ours == 2, f"Compose rejects ({err!r}); plan exited {ours}: {our_err!r}"
        lines = [line for line in our_err.splitlines() if line.strip()]
        assert len(lines) == 1 and compose.name in lines[0], lines
    elif exp.exit == 2:
        assert exp.why, "a deliberate difference needs its reason"
        assert ours == 2, our_err
    else:
        assert ours == 0, f"Compose accepts {compose.name}; plan exited {ours}: {our_err!r}"
