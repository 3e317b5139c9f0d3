"""Load a Compose project: discover files, read .env, parse, interpolate, include, extends,
merge overrides, apply profiles, then hand over to ``normalize`` for the model.

Stages follow compose-go's loader: every file is parsed and interpolated on its own, made
canonical (shorthand -> long form, relative paths -> absolute), its ``include`` and ``extends``
resolved; then the files are merged in order and profiles applied.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prefect_compose import masking
from prefect_compose.load.envfile import read_env_file
from prefect_compose.load.jobs import jobs_as_services
from prefect_compose.errors import InputError
from prefect_compose.load.interpolate import interpolate_tree
from prefect_compose.model.types import Project
from prefect_compose.load.schema import check_service, check_top_level
from prefect_compose.load.secrets import declared as declared_secret_blocks
from prefect_compose.load.secrets import with_blocks
from prefect_compose.load.yamlfile import Override, Reset, parse_yaml

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = {
    "compose.yaml": ("compose.override.yaml", "compose.override.yml"),
    "compose.yml": ("compose.override.yml", "compose.override.yaml"),
    "docker-compose.yaml": ("docker-compose.override.yaml", "docker-compose.override.yml"),
    "docker-compose.yml": ("docker-compose.override.yml", "docker-compose.override.yaml"),
}
TOP_LEVEL_KEYS = {"version", "name", "services", "networks", "volumes", "secrets", "configs",
                  "include", "models"}
# lists whose override replaces the base instead of extending it
_REPLACED_LISTS = {"command", "entrypoint", "test"}


def _shown(path: Path, cwd: Path | None = None) -> str:
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


class _Loader:
    def __init__(self, env: dict[str, str], warnings: list[str],
                 environ: Mapping[str, str] | None = None) -> None:
        self.env = env
        self.environ = environ if environ is not None else os.environ
        self.warnings = warnings
        self._missing: set[str] = set()
        self._cache: dict[tuple[Path, Path], dict] = {}
        self.tagged = False  # any `!reset`/`!override`: resolve them after merging
        self.secret_blocks: dict[str, tuple[str, str]] = {}  # x-prefect.secrets, all files
        self.secret_values: dict[str, str] = {}  # block name -> value, read on first use

    # -- one file ---------------------------------------------------------------------------
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
        use_env = self.env if env is None else env
        self.secret_blocks.update(declared_secret_blocks(doc, shown))
        use_env = with_blocks(use_env, self.secret_blocks, self.secret_values)
        errors: list[tuple[str, str]] = []

        def on_missing(name: str) -> None:
            if name not in self._missing:
                self._missing.add(name)
                self.warnings.append(
                    f'the "{name}" variable is not set: defaulting to a blank string')

        doc = interpolate_tree(doc, use_env, "", lambda p, m: errors.append((p, m)), on_missing)
        if errors:
            p, m = errors[0]
            raise InputError(m, file=shown, path=p)
        doc = jobs_as_services(doc, shown)  # Compose's experimental top-level `jobs:`
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
            if not isinstance(name, str):
                raise InputError(f"service name {name!r} must be a string", file=shown,
                                 path="services")
            if not re.fullmatch(r"[a-zA-Z0-9._-]+", name):
                raise InputError(f'invalid service name "{name}": use letters, digits, '
                                 "'.', '_' or '-'", file=shown, path=f"services.{name}")
            if svc is None:
                svc = {}
            if not isinstance(svc, dict):
                raise InputError("service must be a mapping", file=shown,
                                 path=f"services.{name}")
            check_service(svc, shown, f"services.{name}", self.warnings.append)
            canon["services"][name] = canonical_service(svc, base_dir, shown, f"services.{name}")
            canon["services"][name]["__file__"] = shown
        for section in ("secrets", "configs"):
            for sname, sdef in (canon.get(section) or {}).items():
                if isinstance(sdef, dict) and isinstance(sdef.get("file"), str):
                    sdef["file"] = str(_abs(sdef["file"], base_dir))
        self._resolve_extends(canon, path, base_dir, stack)
        if "include" in canon:
            self._resolve_include(canon, path, shown, stack)
        if env is None:
            self._cache[key] = canon
        return canon

    # -- include -----------------------------------------------------------------------------
    def _resolve_include(self, doc: dict, path: Path, shown: str,
                         stack: tuple[Path, ...]) -> None:
        includes = doc.pop("include")
        if includes is None:
            return
        if not isinstance(includes, list):
            raise InputError("include must be a list", file=shown, path="include")
        base = path.parent
        for i, item in enumerate(includes):
            where = f"include[{i}]"
            if isinstance(item, str):
                item = {"path": item}
            if not isinstance(item, dict) or "path" not in item:
                raise InputError("expected a path or a mapping with `path`", file=shown,
                                 path=where)
            paths = item["path"] if isinstance(item["path"], list) else [item["path"]]
            paths = [_abs(p, base) for p in paths]
            proj_dir = _abs(item["project_directory"], base) if item.get(
                "project_directory") else paths[0].parent
            env = dict(self.env)
            env_files = item.get("env_file")
            env_files = ([env_files] if isinstance(env_files, str) else env_files) or []
            dotenvs = [_abs(e, base) for e in env_files] or (
                [proj_dir / ".env"] if (proj_dir / ".env").is_file() else [])
            for envf in dotenvs:
                values = read_env_file(envf, shown, env)
                for k, v in values.items():
                    if v is not None and k not in self.environ:
                        env[k] = v
            merged: dict = {}
            for p in paths:
                if not p.is_file():
                    raise InputError(f"included file not found: {_shown(p)}", file=shown,
                                     path=where)
                sub = self.load_file(p, proj_dir, env, (*stack, path))
                merged = merge_docs(merged, sub) if merged else sub
            for section in ("services", "networks", "volumes", "secrets", "configs"):
                for key, value in (merged.get(section) or {}).items():
                    mine = doc.setdefault(section, {}) or {}
                    doc[section] = mine
                    same = key in mine and _without_origin(mine[key]) == _without_origin(value)
                    if key in mine and section == "services" and not same:
                        raise InputError(
                            f'service "{key}" from included file {_shown(paths[0])} conflicts '
                            "with a service of the same name", file=shown,
                            path=f"services.{key}")
                    mine.setdefault(key, value)

    # -- extends -----------------------------------------------------------------------------
    def _resolve_extends(self, doc: dict, path: Path, base_dir: Path,
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
                other = Path(ext["file"])
                if not other.is_file():
                    raise InputError(f"extends file not found: {_shown(other)}", file=shown,
                                     path=f"{where}.file")
                other_doc = self.load_file(other, other.parent, None, (*stack, path))
                base_svc = other_doc["services"].get(target)
                if base_svc is None:
                    raise InputError(f'service "{target}" not found in {_shown(other)}',
                                     file=shown, path=where)
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


def _settled(node: Any) -> Any:
    """After merging: `!reset` keys are gone and `!override` values are plain values."""
    if isinstance(node, Override):
        return _settled(node.value)
    if isinstance(node, dict):
        return {k: _settled(v) for k, v in node.items() if not isinstance(v, Reset)}
    if isinstance(node, list):
        return [_settled(v) for v in node if not isinstance(v, Reset)]
    return node


def _without_origin(svc: Any) -> Any:
    return {k: v for k, v in svc.items() if k != "__file__"} if isinstance(svc, dict) else svc


def _abs(value: Any, base: Path) -> Path:
    p = Path(os.path.expanduser(str(value)))
    return p if p.is_absolute() else (base / p).resolve()


# -- canonical shorthand -----------------------------------------------------------------
def _kv_list_to_dict(value: Any, shown: str, where: str, allow_none: bool) -> dict:
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


def scalar_str(value: Any) -> str:
    """A YAML scalar as Compose prints it in the environment (true, 1, 1.5)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


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
            out[key] = _kv_list_to_dict(out[key], shown, f"{where}.{key}",
                                        allow_none=key == "environment")
    if "build" in out:
        b = out["build"]
        if isinstance(b, str):
            b = {"context": b}
        if isinstance(b, dict):
            b = dict(b)
            ctx = b.get("context", ".")
            if isinstance(ctx, str) and not re.match(r"^(https?://|git@|github\.com/)", ctx):
                b["context"] = str(_abs(ctx, base_dir))
            if "args" in b:
                b["args"] = _kv_list_to_dict(b["args"], shown, f"{where}.build.args", True)
        out["build"] = b
    if "env_file" in out:
        ef = out["env_file"]
        items = ef if isinstance(ef, list) else [ef]
        norm = []
        for item in items:
            if isinstance(item, str):
                item = {"path": item, "required": True}
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                norm.append({**item, "path": str(_abs(item["path"], base_dir))})
            else:
                raise InputError("entries must be paths or {path, required}", file=shown,
                                 path=f"{where}.env_file")
        out["env_file"] = norm
    if "label_file" in out:
        lf = out["label_file"]
        out["label_file"] = [str(_abs(x, base_dir)) for x in (lf if isinstance(lf, list) else [lf])]
    if "depends_on" in out:
        dep = out["depends_on"]
        if isinstance(dep, list):
            for i, d in enumerate(dep):
                if not isinstance(d, str):
                    raise InputError("entries must be service names", file=shown,
                                     path=f"{where}.depends_on[{i}]")
            out["depends_on"] = {d: {"__short__": True} for d in dep}
        elif isinstance(dep, dict):
            out["depends_on"] = {k: (dict(v) if isinstance(v, dict) else v)
                                 for k, v in dep.items()}
        elif dep is not None:
            raise InputError("must be a list of service names or a mapping", file=shown,
                             path=f"{where}.depends_on")
    if "networks" in out and isinstance(out["networks"], list):
        out["networks"] = {n: None for n in out["networks"]}
    if "volumes" in out and isinstance(out["volumes"], list):
        out["volumes"] = [_canonical_volume(v, base_dir, shown, f"{where}.volumes[{i}]")
                          for i, v in enumerate(out["volumes"])]
    if "ports" in out and isinstance(out["ports"], list):
        ports = []
        for i, p in enumerate(out["ports"]):
            ports.extend(_canonical_ports(p, shown, f"{where}.ports[{i}]"))
        out["ports"] = ports
    for key in ("secrets", "configs"):
        if key in out and isinstance(out[key], list):
            out[key] = [{"source": s} if isinstance(s, str) else s for s in out[key]]
    if "extends" in out and isinstance(out["extends"], dict) and out["extends"].get("file"):
        out["extends"] = {**out["extends"], "file": str(_abs(out["extends"]["file"], base_dir))}
    return out


