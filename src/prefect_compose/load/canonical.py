"""Canonical form of one service, before files are merged: shorthand -> long form
(``environment`` list -> mapping, ``depends_on: [db]`` -> a mapping, port and volume strings
-> mappings) and relative paths -> absolute ones."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from prefect_compose.errors import InputError
from prefect_compose.load.yamlfile import Override, Reset
from prefect_compose.units import scalar_str

_PORT = re.compile(
    r"^(?:(?:(?P<ip>\[[^\]]+\]|[0-9.]+|[^:]*):)??(?P<pub>[0-9]+(?:-[0-9]+)?|):)?"
    r"(?P<target>[0-9]+(?:-[0-9]+)?)(?:/(?P<proto>[a-z]+))?$")


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


def _ports(p: Any, shown: str, where: str) -> list[dict]:
    if isinstance(p, dict):
        return [p]
    if isinstance(p, bool) or not isinstance(p, (str, int)):
        raise InputError(f"invalid port {p!r}", file=shown, path=where)
    text = str(p)
    m = _PORT.match(text)
    if not m:
        raise InputError(f'invalid port "{text}": expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT'
                         "[/PROTOCOL]", file=shown, path=where)
    target, pub = m.group("target"), m.group("pub")
    ip = (m.group("ip") or "").strip("[]") or None
    proto = m.group("proto") or "tcp"
    t0, t1 = (int(x) for x in (target.split("-") * 2)[:2]) if "-" in target else (
        int(target), int(target))
    if pub and "-" in pub and "-" not in target:
        return [{"target": t0, "published": pub, "host_ip": ip, "protocol": proto}]
    p0, p1 = (pub.split("-") * 2)[:2] if pub and "-" in pub else (pub, pub)
    out = []
    for i, t in enumerate(range(t0, t1 + 1)):
        published = str(int(p0) + i) if pub else None
        out.append({"target": t, "published": published, "host_ip": ip, "protocol": proto})
    return out


def _volume(v: Any, base_dir: Path, shown: str, where: str) -> dict:
    if isinstance(v, dict):
        v = dict(v)
        if v.get("type") == "bind" and isinstance(v.get("source"), str):
            v["source"] = str(absolute(v["source"], base_dir))
        return v
    if not isinstance(v, str):
        raise InputError(f"invalid volume {v!r}", file=shown, path=where)
    parts = v.split(":")
    if len(parts) == 1:
        return {"type": "volume", "source": None, "target": parts[0]}
    if len(parts) > 3:
        raise InputError(f'invalid volume "{v}": expected [SOURCE:]TARGET[:MODE]', file=shown,
                         path=where)
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else ""
    out: dict[str, Any] = {"target": target.rstrip("/") or "/"}  # as Compose does
    if source.startswith((".", "/", "~")):
        out["type"] = "bind"
        out["source"] = source if source.startswith("/") else str(absolute(source, base_dir))
    else:
        out["type"] = "volume"
        out["source"] = source
    if "ro" in mode.split(","):
        out["read_only"] = True
    return out
