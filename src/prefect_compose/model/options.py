"""The per-service keys passed straight to the engine (``Service.engine_options``): each
value checked and put in one typed form here, so ``plan.containers`` only renames fields.

Forms: sizes in bytes; ``ulimits`` {name: (soft, hard)}; ``devices`` a list of
{source, target, permissions}; ``tmpfs`` a list of "path[:options]"; ``sysctls`` and
``storage_opt`` {str: str}; list keys tuples of strings; ``cpu_rt_*`` microseconds;
``security_opt`` with a seccomp profile file replaced by its contents (as the docker CLI
and Compose do); ``logging`` {driver, options}.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from prefect_compose.model import networking
from prefect_compose.model.values import Ctx, boolean, integer, mapping, size, strings
from prefect_compose.units import parse_duration, scalar_str

SIZE = ("shm_size", "mem_reservation", "memswap_limit")  # bytes
INT = ("oom_score_adj", "pids_limit", "cpu_shares", "cpu_period", "cpu_quota",
       "mem_swappiness")
BOOL = ("privileged", "read_only", "oom_kill_disable")
STRS = ("cap_add", "cap_drop", "dns", "dns_search", "dns_opt", "group_add",
        "device_cgroup_rules")
STR = ("domainname", "pid", "ipc", "userns_mode", "mac_address", "runtime", "cpuset",
       "cgroup", "cgroup_parent", "uts")
MICROSECONDS = ("cpu_rt_period", "cpu_rt_runtime")  # a number of µs, or a duration
OTHER = ("ulimits", "devices", "tmpfs", "sysctls", "storage_opt", "security_opt",
         "extra_hosts", "logging")
ENGINE_OPTIONS = frozenset((*SIZE, *INT, *BOOL, *STRS, *STR, *MICROSECONDS, *OTHER))
_RANGES = {"oom_score_adj": (-1000, 1000), "mem_swappiness": (0, 100)}


def engine_options(svc: dict, ctx: Ctx, base: Path) -> dict[str, Any]:
    """The engine keys ``svc`` sets, checked and typed (None values left out)."""
    out: dict[str, Any] = {}
    for key, value in svc.items():
        if key not in ENGINE_OPTIONS or value is None:
            continue
        if key in SIZE:
            out[key] = size(value, ctx, key)
        elif key in INT:
            out[key] = integer(value, ctx, key)
            low, high = _RANGES.get(key, (None, None))
            if low is not None and not low <= out[key] <= high:
                raise ctx.error(f"must be between {low} and {high}, not {out[key]}", key)
        elif key in BOOL:
            out[key] = boolean(value, ctx, key)
        elif key in STRS:
            out[key] = strings(value, ctx, key)
        elif key in STR:
            out[key] = scalar_str(value)
        elif key in MICROSECONDS:
            out[key] = _microseconds(value, ctx, key)
        else:
            out[key] = _OTHER[key](value, ctx, base)
            if out[key] is None:
                del out[key]
    if out.get("cgroup") not in (None, "host", "private"):
        raise ctx.error(f'must be "host" or "private", not "{out["cgroup"]}"', "cgroup")
    return out


def _microseconds(value: Any, ctx: Ctx, key: str) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        return round(parse_duration(text) * 1_000_000)
    except ValueError as exc:
        raise ctx.error(str(exc), key) from None


def _ulimits(value: Any, ctx: Ctx, base: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for name, limit in mapping(value, ctx, "ulimits").items():
        if not re.fullmatch(r"[a-z]+", str(name)):
            raise ctx.error(f'invalid ulimit name "{name}"', "ulimits")
        if isinstance(limit, dict):
            for k in limit:
                if k not in ("soft", "hard"):
                    raise ctx.error(f'unknown key "{k}" (expected soft and hard)',
                                    "ulimits", name)
            if "soft" not in limit or "hard" not in limit:
                raise ctx.error("needs both soft and hard", "ulimits", name)
            soft = integer(limit["soft"], ctx, "ulimits", name, "soft")
            hard = integer(limit["hard"], ctx, "ulimits", name, "hard")
        else:
            soft = hard = integer(limit, ctx, "ulimits", name)
        if soft > hard and hard != -1:
            raise ctx.error(f"soft limit {soft} is above the hard limit {hard}", "ulimits", name)
        out[str(name)] = (soft, hard)
    return out


def _devices(value: Any, ctx: Ctx, base: Path) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise ctx.error("must be a list", "devices")
    out = []
    for i, dv in enumerate(value):
        where = f"devices[{i}]"
        if isinstance(dv, dict):
            source, target = dv.get("source"), dv.get("target") or dv.get("source")
            perms = dv.get("permissions") or "rwm"
        elif isinstance(dv, str):
            parts = dv.split(":")
            if len(parts) > 3:
                raise ctx.error(f'invalid device "{dv}": expected HOST[:CONTAINER[:PERMS]]',
                                where)
            source = parts[0]
            target = parts[1] if len(parts) > 1 else source
            perms = parts[2] if len(parts) > 2 else "rwm"
            if len(parts) == 2 and re.fullmatch(r"[rwm]{1,3}", target):  # HOST:PERMS
                target, perms = source, parts[1]
        else:
            raise ctx.error(f"invalid device {dv!r}", where)
        if not isinstance(source, str) or not source.startswith("/"):
            continue  # a CDI device name: the key table warns about it
        if not isinstance(target, str) or not target.startswith("/"):
            raise ctx.error(f'the container path "{target}" must be absolute', where)
        if not re.fullmatch(r"[rwm]{1,3}", str(perms)):
            raise ctx.error(f'invalid permissions "{perms}": a combination of r, w and m',
                            where)
        out.append({"source": source, "target": target, "permissions": str(perms)})
    return out


def _tmpfs(value: Any, ctx: Ctx, base: Path) -> tuple[str, ...]:
    items = strings(value, ctx, "tmpfs")
    for i, item in enumerate(items):
        if not item.startswith("/"):
            raise ctx.error(f'"{item}": the mount path must be absolute', f"tmpfs[{i}]")
    return items


def _str_map(key: str) -> Any:
    def convert(value: Any, ctx: Ctx, base: Path) -> dict[str, str]:
        return {str(k): "" if v is None else scalar_str(v)
                for k, v in mapping(value, ctx, key).items()}
    return convert


def _security_opt(value: Any, ctx: Ctx, base: Path) -> tuple[str, ...]:
    out = []
    for i, opt in enumerate(strings(value, ctx, "security_opt")):
        name, sep, arg = opt.replace(":", "=", 1).partition("=") if "=" not in opt else (
            opt.partition("="))
        if name == "seccomp" and sep and arg not in ("unconfined", "builtin", ""):
            path = Path(arg) if Path(arg).is_absolute() else base / arg
            try:
                arg = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ctx.error(f"cannot read the seccomp profile {arg}: {exc.strerror}",
                                f"security_opt[{i}]") from None
        out.append(f"{name}{sep}{arg}" if sep else opt)
    return tuple(out)


def _extra_hosts(value: Any, ctx: Ctx, base: Path) -> tuple[str, ...] | None:
    hosts = networking.extra_hosts(value, ctx)  # "host:ip" entries, addresses checked
    return None if hosts is None else tuple(hosts)


def _logging(value: Any, ctx: Ctx, base: Path) -> dict[str, Any] | None:
    """``driver: none`` is not passed (the key table warns): prefect-compose reads every
    container's output to show it and keep it in Prefect."""
    log = mapping(value, ctx, "logging")
    if log.get("driver") == "none":
        return None
    options = {str(k): "" if v is None else scalar_str(v)
               for k, v in mapping(log.get("options"), ctx, "logging", "options").items()}
    driver = log.get("driver")
    return {"driver": None if driver is None else str(driver), "options": options}


_OTHER = {"ulimits": _ulimits, "devices": _devices, "tmpfs": _tmpfs,
          "sysctls": _str_map("sysctls"), "storage_opt": _str_map("storage_opt"),
          "security_opt": _security_opt, "extra_hosts": _extra_hosts, "logging": _logging}
