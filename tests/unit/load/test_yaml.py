"""The YAML stage: Compose (Go's yaml.v3) reads scalars as YAML 1.2, not PyYAML's YAML 1.1.

Every expectation here was checked against the real Compose v2 binary
(`docker-compose config --format json`).
"""

from __future__ import annotations

import time

import pytest

from prefect_compose.errors import InputError
from prefect_compose.load.yamlfile import MAX_EXPANDED_NODES, Override, Reset, parse_yaml


def value(text: str):
    return parse_yaml(f"v: {text}\n", "t.yaml")["v"]


# -- YAML 1.1 traps --------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["no", "No", "NO", "yes", "Yes", "on", "off", "y", "n", "Off"])
def test_yaml11_booleans_must_stay_strings(text):
    assert value(text) == text


@pytest.mark.parametrize("text, expected", [
    ("true", True), ("True", True), ("TRUE", True),
    ("false", False), ("False", False), ("FALSE", False),
])
def test_only_true_and_false_are_booleans(text, expected):
    assert value(text) is expected


@pytest.mark.parametrize("text", ["22:22", "12:30", "1:2:3", "190:20:30"])
def test_colon_numbers_must_not_be_base_60(text):
    assert value(text) == text


@pytest.mark.parametrize("text, expected", [
    ("0755", 493),  # yaml.v3 keeps YAML 1.1 octals (Compose: "493")
    ("-0755", -493),
    ("0o17", 15),
    ("0x1F", 31),
    ("08", 8),
    ("0", 0),
    ("42", 42),
    ("+12", 12),
    ("-7", -7),
])
def test_integers_as_yaml_v3_reads_them(text, expected):
    got = value(text)
    assert got == expected and isinstance(got, int) and not isinstance(got, bool)


@pytest.mark.parametrize("text, expected", [
    ("1_000", 1000),   # Compose: "1000" (strconv.ParseInt, base 0, underscores allowed)
    ("0b101", 5),      # Compose: "5"
    ("-0x1F", -31),    # Compose: "-31"
])
def test_integers_with_underscores_binary_and_signed_hex(text, expected):
    assert value(text) == expected


@pytest.mark.parametrize("text, expected", [("1.5", 1.5), ("1e3", 1000.0), ("1.0e+3", 1000.0),
                                            (".5", 0.5), ("-2.", -2.0)])
def test_floats(text, expected):
    assert value(text) == expected


@pytest.mark.parametrize("text", ["~", "null", "Null", "NULL", ""])
def test_nulls(text):
    assert value(text) is None


@pytest.mark.parametrize("text", ["2001-01-01", "1_0.5", "0b2", "0x", "1.2.3", "1e", "nan"])
def test_other_plain_scalars_stay_strings(text):
    assert value(text) == text


def test_quoted_scalars_are_strings():
    doc = parse_yaml('a: "no"\nb: \'0755\'\nc: "22:22"\nd: "true"\n', "t.yaml")
    assert doc == {"a": "no", "b": "0755", "c": "22:22", "d": "true"}


def test_port_list_with_unquoted_colon_pair():
    doc = parse_yaml("ports:\n  - 22:22\n  - 8080\n", "t.yaml")
    assert doc["ports"] == ["22:22", 8080]


# -- anchors, aliases and merge keys ------------------------------------------------------
def test_anchor_alias_and_merge_key():
    doc = parse_yaml(
        "x-base: &base\n"
        "  image: busybox\n"
        "  environment: {A: '1'}\n"
        "x-more: &more\n"
        "  restart: always\n"
        "services:\n"
        "  a:\n"
        "    <<: *base\n"
        "    image: alpine\n"
        "  b:\n"
        "    <<: [*base, *more]\n"
        "    command: *base\n", "t.yaml")
    a, b = doc["services"]["a"], doc["services"]["b"]
    assert a == {"image": "alpine", "environment": {"A": "1"}}  # explicit key beats the merge
    assert b["image"] == "busybox" and b["restart"] == "always"
    assert b["command"] == {"image": "busybox", "environment": {"A": "1"}}


def test_merge_key_is_not_a_duplicate_of_explicit_keys():
    doc = parse_yaml("a: &a {x: 1}\nb:\n  <<: *a\n  x: 2\n", "t.yaml")
    assert doc["b"] == {"x": 2}


