"""Field-by-field conformance of the loader with Docker Compose v2 on hand-written fixtures.

Each case loads a fixture project of ``tests/fixtures/conformance`` twice, with the same files,
project directory, env files, profiles and environment (exactly ``env`` plus PATH/HOME):
``docker compose config --format json`` and ``prefect_compose.load.load_project``. Then,
per field, our canonical model must say what Compose says: the project name, the set of
services, ``environment``, ``command``, ``entrypoint``, ``depends_on`` (condition, required,
restart), ``healthcheck`` (test, durations, retries, disable), ``ports``, ``volumes`` and ``restart``.

Compose's JSON is made for reloading, so every literal ``$`` in it is written ``$$``; the
comparison undoes that. Durations come back as Go durations (``1m30s``, ``500ms``,
``1h0m0s``); ``go_duration`` reads them. Fields Compose omits take Docker's defaults.

``tests/fixtures/conformance/rejects/*``: projects Compose rejects; ours must reject them too
(InputError from the loader or the compiler; ``plan`` exits 2 with one line, no traceback).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from compose_oracle import (FIXTURES, clean_env, compose_config, compose_error, differences,
                            field_problems, go_duration)


def test_go_duration():
    assert go_duration("1m30s") == 90
    assert go_duration("500ms") == 0.5
    assert go_duration("1h0m0s") == 3600
    assert go_duration("2h45m10s") == 9910
    assert go_duration("1.5s") == 1.5
    assert go_duration("0s") == 0
    with pytest.raises(ValueError):
        go_duration("5x")


# --------------------------------------------------------------------------- the cases

@dataclass(frozen=True)
class Case:
    id: str
    fixture: str
    files: tuple[str, ...] | None = ("compose.yaml",)  # None: let both tools discover them
    env: dict[str, str] = field(default_factory=dict)
    env_files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    project_name: str | None = None

    @property
    def dir(self) -> Path:
        return FIXTURES / self.fixture


SHELL = {"SET": "value", "EMPTY": "", "FROM_SHELL": "shell", "SHADOWED": "from-shell"}
CASES = [
    Case("environment", "environment", env=SHELL),
    Case("environment-bare-shell", "environment"),
    Case("commands", "commands"),
    Case("depends", "depends"),
    Case("healthcheck", "healthcheck"),
    Case("override-discovered", "override", files=None),
    Case("override-base-only", "override", files=("compose.yaml",)),
    Case("override-three-files", "override",
         files=("compose.yaml", "compose.override.yaml", "compose.prod.yaml")),
    Case("extends", "extends"),
    Case("profiles-none", "profiles"),
    Case("profiles-debug", "profiles", profiles=("debug",)),
    Case("profiles-tools", "profiles", profiles=("tools",)),
    Case("profiles-admin", "profiles", profiles=("admin",)),
    Case("profiles-debug-admin", "profiles", profiles=("debug", "admin")),
    Case("profiles-star", "profiles", profiles=("*",)),
    Case("profiles-from-env", "profiles", env={"COMPOSE_PROFILES": "debug,admin"}),
    Case("anchors", "anchors"),
    Case("dotenv", "dotenv_only"),
    Case("dotenv-env-file-option", "dotenv_only", env_files=("alt.env",)),
    Case("dotenv-shell-wins", "dotenv_only", env={"VALUE": "shell", "PROJECT": "shellproj"}),
    Case("project-name-env", "dotenv_only", env={"COMPOSE_PROJECT_NAME": "fromenv"}),
    Case("project-name-option", "dotenv_only", project_name="fromoption",
         env={"COMPOSE_PROJECT_NAME": "fromenv"}),
]

FIELDS = ("project", "services", "environment", "command", "entrypoint", "depends_on",
          "healthcheck", "ports", "volumes", "restart")

# (case id, field) -> why we deliberately differ from Compose (strict xfail)
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}


_compose_cache: dict[str, tuple[int, dict | None, str]] = {}
_ours_cache: dict[str, Any] = {}


def compose_answer(case: Case):
    if case.id not in _compose_cache:
        files = [case.dir / f for f in case.files] if case.files else []
        _compose_cache[case.id] = compose_config(
            files, case.dir, case.env, case.profiles, project_name=case.project_name,
            env_files=[case.dir / e for e in case.env_files])
    return _compose_cache[case.id]


def our_answer(case: Case):
    """The loaded Project, or the exception load_project raised."""
    if case.id not in _ours_cache:
        from prefect_compose.load import load_project

        try:
            _ours_cache[case.id] = load_project(
                [case.dir / f for f in case.files] if case.files else None,
                project_dir=case.dir, project_name=case.project_name,
                env_files=[case.dir / e for e in case.env_files] or None,
                profiles=case.profiles, environ=clean_env(case.env))
        except Exception as exc:  # noqa: BLE001 - reported by the test
            _ours_cache[case.id] = exc
    return _ours_cache[case.id]


def _params():
    out = []
    for case in CASES:
        for f in FIELDS:
            marks = ()
            reason = KNOWN_DIFFERENCES.get((case.id, f))
            if reason:
                marks = (pytest.mark.xfail(strict=True, reason=reason),)
            out.append(pytest.param(case, f, id=f"{case.id}-{f}", marks=marks))
    return out


@pytest.mark.parametrize(("case", "field_name"), _params())
def test_field_matches_compose(compose_v2, case: Case, field_name: str, monkeypatch):
    monkeypatch.chdir(case.dir)
    rc, cfg, err = compose_answer(case)
    assert rc == 0, f"fixture {case.fixture} must be valid for Compose: {compose_error(err)}"
    ours = our_answer(case)
    if isinstance(ours, BaseException):
        if field_name != "services":  # one failure per cause, not one per field
            pytest.skip(f"load_project raised; the failure is reported by "
                        f"[{case.id}-services]")
        pytest.fail(f"Compose accepts {case.fixture}, load_project raised "
                    f"{type(ours).__name__}: {ours}", pytrace=False)
    theirs = cfg.get("services") or {}
    if field_name == "project":
        assert ours.name == cfg["name"]
        return
    if field_name == "services":
        assert sorted(ours.services) == sorted(theirs)
        return
    problems = field_problems(theirs, ours.services, field_name)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan_matches_compose(compose_v2, case: Case, monkeypatch):
    """The compiled plan of each fixture: project, services, dependencies, kinds (as in
    test_parity)."""
    from prefect_compose.plan.compile import compile_plan

    monkeypatch.chdir(case.dir)
    rc, cfg, err = compose_answer(case)
    assert rc == 0, compose_error(err)
    ours = our_answer(case)
    if isinstance(ours, BaseException):
        pytest.skip(f"load_project raised; reported by [{case.id}-services]")
    diffs = differences(cfg, compile_plan(ours).to_json())
    assert not diffs, "\n".join(diffs)


def test_effective_conditions(compose_v2, monkeypatch):
    """Spec: a short-form dependency on a job waits for its completion; the long form
    `condition: service_started` keeps waiting only for its start. Compose prints both as
    service_started, so this is checked against the spec, on top of Compose's answer."""
    from prefect_compose.plan.compile import compile_plan

    case = next(c for c in CASES if c.id == "depends")
    monkeypatch.chdir(case.dir)
    plan = compile_plan(our_answer(case))
    deps = {s.name: s.depends_on for s in plan.services}
    kinds = {s.name: s.kind for s in plan.services}
    assert {n for n, k in kinds.items() if k == "job"} == {"migrate", "seed", "legacy"}
    assert deps["seed"] == {"migrate": "service_completed_successfully"}  # short, job
    assert deps["worker"] == {"cache": "service_started", "db": "service_started",
                              "legacy": "service_completed_successfully"}
    assert deps["reporter"] == {"migrate": "service_started"}  # long form kept
    assert deps["web"] == {"cache": "service_started", "db": "service_healthy",
                           "migrate": "service_completed_successfully",
                           "optional": "service_started"}


# --------------------------------------------------------------------------- rejections

REJECTS = sorted(p.parent.name for p in (FIXTURES / "rejects").glob("*/compose.yaml"))


@pytest.mark.parametrize("name", REJECTS)
def test_rejected_like_compose(compose_v2, name, capsys, monkeypatch, isolated_environ):
    from prefect_compose.cli.main import main

    pdir = FIXTURES / "rejects" / name
    file = pdir / "compose.yaml"
    rc, cfg, err = compose_config([file], pdir, {})
    assert rc != 0, f"fixture rejects/{name} must be invalid for Compose"
    isolated_environ()
    monkeypatch.chdir(pdir)
    capsys.readouterr()
    ours_rc = main(["plan", "--format", "json", "-f", str(file)])
    out, our_err = capsys.readouterr()
    assert ours_rc == 2, (f"Compose rejects ({compose_error(err)!r}); ours exited {ours_rc}"
                          f" with {our_err!r}")
    assert "Traceback" not in our_err
    lines = [line for line in our_err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "compose.yaml" in lines[0], lines[0]
