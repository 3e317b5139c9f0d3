"""One service: canonical YAML -> ``Service``. Every key is honoured (modelled), passed to the
engine (``engine_options``, with its value checked and typed here), known to Compose but not
supported yet (a warning naming it), or was rejected by the per-file schema."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from prefect_compose.model import checks, mounts, networking, options, parts
from prefect_compose.model.types import Dependency, Service
from prefect_compose.model.values import (
    Ctx,
    argv,
    boolean,
    duration,
    integer,
    mapping,
    opt_str,
    size,
    strings,
)

# what is warned or refused (never silently dropped) is the table in prefect_compose.keys,
# applied by the loader to every file


def build_service(name: str, svc: dict, project: dict, base: Path,
                  warnings: list[str]) -> Service:
    """``project`` is the merged document plus ``__networks__`` (the built networks)."""
    file = svc.pop("__file__", "compose.yaml")
    ctx = Ctx(file, name, warnings)
    provider = svc.get("provider")
    if provider is not None and not isinstance(provider, dict):
        raise ctx.error("must be a mapping with a type", "provider")
    image = svc.get("image")
    if image is not None and not isinstance(image, str):
        raise ctx.error("must be a string", "image")
    build = parts.build(svc.get("build"), ctx)
    if not image and not build and provider is None:
        raise ctx.error("has neither an image nor a build context specified")
    resources = _resources(svc, ctx)
    checks.check_values(svc, ctx)
    checks.check_service_refs(svc, ctx, project.get("services") or {})
    engine_options = options.engine_options(svc, ctx, base)
    labels = svc.get("labels") or {}
    expose = svc.get("expose") or []
    if not isinstance(expose, list):
        raise ctx.error("must be a list", "expose")
    for i, e in enumerate(expose):
        if not re.fullmatch(r"[0-9]+(-[0-9]+)?(/[a-z]+)?", str(e)):
            raise ctx.error(f'invalid port "{e}": expected PORT[-PORT][/PROTOCOL]',
                            f"expose[{i}]")
    init = svc.get("init")
    try:
        return Service(
            name=name, source_file=file, image=image, build=build, provider=provider,
            command=argv(svc.get("command"), ctx, "command"),
            entrypoint=argv(svc.get("entrypoint"), ctx, "entrypoint"),
            environment=svc.get("environment") or {},
            working_dir=svc.get("working_dir"), user=opt_str(svc.get("user")),
            hostname=svc.get("hostname"), container_name=svc.get("container_name"),
            labels={str(k): ("" if v is None else str(v)) for k, v in labels.items()},
            ports=parts.ports(svc.get("ports"), ctx),
            expose=tuple(str(e) for e in expose),
            volumes=parts.volumes(svc.get("volumes"), ctx, project.get("volumes") or {}, base),
            volumes_from=mounts.volumes_from(svc.get("volumes_from"), ctx),
            networks=parts.networks(svc, ctx, project["__networks__"]),
            network_mode=networking.network_mode(svc, ctx),
            healthcheck=parts.healthcheck(svc.get("healthcheck"), ctx),
            depends_on=_implied_dependencies(svc, parts.depends_on(svc.get("depends_on"), ctx)),
            restart=parts.restart(svc.get("restart"), ctx),
            pre_start=parts.hooks(svc.get("pre_start"), ctx),
            stop_signal=svc.get("stop_signal"),
            stop_grace_period_s=_stop_grace(svc, ctx),
            profiles=strings(svc.get("profiles") or [], ctx, "profiles"),
            platform=svc.get("platform"), pull_policy=svc.get("pull_policy"),
            secrets=parts.file_mounts(svc.get("secrets"), ctx, "secrets",
                                      project.get("secrets") or {}),
            configs=parts.file_mounts(svc.get("configs"), ctx, "configs",
                                      project.get("configs") or {}),
            init=None if init is None else boolean(init, ctx, "init"),
            tty=boolean(svc.get("tty", False), ctx, "tty"),
            stdin_open=boolean(svc.get("stdin_open", False), ctx, "stdin_open"),
            engine_options=engine_options,
            x_prefect=parts.x_prefect(svc.get("x-prefect"), ctx),
            **resources,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ctx.error(err["msg"], *(str(x) for x in err["loc"])) from None


def _resources(svc: dict, ctx: Ctx) -> dict[str, Any]:
    """cpus, mem_limit (bytes) and scale, from the service or its ``deploy:`` section."""
    deploy = mapping(svc.get("deploy"), ctx, "deploy")
    limits = mapping(mapping(deploy.get("resources"), ctx, "deploy", "resources").get("limits"),
                     ctx, "deploy", "resources", "limits")
    cpus_at = ("cpus",) if "cpus" in svc else ("deploy", "resources", "limits", "cpus")
    cpus = svc.get("cpus", limits.get("cpus"))
    try:
        cpus_f = None if cpus is None else float(cpus)
    except (TypeError, ValueError):
        raise ctx.error(f"invalid cpus {cpus!r}", *cpus_at) from None
    mem_at = ("mem_limit",) if "mem_limit" in svc else ("deploy", "resources", "limits", "memory")
    mem = svc.get("mem_limit", limits.get("memory"))
    mem_b = None if mem is None else size(mem, ctx, *mem_at)
    scale_i = _scale(svc, deploy, ctx)
    return {"cpus": cpus_f, "mem_limit": mem_b, "scale": scale_i}


def _scale(svc: dict, deploy: dict, ctx: Ctx) -> int:
    """``scale`` or ``deploy.replicas`` (Compose refuses two different values, and negatives)."""
    counts = {}
    for value, at in ((svc.get("scale"), ("scale",)), (deploy.get("replicas"),
                                                       ("deploy", "replicas"))):
        if value is not None:
            counts[at] = integer(value, ctx, *at)
            if counts[at] < 0:
                raise ctx.error(f"must be 0 or more, not {counts[at]}", *at)
    if len(set(counts.values())) > 1:
        raise ctx.error(f"scale ({counts[('scale',)]}) and deploy.replicas "
                        f"({counts[('deploy', 'replicas')]}) differ: set one of them", "scale")
    return next(iter(counts.values()), 1)  # != 1: keys.py warns


def _stop_grace(svc: dict, ctx: Ctx) -> float:
    value = svc.get("stop_grace_period")
    return 10.0 if value is None else duration(value, ctx, "stop_grace_period")


def _implied_dependencies(svc: dict, deps: dict[str, Dependency]) -> dict[str, Dependency]:
    """`network_mode: service:X`, `volumes_from: [X]` and `links: [X]` make X a dependency,
    as in Compose."""
    out = dict(deps)
    mode = svc.get("network_mode") or ""
    if mode.startswith("service:"):
        out.setdefault(mode.split(":", 1)[1], Dependency(restart=True))
    for entry in svc.get("volumes_from") or []:
        if not str(entry).startswith("container:"):
            out.setdefault(str(entry).split(":", 1)[0], Dependency())
    for link in svc.get("links") or []:
        out.setdefault(str(link).split(":", 1)[0], Dependency())
    return out
