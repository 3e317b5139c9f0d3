"""Read YAML the way Compose (Go's yaml.v3) reads it, with errors that carry line numbers.

PyYAML implements YAML 1.1, whose implicit types are traps in a Compose file: ``no`` would be
``False``, an unquoted ``22:22`` port a base-60 integer. We resolve scalars as yaml.v3 does:
only ``true``/``false`` are booleans, there is no base-60, ``0755`` is octal. Duplicate keys
(PyYAML silently keeps the last) are errors, and an alias bomb is capped.

Two ways to the same objects. The fast one builds them straight from libyaml's events (no
node graph: composing nodes cost 5x what the events do); it only ever succeeds, or gives up on
anything unusual (an error of any kind, an unknown tag, deep nesting). Then the exact one runs:
libyaml composes the node graph and one small recursive function builds the objects (instead
of PyYAML's generic constructor), and every error message, line number included, is its.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode, SequenceNode

from prefect_compose.errors import InputError

try:  # libyaml's parser and composer are ~10x faster than PyYAML's
    _BaseLoader = yaml.CSafeLoader  # type: ignore[attr-defined]
    from yaml.cyaml import CParser as _CParser
except (AttributeError, ImportError):  # pragma: no cover
    _BaseLoader = yaml.SafeLoader
    _CParser = None

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
            return _implicit_tag(value) if implicit[0] else STR
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
        try:
            return _tagged(node.tag, node.value)  # one resolution for both paths
        except _GiveUp:
            raise _Problem(f"unsupported tag {node.tag}", node) from None


class _GiveUp(Exception):
    """The fast path met something it leaves to the exact one."""


_RESET_ANCHOR = object()  # an anchored `!reset` collection: each alias of it is a new Reset
_MAX_FAST_DEPTH = 64  # deeper documents take the exact path (its recursion limit, its error)


_PLAIN_STARTS = frozenset("tTfFnN~") | _NUMERIC_START  # what a non-string can start with


def _plain(value: str) -> Any:
    """A plain (unquoted, untagged) scalar, resolved as ``_Loader.resolve`` + ``scalar`` do."""
    if value[:1] not in _PLAIN_STARTS:
        return None if value == "" else value
    if value in _BOOLS:
        return _BOOLS[value]
    if value in _NULLS:
        return None
    if value[:1] in _NUMERIC_START:
        if _INT_RE.fullmatch(value):
            return _int(value)
        if _FLOAT_RE.fullmatch(value):
            return _float(value)
    return value


def _tagged(tag: str, value: str) -> Any:
    """A scalar of an explicit (or resolved) tag, for both paths (``_Builder.scalar`` turns
    _GiveUp into the error naming the tag)."""
    if tag == STR or tag == MERGE:
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
    raise _GiveUp


def _scalar_tag(event: Any) -> str:
    tag = event.tag
    if tag is None or tag == "!":
        return _implicit_tag(event.value) if event.implicit[0] else STR
    return tag


def _implicit_tag(value: str) -> str:
    """The tag of a plain scalar, as yaml.v3 resolves it (both paths)."""
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


class _EventBuilder:
    """libyaml events -> the objects ``_Builder`` makes of the node graph: aliases share one
    object, merge keys, duplicate keys and tags as there. Raises on anything else (and on
    every error): the caller then takes the exact path."""

    def __init__(self, parser: Any) -> None:
        self.next = parser.get_event
        self.anchors: dict[str, Any] = {}
        self.depth = 0

    def document(self) -> Any:
        nxt = self.next
        nxt()  # StreamStartEvent
        event = nxt()
        if type(event) is StreamEndEvent:
            return None
        root = self.node(nxt())  # after the DocumentStartEvent
        if type(nxt()) is not DocumentEndEvent or type(nxt()) is not StreamEndEvent:
            raise _GiveUp  # a second document: the exact path says where
        return root

    def anchor(self, name: str, value: Any) -> None:
        if name in self.anchors:
            raise _GiveUp  # a duplicate anchor: the composer's error
        self.anchors[name] = value

    def node(self, event: Any) -> Any:
        cls = type(event)
        if cls is ScalarEvent:
            tag = event.tag
            if tag is None and event.anchor is None:
                return _plain(event.value) if event.implicit[0] else event.value
            tag = _scalar_tag(event)
            if event.anchor is not None:
                self.anchor(event.anchor, (tag, event.value))
            return _tagged(tag, event.value)
        if cls is AliasEvent:
            target = self.anchors[event.anchor]  # an undefined alias: KeyError, exact path
            if type(target) is tuple:
                return _tagged(*target)
            if target is _RESET_ANCHOR:
                return Reset()
            return target
        if cls is MappingStartEvent:
            return self.mapping(event)
        if cls is SequenceStartEvent:
            return self.sequence(event)
        raise _GiveUp

    def _open(self, event: Any, plain_tag: str, out: Any) -> str:
        tag = event.tag
        if tag is None or tag == "!":
            tag = plain_tag
        if tag != plain_tag and tag != "!override" and tag != "!reset":
            raise _GiveUp  # an unsupported tag
        if event.anchor is not None:
            self.anchor(event.anchor, _RESET_ANCHOR if tag == "!reset" else out)
        self.depth += 1
        if self.depth > _MAX_FAST_DEPTH:
            raise _GiveUp
        return tag

    @staticmethod
    def _close(tag: str, out: Any) -> Any:
        if tag == "!reset":
            return Reset()
        if tag == "!override":
            return Override(out)
        return out

    def sequence(self, start: Any) -> Any:
        out: list = []
        tag = self._open(start, SEQ, out)
        nxt, node, append, plain = self.next, self.node, out.append, _plain
        while True:
            event = nxt()
            cls = type(event)
            if cls is SequenceEndEvent:
                break
            if cls is ScalarEvent and event.tag is None and event.anchor is None:
                append(plain(event.value) if event.implicit[0] else event.value)
            else:
                append(node(event))
        self.depth -= 1
        return self._close(tag, out)

    def mapping(self, start: Any) -> Any:
        result: dict = {}
        tag = self._open(start, MAP, result)
        nxt, node, plain = self.next, self.node, _plain
        merged: list = []
        while True:
            event = nxt()
            cls = type(event)
            if cls is MappingEndEvent:
                break
            if cls is ScalarEvent and event.tag is None and event.anchor is None:
                value = event.value
                if not event.implicit[0]:
                    key = value
                elif value == "<<":
                    merged.append(node(nxt()))
                    continue
                else:
                    key = plain(value)
            elif cls is ScalarEvent:
                tag_ = _scalar_tag(event)
                if tag_ == MERGE:
                    if event.anchor is not None:
                        self.anchor(event.anchor, (tag_, event.value))
                    merged.append(node(nxt()))
                    continue
                key = node(event)
            elif cls is AliasEvent and type(self.anchors.get(event.anchor)) is tuple \
                    and self.anchors[event.anchor][0] == MERGE:
                merged.append(node(nxt()))
                continue
            else:
                key = node(event)
            if key in result:  # also raises TypeError for a list or mapping as a key
                raise _GiveUp
            event = nxt()
            if type(event) is ScalarEvent and event.tag is None and event.anchor is None:
                result[key] = plain(event.value) if event.implicit[0] else event.value
            else:
                result[key] = node(event)
        if merged:
            base: dict = {}
            for value in merged:
                if type(value) is list:
                    sources = value
                elif type(value) is dict:
                    sources = [value]
                else:
                    raise _GiveUp
                for src in reversed(sources):  # in `<<: [*a, *b]` the first source wins
                    if not isinstance(src, dict):
                        raise _GiveUp
                    base.update(src)
            items = dict(result)
            result.clear()
            result.update(base)
            result.update(items)
        self.depth -= 1
        return self._close(tag, result)


def _fast_parse(text: str) -> Any:
    parser = _CParser(text)
    try:
        return _EventBuilder(parser).document()
    finally:
        parser.dispose()


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
        doc = _fast_parse(text) if _CParser is not None else _exact_parse(text, file)
    except Exception:  # noqa: BLE001 - anything unusual: the exact path decides, and says
        doc = _exact_parse(text, file)
    if "*" in text and _expanded_size(doc) > MAX_EXPANDED_NODES:  # no alias without `*`
        raise InputError(
            f"document expands to more than {MAX_EXPANDED_NODES:,} nodes through aliases "
            "(an alias bomb?)", file=file)
    return doc


def _exact_parse(text: str, file: str) -> Any:
    """The node graph, then the objects: slower, and the source of every error message."""
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
    return doc
