"""Durations (Go syntax, as Compose reads them), byte sizes, and YAML scalars as strings."""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d|w)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
           "d": 86400.0, "w": 604800.0}  # compose-go accepts days and weeks too


_PARSED: dict[str, float] = {}  # the same few durations recur in every service


def parse_duration(value: object) -> float:
    """``1m30s`` -> 90.0. A number without a unit is an error (ValueError with the message)."""
    if type(value) is str and value in _PARSED:
        return _PARSED[value]
    seconds = _parse_duration(value)
    if type(value) is str:
        if len(_PARSED) >= 1024:
            _PARSED.clear()
        _PARSED[value] = seconds
    return seconds


def _parse_duration(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"invalid duration {value!r}: expected a string such as \"30s\"")
    if isinstance(value, (int, float)):
        raise ValueError(f'invalid duration "{value}": a number needs a unit, e.g. "{value}s"')
    text = value.strip()
    if text in ("0",):
        return 0.0
    pos, total = 0, 0.0
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if not body:
        raise ValueError(f'invalid duration "{value}"')
    while pos < len(body):
        m = _DURATION_PART.match(body, pos)
        if not m:
            if re.fullmatch(r"\d+(\.\d*)?", body):
                raise ValueError(f'invalid duration "{value}": a number needs a unit, '
                                 f'e.g. "{value}s"')
            raise ValueError(f'invalid duration "{value}"')
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    return sign * total


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1 and seconds > 0:
        return f"{seconds * 1000:g}ms"
    s = round(seconds, 3)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    out = ""
    if h:
        out += f"{int(h)}h"
    if m:
        out += f"{int(m)}m"
    if sec or not out:
        out += f"{sec:g}s"
    return out


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)?\s*$", re.I)
_SIZE_MULT = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def parse_size(value: object) -> int:
    """``512m`` -> bytes (Docker's units are binary)."""
    if isinstance(value, bool):
        raise ValueError(f"invalid size {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"invalid size {value!r}")
    m = _SIZE.match(value)
    if not m:
        raise ValueError(f'invalid size "{value}": expected e.g. "512m" or "1g"')
    return int(float(m.group(1)) * _SIZE_MULT[m.group(2).lower()])


def scalar_str(value: object) -> str:
    """A YAML scalar as Compose prints it in the environment (true, 1, 1.5)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)
