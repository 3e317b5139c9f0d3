"""One compose file through the per-file stages: read, parse (yaml), interpolate, check the
schema, make canonical, then resolve its ``extends`` and ``include`` (which read more files
through the same stages)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prefect_compose.errors import InputError
from prefect_compose.keys import review as review_keys
from prefect_compose.load.canonical import absolute, canonical_service
from prefect_compose.load.discover import shown as _shown
from prefect_compose.load.extends import resolve_extends
from prefect_compose.load.include import resolve_include
from prefect_compose.load.interpolate import interpolate_tree
from prefect_compose.load.jobs import jobs_as_services
from prefect_compose.load.schema import check_service, check_top_level
from prefect_compose.load.secrets import declared as declared_secret_blocks
from prefect_compose.load.secrets import with_blocks
from prefect_compose.load.yamlfile import parse_yaml

TOP_LEVEL_KEYS = {"version", "name", "services", "networks", "volumes", "secrets", "configs",
                  "include", "models"}


class FileReader:
    """Reads files for one project load; remembers what it read and what it warned about."""

    def __init__(self, env: dict[str, str], warnings: list[str],
                 environ: Mapping[str, str]) -> None:
        self.env = env
        self.environ = environ
        self.warnings = warnings
        self._missing: set[str] = set()
        self._cache: dict[tuple[Path, Path], dict] = {}
        self.tagged = False  # any `!reset`/`!override`: resolve them after merging
        self.secret_blocks: dict[str, tuple[str, str]] = {}  # x-prefect.secrets, all files
        self.secret_values: dict[str, str] = {}  # block name -> value, read on first use
        self.empty_name: tuple[str, str] | None = None  # (file, raw) of `name: ${EMPTY}`

    def load_file(self, path: Path, base_dir: Path, env: dict[str, str] | None = None,
                  stack: tuple[Path, ...] = ()) -> dict:
        """Parse, interpolate and canonicalise one file; resolve its include and extends."""
        key = (path, base_dir)
        if key in self._cache and env is None:
            return self._cache[key]
        shown = _shown(path)
        if path in stack:
            chain = " -> ".join(_shown(p) for p in (*stack, path))
            raise InputError(f"include/extends cycle: {chain}", file=shown)
        doc = self._parse(path, shown)
        self.secret_blocks.update(declared_secret_blocks(doc, shown))
        use_env = with_blocks(self.env if env is None else env, self.secret_blocks,
                              self.secret_values)
        doc = self._interpolate(doc, use_env, shown)
        doc = jobs_as_services(doc, shown)  # Compose's experimental top-level `jobs:`
        canon = self._canonical(doc, base_dir, shown)
        resolve_extends(canon, self, path, stack)
        if "include" in canon:
            resolve_include(canon, self, path, shown, stack)
        if env is None:
            self._cache[key] = canon
        return canon

    def _parse(self, path: Path, shown: str) -> dict:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise InputError("file not found", file=shown) from None
        except IsADirectoryError:
            raise InputError("is a directory, not a compose file", file=shown) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read: {exc}", file=shown) from None
        doc = parse_yaml(text, shown)
        if "!reset" in text or "!override" in text:
            self.tagged = True
        if doc is None or (isinstance(doc, dict) and not doc):
            raise InputError("empty compose file", file=shown)
        if not isinstance(doc, dict):
            raise InputError("top level must be a mapping", file=shown)
        return doc

    def _interpolate(self, doc: dict, env: Mapping[str, str], shown: str) -> dict:
        errors: list[tuple[str, str]] = []

        def on_missing(name: str) -> None:
            if name not in self._missing:
                self._missing.add(name)
                self.warnings.append(
                    f'the "{name}" variable is not set: defaulting to a blank string')

        raw_name = doc.get("name")
        doc = interpolate_tree(doc, env, "", lambda p, m: errors.append((p, m)), on_missing)
        if errors:
            p, m = errors[0]
            raise InputError(m, file=shown, path=p)
        if isinstance(raw_name, str) and "$" in raw_name and doc.get("name") == "":
            self.empty_name = (shown, raw_name)  # Compose refuses it, when the name is used
        return doc

    def _canonical(self, doc: dict, base_dir: Path, shown: str) -> dict:
        """Check the top level and every service's shape, then make each canonical."""
        for top in doc:
            if not isinstance(top, str) or (top not in TOP_LEVEL_KEYS
                                            and not top.startswith("x-")):
                raise InputError(f'unknown top-level key "{top}"', file=shown)
        if "version" in doc:
            self.warnings.append(f"{shown}: the top-level `version` is obsolete and ignored")
        services = doc.get("services")
        if services is None:
            services = {}
        if not isinstance(services, dict):
            raise InputError("services must be a mapping", file=shown, path="services")
        check_top_level(doc, shown, self.warnings.append)
        canon: dict[str, Any] = {k: v for k, v in doc.items() if k != "services"}
        canon["services"] = {}
        for name, svc in services.items():
            svc = _service_mapping(name, svc, shown)
            check_service(svc, shown, f"services.{name}", self.warnings.append)
            canon["services"][name] = canonical_service(svc, base_dir, shown, f"services.{name}")
            canon["services"][name]["__file__"] = shown
        review_keys(canon, shown, self.warnings.append)  # warned and refused keys
        for section in ("secrets", "configs"):
            for sdef in (canon.get(section) or {}).values():
                if isinstance(sdef, dict) and isinstance(sdef.get("file"), str):
                    sdef["file"] = str(absolute(sdef["file"], base_dir))
        return canon


def _service_mapping(name: Any, svc: Any, shown: str) -> dict:
    if not isinstance(name, str):
        raise InputError(f"service name {name!r} must be a string", file=shown,
                         path="services")
    if not re.fullmatch(r"[a-zA-Z0-9._-]+", name):
        raise InputError(f'invalid service name "{name}": use letters, digits, '
                         "'.', '_' or '-'", file=shown, path=f"services.{name}")
    if svc is None:
        return {}
    if not isinstance(svc, dict):
        raise InputError("service must be a mapping", file=shown, path=f"services.{name}")
    return svc
