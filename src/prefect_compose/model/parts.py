"""The parts of a service: healthcheck, depends_on, restart, build, ports, volumes, networks,
pre_start hooks, secrets/configs and x-prefect, each from its canonical YAML to its type."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


from prefect_compose.model.types import (
    CONDITIONS,
    ESCAPE_NAMES,
    RESTART_POLICIES,
    Build,
    Dependency,
    FileMount,
    Healthcheck,
    Hook,
    Mount,
    Port,
    Schedule,
    ServiceNetwork,
    XPrefect,
)
from prefect_compose.model.values import (
    Ctx,
    argv,
    boolean,
    check_keys,
    duration,
    integer,
    mapping,
)
from prefect_compose.model.mounts import mount_options
from prefect_compose.model.networking import endpoint_options, static_address
from prefect_compose.units import scalar_str

BUILD_HONOURED = ("context", "dockerfile", "dockerfile_inline", "args", "target", "labels",
                  "tags", "network", "extra_hosts", "shm_size", "no_cache", "pull")
BUILD_KNOWN = (*BUILD_HONOURED, "additional_contexts", "cache_from", "cache_to",
               "entitlements", "extra_hosts", "isolation", "network", "no_cache",
               "no_cache_filter", "platforms",
               "privileged", "provenance", "pull", "sbom", "secrets", "shm_size", "ssh", "tags",
               "ulimits")


def healthcheck(value: Any, ctx: Ctx) -> Healthcheck | None:
    if value is None:
        return None
    hc = mapping(value, ctx, "healthcheck")
    check_keys(hc, ("test", "interval", "timeout", "retries", "start_period",
                    "start_interval", "disable"), ctx, "healthcheck")
    test = hc.get("test")
    disable = boolean(hc.get("disable", False), ctx, "healthcheck", "disable")
    if isinstance(test, str):
        test_t: tuple[str, ...] | None = ("CMD-SHELL", test)
    elif isinstance(test, list):
        test_t = tuple(scalar_str(t) for t in test) or None  # []: the image's own test
        if test_t and test_t[0] not in ("NONE", "CMD", "CMD-SHELL"):
            raise ctx.error('must start with "CMD", "CMD-SHELL" or "NONE"', "healthcheck", "test")
    elif test is None:
        test_t = None
    else:
        raise ctx.error("must be a string or a list", "healthcheck", "test")
    if test_t and test_t[0] == "NONE":
        disable = True
    kwargs: dict[str, Any] = {"test": test_t, "disable": disable}
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if hc.get(key) is not None:
            kwargs[f"{key}_s"] = duration(hc[key], ctx, "healthcheck", key)
    if hc.get("retries") is not None:
        kwargs["retries"] = integer(hc["retries"], ctx, "healthcheck", "retries")
        if kwargs["retries"] < 0:
            raise ctx.error(f"must be 0 or more, not {kwargs['retries']}", "healthcheck",
                            "retries")
    return Healthcheck(**kwargs)


def depends_on(value: Any, ctx: Ctx) -> dict[str, Dependency]:
    out: dict[str, Dependency] = {}
    for name, spec in (value or {}).items():
        if isinstance(spec, dict) and spec.get("__short__") and "condition" not in spec:
            out[name] = Dependency(short_form=True)
            continue
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise ctx.error("must be a mapping with condition/required/restart",
                            "depends_on", name)
        check_keys(spec, ("condition", "required", "restart", "__short__"), ctx,
                   "depends_on", name)
        if "condition" not in spec:
            raise ctx.error("missing property \"condition\" (service_started, service_healthy "
                            "or service_completed_successfully)", "depends_on", name)
        cond = spec["condition"]
        if cond not in CONDITIONS:
            raise ctx.error(f'unknown condition "{cond}" (expected one of: '
                            f'{", ".join(CONDITIONS)})', "depends_on", name, "condition")
        out[name] = Dependency(
            condition=cond,
            required=boolean(spec.get("required", True), ctx, "depends_on", name, "required"),
            restart=boolean(spec.get("restart", False), ctx, "depends_on", name, "restart"))
    return out


def restart(value: Any, ctx: Ctx) -> str | None:
    if value is None:
        return None
    if value is False:  # `restart: false`: YAML 1.1's reading of `restart: no`
        return "no"
    text = str(value)
    if text == "":  # Compose and the engine read an empty policy as none set
        return None
    base, _, count = text.partition(":")
    if base not in RESTART_POLICIES or (count and (base != "on-failure" or not count.isdigit())):
        raise ctx.error(f'invalid restart policy "{text}" (expected "no", "always", '
                        '"on-failure[:N]" or "unless-stopped")', "restart")
    return text


def build(value: Any, ctx: Ctx) -> Build | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ctx.error("must be a path or a mapping", "build")
    check_keys(value, BUILD_KNOWN, ctx, "build")  # what is warned: prefect_compose.keys
    if value.get("dockerfile") is not None and value.get("dockerfile_inline") is not None:
        raise ctx.error("dockerfile and dockerfile_inline are mutually exclusive",
                        "build", "dockerfile_inline")
    labels = value.get("labels") or {}
    if isinstance(labels, list):
        labels = dict(x.split("=", 1) if "=" in x else (x, "") for x in labels)
    return Build(context=str(value.get("context") or "."),
                 dockerfile=value.get("dockerfile"),
                 dockerfile_inline=value.get("dockerfile_inline"),
                 args={k: (None if v is None else scalar_str(v))
                       for k, v in (value.get("args") or {}).items()},
                 target=value.get("target"),
                 labels={str(k): scalar_str(v) for k, v in labels.items()},
                 **_build_options(value, ctx))


def _build_options(value: dict, ctx: Ctx) -> dict[str, Any]:
    """tags, network, extra_hosts, shm_size, no_cache and pull of a build, checked."""
    from prefect_compose.model.networking import extra_hosts
    from prefect_compose.model.values import size

    out: dict[str, Any] = {}
    if value.get("tags"):
        out["tags"] = tuple(scalar_str(t) for t in value["tags"])
    network = value.get("network")
    if network is not None:
        if network == "host":
            raise ctx.error("a build on the host network reaches the host's services from "
                            "its RUN steps (a host escape): not supported", "build", "network")
        out["network"] = str(network)
    if value.get("extra_hosts") is not None:
        inner = Ctx(ctx.file, f"{ctx.service}.build", ctx.warnings)
        out["extra_hosts"] = tuple(extra_hosts(value["extra_hosts"], inner) or ())
    if value.get("shm_size") is not None:
        out["shm_size"] = size(value["shm_size"], ctx, "build", "shm_size")
    for key in ("no_cache", "pull"):
        if value.get(key) is not None:
            out[key] = boolean(value[key], ctx, "build", key)
    return out


def ports(value: Any, ctx: Ctx) -> tuple[Port, ...]:
    out = []
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ctx.error("must be a list", "ports")
    for i, p in enumerate(value):
        if not isinstance(p, dict):
            raise ctx.error(f"invalid port {p!r}", f"ports[{i}]")
        if p.get("target") in (None, "", 0, "0"):
            raise ctx.error("missing a target port", f"ports[{i}]", "target")
        try:
            target = int(str(p.get("target")))
        except ValueError:
            target = -1
        if not 0 < target <= 65535:
            raise ctx.error(f"invalid container port {p.get('target')!r} (1-65535)",
                            f"ports[{i}]", "target")
        published = p.get("published")
        out.append(Port(target=target,
                        published=None if published in (None, "") else str(published),
                        host_ip=p.get("host_ip") or None, protocol=p.get("protocol") or "tcp"))
    return tuple(out)


def volumes(value: Any, ctx: Ctx, top_volumes: dict, base: Path) -> tuple[Mount, ...]:
    out = []
    for i, v in enumerate(value or []):
        if not isinstance(v, dict):
            raise ctx.error(f"invalid volume {v!r}", f"volumes[{i}]")
        vtype = v.get("type", "volume")
        target = v.get("target")
        if not target:
            raise ctx.error("a mount needs a target path", f"volumes[{i}]")
        source = v.get("source")
        if vtype == "volume" and source and source not in top_volumes:
            raise ctx.error(f'undefined volume "{source}": declare it under top-level volumes',
                            f"volumes[{i}]")
        if vtype == "bind" and source:
            try:
                Path(source).resolve().relative_to(base.resolve())
            except ValueError:
                ctx.warn(f"bind mount {source} is outside the project directory {base}",
                         f"volumes[{i}]")
        out.append(Mount(type=vtype, source=source, target=str(target),
                         read_only=boolean(v.get("read_only", False), ctx, f"volumes[{i}]",
                                           "read_only"),
                         **mount_options(v, vtype, ctx, f"volumes[{i}]")))
    return tuple(out)


def networks(svc: dict, ctx: Ctx, top_networks: dict) -> dict[str, ServiceNetwork]:
    raw = svc.get("networks")
    if raw is None:
        if svc.get("network_mode"):
            return {}
        return {"default": ServiceNetwork()}
    if not isinstance(raw, dict):
        raise ctx.error("must be a list or a mapping", "networks")
    out = {}
    for name, spec in raw.items():
        if name not in top_networks:
            raise ctx.error(f'undefined network "{name}": declare it under top-level networks',
                            "networks", name)
        spec = spec or {}
        if not isinstance(spec, dict):
            raise ctx.error("must be a mapping", "networks", name)
        aliases = spec.get("aliases") or []
        net = top_networks[name]
        out[name] = ServiceNetwork(aliases=tuple(str(a) for a in aliases),
                                   ipv4_address=static_address(
                                       spec.get("ipv4_address"), 4, ctx, name, net,
                                       "ipv4_address"),
                                   ipv6_address=static_address(
                                       spec.get("ipv6_address"), 6, ctx, name, net,
                                       "ipv6_address"),
                                   priority=int(spec.get("priority") or 0),
                                   **endpoint_options(spec, ctx, name))
    return out


def hooks(value: Any, ctx: Ctx) -> tuple[Hook, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ctx.error("must be a list of hooks", "pre_start")
    out = []
    for i, h in enumerate(value):
        where = f"pre_start[{i}]"
        if not isinstance(h, dict):
            raise ctx.error("must be a mapping with a command", where)
        check_keys(h, ("command", "image", "environment", "user", "working_dir", "privileged",
                       "per_replica"), ctx, where)
        cmd = argv(h.get("command"), ctx, where, "command")
        if not cmd:
            raise ctx.error("a hook needs a command", where)
        env = h.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
        out.append(Hook(command=cmd, image=h.get("image"),
                        environment={k: None if v is None else scalar_str(v)
                                     for k, v in env.items()},
                        user=h.get("user"), working_dir=h.get("working_dir"),
                        privileged=boolean(h.get("privileged", False), ctx, where)))
    return tuple(out)


def file_mounts(value: Any, ctx: Ctx, key: str, top: dict) -> tuple[FileMount, ...]:
    out = []
    for i, item in enumerate(value or []):
        if not isinstance(item, dict) or "source" not in item:
            raise ctx.error("must be a name or a mapping with `source`", f"{key}[{i}]")
        src = item["source"]
        if src not in top:
            raise ctx.error(f'undefined {key[:-1]} "{src}": declare it under top-level {key}',
                            f"{key}[{i}]")
        spec = top[src] or {}
        default_target = f"/run/secrets/{src}" if key == "secrets" else f"/{src}"
        target = item.get("target") or default_target
        if key == "secrets" and not str(target).startswith("/"):
            target = f"/run/secrets/{target}"
        if key == "configs" and not str(target).startswith("/"):
            target = f"/{target}"
        if spec.get("file") is not None:
            for k in ("mode", "uid", "gid"):
                if item.get(k) is not None:
                    ctx.warn(f"{k} of a bind-mounted file source is the host file's own, "
                             "ignored", f"{key}[{i}]", k)
        out.append(FileMount(source=src, target=str(target), file=spec.get("file"),
                             content=spec.get("content"), environment=spec.get("environment"),
                             mode=_file_mode(item.get("mode"), ctx, f"{key}[{i}]"),
                             uid=_opt_id(item.get("uid"), ctx, f"{key}[{i}]", "uid"),
                             gid=_opt_id(item.get("gid"), ctx, f"{key}[{i}]", "gid")))
    return tuple(out)


def _file_mode(mode: Any, ctx: Ctx, where: str) -> int | None:
    """`mode: 0440` (an octal number, or a string of octal digits) -> its value."""
    if mode is None:
        return None
    try:
        value = int(mode, 8) if isinstance(mode, str) else integer(mode, ctx, where, "mode")
    except ValueError:
        raise ctx.error(f"invalid file mode {mode!r} (expected octal, e.g. 0440)",
                        where, "mode") from None
    if not 0 <= value <= 0o7777:
        raise ctx.error(f"invalid file mode {mode!r} (expected octal, e.g. 0440)", where, "mode")
    return value


def _opt_id(value: Any, ctx: Ctx, where: str, key: str) -> str | None:
    if value is None:
        return None
    text = scalar_str(value)
    if not text.isdigit():
        raise ctx.error(f"must be a numeric id, not {value!r}", where, key)
    return text


def x_prefect(value: Any, ctx: Ctx) -> XPrefect:
    if value is None:
        return XPrefect()
    xp = mapping(value, ctx, "x-prefect")
    check_keys(xp, ("timeout", "retries", "retry_delay", "healthy_timeout", "schedule",
                    "allow"), ctx, "x-prefect")
    kwargs: dict[str, Any] = {}
    if xp.get("allow") is not None:
        allow = xp["allow"]
        if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
            raise ctx.error("must be a list of host escape names", "x-prefect", "allow")
        for i, name in enumerate(allow):
            if name not in ESCAPE_NAMES:
                raise ctx.error(f'unknown host escape "{name}" (expected one of: '
                                f'{", ".join(ESCAPE_NAMES)})', "x-prefect", f"allow[{i}]")
        kwargs["allow"] = tuple(allow)
    if xp.get("schedule") is not None:
        kwargs["schedule"] = schedule(xp["schedule"], ctx)
    if "timeout" in xp:
        kwargs["timeout_s"] = duration(xp["timeout"], ctx, "x-prefect", "timeout")
    if "healthy_timeout" in xp:
        kwargs["healthy_timeout_s"] = duration(xp["healthy_timeout"], ctx, "x-prefect",
                                               "healthy_timeout")
    if "retry_delay" in xp:
        kwargs["retry_delay_s"] = duration(xp["retry_delay"], ctx, "x-prefect", "retry_delay")
    if "retries" in xp:
        kwargs["retries"] = integer(xp["retries"], ctx, "x-prefect", "retries")
        if kwargs["retries"] < 0:
            raise ctx.error("must be 0 or more", "x-prefect", "retries")
    for key in ("timeout_s", "healthy_timeout_s"):
        if key in kwargs and kwargs[key] <= 0:
            raise ctx.error("must be a positive duration", "x-prefect", key[:-2])
    return XPrefect(**kwargs)


_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,?#LW-]+")


def schedule(value: Any, ctx: Ctx) -> Schedule:
    """A cron string, or {cron, timezone}: five cron fields (or a macro such as @daily) and an
    IANA timezone (default UTC)."""
    if isinstance(value, str):
        value = {"cron": value}
    xs = mapping(value, ctx, "x-prefect", "schedule")
    check_keys(xs, ("cron", "timezone"), ctx, "x-prefect", "schedule")
    cron = xs.get("cron")
    if not isinstance(cron, str) or not cron.strip():
        raise ctx.error("needs a cron string, e.g. \"0 3 * * *\"", "x-prefect", "schedule",
                        "cron")
    cron = " ".join(cron.split())
    fields = cron.split(" ")
    if not (cron in _CRON_MACROS or (len(fields) == 5 and all(_CRON_FIELD.fullmatch(f)
                                                               for f in fields))):
        raise ctx.error(f'invalid cron "{cron}": five fields (minute hour day month weekday) '
                        "or @hourly, @daily, @weekly, @monthly, @yearly", "x-prefect",
                        "schedule", "cron")
    tz = xs.get("timezone") or "UTC"
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(str(tz))
    except (ValueError, KeyError, OSError):
        raise ctx.error(f'unknown timezone "{tz}"', "x-prefect", "schedule",
                        "timezone") from None
    return Schedule(cron=cron, timezone=str(tz))
