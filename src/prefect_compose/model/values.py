"""Checked conversions of canonical YAML values, each failing with an InputError that names
the file, the service and the key path."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import Any

from prefect_compose.errors import InputError
from prefect_compose.units import parse_duration, parse_size, scalar_str


class Ctx:
    """Where a value comes from: its file and service, and where warnings go."""

    def __init__(self, file: str, service: str, warnings: list[str]) -> None:
        self.file = file
        self.service = service
        self.warnings = warnings

    def path(self, *keys: str) -> str:
        return ".".join(("services", self.service, *keys))

    def error(self, message: str, *keys: str) -> InputError:
        return InputError(message, file=self.file, path=self.path(*keys))

    def warn(self, message: str, *keys: str) -> None:
        self.warnings.append(f"{self.file}: {self.path(*keys)}: {message}")


def strings(value: Any, ctx: Ctx, *keys: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise ctx.error("must be a string or a list of strings", *keys)
    for i, v in enumerate(value):
        if isinstance(v, (dict, list)) or v is None:
            raise ctx.error(f"item {i} must be a string", *keys)
    return tuple(scalar_str(v) for v in value)


def argv(value: Any, ctx: Ctx, *keys: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise ctx.error(f"cannot split command {value!r}: {exc}", *keys) from None
    if isinstance(value, list):
        for i, v in enumerate(value):
            if not isinstance(v, str):
                raise ctx.error(f"item {i} must be a string, not {v!r} (quote it)", *keys)
        return tuple(value)
    raise ctx.error("must be a string or a list of strings", *keys)


def duration(value: Any, ctx: Ctx, *keys: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ctx.error(str(exc), *keys) from None


def size(value: Any, ctx: Ctx, *keys: str) -> int:
    """Bytes, from ``512m``, ``1g`` or a number."""
    try:
        return parse_size(value)
    except ValueError as exc:
        raise ctx.error(str(exc), *keys) from None


def boolean(value: Any, ctx: Ctx, *keys: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ctx.error(f"must be true or false, not {value!r}", *keys)


def integer(value: Any, ctx: Ctx, *keys: str) -> int:
    if isinstance(value, bool):
        raise ctx.error(f"must be a whole number, not {value!r}", *keys)
    try:
        return int(str(value))
    except ValueError:
        raise ctx.error(f"must be a whole number, not {value!r}", *keys) from None


def mapping(value: Any, ctx: Ctx, *keys: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ctx.error("must be a mapping", *keys)
    return value


def check_keys(value: dict, allowed: Iterable[str], ctx: Ctx, *keys: str) -> None:
    if not isinstance(allowed, (tuple, list, set, frozenset)):
        allowed = tuple(allowed)
    for k in value:
        if k not in allowed and not (isinstance(k, str) and k.startswith("x-")):
            raise ctx.error(f'unknown key "{k}" (expected one of: '
                            f'{", ".join(sorted(set(allowed)))})', *keys)


def opt_str(value: Any) -> str | None:
    return None if value is None else scalar_str(value)
