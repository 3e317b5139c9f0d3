"""Parity with Docker Compose v2 on real projects (docker/awesome-compose, DefangLabs/samples).

For every compose file of ``tests/data/parity`` both tools load the project with the same
clean environment (PATH and HOME only) and the file's folder as project directory:

- where ``docker compose config`` accepts it, ``prefect-compose plan --format json`` exits 0,
  names the same project, lists the same services and, for each, the same dependencies;
  conditions agree except where the spec changes them on purpose (a short-form dependency on a
  job waits for its completion); jobs and providers are classified as the spec says from what
  Compose reports (``restart: "no"``, completion targets, ``provider:``);
- where Compose rejects it, ``plan`` exits 2 with one line on stderr and no traceback.

Compose's answer is computed live, never recorded. Deliberate differences are listed in
``KNOWN_DIFFERENCES`` (strict xfail with the reason).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from compose_oracle import (PARITY, VIEWS, clean_env, compose_config, compose_config_many,
                            compose_error, differences, field_problems, parity_cases)

CASES = parity_cases()

# path relative to tests/data/parity -> why prefect-compose deliberately differs from Compose
KNOWN_DIFFERENCES: dict[str, str] = {}
# the same for the field-by-field comparison of the loaded model (test_model_matches_compose)
KNOWN_MODEL_DIFFERENCES: dict[str, str] = {}


def _id(case: tuple[Path, Path]) -> str:
    return str(case[0].relative_to(PARITY))


def _params(known: dict[str, str]):
    out = []
    for case in CASES:
        rel = _id(case)
        marks = ()
        if rel in known:
            marks = (pytest.mark.xfail(strict=True, reason=known[rel]),)
        out.append(pytest.param(*case, id=rel, marks=marks))
    return out


@pytest.fixture(scope="module")
def compose_answers(compose_v2):
    """Compose's answer for every corpus file, computed once, in parallel (clean env)."""
    return compose_config_many(CASES)


def run_plan_inprocess(file: Path, pdir: Path, capsys, extra: list[str] = ()):
    from prefect_compose.cli.main import main

    capsys.readouterr()
    rc = main(["plan", "--format", "json", "-f", str(file), "--project-directory", str(pdir),
               *extra])
    out, err = capsys.readouterr()
    return rc, out, err


def check_rejection(rc: int, err: str, compose_err: str, file: Path) -> None:
    assert rc == 2, (f"Compose rejects ({compose_err!r}); ours exited {rc} "
                     f"with stderr {err!r}")
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert file.name in lines[0], f"the message does not name {file.name}: {lines[0]!r}"


@pytest.mark.parametrize(("file", "pdir"), _params(KNOWN_DIFFERENCES))
def test_plan_matches_compose(compose_answers, file, pdir, capsys, monkeypatch,
                              isolated_environ):
    isolated_environ()
    monkeypatch.chdir(pdir)
    c_rc, cfg, c_err = compose_answers[file]
    rc, out, err = run_plan_inprocess(file, pdir, capsys)
    if c_rc != 0:
        check_rejection(rc, err, compose_error(c_err), file)
        return
    assert rc == 0, f"Compose accepts, ours exited {rc}: {err.strip()}"
    assert "Traceback" not in err
    plan = json.loads(out)
    diffs = differences(cfg, plan)
    assert not diffs, "\n".join(diffs)


@pytest.mark.parametrize(("file", "pdir"), _params(KNOWN_MODEL_DIFFERENCES))
def test_model_matches_compose(compose_answers, file, pdir, monkeypatch):
    """Beyond the plan: the loaded model agrees with Compose on every field that
    test_canonical compares (environment, command, entrypoint, depends_on, healthcheck,
    ports, volumes, restart), on every project Compose accepts."""
    from prefect_compose.load import load_project

    c_rc, cfg, _ = compose_answers[file]
    if c_rc != 0:
        return  # test_plan_matches_compose covers rejections
    monkeypatch.chdir(pdir)
    project = load_project([file], project_dir=pdir, environ=clean_env())
    problems = [p for f in VIEWS for p in field_problems(cfg["services"], project.services, f)]
    assert not problems, "\n".join(problems)


# Explicit project names (-p): Compose takes them as given when valid, rejects the others.
@pytest.mark.parametrize("name", ["demo", "my_app-2", "Demo", "_x", "a.b", ""])
def test_project_name_option(compose_v2, name, capsys, monkeypatch, isolated_environ):
    isolated_environ()
    file = PARITY / "awesome-compose" / "pihole-cloudflared-DoH" / "compose.yaml"
    pdir = file.parent
    monkeypatch.chdir(pdir)
    c_rc, cfg, c_err = compose_config([file], pdir, project_name=name)
    rc, out, err = run_plan_inprocess(file, pdir, capsys, ["-p", name])
    if c_rc != 0:
        check_rejection(rc, err, compose_error(c_err), file)
        return
    assert rc == 0, err
    assert json.loads(out)["project"] == cfg["name"]


# A handful through the installed console script, to prove the entry point and exit codes.
SUBPROCESS_CASES = [
    "awesome-compose/pihole-cloudflared-DoH/compose.yaml",  # .env, odd directory name
    "awesome-compose/nginx-golang-mysql/compose.yaml",  # secrets, healthcheck
    "defang-samples/samples/rails/compose.dev.yaml",  # extends file:, env_file
    "defang-samples/samples/huginn/compose.dev.yaml",  # Compose rejects it
]


@pytest.mark.parametrize("rel", SUBPROCESS_CASES)
def test_console_script(compose_v2, rel):
    file = PARITY / rel
    pdir = file.parent
    script = Path(sys.executable).parent / "prefect-compose"
    assert script.is_file(), script
    c_rc, cfg, c_err = compose_config([file], pdir)
    proc = subprocess.run([str(script), "-f", str(file), "--project-directory", str(pdir),
                           "plan", "--format", "json"], cwd=pdir, env=clean_env(),
                          capture_output=True, text=True, timeout=120)
    if c_rc != 0:
        check_rejection(proc.returncode, proc.stderr, compose_error(c_err), file)
        return
    assert proc.returncode == 0, proc.stderr
    diffs = differences(cfg, json.loads(proc.stdout))
    assert not diffs, "\n".join(diffs)


def test_corpus_is_there():
    assert len(CASES) >= 150, f"parity corpus has only {len(CASES)} files"
