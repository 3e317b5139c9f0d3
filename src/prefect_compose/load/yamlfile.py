"""Read YAML the way Compose (Go's yaml.v3) reads it, with errors that carry line numbers.

PyYAML implements YAML 1.1, whose implicit types are traps in a Compose file: ``no`` would be
``False``, an unquoted ``22:22`` port a base-60 integer. We resolve scalars as yaml.v3 does:
only ``true``/``false`` are booleans, there is no base-60, ``0755`` is octal. Duplicate keys
(PyYAML silently keeps the last) are errors, and an alias bomb is capped.

libyaml parses and composes the node graph; the Python objects are then built by one small
recursive function instead of PyYAML's generic constructor (3-4x faster on large files).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import ScalarNode, SequenceNode

from prefect_compose.errors import InputError

try:  # libyaml's parser and composer are ~10x faster than PyYAML's
    _BaseLoader = yaml.CSafeLoader  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover
    _BaseLoader = yaml.SafeLoader

MAX_EXPANDED_NODES = 1_000_000

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
MERGE = "tag:yaml.org,2002:merge"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"

_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
          "FALSE": False}
_NULLS = {"", "~", "null", "Null", "NULL"}
# yaml.v3 resolves ints with strconv.ParseInt(base 0): 0x, 0o, 0b, underscores, and keeps
# YAML 1.1's leading-zero octals (0755 == 493)
_INT_RE = re.compile(r"[-+]?(?:0[bB][01_]+|0[oO]?[0-7_]+|0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)")
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_NUMERIC_START = set("-+.0123456789")


class Reset:
    """`!reset` in an override file: drop the key."""


class Override:
    """`!override VALUE` in an override file: replace instead of merging."""

    def __init__(self, value: Any) -> None:
        self.value = value


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    # no path resolvers: skip PyYAML's per-node bookkeeping for them
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:  # called by libyaml
        if kind is ScalarNode:
            if implicit[0]:
                if value in _BOOLS:
                    return BOOL
                if value in _NULLS:
                    return NULL
                if value == "<<":
                    return MERGE
                if value[:1] in _NUMERIC_START:
                    if _INT_RE.fullmatch(value):
                        return INT
                    if _FLOAT_RE.fullmatch(value):
                        return FLOAT
            return STR
        return SEQ if kind is SequenceNode else MAP


class _Problem(Exception):
    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.line = node.start_mark.line + 1 if node.start_mark else None


def _int(text: str) -> int:
    text = text.replace("_", "")
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    low = text.lower()
    if low.startswith("0x"):
        return sign * int(text[2:], 16)
    if low.startswith("0o"):
        return sign * int(text[2:], 8)
    if low.startswith("0b"):
        return sign * int(text[2:], 2)
    if len(text) > 1 and text.startswith("0") and set(text) <= set("01234567"):
        return sign * int(text, 8)
    return sign * int(text)


def _float(text: str) -> float:
    low = text.lower()
    if low.endswith(".inf"):
        return float("-inf") if low.startswith("-") else float("inf")
    if low == ".nan":
        return float("nan")
    return float(text)


class _Builder:
    """Node graph -> Python objects. Aliases share one object (memoised by node), so an
    alias bomb costs little to build; its expanded size is checked afterwards."""

    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}

    def build(self, node: yaml.Node) -> Any:
        cls = type(node)
        if cls is ScalarNode:
            return self.scalar(node)
        key = id(node)
        if key in self.memo:
            return self.memo[key]
        tag = node.tag
        if tag == "!reset":
            return Reset()
        if tag == "!override":
            return Override(self.collection(node, SEQ if cls is SequenceNode else MAP))
        return self.collection(node, tag)

    def collection(self, node: yaml.Node, tag: str) -> Any:
        key = id(node)
        cls = type(node)
        if cls is SequenceNode:
            if tag != SEQ:
                raise _Problem(f"unsupported tag {tag} on a list", node)
            out: list = []
            self.memo[key] = out
            out.extend(self.build(child) for child in node.value)
            return out
        if tag != MAP:
            raise _Problem(f"unsupported tag {tag} on a mapping", node)
        result: dict = {}
        self.memo[key] = result
        seen: dict[Any, yaml.Node] = {}
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                merged.append(value_node)
                continue
            k = self.build(key_node)
            try:
                hash(k)
            except TypeError:
                raise _Problem("a mapping key must be a plain value", key_node) from None
            if k in seen:
                raise _Problem(f'duplicate key "{k}" (first defined on line '
                               f"{seen[k].start_mark.line + 1})", key_node)
            seen[k] = key_node
            result[k] = self.build(value_node)
        if merged:
            base: dict = {}
            for value_node in merged:
                sources = value_node.value if type(value_node) is SequenceNode else [value_node]
                # in `<<: [*a, *b]` the first source wins
                for src in reversed(sources):
                    value = self.build(src)
                    if not isinstance(value, dict):
                        raise _Problem("`<<` expects a mapping or a list of mappings", src)
                    base.update(value)
            result_items = dict(result)
            result.clear()
            result.update(base)
            result.update(result_items)
        return result

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        value = node.value
        if tag == STR:
            return value
        if tag == INT:
            return _int(value)
        if tag == BOOL:
            return _BOOLS[value] if value in _BOOLS else value.lower() == "true"
        if tag == NULL:
            return None
        if tag == FLOAT:
            return _float(value)
        if tag == "!reset":
            return Reset()
        if tag == "!override":
            return Override(value)
        if tag == MERGE:
            return value
        raise _Problem(f"unsupported tag {tag}", node)


def _expanded_size(doc: Any) -> int:
    """Nodes the document has once aliases are expanded, memoised so a bomb costs little."""
    memo: dict[int, int] = {}

    def size(obj: Any) -> int:
        if isinstance(obj, dict):
            children = obj.values()
        elif isinstance(obj, list):
            children = obj
        else:
            return 1
        key = id(obj)
        if key in memo:
            return memo[key]
        memo[key] = MAX_EXPANDED_NODES + 1  # a self-referencing alias is as bad as a bomb
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_EXPANDED_NODES:
                break
        memo[key] = total
        return total

    return size(doc)


def parse_yaml(text: str, file: str) -> Any:
    """Parse one YAML document; every problem becomes an InputError naming file and line."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        doc = _Builder().build(node) if node is not None else None
    except _Problem as exc:
        raise InputError(f"invalid YAML: {exc}", file=file, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        bad_line = text.splitlines()[mark.line] if mark and mark.line < len(
            text.splitlines()) else ""
        if "\t" in problem or "'\\t'" in problem or (
                "cannot start any token" in problem and "\t" in bad_line):
            problem = "tab character found: indent with spaces, not tabs"
        raise InputError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:  # a ReaderError (a control character) says where in 2 lines
        problem = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise InputError(f"invalid YAML: {problem}", file=file) from None
    except RecursionError:
        raise InputError("invalid YAML: document nested too deeply", file=file) from None
    if "*" in text and _expanded_size(doc) > MAX_EXPANDED_NODES:  # no alias without `*`
        raise InputError(
            f"document expands to more than {MAX_EXPANDED_NODES:,} nodes through aliases "
            "(an alias bomb?)", file=file)
    return doc
