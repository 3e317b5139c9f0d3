"""Compose's experimental top-level `jobs:` element, read as services (a load stage).

Each entry of `jobs:` is a service definition that runs to completion, with optional
`triggers: {schedule: CRON | {cron, timezone}}`. It becomes a service with `restart: "no"`
(a job) and, with a schedule, `x-prefect.schedule` (a scheduled job): the same thing as
writing the service by hand. Compose v2.40 itself rejects a top-level `jobs:` key; accepting
it is a documented difference (README).
"""

from __future__ import annotations

from typing import Any

from prefect_compose.errors import InputError


def jobs_as_services(doc: dict, file: str) -> dict:
    """`doc` with its `jobs:` entries moved into `services:` (a new dict; `doc` untouched)."""
    jobs = doc.get("jobs")
    if jobs is None:
        return {k: v for k, v in doc.items() if k != "jobs"} if "jobs" in doc else doc
    if not isinstance(jobs, dict):
        raise InputError("must be a mapping", file=file, path="jobs")
    services = dict(doc.get("services") or {})
    for name, job in jobs.items():
        path = f"jobs.{name}"
        if job is None:
            job = {}
        if not isinstance(job, dict):
            raise InputError("job must be a mapping", file=file, path=path)
        if name in services:
            raise InputError(f'"{name}" is both a service and a job', file=file, path=path)
        services[name] = _as_service(dict(job), file, path)
    out = {k: v for k, v in doc.items() if k != "jobs"}
    out["services"] = services
    return out


def _as_service(job: dict[str, Any], file: str, path: str) -> dict[str, Any]:
    triggers = job.pop("triggers", None)
    restart = job.get("restart", "no")
    if restart not in ("no", False):
        raise InputError(f'a job runs once: restart must be "no", not {restart!r}', file=file,
                         path=f"{path}.restart")
    job["restart"] = "no"
    if triggers is None:
        return job
    if not isinstance(triggers, dict):
        raise InputError("must be a mapping", file=file, path=f"{path}.triggers")
    unknown = sorted(set(triggers) - {"schedule"})
    if unknown:
        raise InputError(f'unknown key "{unknown[0]}" (supported: schedule)', file=file,
                         path=f"{path}.triggers.{unknown[0]}")
    if triggers.get("schedule") is not None:
        xp = dict(job.get("x-prefect") or {})
        if "schedule" in xp:
            raise InputError("give the schedule once: triggers.schedule or "
                             "x-prefect.schedule", file=file, path=f"{path}.triggers.schedule")
        xp["schedule"] = triggers["schedule"]
        job["x-prefect"] = xp
    return job
