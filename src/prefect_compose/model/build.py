"""The model stage: merged, interpolated YAML -> the frozen ``Project``.

Every key of a service is either honoured (modelled), passed to the engine as it is, known to
Compose but not supported yet (a warning naming it), or unknown (an error). Every error names
the file, the key path and the cause.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from prefect_compose.load.envfile import read_env_file
from prefect_compose.errors import InputError
from prefect_compose.load.project import scalar_str
from prefect_compose.model.types import (
    CONDITIONS,
    Build,
    Dependency,
    FileMount,
    Healthcheck,
    Hook,
    Mount,
    Network,
    Port,
    Project,
    ProjectXPrefect,
    Schedule,
    Service,
    ServiceNetwork,
    Volume,
    XPrefect,
)
from prefect_compose.units import parse_duration, parse_size

# keys handed to the engine unchanged (docker SDK create() keyword of the same meaning)
ENGINE_OPTIONS = {
    "cap_add", "cap_drop", "privileged", "read_only", "tmpfs", "extra_hosts", "sysctls",
    "shm_size", "security_opt", "dns", "dns_search", "dns_opt", "domainname", "group_add",
    "pid", "ipc", "userns_mode", "mac_address", "oom_score_adj", "pids_limit", "ulimits",
    "devices", "runtime", "cpu_shares", "cpuset", "mem_reservation", "memswap_limit",
    "oom_kill_disable",
}
# keys Compose accepts that we do not honour yet: a warning, never silently dropped
NOT_SUPPORTED = {
    "annotations", "attach", "blkio_config", "cgroup", "cgroup_parent", "cpu_count",
    "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime",
    "credential_spec", "develop", "device_cgroup_rules", "external_links", "gpus", "isolation",
    "label_file", "links", "logging", "mem_swappiness", "models", "post_start", "pre_stop",
    "pull_refresh_after", "storage_opt", "use_api_socket", "uts", "volumes_from",
}
RESTART_OK = ("no", "always", "unless-stopped", "on-failure")


class _Ctx:
    def __init__(self, file: str, service: str, warnings: list[str]) -> None:
        self.file = file
        self.service = service
        self.warnings = warnings

    def path(self, *keys: str) -> str:
        return ".".join(("services", self.service, *keys))

    def error(self, message: str, *keys: str) -> InputError:
        return InputError(message, file=self.file, path=self.path(*keys))

    def warn(self, message: str, *keys: str) -> None:
        self.warnings.append(f"{self.file}: {self.path(*keys)}: {message}")


def _strings(value: Any, ctx: _Ctx, *keys: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise ctx.error("must be a string or a list of strings", *keys)
    for i, v in enumerate(value):
        if isinstance(v, (dict, list)) or v is None:
            raise ctx.error(f"item {i} must be a string", *keys)
    return tuple(scalar_str(v) for v in value)


def _argv(value: Any, ctx: _Ctx, *keys: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise ctx.error(f"cannot split command {value!r}: {exc}", *keys) from None
    if isinstance(value, list):
        for i, v in enumerate(value):
            if not isinstance(v, str):
                raise ctx.error(f"item {i} must be a string, not {v!r} (quote it)", *keys)
        return tuple(value)
    raise ctx.error("must be a string or a list of strings", *keys)


def _duration(value: Any, ctx: _Ctx, *keys: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ctx.error(str(exc), *keys) from None


def _bool(value: Any, ctx: _Ctx, *keys: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ctx.error(f"must be true or false, not {value!r}", *keys)


def _int(value: Any, ctx: _Ctx, *keys: str) -> int:
    if isinstance(value, bool):
        raise ctx.error(f"must be a whole number, not {value!r}", *keys)
    try:
        return int(str(value))
    except ValueError:
        raise ctx.error(f"must be a whole number, not {value!r}", *keys) from None


def _mapping(value: Any, ctx: _Ctx, *keys: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ctx.error("must be a mapping", *keys)
    return value


def _check_keys(value: dict, allowed: Iterable[str], ctx: _Ctx, *keys: str) -> None:
    allowed = set(allowed)
    for k in value:
        if k not in allowed and not (isinstance(k, str) and k.startswith("x-")):
            raise ctx.error(f'unknown key "{k}" (expected one of: {", ".join(sorted(allowed))})',
                            *keys)


def _healthcheck(value: Any, ctx: _Ctx) -> Healthcheck | None:
    if value is None:
        return None
    hc = _mapping(value, ctx, "healthcheck")
    _check_keys(hc, ("test", "interval", "timeout", "retries", "start_period",
                     "start_interval", "disable"), ctx, "healthcheck")
    test = hc.get("test")
    disable = _bool(hc.get("disable", False), ctx, "healthcheck", "disable")
    if isinstance(test, str):
        test_t: tuple[str, ...] | None = ("CMD-SHELL", test)
    elif isinstance(test, list):
        test_t = tuple(scalar_str(t) for t in test)
        if not test_t or test_t[0] not in ("NONE", "CMD", "CMD-SHELL"):
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
            kwargs[f"{key}_s"] = _duration(hc[key], ctx, "healthcheck", key)
    if hc.get("retries") is not None:
        kwargs["retries"] = _int(hc["retries"], ctx, "healthcheck", "retries")
    return Healthcheck(**kwargs)


def _depends_on(value: Any, ctx: _Ctx) -> dict[str, Dependency]:
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
        _check_keys(spec, ("condition", "required", "restart", "__short__"), ctx,
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
            required=_bool(spec.get("required", True), ctx, "depends_on", name, "required"),
            restart=_bool(spec.get("restart", False), ctx, "depends_on", name, "restart"))
    return out


def _restart(value: Any, ctx: _Ctx) -> str | None:
    if value is None:
        return None
    if value is False:  # `restart: false`: YAML 1.1's reading of `restart: no`
        return "no"
    text = str(value)
    base, _, count = text.partition(":")
    if base not in RESTART_OK or (count and (base != "on-failure" or not count.isdigit())):
        raise ctx.error(f'invalid restart policy "{text}" (expected "no", "always", '
                        '"on-failure[:N]" or "unless-stopped")', "restart")
    return text


def _build(value: Any, ctx: _Ctx) -> Build | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ctx.error("must be a path or a mapping", "build")
    known = ("context", "dockerfile", "dockerfile_inline", "args", "target", "labels",
             "additional_contexts", "cache_from", "cache_to", "entitlements", "extra_hosts",
             "isolation", "network", "no_cache", "platforms", "privileged", "provenance",
             "pull", "sbom", "secrets", "shm_size", "ssh", "tags", "ulimits")
    _check_keys(value, known, ctx, "build")
    for k in value:
        if k not in ("context", "dockerfile", "dockerfile_inline", "args", "target", "labels") \
                and not str(k).startswith("x-"):
            ctx.warn("not supported yet, ignored", "build", k)
    labels = value.get("labels") or {}
    if isinstance(labels, list):
        labels = dict(x.split("=", 1) if "=" in x else (x, "") for x in labels)
    return Build(context=str(value.get("context") or "."),
                 dockerfile=value.get("dockerfile"),
                 dockerfile_inline=value.get("dockerfile_inline"),
                 args={k: (None if v is None else scalar_str(v))
                       for k, v in (value.get("args") or {}).items()},
                 target=value.get("target"),
                 labels={str(k): scalar_str(v) for k, v in labels.items()})


def _environment(svc: dict, ctx: _Ctx, env: dict[str, str]) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    for i, ef in enumerate(svc.get("env_file") or []):
        path = Path(ef["path"])
        required = ef.get("required", True)
        if not path.is_file():
            if required is False:
                continue
            raise ctx.error(f"env file not found: {path}", f"env_file[{i}]")
        values = read_env_file(path, ctx.file, env)
        for k, v in values.items():
            if v is None and k not in env:
                continue  # a bare KEY that the environment does not set: left out (Compose)
            result[k] = env.get(k) if v is None else v
    for k, v in (svc.get("environment") or {}).items():
        result[k] = env.get(k) if v is None else v
    return result


def _ports(value: Any, ctx: _Ctx) -> tuple[Port, ...]:
    out = []
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ctx.error("must be a list", "ports")
    for i, p in enumerate(value):
        if not isinstance(p, dict):
            raise ctx.error(f"invalid port {p!r}", f"ports[{i}]")
        try:
            target = int(str(p.get("target")))
        except ValueError:
            raise ctx.error(f"invalid container port {p.get('target')!r}", f"ports[{i}]") from None
        published = p.get("published")
        out.append(Port(target=target,
                        published=None if published in (None, "") else str(published),
                        host_ip=p.get("host_ip") or None, protocol=p.get("protocol") or "tcp"))
    return tuple(out)


def _volumes(value: Any, ctx: _Ctx, top_volumes: dict, base: Path) -> tuple[Mount, ...]:
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
        try:
            out.append(Mount(type=vtype, source=source, target=str(target),
                             read_only=bool(v.get("read_only", False))))
        except ValidationError:
            raise ctx.error(f'invalid mount type "{vtype}"', f"volumes[{i}]") from None
    return tuple(out)


def _networks(svc: dict, ctx: _Ctx, top_networks: dict) -> dict[str, ServiceNetwork]:
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
        out[name] = ServiceNetwork(aliases=tuple(str(a) for a in aliases),
                                   ipv4_address=spec.get("ipv4_address"),
                                   ipv6_address=spec.get("ipv6_address"),
                                   priority=int(spec.get("priority") or 0))
    return out


def _hooks(value: Any, ctx: _Ctx) -> tuple[Hook, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ctx.error("must be a list of hooks", "pre_start")
    hooks = []
    for i, h in enumerate(value):
        where = f"pre_start[{i}]"
        if not isinstance(h, dict):
            raise ctx.error("must be a mapping with a command", where)
        _check_keys(h, ("command", "image", "environment", "user", "working_dir", "privileged"),
                    ctx, where)
        cmd = _argv(h.get("command"), ctx, where, "command")
        if not cmd:
            raise ctx.error("a hook needs a command", where)
        env = h.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
        hooks.append(Hook(command=cmd, image=h.get("image"),
                          environment={k: None if v is None else scalar_str(v)
                                       for k, v in env.items()},
                          user=h.get("user"), working_dir=h.get("working_dir"),
                          privileged=_bool(h.get("privileged", False), ctx, where)))
    return tuple(hooks)


def _x_prefect(value: Any, ctx: _Ctx) -> XPrefect:
    if value is None:
        return XPrefect()
    xp = _mapping(value, ctx, "x-prefect")
    _check_keys(xp, ("timeout", "retries", "retry_delay", "healthy_timeout", "schedule"), ctx,
                "x-prefect")
    kwargs: dict[str, Any] = {}
    if xp.get("schedule") is not None:
        kwargs["schedule"] = _schedule(xp["schedule"], ctx)
    if "timeout" in xp:
        kwargs["timeout_s"] = _duration(xp["timeout"], ctx, "x-prefect", "timeout")
    if "healthy_timeout" in xp:
        kwargs["healthy_timeout_s"] = _duration(xp["healthy_timeout"], ctx, "x-prefect",
                                                "healthy_timeout")
    if "retry_delay" in xp:
        kwargs["retry_delay_s"] = _duration(xp["retry_delay"], ctx, "x-prefect", "retry_delay")
    if "retries" in xp:
        kwargs["retries"] = _int(xp["retries"], ctx, "x-prefect", "retries")
        if kwargs["retries"] < 0:
            raise ctx.error("must be 0 or more", "x-prefect", "retries")
    for key in ("timeout_s", "healthy_timeout_s"):
        if key in kwargs and kwargs[key] <= 0:
            raise ctx.error("must be a positive duration", "x-prefect", key[:-2])
    return XPrefect(**kwargs)


_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,?#LW-]+")


def _schedule(value: Any, ctx: _Ctx) -> Schedule:
    """A cron string, or {cron, timezone}: five cron fields (or a macro such as @daily) and an
    IANA timezone (default UTC)."""
    if isinstance(value, str):
        value = {"cron": value}
    xs = _mapping(value, ctx, "x-prefect", "schedule")
    _check_keys(xs, ("cron", "timezone"), ctx, "x-prefect", "schedule")
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


def _file_mounts(value: Any, ctx: _Ctx, key: str, top: dict) -> tuple[FileMount, ...]:
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
        mode = item.get("mode")
        out.append(FileMount(source=src, target=str(target), file=spec.get("file"),
                             content=spec.get("content"), environment=spec.get("environment"),
                             mode=int(mode, 8) if isinstance(mode, str) else mode))
    return tuple(out)


def _service(name: str, svc: dict, project: dict, env: dict[str, str], base: Path,
             warnings: list[str]) -> Service:
    file = svc.pop("__file__", "compose.yaml")
    ctx = _Ctx(file, name, warnings)
    # unknown keys and wrong shapes were rejected per file (schema.check_service)
    for key in svc:
        if key in NOT_SUPPORTED:
            ctx.warn("not supported yet, ignored", key)

    provider = svc.get("provider")
    if provider is not None and not isinstance(provider, dict):
        raise ctx.error("must be a mapping with a type", "provider")
    image = svc.get("image")
    if image is not None and not isinstance(image, str):
        raise ctx.error("must be a string", "image")
    build = _build(svc.get("build"), ctx)
    if not image and not build and provider is None:
        raise ctx.error("has neither an image nor a build context specified")
    for i, ef in enumerate(svc.get("env_file") or []):
        try:
            Path(ef["path"]).resolve().relative_to(base.resolve())
        except ValueError:
            ctx.warn(f"env file {ef['path']} is outside the project directory {base}",
                     f"env_file[{i}]")

    deploy = _mapping(svc.get("deploy"), ctx, "deploy")
    limits = _mapping(_mapping(deploy.get("resources"), ctx, "deploy", "resources").get("limits"),
                      ctx, "deploy", "resources", "limits")
    cpus = svc.get("cpus", limits.get("cpus"))
    try:
        cpus_f = None if cpus is None else float(cpus)
    except (TypeError, ValueError):
        raise ctx.error(f"invalid cpus {cpus!r}", "cpus") from None
    mem = svc.get("mem_limit", limits.get("memory"))
    try:
        mem_b = None if mem is None else parse_size(mem)
    except ValueError as exc:
        raise ctx.error(str(exc), "mem_limit") from None
    for key in deploy:
        if key not in ("resources", "replicas") and not str(key).startswith("x-"):
            ctx.warn("not supported yet, ignored", "deploy", key)
    scale = svc.get("scale", deploy.get("replicas", 1))
    scale_i = _int(scale if scale is not None else 1, ctx, "scale")
    if scale_i != 1:
        ctx.warn(f"{scale_i} replicas requested; prefect-compose runs one container per "
                 "service (scaling is not supported yet)", "scale")

    engine_options = {k: v for k, v in svc.items() if k in ENGINE_OPTIONS}
    labels = svc.get("labels") or {}
    profiles = _strings(svc.get("profiles") or [], ctx, "profiles")
    stop_grace = _duration(svc["stop_grace_period"], ctx, "stop_grace_period") \
        if svc.get("stop_grace_period") is not None else 10.0
    init = svc.get("init")
    expose = svc.get("expose") or []
    if not isinstance(expose, list):
        raise ctx.error("must be a list", "expose")
    try:
        return Service(
            name=name, source_file=file, image=image, build=build, provider=provider,
            command=_argv(svc.get("command"), ctx, "command"),
            entrypoint=_argv(svc.get("entrypoint"), ctx, "entrypoint"),
            environment=_environment(svc, ctx, env),
            working_dir=svc.get("working_dir"), user=_opt_str(svc.get("user")),
            hostname=svc.get("hostname"), container_name=svc.get("container_name"),
            labels={str(k): ("" if v is None else str(v)) for k, v in labels.items()},
            ports=_ports(svc.get("ports"), ctx),
            expose=tuple(str(e) for e in expose),
            volumes=_volumes(svc.get("volumes"), ctx, project.get("volumes") or {}, base),
            networks=_networks(svc, ctx, project["__networks__"]),
            network_mode=svc.get("network_mode"),
            healthcheck=_healthcheck(svc.get("healthcheck"), ctx),
            depends_on=_implied_dependencies(svc, _depends_on(svc.get("depends_on"), ctx)),
            restart=_restart(svc.get("restart"), ctx),
            pre_start=_hooks(svc.get("pre_start"), ctx),
            stop_signal=svc.get("stop_signal"),
            stop_grace_period_s=stop_grace,
            cpus=cpus_f, mem_limit=mem_b, profiles=profiles,
            platform=svc.get("platform"), pull_policy=svc.get("pull_policy"),
            secrets=_file_mounts(svc.get("secrets"), ctx, "secrets", project.get("secrets") or {}),
            configs=_file_mounts(svc.get("configs"), ctx, "configs", project.get("configs") or {}),
            init=None if init is None else _bool(init, ctx, "init"),
            tty=_bool(svc.get("tty", False), ctx, "tty"),
            stdin_open=_bool(svc.get("stdin_open", False), ctx, "stdin_open"),
            scale=scale_i, engine_options=engine_options,
            x_prefect=_x_prefect(svc.get("x-prefect"), ctx),
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ctx.error(err["msg"], *(str(x) for x in err["loc"])) from None


def _implied_dependencies(svc: dict, deps: dict[str, Dependency]) -> dict[str, Dependency]:
    """`network_mode: service:X` and `links: [X]` make X a dependency, as in Compose."""
    out = dict(deps)
    mode = svc.get("network_mode") or ""
    if mode.startswith("service:"):
        out.setdefault(mode.split(":", 1)[1], Dependency(restart=True))
    for link in svc.get("links") or []:
        out.setdefault(str(link).split(":", 1)[0], Dependency())
    return out


def _opt_str(value: Any) -> str | None:
    return None if value is None else scalar_str(value)


def _top_resources(doc: dict, section: str, project: str, file: str) -> dict[str, dict]:
    """Top-level networks or volumes: engine name (PROJECT_key unless `name:` or external),
    external, driver, labels and driver options, shared by both kinds."""
    raw = doc.get(section) or {}
    if not isinstance(raw, dict):
        raise InputError("must be a mapping", file=file, path=section)
    out = {}
    for key, spec in raw.items():
        spec = spec or {}
        if not isinstance(spec, dict):
            raise InputError("must be a mapping", file=file, path=f"{section}.{key}")
        external = spec.get("external", False)
        if isinstance(external, dict):  # legacy `external: {name: x}`
            spec = {**spec, "name": external.get("name", spec.get("name"))}
            external = True
        labels = spec.get("labels") or {}
        if isinstance(labels, list):
            labels = dict(x.split("=", 1) if "=" in x else (x, "") for x in labels)
        out[key] = {
            "name": str(spec.get("name") or (key if external else f"{project}_{key}")),
            "external": bool(external), "driver": spec.get("driver"),
            "labels": {str(k): str(v) for k, v in labels.items()},
            "driver_opts": {str(k): str(v) for k, v in (spec.get("driver_opts") or {}).items()},
            "internal": bool(spec.get("internal", False)),
        }
    return out


def _top_networks(doc: dict, project: str, file: str) -> dict[str, Network]:
    out = {} if "default" in (doc.get("networks") or {}) else {
        "default": Network(name=f"{project}_default")}
    for key, fields in _top_resources(doc, "networks", project, file).items():
        out[key] = Network(**fields)
    return out


def _top_volumes(doc: dict, project: str, file: str) -> dict[str, Volume]:
    return {key: Volume(**{k: v for k, v in fields.items() if k != "internal"})
            for key, fields in _top_resources(doc, "volumes", project, file).items()}


def _top_x_prefect(doc: dict, file: str) -> ProjectXPrefect:
    xp = doc.get("x-prefect")
    if xp is None:
        return ProjectXPrefect()
    if not isinstance(xp, dict):
        raise InputError("must be a mapping", file=file, path="x-prefect")
    for k in xp:
        if k not in ("job_timeout", "concurrency", "secrets"):  # secrets: load/secrets.py
            raise InputError(f'unknown key "{k}" (expected job_timeout, concurrency or '
                             'secrets)',
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
    return ProjectXPrefect(**kwargs)


def build_project(doc: dict, *, name: str, working_dir: Path, files: list[str],
                  env: dict[str, str], active_profiles: set[str],
                  warnings: list[str]) -> Project:
    file = files[0]
    services_raw: dict[str, dict] = dict(doc.get("services") or {})
    enabled, disabled = {}, []
    for sname, svc in services_raw.items():
        profiles = svc.get("profiles") or []
        if isinstance(profiles, str):
            profiles = [profiles]
        if not profiles or "*" in active_profiles or set(profiles) & active_profiles:
            enabled[sname] = svc
        else:
            disabled.append(sname)
    networks = _top_networks(doc, name, file)
    volumes = _top_volumes(doc, name, file)
    project_raw = {**doc, "__networks__": networks}
    services = {}
    for sname in sorted(enabled):
        services[sname] = _service(sname, dict(enabled[sname]), project_raw, env, working_dir,
                                   warnings)
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
        for dep, spec in svc.depends_on.items():
            if dep in disabled and not spec.required:
                continue  # an optional dependency switched off by profiles: Compose keeps it
            if dep not in services:
                why = " (disabled by its profiles)" if dep in disabled else ""
                raise InputError(f'unknown service "{dep}"{why}', file=svc.source_file,
                                 path=f"services.{sname}.depends_on.{dep}")
    return Project(
        name=name, working_dir=str(working_dir), files=tuple(files), services=services,
        networks=networks, volumes=volumes,
        secrets={k: v or {} for k, v in (doc.get("secrets") or {}).items()},
        configs={k: v or {} for k, v in (doc.get("configs") or {}).items()},
        x_prefect=_top_x_prefect(doc, file), warnings=tuple(warnings),
        disabled_services=tuple(sorted(disabled)))
