"""Discover the project: its compose files, its directory, and its name (Compose's rules)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from prefect_compose.errors import InputError

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = {
    "compose.yaml": ("compose.override.yaml", "compose.override.yml"),
    "compose.yml": ("compose.override.yml", "compose.override.yaml"),
    "docker-compose.yaml": ("docker-compose.override.yaml", "docker-compose.override.yml"),
    "docker-compose.yml": ("docker-compose.override.yml", "docker-compose.override.yaml"),
}


def shown(path: Path, cwd: Path | None = None) -> str:
    """A file name as users want it in messages: relative to the working directory."""
    try:
        return os.path.relpath(path, cwd or Path.cwd())
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)


def normalize_project_name(name: str) -> str:
    """Compose's rule: lowercase, keep [a-z0-9_-], must start with a letter or digit."""
    name = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return name.lstrip("_-")


def find_compose_files(start: Path) -> list[Path]:
    """The default file in ``start`` or the nearest parent, plus its override file."""
    for directory in (start, *start.parents):
        for candidate in DEFAULT_FILES:
            path = directory / candidate
            if path.is_file():
                found = [path]
                for override in OVERRIDE_FILES[candidate]:
                    if (directory / override).is_file():
                        found.append(directory / override)
                        break
                return found
    raise InputError(
        f"no configuration file provided: none of {', '.join(DEFAULT_FILES)} found in "
        f"{start} or its parents")


def compose_files(files: Sequence[Path | str] | None, project_dir: Path | str | None,
                  environ: Mapping[str, str]) -> tuple[list[Path], Path]:
    """The files to load (``-f``, else COMPOSE_FILE, else the default file) as absolute
    paths, and the project directory (``--project-directory``, else the first file's)."""
    cwd = Path.cwd()
    if files:
        paths = [Path(f) for f in files]
    elif environ.get("COMPOSE_FILE"):
        sep = environ.get("COMPOSE_PATH_SEPARATOR", os.pathsep)
        paths = [Path(f) for f in environ["COMPOSE_FILE"].split(sep) if f]
    else:
        paths = find_compose_files(Path(project_dir).resolve() if project_dir else cwd)
    paths = [Path(os.path.normpath(p if p.is_absolute() else cwd / p)) for p in paths]
    pdir = Path(project_dir).resolve() if project_dir else paths[0].parent
    return paths, pdir


def project_name(explicit: str | None, env: Mapping[str, str], doc: dict, pdir: Path,
                 first_file: str, empty_name: tuple[str, str] | None = None) -> str:
    """``-p``, else COMPOSE_PROJECT_NAME, else the top-level ``name:``, else the directory.

    ``empty_name``: the file and raw text of a ``name:`` that interpolated to nothing; a
    literal ``name: ""`` falls back to the directory, an interpolated one is an error (as in
    Compose)."""
    name, source = explicit or None, "-p/--project-name"  # `-p ""` falls back, as in Compose
    if name is None and env.get("COMPOSE_PROJECT_NAME"):
        name, source = env["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME"
    if name is None and empty_name and doc.get("name") == "":
        file, raw = empty_name
        raise InputError(f'project name must not be empty: "{raw}" interpolates to nothing '
                         "(set the variable, or pass -p NAME)", file=file, path="name")
    if name is None and doc.get("name"):
        name, source = normalize_project_name(str(doc["name"])), "name"
    if name is None:
        name, source = normalize_project_name(pdir.name), "directory"
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name or ""):
        raise InputError(
            f'invalid project name "{name}" (from {source}): use lowercase '
            "letters, digits, dashes and underscores, starting with a letter or digit",
            file=first_file)
    return name
