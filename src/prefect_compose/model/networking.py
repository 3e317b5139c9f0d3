"""A service's networking keys, checked at load time: `network_mode` (and what it excludes),
static addresses on its networks, and `extra_hosts` (as "host:ip" entries the engine takes)."""

from __future__ import annotations

import ipaddress
from typing import Any

from prefect_compose.model.types import Network
from prefect_compose.model.values import Ctx
from prefect_compose.units import scalar_str

# what the engine refuses next to a network namespace shared with another container
_NOT_WITH_SHARED_NAMESPACE = {
    "ports": "port publishing", "expose": "port exposing", "hostname": "a hostname", "extra_hosts": "extra_hosts",
    "dns": "dns", "dns_search": "dns_search", "dns_opt": "dns_opt",
    "mac_address": "a MAC address", "domainname": "a domainname",
}


def network_mode(svc: dict, ctx: Ctx) -> str | None:
    """The checked `network_mode`: service:X / container:X need a name, exclude `networks`
    (as in Compose) and the keys the engine refuses with a shared network namespace."""
    mode = svc.get("network_mode")
    if mode is None:
        return None
    mode = str(mode)
    if not mode:
        raise ctx.error("must not be empty", "network_mode")
    if svc.get("networks") is not None:
        raise ctx.error("network_mode and networks are mutually exclusive (a service with a "
                        "network_mode joins no project network)", "network_mode")
    kind, _, target = mode.partition(":")
    if kind in ("service", "container"):
        if not target:
            raise ctx.error(f'"{mode}" needs a {kind} name ({kind}:NAME)', "network_mode")
        for key, what in _NOT_WITH_SHARED_NAMESPACE.items():
            if svc.get(key):
                raise ctx.error(f"conflicting options: {what} cannot be set on a service "
                                f'that shares the network namespace of "{target}" '
                                f"(network_mode: {mode}); set it on {target}", key)
    return mode


def static_address(value: Any, version: int, ctx: Ctx, net_key: str, net: Network,
                   field: str) -> str | None:
    """A per-network ipv4_address / ipv6_address: a valid address of that version, inside a
    subnet the network declares (the engine only assigns static addresses on networks with a
    user-configured subnet; an external network's subnets are its own business)."""
    if value is None:
        return None
    where = ("networks", net_key, field)
    try:
        addr = ipaddress.ip_address(str(value))
    except ValueError:
        raise ctx.error(f'invalid IP address "{value}"', *where) from None
    if addr.version != version:
        raise ctx.error(f'"{value}" is not an IPv{version} address', *where)
    if net.external:
        return str(addr)
    subnets = [ipaddress.ip_network(p.subnet, strict=False)
               for p in (net.ipam.config if net.ipam else ()) if p.subnet]
    if not any(s.version == version for s in subnets):
        raise ctx.error(f"a static address needs an IPv{version} subnet on the network: set "
                        f"networks.{net_key}.ipam.config[].subnet", *where)
    if not any(s.version == version and addr in s for s in subnets):
        raise ctx.error(f"{addr} is not in any subnet of networks.{net_key} "
                        f"({', '.join(str(s) for s in subnets)})", *where)
    return str(addr)


def endpoint_options(spec: dict, ctx: Ctx, net_key: str) -> dict[str, Any]:
    """`link_local_ips` (addresses checked) and `driver_opts` of one service network."""
    out: dict[str, Any] = {}
    ips = spec.get("link_local_ips") or []
    for i, ip in enumerate(ips):
        try:
            ipaddress.ip_address(str(ip))
        except ValueError:
            raise ctx.error(f'invalid IP address "{ip}"', "networks", net_key,
                            f"link_local_ips[{i}]") from None
    if ips:
        out["link_local_ips"] = tuple(str(ip) for ip in ips)
    opts = spec.get("driver_opts") or {}
    if not isinstance(opts, dict):
        raise ctx.error("must be a mapping", "networks", net_key, "driver_opts")
    if opts:
        out["driver_opts"] = {str(k): scalar_str(v) for k, v in opts.items()}
    return out


def extra_hosts(value: Any, ctx: Ctx) -> list[str] | None:
    """`extra_hosts` (list of host=ip / host:ip, or a mapping host: ip or [ips]) -> the
    engine's "host:ip" entries, each address checked (or the engine's `host-gateway`)."""
    if value is None:
        return None
    pairs: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for host, ips in value.items():
            pairs.extend((str(host), ip) for ip in (ips if isinstance(ips, list) else [ips]))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            text = scalar_str(item)
            sep = "=" if "=" in text else ":"
            host, _, ip = text.partition(sep)
            if not host or not ip:
                raise ctx.error(f'invalid entry "{text}" (expected host=ip)',
                                f"extra_hosts[{i}]")
            pairs.append((host, ip))
    else:
        raise ctx.error("must be a list or a mapping", "extra_hosts")
    out = []
    for host, ip in pairs:
        ip = scalar_str(ip).strip()
        if ip.startswith("[") and ip.endswith("]"):
            ip = ip[1:-1]
        if ip != "host-gateway":
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise ctx.error(f'invalid IP address "{ip}" for host "{host}"',
                                "extra_hosts") from None
        out.append(f"{host}:{ip}")
    return out
