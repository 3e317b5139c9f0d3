"""Interpolation from Prefect ``Secret`` blocks.

A top-level ``x-prefect: {secrets: {VAR: block-name}}`` fills ``${VAR}`` from the Secret block
``block-name`` when the environment (and ``.env``) does not set ``VAR``. Declarations of every
file loaded so far apply (an ``-f`` override or an included file can use a variable its parent
declared). A block is read once, and only when a declared ``${VAR}`` is actually expanded:
Prefect is imported then and never otherwise, so ``plan`` of a project without such a
variable stays Prefect-free. Every value read is registered with the masker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prefect_compose import masking
from prefect_compose.errors import InputError

_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_reader: Callable[[str], str] | None = None


def set_reader(reader: Callable[[str], str]) -> None:
    """Register the function that reads a Secret block's value by its name."""
    global _reader
    _reader = reader


def _no_reader(name: str) -> str:
    raise RuntimeError("no Secret block reader is registered (load through "
                       "prefect_compose.project.load_and_compile)")


def declared(doc: Any, shown: str) -> dict[str, tuple[str, str]]:
    """``{VAR: (block name, file)}`` from a parsed (not yet interpolated) file."""
    xp = doc.get("x-prefect") if isinstance(doc, dict) else None
    if not isinstance(xp, dict) or xp.get("secrets") is None:
        return {}
    secrets = xp["secrets"]
    if not isinstance(secrets, dict):
        raise InputError("must be a mapping of VARIABLE: secret-block-name", file=shown,
                         path="x-prefect.secrets")
    out = {}
    for var, block in secrets.items():
        where = f"x-prefect.secrets.{var}"
        if not isinstance(var, str) or not _VAR.fullmatch(var):
            raise InputError(f"invalid variable name {var!r}", file=shown, path=where)
        if not isinstance(block, str) or not block.strip():
            raise InputError("must name a Prefect Secret block", file=shown, path=where)
        out[var] = (block, shown)
    return out


class SecretEnv(Mapping[str, str]):
    """The interpolation environment with the declared blocks behind it: ``base`` wins."""

    def __init__(self, base: Mapping[str, str], blocks: Mapping[str, tuple[str, str]],
                 cache: dict[str, str], reader: Callable[[str], str] | None = None) -> None:
        self._base = base
        self._blocks = blocks
        self._cache = cache
        self._reader = reader or _reader or _no_reader

    def __getitem__(self, name: str) -> str:
        if name in self._base:
            return self._base[name]
        if name not in self._blocks:
            raise KeyError(name)
        block, shown = self._blocks[name]
        if block not in self._cache:
            try:
                value = self._reader(block)
            except Exception as exc:  # noqa: BLE001 - any failure is the user's to fix
                raise InputError(f'cannot read Prefect Secret block "{block}": '
                                 f"{type(exc).__name__}: {exc}", file=shown,
                                 path=f"x-prefect.secrets.{name}") from None
            masking.register([value])
            self._cache[block] = value
        return self._cache[block]

    def __contains__(self, name: object) -> bool:
        return name in self._base or name in self._blocks

    def __iter__(self) -> Iterator[str]:  # the real environment only: iterating reads nothing
        return iter(self._base)

    def __len__(self) -> int:
        return len(self._base)


def with_blocks(env: Mapping[str, str], blocks: Mapping[str, tuple[str, str]],
                cache: dict[str, str]) -> Mapping[str, str]:
    return SecretEnv(env, blocks, cache) if blocks else env
