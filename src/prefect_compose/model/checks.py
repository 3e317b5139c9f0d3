"""Values Compose v2 refuses that the model would otherwise pass on to the engine unchecked,
each found by probing ``docker compose config`` (tests/conformance/test_invalid_agree.py) and
refused here with the file, the service and the key path, so nothing fails at run time."""

from __future__ import annotations

import re
from typing import Any

from prefect_compose.model.values import Ctx, integer

# compose-spec's pattern for pull_policy
_PULL_POLICY = re.compile(r"always|never|build|if_not_present|missing|refresh|daily|weekly"
                          r"|every_([0-9]+[wdhms])+")


def check_values(svc: dict, ctx: Ctx) -> None:
    """ulimits, extra_hosts, devices, pull_policy, oom_score_adj, and network_mode with
    networks: the shapes and ranges Compose checks."""
    _ulimits(svc.get("ulimits"), ctx)
    _extra_hosts(svc.get("extra_hosts"), ctx)
    for i, dev in enumerate(svc.get("devices") or []):
        if isinstance(dev, str) and len(dev.split(":")) > 3:
            raise ctx.error(f'confusing device mapping "{dev}": expected '
                            "HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]] or the long syntax",
                            f"devices[{i}]")
    policy = svc.get("pull_policy")
    if policy is not None and not _PULL_POLICY.fullmatch(str(policy)):
        raise ctx.error(f'invalid pull policy "{policy}" (expected always, never, missing, '
                        "build, if_not_present, refresh, daily, weekly or every_<duration>)",
                        "pull_policy")
    adj = svc.get("oom_score_adj")
    if adj is not None and not -1000 <= integer(adj, ctx, "oom_score_adj") <= 1000:
        raise ctx.error(f"must be between -1000 and 1000, not {adj}", "oom_score_adj")
    if svc.get("network_mode") and svc.get("networks") is not None:
        raise ctx.error("network_mode and networks are mutually exclusive: a service on "
                        f'network_mode "{svc["network_mode"]}" joins no networks',
                        "network_mode")


def _ulimits(value: Any, ctx: Ctx) -> None:
    for name, limit in (value or {}).items():
        if isinstance(limit, dict):
            extra = sorted(set(limit) - {"soft", "hard"})
            if extra or "soft" not in limit or "hard" not in limit:
                raise ctx.error("must be a whole number or a mapping with both soft and hard",
                                "ulimits", str(name))
            for key in ("soft", "hard"):
                integer(limit[key], ctx, "ulimits", str(name), key)
        else:
            integer(limit, ctx, "ulimits", str(name))


def _extra_hosts(value: Any, ctx: Ctx) -> None:
    if isinstance(value, dict):
        items = [(f"extra_hosts.{k}", str(k), v) for k, v in value.items()]
    else:
        items = []
        for i, entry in enumerate(value or []):
            host, sep, ip = str(entry).replace("=", ":", 1).partition(":")
            items.append((f"extra_hosts[{i}]", host, ip if sep else None))
    for where, host, ip in items:
        if not ip:
            raise ctx.error(f'invalid additional host "{host}": missing its IP address '
                            '(expected "HOST:IP" or "HOST=IP")', where)


def check_service_refs(svc: dict, ctx: Ctx, services: dict) -> None:
    """``volumes_from``, ``ipc: service:X`` and ``pid: service:X`` name services of the
    project (``container:NAME`` is the engine's business)."""
    refs: list[tuple[str, str]] = []
    for i, entry in enumerate(svc.get("volumes_from") or []):
        entry = str(entry)
        if not entry.startswith("container:"):
            refs.append((entry.split(":", 1)[0], f"volumes_from[{i}]"))
    for key in ("ipc", "pid"):
        mode = svc.get(key)
        if isinstance(mode, str) and mode.startswith("service:"):
            refs.append((mode[8:], key))
    for name in svc.get("links") or []:
        refs.append((str(name).split(":", 1)[0], "links"))
    for name, where in refs:
        if name not in services:
            raise ctx.error(f'unknown service "{name}"', where)