def _bomb(levels: int = 9) -> str:
    lines = ['x-a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"x-a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    lines.append("services:\n  web:\n    image: busybox\n"
                 f"    command: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_rejected_fast():
    start = time.monotonic()
    with pytest.raises(InputError) as err:
        parse_yaml(_bomb(9), "bomb.yaml")
    assert time.monotonic() - start < 2.0  # a safety bound, not a benchmark
    msg = str(err.value)
    assert msg.startswith("bomb.yaml: ")
    assert "alias" in msg and f"{MAX_EXPANDED_NODES:,}" in msg


def test_moderate_alias_use_is_fine():
    doc = parse_yaml(_bomb(4), "ok.yaml")  # 9**4 = 6561 leaves
    assert len(doc["services"]["web"]["command"]) == 9


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n"])
def test_recursive_alias_is_an_input_error(text):
    with pytest.raises(InputError) as err:
        parse_yaml(text, "r.yaml")
    msg = str(err.value)
    assert msg.startswith("r.yaml")
    assert "alias" in msg or "recursive" in msg


# -- errors carry file and line -----------------------------------------------------------------
def test_duplicate_service_names_line_numbers():
    text = "services:\n  web:\n    image: a\n  db:\n    image: b\n  web:\n    image: c\n"
    with pytest.raises(InputError) as err:
        parse_yaml(text, "compose.yaml")
    e = err.value
    assert e.line == 6 and e.file == "compose.yaml"
    assert str(e) == ('compose.yaml:6: invalid YAML: duplicate key "web" '
                      "(first defined on line 2)")


def test_duplicate_key_inside_a_service():
    text = "services:\n  web:\n    image: a\n    command: x\n    image: b\n"
    with pytest.raises(InputError) as err:
        parse_yaml(text, "compose.yaml")
    assert str(err.value) == ('compose.yaml:5: invalid YAML: duplicate key "image" '
                              "(first defined on line 3)")


def test_same_key_in_different_mappings_is_fine():
    assert parse_yaml("a: {x: 1}\nb: {x: 2}\n", "t.yaml") == {"a": {"x": 1}, "b": {"x": 2}}


def test_syntax_error_has_line_number():
    text = "services:\n  web:\n    image: busybox\n    command: [echo, 'hi'\n  db:\n    image: x\n"
    with pytest.raises(InputError) as err:
        parse_yaml(text, "compose.yaml")
    assert err.value.line is not None and 4 <= err.value.line <= 5
    assert str(err.value).startswith(f"compose.yaml:{err.value.line}: invalid YAML: ")


def test_tab_indentation_has_line_number():
    with pytest.raises(InputError) as err:
        parse_yaml("services:\n  web:\n\timage: busybox\n", "compose.yaml")
    assert err.value.line == 3
    assert str(err.value).startswith("compose.yaml:3: invalid YAML")


@pytest.mark.parametrize("text, line", [
    ("services:\n  web:\n\timage: busybox\n", 3),
    ("services:\n\tweb:\n    image: busybox\n", 2),
    ("services:\n  web:\n    image: x\n    environment:\n    \tA: 1\n", 5),
])
def test_tab_indentation_message_says_tab(text, line):
    with pytest.raises(InputError) as err:
        parse_yaml(text, "compose.yaml")
    assert str(err.value) == (f"compose.yaml:{line}: invalid YAML: tab character found: "
                              "indent with spaces, not tabs")


def test_unhashable_key_is_an_input_error():
    with pytest.raises(InputError) as err:
        parse_yaml("? [a, b]\n: 1\n", "k.yaml")
    assert "mapping key must be a plain value" in str(err.value)


def test_multiple_documents_are_an_input_error():
    with pytest.raises(InputError) as err:
        parse_yaml("a: 1\n---\nb: 2\n", "m.yaml")
    assert str(err.value).startswith("m.yaml")


def test_empty_document_is_none():
    assert parse_yaml("", "e.yaml") is None
    assert parse_yaml("# only a comment\n", "e.yaml") is None


# -- !reset / !override ---------------------------------------------------------------------
def test_reset_and_override_tags():
    doc = parse_yaml("a: !reset []\nb: !override [1, 2]\nd: !override text\ne: !reset null\n",
                     "o.yaml")
    assert isinstance(doc["a"], Reset) and isinstance(doc["e"], Reset)
    assert isinstance(doc["b"], Override) and doc["b"].value == [1, 2]
    assert doc["d"].value == "text"
    assert parse_yaml("c: !override {x: '1'}\n", "o.yaml")["c"].value == {"x": "1"}


def test_several_overrides_in_one_document_keep_their_own_values():
    doc = parse_yaml("b: !override [1, 2]\nc: !override {x: '1'}\nd: !override [3]\n",
                     "o.yaml")
    assert (doc["b"].value, doc["c"].value, doc["d"].value) == ([1, 2], {"x": "1"}, [3])


def test_override_mapping_still_rejects_duplicates():
    with pytest.raises(InputError, match="duplicate key"):
        parse_yaml("c: !override\n  x: 1\n  x: 2\n", "o.yaml")
