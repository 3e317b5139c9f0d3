"""Read YAML the way Compose (Go's yaml.v3) reads it, with errors that carry line numbers.

PyYAML implements YAML 1.1, whose implicit types are traps in a Compose file: ``no`` would be
``False``, an unquoted ``22:22`` port a base-60 integer. We resolve scalars as yaml.v3 does:
only ``true``/``false`` are booleans, there is no base-60, ``0755`` is octal. Duplicate keys
(PyYAML silently keeps the last) are errors, and an alias bomb is capped.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .errors import InputError

try:  # libyaml's parser is ~10x faster; construction stays in Python
    _BaseLoader = yaml.CSafeLoader  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover
    _BaseLoader = yaml.SafeLoader

MAX_EXPANDED_NODES = 1_000_000


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    pass


# YAML 1.2 core-schema-like implicit resolvers (what yaml.v3 does), replacing YAML 1.1's.
_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    if text.startswith("0o"):
        return sign * int(text[2:], 8)
    if text.startswith("0x"):
        return sign * int(text[2:], 16)
    if len(text) > 1 and text.startswith("0") and set(text) <= set("01234567"):
        return sign * int(text, 8)  # yaml.v3 keeps YAML 1.1 octals: 0755 == 493
    return sign * int(text)


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        if isinstance(key_node, yaml.ScalarNode):
            key = key_node.value
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f'duplicate key "{key}" (first defined on line {seen[key].start_mark.line + 1})',
                    key_node.start_mark)
            seen[key] = key_node
    loader.flatten_mapping(node)
    mapping: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark) from None
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


class Reset:
    """`!reset` in an override file: drop the key."""


class Override:
    """`!override VALUE` in an override file: replace instead of merging."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _construct_reset(loader: yaml.SafeLoader, node: yaml.Node) -> Reset:
    return Reset()


def _construct_override(loader: yaml.SafeLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(_construct_mapping(loader, node))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("!reset", _construct_reset)
_Loader.add_constructor("!override", _construct_override)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


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
            doc = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        if "'\\t'" in problem or "\t" in problem:
            problem = "tab character found: indent with spaces, not tabs"
        raise InputError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise InputError("invalid YAML: document nested too deeply", file=file) from None
    if _expanded_size(doc) > MAX_EXPANDED_NODES:
        raise InputError(
            f"document expands to more than {MAX_EXPANDED_NODES:,} nodes through aliases "
            "(an alias bomb?)", file=file)
    return doc