_PORT = re.compile(
    r"^(?:(?:(?P<ip>\[[^\]]+\]|[0-9.]+|[^:]*):)??(?P<pub>[0-9]+(?:-[0-9]+)?|):)?"
    r"(?P<target>[0-9]+(?:-[0-9]+)?)(?:/(?P<proto>[a-z]+))?$")


def _canonical_ports(p: Any, shown: str, where: str) -> list[dict]:
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


def _canonical_volume(v: Any, base_dir: Path, shown: str, where: str) -> dict:
    if isinstance(v, dict):
        v = dict(v)
        if v.get("type") == "bind" and isinstance(v.get("source"), str):
            v["source"] = str(_abs(v["source"], base_dir))
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
        out["source"] = source if source.startswith("/") else str(_abs(source, base_dir))
    else:
        out["type"] = "volume"
        out["source"] = source
    if "ro" in mode.split(","):
        out["read_only"] = True
    return out


# -- merging -----------------------------------------------------------------------------
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
            by_target = {v.get("target") if isinstance(v, dict) else v: v for v in out[key]}
            for v in value:
                by_target[v.get("target") if isinstance(v, dict) else v] = v
            out[key] = list(by_target.values())
        elif key == "depends_on" and isinstance(value, dict) and isinstance(out[key], dict):
            merged = dict(out[key])
            for dep, spec in value.items():
                if spec == {"__short__": True} and dep in merged:
                    continue  # a short entry does not weaken a long one
                base = merged.get(dep)
                if isinstance(base, dict) and base.get("__short__") or not isinstance(base, dict):
                    merged[dep] = spec
                else:
                    merged[dep] = _merge_value(dep, base, spec)
            out[key] = merged
        elif key in ("secrets", "configs") and isinstance(value, list):
            by_src = {(v.get("source") if isinstance(v, dict) else v): v for v in out[key]}
            for v in value:
                by_src[v.get("source") if isinstance(v, dict) else v] = v
            out[key] = list(by_src.values())
        else:
            out[key] = _merge_value(key, out[key], value)
    return out


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


