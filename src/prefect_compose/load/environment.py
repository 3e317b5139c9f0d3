"""Each enabled service's environment: its ``env_file``s in order, then ``environment:``;
a bare ``KEY`` takes its value from the project environment (or stays unset). Its
``label_file``s likewise become labels, under its ``labels:``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from prefect_compose.errors import InputError
from prefect_compose.load.envfile import read_env_file


def resolve_environment(doc: dict, env: Mapping[str, str], project_dir: Path,
                        warnings: list[str]) -> None:
    """Replace every service's ``env_file`` + ``environment`` by the one mapping they make."""
    for name in sorted(doc.get("services") or {}):
        svc = doc["services"][name] = dict(doc["services"][name])
        file = svc.get("__file__", "compose.yaml")
        result: dict[str, str | None] = {}
        for i, ef in enumerate(svc.pop("env_file", None) or []):
            path = Path(ef["path"])
            where = f"services.{name}.env_file[{i}]"
            try:
                path.resolve().relative_to(project_dir.resolve())
            except ValueError:
                warnings.append(f"{file}: {where}: env file {ef['path']} is outside the "
                                f"project directory {project_dir}")
            if not path.is_file():
                if ef.get("required", True) is False:
                    continue
                raise InputError(f"env file not found: {path}", file=file, path=where)
            for k, v in read_env_file(path, file, env).items():
                if v is None and k not in env:
                    continue  # a bare KEY that the environment does not set: left out (Compose)
                result[k] = env.get(k) if v is None else v
        for k, v in (svc.get("environment") or {}).items():
            result[k] = env.get(k) if v is None else v
        svc["environment"] = result
        _label_files(svc, name, file)


def _label_files(svc: dict, name: str, file: str) -> None:
    """``label_file``: KEY=VALUE files read in order into ``labels``, which win (Compose)."""
    labels: dict[str, str] = {}
    for i, lf in enumerate(svc.pop("label_file", None) or []):
        path, where = Path(lf), f"services.{name}.label_file[{i}]"
        if not path.is_file():
            raise InputError(f"label file not found: {path}", file=file, path=where)
        for k, v in read_env_file(path, file).items():
            labels[k] = "" if v is None else v
    if labels:
        svc["labels"] = {**labels, **(svc.get("labels") or {})}
