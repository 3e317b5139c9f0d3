"""Faults named, exit 1, nothing half-created left (SPEC "Safety").

- ``preflight``: before the first network, volume or container, every image a step needs is on
  the engine or pulled (built images are left to the build), and no long-running service's
  container name is held by a container that is not ours. Every problem is named at once.
- ``start_or_explain``: a container the engine refuses to start (a published port in use) is
  removed and the error names the service and the port.
- ``exit_note``: what an exit code means when the engine knows more ("out of memory").
"""

from __future__ import annotations

import re

from prefect_compose.engine import Engine
from prefect_compose.errors import EngineError
from prefect_compose.plan.labels import LABEL_PROJECT, LABEL_SERVICE
from prefect_compose.errors import RunError
from prefect_compose.model.types import Project
from prefect_compose.plan.compile import Plan
from prefect_compose.plan.containers import container_name
from prefect_compose.plan.pull import image_needs, missing_message, must_pull

_PORT_ERRORS = ("port is already allocated", "address already in use")
_PORT_IN_MESSAGE = re.compile(r":(\d+)(?: failed|: bind)")


class PreflightFailed(RunError):
    """An image is missing, or a container name is taken: nothing was created."""


class PortInUse(RunError):
    """A published host port is in use; the refused container was removed."""


def _step_services(plan: Plan) -> list[str]:
    return sorted({s.service for s in plan.steps})


def missing_images(engine: Engine, project: Project, plan: Plan,
                   services: list[str] | None = None) -> list[str]:
    """Pull what `pull_policy` asks for (plan/pull.py) of the images the steps need that are
    not built; the problems left (missing and never pulled, or a pull that failed)."""
    names = _step_services(plan) if services is None else services
    problems = [f"service {name}: no image and nothing to build" for name in names
                if not plan.service(name).image and not project.services[name].is_provider]
    for need in image_needs(project, plan, names):
        present = engine.image_exists(need.ref)
        ago = engine.image_tagged_ago(need.ref) if present and need.policy == "refresh" \
            else None
        if must_pull(need, present, ago):
            try:
                engine.pull(need.ref, why=f"pull_policy {need.policy_text}" if present else "")
            except EngineError as exc:
                problems.append(f"service {need.service}: image {need.ref} is missing and "
                                f"cannot be built or pulled ({_short(exc)})" if not present
                                else f"service {need.service}: pull_policy "
                                     f"{need.policy_text}: image {need.ref} could not be "
                                     f"pulled ({_short(exc)})")
        elif not present and not need.buildable:
            problems.append(missing_message(need))
    return problems


def ensure_images(engine: Engine, project: Project, plan: Plan, services: list[str]) -> None:
    """:func:`missing_images` for some services (`run`): PreflightFailed naming them."""
    problems = missing_images(engine, project, plan, services)
    if problems:
        raise PreflightFailed("; ".join(problems) + " (nothing was created)")


def foreign_names(engine: Engine, project: Project, plan: Plan,
                  rows: list[dict] | None = None) -> list[str]:
    """Long-running services whose container name a container outside the project holds
    (one list call for all the names). ``rows``: the project's long-running containers,
    listed already: a name one of them holds is looked up there, and only the others are
    asked of the engine (on an unchanged redeploy, none)."""
    names = {sp.name: container_name(project, project.services[sp.name], oneoff=False)
             for sp in plan.services if sp.kind == "service" and sp.steps}
    holders: dict[str, dict] = {}
    if rows is not None:
        held = {n.lstrip("/"): r for r in rows for n in r.get("Names") or []}
        holders = {n: held[n] for n in names.values() if n in held}
    holders.update(engine.rows_named(sorted(n for n in names.values() if n not in holders)))
    problems = []
    for service, name in names.items():
        row = holders.get(name)
        if row is None:
            continue
        labels = row.get("Labels") or {}
        if labels.get(LABEL_PROJECT) == project.name and labels.get(LABEL_SERVICE) == service:
            continue
        owner = labels.get(LABEL_PROJECT)
        whose = f"project {owner}" if owner else "no compose project"
        problems.append(f"service {service}: the container name {name} is taken by a "
                        f"container of {whose} ({row['Id'][:12]}), not ours; it was left "
                        "alone")
    return problems


def preflight(engine: Engine, project: Project, plan: Plan,
              rows: list[dict] | None = None) -> None:
    """Raise PreflightFailed naming every missing image and taken name (nothing created).
    ``rows``: as foreign_names'."""
    problems = (foreign_names(engine, project, plan, rows)
                + missing_images(engine, project, plan))
    if problems:
        raise PreflightFailed("; ".join(problems) + " (nothing was created)")


def start_or_explain(engine: Engine, cid: str, service: str, published: list[str]) -> None:
    """Start ``cid``; when the engine refuses a published port, remove it and name both."""
    try:
        engine.start(cid)
    except EngineError as exc:
        text = str(exc)
        if not any(p in text for p in _PORT_ERRORS):
            raise
        engine.remove(cid, force=True)
        found = _PORT_IN_MESSAGE.search(text)
        port = found.group(1) if found else "/".join(published) or "?"
        raise PortInUse(f"service {service}: host port {port} is already in use; its new "
                        "container was removed") from None


def exit_note(engine: Engine, cid: str) -> str:
    """": out of memory (limit 16MiB)" when the engine killed the container for memory."""
    try:
        data = engine.inspect(cid)
    except EngineError:
        return ""
    if not (data.get("State") or {}).get("OOMKilled"):
        return ""
    limit = (data.get("HostConfig") or {}).get("Memory") or 0
    return ": out of memory" + (f" (killed at its limit of {_mib(limit)})" if limit else "")


def _mib(n: int) -> str:
    return f"{n / 2**20:g}MiB"


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]
