"""Compose's variable interpolation: ``$VAR``, ``${VAR}``, ``${VAR:-d}``, ``${VAR-d}``,
``${VAR:?msg}``, ``${VAR?msg}``, ``${VAR:+alt}``, ``${VAR+alt}``, nested defaults, ``$$``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A template that cannot be expanded; the message is ready for the user."""


def interpolate(text: str, env: Mapping[str, str],
                on_missing: Callable[[str], None] | None = None) -> str:
    """Expand one string. ``on_missing(name)`` is told of variables that are not set."""
    if "$" not in text:
        return text
    out, pos = _expand(text, 0, env, on_missing, nested=False)
    return out


def _expand(text: str, pos: int, env: Mapping[str, str],
            on_missing: Callable[[str], None] | None, nested: bool,
            evaluate: bool = True) -> tuple[str, int]:
    """Expand from ``pos``; when ``nested``, stop at the ``}`` that closes the enclosing brace."""
    out: list[str] = []
    n = len(text)
    while pos < n:
        ch = text[pos]
        if nested and ch == "}":
            return "".join(out), pos
        if ch != "$":
            out.append(ch)
            pos += 1
            continue
        if pos + 1 >= n:
            out.append("$")
            pos += 1
            continue
        nxt = text[pos + 1]
        if nxt == "$":
            out.append("$")
            pos += 2
        elif nxt == "{":
            value, pos = _braced(text, pos + 2, env, on_missing, evaluate)
            out.append(value)
        else:
            m = _NAME.match(text, pos + 1)
            if not m:
                out.append("$")  # a lone "$" before a non-name stays as it is (as Compose)
                pos += 1
                continue
            name = m.group(0)
            out.append(_lookup(name, env, on_missing if evaluate else None))
            pos = m.end()
    if nested:
        raise InterpolationError(f'invalid interpolation format "{text}": missing closing "}}"')
    return "".join(out), pos


def _lookup(name: str, env: Mapping[str, str], on_missing: Callable[[str], None] | None) -> str:
    if name in env:
        return env[name]
    if on_missing:
        on_missing(name)
    return ""


def _braced(text: str, pos: int, env: Mapping[str, str],
            on_missing: Callable[[str], None] | None, evaluate: bool) -> tuple[str, int]:
    m = _NAME.match(text, pos)
    if not m:
        end = text.find("}", pos)
        shown = text if end < 0 else "${" + text[pos:end + 1]
        if end < 0:
            raise InterpolationError(f'invalid interpolation format "{text}": missing closing "}}"')
        raise InterpolationError(f'invalid interpolation format "{shown}"')
    name = m.group(0)
    pos = m.end()
    if pos >= len(text):
        raise InterpolationError(f'invalid interpolation format "{text}": missing closing "}}"')
    if text[pos] == "}":
        return _lookup(name, env, on_missing if evaluate else None), pos + 1
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if text.startswith(op, pos):
            break
    else:
        raise InterpolationError(f'invalid interpolation format "{text}"')
    pos += len(op)
    is_set = name in env
    value = env.get(name, "")
    use_arg = {
        ":-": not value, "-": not is_set,
        ":?": not value, "?": not is_set,
        ":+": bool(value), "+": is_set,
    }[op]
    # The argument is expanded even when unused, as compose-go does: `${SET:-${UNSET:?x}}`
    # fails there too.
    arg, pos = _expand(text, pos, env, on_missing, nested=True, evaluate=evaluate)
    pos += 1  # the closing brace
    if op in (":?", "?"):
        if use_arg and evaluate:
            raise InterpolationError(
                f'required variable "{name}" is missing a value' + (f": {arg}" if arg else ""))
        return value, pos
    if op in (":+", "+"):
        return (arg if use_arg else ""), pos
    return (arg if use_arg else value), pos


def interpolate_tree(node: Any, env: Mapping[str, str], path: str,
                     on_error: Callable[[str, str], None],
                     on_missing: Callable[[str], None] | None = None) -> Any:
    """Interpolate every string value (not keys) of a YAML tree; ``x-`` keys are left alone
    only where Compose leaves them (it interpolates them too, so we do as well). The key path
    of a value is spelled out only for an error."""

    def walk(node: Any, where: Any) -> Any:
        if isinstance(node, str):
            if "$" not in node:
                return node
            try:
                return interpolate(node, env, on_missing)
            except InterpolationError as exc:
                on_error(_spelled(path, where), str(exc))
                return node
        if isinstance(node, dict):
            return {k: walk(v, (where, k, False)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (where, i, True)) for i, v in enumerate(node)]
        return node

    return walk(node, None)


def _spelled(path: str, where: Any) -> str:
    """``(parent, key or index, is_index)`` links -> ``a.b[0].c`` under ``path``."""
    links = []
    while where is not None:
        where, step, is_index = where
        links.append((step, is_index))
    for step, is_index in reversed(links):
        path = f"{path}[{step}]" if is_index else (f"{path}.{step}" if path else str(step))
    return path
