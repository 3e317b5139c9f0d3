"""Canonical form of one service, before files are merged: shorthand -> long form
(``environment`` list -> mapping, ``depends_on: [db]`` -> a mapping, port and volume strings
-> mappings) and relative paths -> absolute ones."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

from prefect_compose.errors import InputError
from prefect_compose.load.yamlfile import Override, Reset
from prefect_compose.units import scalar_str



def absolute(value: Any, base: Path) -> Path:
    p = Path(os.path.expanduser(str(value)))
    return p if p.is_absolute() else (base / p).resolve()


def kv_mapping(value: Any, shown: str, where: str, allow_none: bool) -> dict:
    """``[K=V, ...]`` or ``{K: V}`` -> ``{K: "V"}``; a bare ``K`` maps to None (or "")."""
    if value is None:
        return {}
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(v, (Reset, Override)):
                out[str(k)] = v  # resolved when the files are merged
                continue
            if isinstance(v, (dict, list)):
                raise InputError(f"{where}.{k} must be a string, number, boolean or null, "
                                 f"not a {'mapping' if isinstance(v, dict) else 'list'}",
                                 file=shown)
            out[str(k)] = scalar_str(v) if v is not None else (None if allow_none else "")
        return out
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                raise InputError(f"{where}[{i}] must be a string KEY=VALUE", file=shown)
            item = str(item)
            if "=" in item:
                k, v = item.split("=", 1)
                out[k] = v
            else:
                out[item] = None if allow_none else ""
        return out
    raise InputError(f"{where} must be a mapping or a list", file=shown)


def canonical_service(svc: dict, base_dir: Path, shown: str, where: str) -> dict:
    """Shorthand -> long form and relative paths -> absolute, before files are merged."""
    overrides = {k: v for k, v in svc.items() if isinstance(v, (Override, Reset))}
    if overrides:  # `!override VALUE` is made canonical like any value; `!reset` stays
        out = canonical_service({k: v for k, v in svc.items() if k not in overrides},
                                base_dir, shown, where)
        for key, value in overrides.items():
            if isinstance(value, Override):
                value = Override(canonical_service({key: value.value}, base_dir, shown,
                                                   where).get(key))
            out[key] = value
        return out
    out = dict(svc)
    for key in ("environment", "labels", "annotations", "sysctls"):
        if key in out and not isinstance(out[key], (Reset, Override)):
            out[key] = kv_mapping(out[key], shown, f"{where}.{key}",
                                  allow_none=key == "environment")
    if "build" in out:
        out["build"] = _build(out["build"], base_dir, shown, where)
    if "env_file" in out:
        out["env_file"] = _env_files(out["env_file"], base_dir, shown, where)
    if "label_file" in out:
        lf = out["label_file"]
        out["label_file"] = [str(absolute(x, base_dir))
                             for x in (lf if isinstance(lf, list) else [lf])]
    if "depends_on" in out:
        out["depends_on"] = _depends_on(out["depends_on"], shown, where)
    if "networks" in out and isinstance(out["networks"], list):
        out["networks"] = {n: None for n in out["networks"]}
    if "volumes" in out and isinstance(out["volumes"], list):
        out["volumes"] = [_volume(v, base_dir, shown, f"{where}.volumes[{i}]")
                          for i, v in enumerate(out["volumes"])]
    if "ports" in out and isinstance(out["ports"], list):
        out["ports"] = [port for i, p in enumerate(out["ports"])
                        for port in _ports(p, shown, f"{where}.ports[{i}]")]
    for key in ("secrets", "configs"):
        if key in out and isinstance(out[key], list):
            out[key] = [{"source": s} if isinstance(s, str) else s for s in out[key]]
    if "extends" in out and isinstance(out["extends"], dict) and out["extends"].get("file"):
        out["extends"] = {**out["extends"],
                          "file": str(absolute(out["extends"]["file"], base_dir))}
    return out


def _build(b: Any, base_dir: Path, shown: str, where: str) -> Any:
    if isinstance(b, str):
        b = {"context": b}
    if isinstance(b, dict):
        b = dict(b)
        ctx = b.get("context", ".")
        if isinstance(ctx, str) and not re.match(r"^(https?://|git@|github\.com/)", ctx):
            b["context"] = str(absolute(ctx, base_dir))
        if "args" in b:
            b["args"] = kv_mapping(b["args"], shown, f"{where}.build.args", True)
    return b


def _env_files(ef: Any, base_dir: Path, shown: str, where: str) -> list[dict]:
    norm = []
    for item in ef if isinstance(ef, list) else [ef]:
        if isinstance(item, str):
            item = {"path": item, "required": True}
        if isinstance(item, dict) and item.get("path") == "":
            raise InputError("env file path is empty (a variable that is not set?)",
                             file=shown, path=f"{where}.env_file[{len(norm)}]")
        if isinstance(item, dict) and isinstance(item.get("path"), str):
            norm.append({**item, "path": str(absolute(item["path"], base_dir))})
        else:
            raise InputError("entries must be paths or {path, required}", file=shown,
                             path=f"{where}.env_file")
    return norm


def _depends_on(dep: Any, shown: str, where: str) -> Any:
    if isinstance(dep, list):
        for i, d in enumerate(dep):
            if not isinstance(d, str):
                raise InputError("entries must be service names", file=shown,
                                 path=f"{where}.depends_on[{i}]")
        return {d: {"__short__": True} for d in dep}
    if isinstance(dep, dict):
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in dep.items()}
    if dep is not None:
        raise InputError("must be a list of service names or a mapping", file=shown,
                         path=f"{where}.depends_on")
    return dep


def _port_range(text: str) -> tuple[int, int] | None:
    """``8080`` or ``8080-8090`` -> (start, end); None when it is not a valid port range."""
    m = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", text)
    if not m:
        return None
    start, end = int(m.group(1)), int(m.group(2) or m.group(1))
    return (start, end) if start <= end <= 65535 else None


def _port_error(text: str, reason: str, shown: str, where: str) -> InputError:
    return InputError(f'invalid port "{text}": {reason}', file=shown, path=where)


def _ports(p: Any, shown: str, where: str) -> list[dict]:
    """Docker's port spec (``[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]``), checked as
    Compose checks it: protocol tcp/udp/sctp, a valid IP, ports and ranges within 0-65535, a
    container range only with a host range of the same length, a container port other than 0."""
    if isinstance(p, dict):
        return [p]
    if isinstance(p, bool) or not isinstance(p, (str, int)):
        raise InputError(f"invalid port {p!r}", file=shown, path=where)
    text = str(p)
    spec, _, proto = text.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise _port_error(text, f'unknown protocol "{proto}" (tcp, udp or sctp)', shown, where)
    parts = spec.split(":")
    target, pub = parts[-1], (parts[-2] if len(parts) >= 2 else "")
    ip = ":".join(parts[:-2]) if len(parts) >= 3 else ""
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise _port_error(text, f'invalid host IP "{ip}"', shown, where) from None
    t_range = _port_range(target)
    if t_range is None:
        raise _port_error(text, f'invalid container port "{target}" (0-65535 or a range), '
                          "expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]",
                          shown, where)
    p_range = _port_range(pub) if pub else None
    if pub and p_range is None:
        raise _port_error(text, f'invalid host port "{pub}" (0-65535 or a range)', shown, where)
    if t_range[0] == 0:
        raise _port_error(text, "missing a target port (the container port is 0)", shown, where)
    t0, t1 = t_range
    if p_range and p_range[1] - p_range[0] != t1 - t0:
        if t1 != t0:
            raise _port_error(text, f"the container range {target} and the host range {pub} "
                              "differ in length", shown, where)
        return [{"target": t0, "published": pub, "host_ip": ip or None, "protocol": proto}]
    out = []
    for i, t in enumerate(range(t0, t1 + 1)):
        published = str(p_range[0] + i) if p_range else None
        out.append({"target": t, "published": published, "host_ip": ip or None,
                    "protocol": proto})
    return out


def _volume_sections(v: str, shown: str, where: str) -> list[str]:
    """compose-go's ParseVolume: a spec of one or two characters is a target; otherwise every
    section between colons must be non-empty (``${UNSET}:/media`` -> ``:/media`` is an error,
    never a silent anonymous volume) and there are at most three."""
    if not v:
        raise InputError("invalid empty volume spec", file=shown, path=where)
    if len(v) <= 2:
        return [v]
    sections = v.split(":")
    for i, section in enumerate(sections):
        if not section:
            raise InputError(f'invalid volume "{v}": empty section between colons (a variable '
                             "that is not set?)", file=shown, path=where)
        if i == 2 and len(sections) > 3:
            raise InputError(f'invalid volume "{v}": too many colons (expected '
                             "[SOURCE:]TARGET[:MODE])", file=shown, path=where)
    return sections


def _volume(v: Any, base_dir: Path, shown: str, where: str) -> dict:
    if isinstance(v, dict):
        v = dict(v)
        if v.get("type") == "bind" and isinstance(v.get("source"), str):
            v["source"] = str(absolute(v["source"], base_dir))
        return v
    if not isinstance(v, str):
        raise InputError(f"invalid volume {v!r}", file=shown, path=where)
    parts = _volume_sections(v, shown, where)
    if len(parts) == 1:
        return {"type": "volume", "source": None, "target": parts[0]}
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else ""
    out: dict[str, Any] = {"target": target.rstrip("/") or "/"}  # as Compose does
    if source.startswith((".", "/", "~")):
        out["type"] = "bind"
        out["source"] = source if source.startswith("/") else str(absolute(source, base_dir))
    else:
        out["type"] = "volume"
        out["source"] = source
    for option in mode.split(","):  # compose-go's ParseVolume (unknown options ignored)
        if option in ("ro", "rw"):
            out["read_only"] = option == "ro"
        elif option == "nocopy":
            out["volume"] = {"nocopy": True}
        elif option in _PROPAGATIONS:
            out.setdefault("bind", {})["propagation"] = option
        elif option in ("z", "Z"):
            out.setdefault("bind", {})["selinux"] = option
    if out["type"] == "bind":
        out.setdefault("bind", {})["create_host_path"] = True
    elif "bind" in out:  # a bind option on a named volume: compose-go ignores it too
        del out["bind"]
    return out


_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")
