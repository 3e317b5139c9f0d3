"""Top-level networks and volumes: canonical YAML -> ``Network`` / ``Volume``, every value
checked here (addresses parsed, conflicting keys refused), so the engine gets exactly what the
file asks for and a bad value is an input error (exit 2) before anything is created."""

from __future__ import annotations

import ipaddress
from typing import Any

from prefect_compose.errors import InputError
from prefect_compose.model.types import Ipam, IpamPool, Network, Volume
from prefect_compose.units import scalar_str

# keys that describe how to create a resource: meaningless (and refused, as in Compose) on an
# external one, which must already exist
_CREATE_KEYS = ("driver", "driver_opts", "ipam", "internal", "attachable", "enable_ipv6",
                "enable_ipv4", "labels")


def top_networks(doc: dict, project: str, file: str) -> dict[str, Network]:
    out = {} if "default" in (doc.get("networks") or {}) else {
        "default": Network(name=f"{project}_default")}
    for key, (fields, spec) in _top_resources(doc, "networks", project, file).items():
        where = f"networks.{key}"
        fields["internal"] = _bool(spec.get("internal", False), file, f"{where}.internal")
        fields["attachable"] = _bool(spec.get("attachable", False), file, f"{where}.attachable")
        fields["enable_ipv6"] = _bool(spec.get("enable_ipv6", False), file,
                                      f"{where}.enable_ipv6")
        if not _bool(spec.get("enable_ipv4", True), file, f"{where}.enable_ipv4"):
            raise InputError("enable_ipv4: false (an IPv6-only network) needs Docker Engine "
                             "API 1.47; this engine speaks 1.41", file=file,
                             path=f"{where}.enable_ipv4")
        if spec.get("ipam") is not None:
            fields["ipam"] = _ipam(spec["ipam"], file, f"{where}.ipam")
        out[key] = Network(**fields)
    return out


def top_volumes(doc: dict, project: str, file: str) -> dict[str, Volume]:
    return {key: Volume(**fields)
            for key, (fields, _) in _top_resources(doc, "volumes", project, file).items()}


def _top_resources(doc: dict, section: str, project: str,
                   file: str) -> dict[str, tuple[dict[str, Any], dict]]:
    """Top-level networks or volumes: (the fields both kinds share, the raw spec) by key.
    The engine name is PROJECT_key unless `name:` or external."""
    raw = doc.get(section) or {}
    if not isinstance(raw, dict):
        raise InputError("must be a mapping", file=file, path=section)
    out = {}
    for key, spec in raw.items():
        spec = spec or {}
        where = f"{section}.{key}"
        if not isinstance(spec, dict):
            raise InputError("must be a mapping", file=file, path=where)
        external = spec.get("external", False)
        if isinstance(external, dict):  # legacy `external: {name: x}`
            spec = {**spec, "name": external.get("name", spec.get("name"))}
            external = True
        external = _bool(external, file, f"{where}.external")
        if external:
            for k in _CREATE_KEYS:
                if spec.get(k) not in (None, False, {}, []) or (k == "enable_ipv4"
                                                               and k in spec):
                    raise InputError(f'conflicting parameters "external" and "{k}": an '
                                     f"external {section[:-1]} must already exist, it is "
                                     "never created", file=file, path=f"{where}.{k}")
        labels = spec.get("labels") or {}
        if isinstance(labels, list):
            labels = dict(x.split("=", 1) if "=" in x else (x, "") for x in labels)
        driver = spec.get("driver")
        out[key] = ({
            "name": str(spec.get("name") or (key if external else f"{project}_{key}")),
            "external": external, "driver": None if driver is None else str(driver),
            "labels": {str(k): scalar_str(v) for k, v in labels.items()},
            "driver_opts": {str(k): scalar_str(v)
                            for k, v in (spec.get("driver_opts") or {}).items()},
        }, spec)
    return out


def _bool(value: Any, file: str, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InputError(f"must be true or false, not {value!r}", file=file, path=path)


def _ipam(value: Any, file: str, where: str) -> Ipam:
    if not isinstance(value, dict):
        raise InputError("must be a mapping", file=file, path=where)
    for k in value:
        if k not in ("driver", "config", "options") and not str(k).startswith("x-"):
            raise InputError(f'unknown key "{k}" (expected driver, config or options)',
                             file=file, path=f"{where}.{k}")
    config = value.get("config") or []
    if not isinstance(config, list):
        raise InputError("must be a list", file=file, path=f"{where}.config")
    pools = tuple(_pool(p, file, f"{where}.config[{i}]") for i, p in enumerate(config))
    options = value.get("options") or {}
    if not isinstance(options, dict):
        raise InputError("must be a mapping", file=file, path=f"{where}.options")
    driver = value.get("driver")
    return Ipam(driver=None if driver is None else str(driver), config=pools,
                options={str(k): scalar_str(v) for k, v in options.items()})


def _pool(value: Any, file: str, where: str) -> IpamPool:
    if not isinstance(value, dict):
        raise InputError("must be a mapping", file=file, path=where)
    for k in value:
        if k not in ("subnet", "ip_range", "gateway", "aux_addresses") and \
                not str(k).startswith("x-"):
            raise InputError(f'unknown key "{k}" (expected subnet, ip_range, gateway or '
                             "aux_addresses)", file=file, path=f"{where}.{k}")
    subnet = _net(value.get("subnet"), file, f"{where}.subnet")
    ip_range = _net(value.get("ip_range"), file, f"{where}.ip_range")
    gateway = _addr(value.get("gateway"), file, f"{where}.gateway")
    aux = value.get("aux_addresses") or {}
    if not isinstance(aux, dict):
        raise InputError("must be a mapping of host name to address", file=file,
                         path=f"{where}.aux_addresses")
    aux_out = {str(k): _addr(v, file, f"{where}.aux_addresses.{k}") for k, v in aux.items()}
    if subnet is not None:
        net = ipaddress.ip_network(subnet, strict=False)
        for path, addr in [(f"{where}.gateway", gateway),
                           *((f"{where}.aux_addresses.{k}", v) for k, v in aux_out.items())]:
            if addr is not None and ipaddress.ip_address(addr) not in net:
                raise InputError(f"{addr} is not in the subnet {subnet}", file=file, path=path)
        rng = None if ip_range is None else ipaddress.ip_network(ip_range, strict=False)
        if rng is not None and (rng.version != net.version
                                or not rng.subnet_of(net)):  # type: ignore[arg-type]
            raise InputError(f"{ip_range} is not inside the subnet {subnet}", file=file,
                             path=f"{where}.ip_range")
    return IpamPool(subnet=subnet, ip_range=ip_range, gateway=gateway, aux_addresses=aux_out)


def _net(value: Any, file: str, path: str) -> str | None:
    if value is None:
        return None
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise InputError(f'invalid subnet "{value}" (expected CIDR, e.g. 172.28.0.0/16)',
                         file=file, path=path) from None
    return str(value)


def _addr(value: Any, file: str, path: str) -> str | None:
    if value is None:
        return None
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        raise InputError(f'invalid IP address "{value}"', file=file, path=path) from None
    return str(value)
