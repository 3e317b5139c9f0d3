"""``extends:``: a service based on another, in the same file or in ``file:``; cycles are
errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prefect_compose.errors import InputError
from prefect_compose.load.discover import shown as _shown
from prefect_compose.load.merge import merge_service

if TYPE_CHECKING:
    from prefect_compose.load.reader import FileReader


def resolve_extends(doc: dict, reader: FileReader, path: Path,
                    stack: tuple[Path, ...]) -> None:
    services = doc["services"]
    done: dict[str, dict] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> dict:
        if name in done:
            return done[name]
        svc = services[name]
        ext = svc.get("extends")
        if ext is None:
            done[name] = svc
            return svc
        shown = svc["__file__"]
        where = f"services.{name}.extends"
        if isinstance(ext, str):
            ext = {"service": ext}
        if not isinstance(ext, dict) or not isinstance(ext.get("service"), str):
            raise InputError("expected a service name or {service, file}", file=shown,
                             path=where)
        target = ext["service"]
        if ext.get("file"):
            base_svc = _from_file(Path(ext["file"]), target, reader, path, stack, shown, where)
        else:
            if target not in services:
                raise InputError(f'cannot extend unknown service "{target}"', file=shown,
                                 path=where)
            if target in chain:
                raise InputError("extends cycle: " + " -> ".join((*chain, target)),
                                 file=shown, path=where)
            base_svc = resolve(target, (*chain, target))
        base_svc = {k: v for k, v in base_svc.items() if k != "__file__"}
        mine = {k: v for k, v in svc.items() if k != "extends"}
        result = merge_service(base_svc, mine)
        result["__file__"] = shown
        done[name] = result
        return result

    for name in list(services):
        services[name] = resolve(name, (name,))


def _from_file(other: Path, target: str, reader: FileReader, path: Path,
               stack: tuple[Path, ...], shown: str, where: str) -> dict:
    if not other.is_file():
        raise InputError(f"extends file not found: {_shown(other)}", file=shown,
                         path=f"{where}.file")
    other_doc = reader.load_file(other, other.parent, None, (*stack, path))
    base_svc = other_doc["services"].get(target)
    if base_svc is None:
        raise InputError(f'service "{target}" not found in {_shown(other)}', file=shown,
                         path=where)
    return base_svc
