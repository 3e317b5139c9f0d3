"""The options of a service's mount (`volumes:` long syntax, or the short syntax's modes made
long by the loader), checked here: bind propagation and SELinux relabelling, a volume's
nocopy and labels, a tmpfs's size and mode. Mount types this engine cannot mount are refused."""

from __future__ import annotations

from typing import Any

from prefect_compose.model.values import Ctx, boolean, size
from prefect_compose.units import scalar_str

PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")
_REFUSED_TYPES = {
    "image": "image mounts need Docker Engine API 1.47; this engine speaks 1.41",
    "npipe": "named pipes are for Windows containers",
    "cluster": "cluster volumes are Swarm only",
}


def mount_options(v: dict, vtype: str, ctx: Ctx, where: str) -> dict[str, Any]:
    """The model's fields for the options of one mount (after its type was checked)."""
    if vtype in _REFUSED_TYPES:
        raise ctx.error(f'mount type "{vtype}" is not supported: {_REFUSED_TYPES[vtype]}',
                        where, "type")
    if vtype not in ("volume", "bind", "tmpfs"):
        raise ctx.error(f'invalid mount type "{vtype}" (expected volume, bind or tmpfs)',
                        where)
    for section in ("bind", "volume", "tmpfs", "image"):
        if v.get(section) is not None and section != vtype:
            raise ctx.error(f'"{section}" options on a mount of type {vtype}', where, section)
    out: dict[str, Any] = {}
    bind = v.get("bind") or {}
    if bind.get("propagation") is not None:
        prop = str(bind["propagation"])
        if prop not in PROPAGATIONS:
            raise ctx.error(f'invalid propagation "{prop}" (expected one of: '
                            f'{", ".join(PROPAGATIONS)})', where, "bind", "propagation")
        out["propagation"] = prop
    if bind.get("selinux") is not None:
        label = str(bind["selinux"])
        if label not in ("z", "Z"):
            raise ctx.error(f'invalid selinux "{label}" (expected z or Z)', where, "bind",
                            "selinux")
        out["selinux"] = label
    volume = v.get("volume") or {}
    if volume.get("nocopy") is not None:
        out["nocopy"] = boolean(volume["nocopy"], ctx, where, "volume", "nocopy")
    labels = volume.get("labels") or {}
    if isinstance(labels, list):
        labels = dict(x.split("=", 1) if "=" in x else (x, "") for x in labels)
    if labels:
        out["volume_labels"] = {str(k): scalar_str(x) for k, x in labels.items()}
    tmpfs = v.get("tmpfs") or {}
    if tmpfs.get("size") is not None:
        out["tmpfs_size"] = size(tmpfs["size"], ctx, where, "tmpfs", "size")
    if tmpfs.get("mode") is not None:
        out["tmpfs_mode"] = _mode(tmpfs["mode"], ctx, where)
    return out


def volumes_from(value: Any, ctx: Ctx) -> tuple[tuple[str, str, str], ...]:
    """`volumes_from: [svc, svc:ro, container:name:rw]` -> (kind, name, mode) entries."""
    out = []
    for i, entry in enumerate(value or []):
        text = scalar_str(entry)
        kind, rest = ("container", text[10:]) if text.startswith("container:") else \
            ("service", text)
        name, _, mode = rest.partition(":")
        if not name or mode not in ("", "ro", "rw"):
            raise ctx.error(f'invalid volumes_from "{text}" (expected SERVICE[:ro|rw] or '
                            "container:NAME[:ro|rw])", f"volumes_from[{i}]")
        out.append((kind, name, mode))
    return tuple(out)


def _mode(value: Any, ctx: Ctx, where: str) -> int:
    """A tmpfs mode: an octal number (YAML reads 01777 as octal) or a string of octal digits."""
    try:
        mode = int(value, 8) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        mode = -1
    if isinstance(value, bool) or not 0 <= mode <= 0o7777:
        raise ctx.error(f"invalid mode {value!r} (expected octal, e.g. 1777)", where, "tmpfs",
                        "mode")
    return mode
