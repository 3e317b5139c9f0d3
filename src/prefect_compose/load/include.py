"""``include:``: other compose projects pulled in, each with its own directory and env files;
their services may not clash with ours."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prefect_compose.errors import InputError
from prefect_compose.load.canonical import absolute
from prefect_compose.load.discover import shown as _shown
from prefect_compose.load.envfile import read_env_file
from prefect_compose.load.merge import merge_docs, without_origin

if TYPE_CHECKING:
    from prefect_compose.load.reader import FileReader

SECTIONS = ("services", "networks", "volumes", "secrets", "configs")


def resolve_include(doc: dict, reader: FileReader, path: Path, shown: str,
                    stack: tuple[Path, ...]) -> None:
    includes = doc.pop("include")
    if includes is None:
        return
    if not isinstance(includes, list):
        raise InputError("include must be a list", file=shown, path="include")
    for i, item in enumerate(includes):
        where = f"include[{i}]"
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict) or "path" not in item:
            raise InputError("expected a path or a mapping with `path`", file=shown,
                             path=where)
        paths = item["path"] if isinstance(item["path"], list) else [item["path"]]
        paths = [absolute(p, path.parent) for p in paths]
        merged = _load_included(item, paths, reader, path, shown, where, stack)
        _add_sections(doc, merged, paths[0], shown)


def _load_included(item: dict, paths: list[Path], reader: FileReader, path: Path,
                   shown: str, where: str, stack: tuple[Path, ...]) -> dict:
    base = path.parent
    proj_dir = absolute(item["project_directory"], base) if item.get(
        "project_directory") else paths[0].parent
    env = dict(reader.env)
    env_files = item.get("env_file")
    env_files = ([env_files] if isinstance(env_files, str) else env_files) or []
    dotenvs = [absolute(e, base) for e in env_files] or (
        [proj_dir / ".env"] if (proj_dir / ".env").is_file() else [])
    for envf in dotenvs:
        values = read_env_file(envf, shown, env)
        for k, v in values.items():
            if v is not None and k not in reader.environ:
                env[k] = v
    merged: dict = {}
    for p in paths:
        if not p.is_file():
            raise InputError(f"included file not found: {_shown(p)}", file=shown, path=where)
        sub = reader.load_file(p, proj_dir, env, (*stack, path))
        merged = merge_docs(merged, sub) if merged else sub
    return merged


def _add_sections(doc: dict, merged: dict, first: Path, shown: str) -> None:
    for section in SECTIONS:
        for key, value in (merged.get(section) or {}).items():
            mine = doc.setdefault(section, {}) or {}
            doc[section] = mine
            same = key in mine and without_origin(mine[key]) == without_origin(value)
            if key in mine and section == "services" and not same:
                raise InputError(
                    f'service "{key}" from included file {_shown(first)} conflicts '
                    "with a service of the same name", file=shown, path=f"services.{key}")
            mine.setdefault(key, value)