# -- the entry point ---------------------------------------------------------------------
def load_project(files: Sequence[Path | str] | None = None, *,
                 project_dir: Path | str | None = None,
                 project_name: str | None = None,
                 env_files: Sequence[Path | str] | None = None,
                 profiles: Sequence[str] = (),
                 environ: Mapping[str, str] | None = None) -> Project:
    """Load, validate and canonicalise a project. Raises InputError on any invalid input."""
    from prefect_compose.model.build import build_project  # the model stage

    environ = dict(os.environ if environ is None else environ)
    cwd = Path.cwd()
    if not files:
        env_files_var = environ.get("COMPOSE_FILE")
        if env_files_var:
            sep = environ.get("COMPOSE_PATH_SEPARATOR", os.pathsep)
            paths = [Path(f) for f in env_files_var.split(sep) if f]
        else:
            paths = find_compose_files(Path(project_dir).resolve() if project_dir else cwd)
    else:
        paths = [Path(f) for f in files]
    paths = [p if p.is_absolute() else (cwd / p) for p in paths]
    paths = [Path(os.path.normpath(p)) for p in paths]
    pdir = Path(project_dir).resolve() if project_dir else paths[0].parent
    warnings: list[str] = []

    # .env (or --env-file): a source for interpolation, below the real environment
    dotenv: dict[str, str] = {}
    if env_files:
        env_paths = [Path(e) if Path(e).is_absolute() else cwd / e for e in env_files]
    else:
        env_paths = [pdir / ".env"] if (pdir / ".env").is_file() else []
    for envf in env_paths:
        values = read_env_file(envf, _shown(envf), {**dotenv, **environ})
        dotenv.update({k: v for k, v in values.items() if v is not None})
    env = {**dotenv, **environ}
    masking.register_env(env)  # before any message can quote a value

    loader = _Loader(env, warnings, environ)
    doc: dict = {}
    for p in paths:
        part = loader.load_file(p, pdir)
        doc = merge_docs(doc, part) if doc else part

    if loader.tagged:
        doc = _settled(doc)
    name_source = "-p/--project-name"
    if not project_name:  # `-p ""` falls back as if it were not given (as Compose)
        project_name = None
    if project_name is None and env.get("COMPOSE_PROJECT_NAME"):
        project_name, name_source = env["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME"
    if project_name is None and doc.get("name"):
        project_name, name_source = normalize_project_name(str(doc["name"])), "name"
    if project_name is None:
        project_name = normalize_project_name(pdir.name)
        name_source = "directory"
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", project_name or ""):
        raise InputError(
            f'invalid project name "{project_name}" (from {name_source}): use lowercase '
            "letters, digits, dashes and underscores, starting with a letter or digit",
            file=_shown(paths[0]))

    active = set(profiles)
    if not active and env.get("COMPOSE_PROFILES"):
        active = {p.strip() for p in env["COMPOSE_PROFILES"].split(",") if p.strip()}
    project = build_project(doc, name=project_name, working_dir=pdir,
                            files=[_shown(p) for p in paths], env=env,
                            active_profiles=active, warnings=warnings)
    masking.register_project(project, env)
    return project
