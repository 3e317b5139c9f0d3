"""The model stage: the merged, canonical document -> the frozen ``Project``, every value
checked here (so nothing is parsed at run time). Every error names the file, the key path and
the cause."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect_compose.errors import InputError
from prefect_compose.model.resources import top_networks, top_volumes
from prefect_compose.model.service import build_service
from prefect_compose.model.types import Project, ProjectXPrefect, Service
from prefect_compose.units import parse_duration


def build_project(doc: dict, *, name: str, working_dir: Path, files: list[str],
                  disabled: list[str], warnings: list[str]) -> Project:
    """``doc`` holds only the services its profiles enable; ``disabled`` names the others."""
    file = files[0]
    networks = top_networks(doc, name, file)
    volumes = top_volumes(doc, name, file)
    project_raw = {**doc, "__networks__": networks}
    services_raw: dict[str, dict] = doc.get("services") or {}
    services = {sname: build_service(sname, dict(services_raw[sname]), project_raw, working_dir,
                                     warnings)
                for sname in sorted(services_raw)}
    _check_references(services, disabled)
    return Project(
        name=name, working_dir=str(working_dir), files=tuple(files), services=services,
        networks=networks, volumes=volumes,
        secrets={k: v or {} for k, v in (doc.get("secrets") or {}).items()},
        configs={k: v or {} for k, v in (doc.get("configs") or {}).items()},
        x_prefect=_top_x_prefect(doc, file), warnings=tuple(warnings),
        disabled_services=tuple(sorted(disabled)))


def _check_references(services: dict[str, Service], disabled: list[str]) -> None:
    """container names are unique; network_mode and depends_on name enabled services."""
    names: dict[str, str] = {}
    for sname, svc in services.items():
        if svc.container_name:
            if svc.container_name in names:
                raise InputError(f'container name "{svc.container_name}" is already in use by '
                                 f'service "{names[svc.container_name]}"', file=svc.source_file,
                                 path=f"services.{sname}.container_name")
            names[svc.container_name] = sname
        mode = svc.network_mode or ""
        if mode.startswith("service:") and mode[8:] not in services:
            raise InputError(f'unknown service "{mode[8:]}"', file=svc.source_file,
                             path=f"services.{sname}.network_mode")
    for sname, svc in services.items():
        if svc.engine_options.get("read_only"):
            for key, mounts in (("secrets", svc.secrets), ("configs", svc.configs)):
                for i, fm in enumerate(mounts):
                    if fm.copied:
                        raise InputError(
                            f'{key[:-1]} "{fm.source}" comes from `content`/`environment` and '
                            "is written into the container, which read_only forbids: use a "
                            "`file` source (bind-mounted)", file=svc.source_file,
                            path=f"services.{sname}.{key}[{i}]")
        for dep, spec in svc.depends_on.items():
            if dep in disabled and not spec.required:
                continue  # an optional dependency switched off by profiles: Compose keeps it
            if dep not in services:
                why = " (disabled by its profiles)" if dep in disabled else ""
                raise InputError(f'unknown service "{dep}"{why}', file=svc.source_file,
                                 path=f"services.{sname}.depends_on.{dep}")


def _top_x_prefect(doc: dict, file: str) -> ProjectXPrefect:
    xp = doc.get("x-prefect")
    if xp is None:
        return ProjectXPrefect()
    if not isinstance(xp, dict):
        raise InputError("must be a mapping", file=file, path="x-prefect")
    for k in xp:
        if k not in ("job_timeout", "concurrency", "rollback", "secrets"):  # secrets: load/secrets.py
            raise InputError(f'unknown key "{k}" (expected job_timeout, concurrency, '
                             'rollback or secrets)',
                             file=file, path=f"x-prefect.{k}")
    kwargs: dict[str, Any] = {}
    if "job_timeout" in xp:
        try:
            kwargs["job_timeout_s"] = parse_duration(xp["job_timeout"])
        except ValueError as exc:
            raise InputError(str(exc), file=file, path="x-prefect.job_timeout") from None
    if "concurrency" in xp:
        c = xp["concurrency"]
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise InputError(f"must be a whole number of at least 1, not {c!r}", file=file,
                             path="x-prefect.concurrency")
        kwargs["concurrency"] = c
    if "rollback" in xp:
        if not isinstance(xp["rollback"], bool):
            raise InputError(f"must be true or false, not {xp['rollback']!r}", file=file,
                             path="x-prefect.rollback")
        kwargs["rollback"] = xp["rollback"]
    return ProjectXPrefect(**kwargs)
