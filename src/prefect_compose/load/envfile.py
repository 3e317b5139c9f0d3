"""Compose's dotenv format (``.env``, ``--env-file``, ``env_file:``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from prefect_compose.errors import InputError
from prefect_compose.load.discover import shown
from prefect_compose.load.interpolate import InterpolationError, interpolate

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(=?)\s*(.*)$", re.S)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "$": "$"}


def parse_env_text(text: str, file: str, lookup: Mapping[str, str] | None = None
                   ) -> dict[str, str | None]:
    """Parse dotenv text. Values may use ``${VAR}`` of earlier keys or of ``lookup``.

    A bare ``KEY`` (no ``=``) maps to None: take it from the environment, or leave it unset.
    """
    result: dict[str, str | None] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        lineno = i + 1
        i += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _LINE.match(raw)
        if not m:
            raise InputError(f"invalid line {raw.strip()!r}: expected KEY=VALUE",
                             file=file, line=lineno)
        key, eq, rest = m.group(1), m.group(2), m.group(3)
        if not eq:
            if rest.strip() and not rest.strip().startswith("#"):
                raise InputError(f"invalid line {raw.strip()!r}: expected KEY=VALUE",
                                 file=file, line=lineno)
            result[key] = None
            continue
        scope = {**(lookup or {}), **{k: v for k, v in result.items() if v is not None}}
        if rest[:1] in ("'", '"'):
            quote = rest[0]
            body = rest[1:]
            # a quoted value may span lines until its closing quote
            while _closing(body, quote) < 0 and i < len(lines):
                body += "\n" + lines[i]
                i += 1
            end = _closing(body, quote)
            if end < 0:
                raise InputError(f"unterminated quoted value for {key}", file=file, line=lineno)
            value = body[:end]
            if quote == '"':
                value = re.sub(r"\\(.)", lambda mm: _ESCAPES.get(mm.group(1), "\\" + mm.group(1)),
                               value)
                value = _interp(value, scope, file, lineno)
        else:
            value = re.split(r"\s+#", rest, maxsplit=1)[0].strip()
            value = _interp(value, scope, file, lineno)
        result[key] = value
    return result


def _closing(body: str, quote: str) -> int:
    i = 0
    while i < len(body):
        if body[i] == "\\" and quote == '"':
            i += 2
            continue
        if body[i] == quote:
            return i
        i += 1
    return -1


def _interp(value: str, scope: Mapping[str, str], file: str, line: int) -> str:
    try:
        return interpolate(value, scope)
    except InterpolationError as exc:
        raise InputError(str(exc), file=file, line=line) from None


def read_env_file(path: Path, shown: str, lookup: Mapping[str, str] | None = None
                  ) -> dict[str, str | None]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"env file not found: {path}", file=shown) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read env file {path}: {exc}", file=shown) from None
    return parse_env_text(text, str(path), lookup)


def project_environment(env_files: Sequence[Path | str] | None, pdir: Path,
                        environ: Mapping[str, str]) -> dict[str, str]:
    """What ``${VAR}`` reads: ``.env`` beside the project (or ``--env-file``), below the real
    environment."""
    cwd = Path.cwd()
    if env_files:
        paths = [Path(e) if Path(e).is_absolute() else cwd / e for e in env_files]
    else:
        paths = [pdir / ".env"] if (pdir / ".env").is_file() else []
    dotenv: dict[str, str] = {}
    for path in paths:
        values = read_env_file(path, shown(path), {**dotenv, **environ})
        dotenv.update({k: v for k, v in values.items() if v is not None})
    return {**dotenv, **environ}
