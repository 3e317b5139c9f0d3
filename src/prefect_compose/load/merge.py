"""Merge canonical documents in order (``-f a -f b``, include, extends) as Compose does:
mappings merge key by key, most lists extend, ``command``/``entrypoint``/``test`` are
replaced, ``volumes`` merge by target, ``secrets``/``configs`` by source; ``!reset`` drops a
key and ``!override`` replaces it."""

from __future__ import annotations

from typing import Any

from prefect_compose.load.yamlfile import Override, Reset

# lists whose override replaces the base instead of extending it
_REPLACED_LISTS = {"command", "entrypoint", "test"}


def merge_docs(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if key == "services":
            services = dict(out.get("services") or {})
            for name, svc in (value or {}).items():
                if name in services:
                    merged = merge_service(services[name], svc)
                    merged["__file__"] = services[name].get("__file__", svc.get("__file__"))
                    services[name] = merged
                else:
                    services[name] = svc
            out["services"] = services
        elif key in out and isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = _merge_value(key, out[key], value)
        else:
            out[key] = value
    return out


def merge_service(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Reset):
            out.pop(key, None)
        elif isinstance(value, Override):
            out[key] = value.value
        elif key not in out or out[key] is None:
            out[key] = value
        elif key == "volumes" and isinstance(value, list) and isinstance(out[key], list):
            out[key] = _merge_by(out[key], value, "target")
        elif key == "depends_on" and isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = _merge_depends_on(out[key], value)
        elif key in ("secrets", "configs") and isinstance(value, list):
            out[key] = _merge_by(out[key], value, "source")
        else:
            out[key] = _merge_value(key, out[key], value)
    return out


def _merge_by(base: list, over: list, field: str) -> list:
    by_key = {(v.get(field) if isinstance(v, dict) else v): v for v in base}
    for v in over:
        by_key[v.get(field) if isinstance(v, dict) else v] = v
    return list(by_key.values())


def _merge_depends_on(base: dict, over: dict) -> dict:
    merged = dict(base)
    for dep, spec in over.items():
        if spec == {"__short__": True} and dep in merged:
            continue  # a short entry does not weaken a long one
        old = merged.get(dep)
        if isinstance(old, dict) and old.get("__short__") or not isinstance(old, dict):
            merged[dep] = spec
        else:
            merged[dep] = _merge_value(dep, old, spec)
    return merged


def _merge_value(key: str, base: Any, over: Any) -> Any:
    if isinstance(over, Reset):
        return None
    if isinstance(over, Override):
        return over.value
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            if isinstance(v, Reset):
                out.pop(k, None)
            elif k in out and out[k] is not None:
                out[k] = _merge_value(k, out[k], v)
            else:
                out[k] = v.value if isinstance(v, Override) else v
        return out
    if isinstance(base, list) and isinstance(over, list) and key not in _REPLACED_LISTS:
        out = list(base)
        for item in over:
            if item not in out:
                out.append(item)
        return out
    return over


def settled(node: Any) -> Any:
    """After merging: `!reset` keys are gone and `!override` values are plain values."""
    if isinstance(node, Override):
        return settled(node.value)
    if isinstance(node, dict):
        return {k: settled(v) for k, v in node.items() if not isinstance(v, Reset)}
    if isinstance(node, list):
        return [settled(v) for v in node if not isinstance(v, Reset)]
    return node


def without_origin(svc: Any) -> Any:
    """A service without the bookkeeping key naming the file it came from."""
    return {k: v for k, v in svc.items() if k != "__file__"} if isinstance(svc, dict) else svc
