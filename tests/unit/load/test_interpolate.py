"""Compose's ${VAR} interpolation. Expectations checked against `docker-compose config`
(which prints a literal "$" as "$$")."""

from __future__ import annotations


import pytest

from prefect_compose.load.interpolate import InterpolationError, interpolate, interpolate_tree


ENV = {"SET": "val", "EMPTY": "", "OTHER": "o"}


@pytest.mark.parametrize("template, expected", [
    ("plain", "plain"),
    ("${SET}", "val"),
    ("$SET", "val"),
    ("${SET}${SET}", "valval"),
    ("pre-${SET}-post", "pre-val-post"),
    ("$SET_x", ""),            # the name is SET_x, which is unset
    ("${UNSET}", ""),
    # :- and -
    ("${UNSET:-def}", "def"),
    ("${EMPTY:-def}", "def"),
    ("${SET:-def}", "val"),
    ("${UNSET-def}", "def"),
    ("${EMPTY-def}", ""),
    ("${SET-def}", "val"),
    ("${UNSET:-}", ""),
    ("${UNSET:-a:b}", "a:b"),
    ("${UNSET:-a b c}", "a b c"),
    # :+ and +
    ("${SET:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${UNSET:+alt}", ""),
    ("${SET+alt}", "alt"),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET+alt}", ""),
    # ? and :? when the variable is good enough
    ("${SET:?msg}", "val"),
    ("${SET?msg}", "val"),
    ("${EMPTY?msg}", ""),
    # nesting
    ("${UNSET:-${SET}}", "val"),
    ("${UNSET:-${SET:-x}}", "val"),
    ("${UNSET:-${UNSET2:-deep}}", "deep"),
    ("${UNSET:-$SET}", "val"),
    ("${SET:+${OTHER}}", "o"),
    ("${UNSET:-pre${OTHER}post}", "preopost"),
    # $$ escapes
    ("$$SET", "$SET"),
    ("$${SET}", "${SET}"),
    ("$$", "$"),
    ("a$", "a$"),
    ("cost $5", "cost $5"),
    ("${UNSET:-$$x}", "$x"),
    ("${SET:-$$}", "val"),
    # braces after the expression are literal
    ("${UNSET:-a}b}", "ab}"),
    ("${UNSET:-a}}", "a}"),
    ("${UNSET:-{}}", "{}"),
])
def test_interpolation_forms(template, expected):
    assert interpolate(template, ENV) == expected


@pytest.mark.parametrize("template", [
    "${UNSET:?the tag is required}",
    "${EMPTY:?the tag is required}",
    "${UNSET?the tag is required}",
])
def test_required_variable_error_includes_message(template):
    with pytest.raises(InterpolationError) as err:
        interpolate(template, ENV)
    name = template[2:template.index("?")].rstrip(":")
    assert str(err.value) == f'required variable "{name}" is missing a value: the tag is required'


def test_required_without_message():
    with pytest.raises(InterpolationError) as err:
        interpolate("${UNSET:?}", ENV)
    assert str(err.value) == 'required variable "UNSET" is missing a value'


def test_required_message_is_itself_interpolated():
    with pytest.raises(InterpolationError, match="set it like val"):
        interpolate("${UNSET:?set it like ${SET}}", ENV)


def test_nested_required_in_a_used_default_fails():
    with pytest.raises(InterpolationError, match="boom"):
        interpolate("${UNSET:-${UNSET2:?boom}}", ENV)


def test_nested_required_in_an_unused_default_fails_as_in_compose():
    with pytest.raises(InterpolationError, match="boom"):
        interpolate("${SET:-${UNSET:?boom}}", ENV)


@pytest.mark.parametrize("template", ["${FOO", "x ${FOO:-bar", "${UNSET:-${SET}", "${"])
def test_unterminated_brace(template):
    with pytest.raises(InterpolationError) as err:
        interpolate(template, ENV)
    assert 'missing closing "}"' in str(err.value)
    assert "invalid interpolation format" in str(err.value)


@pytest.mark.parametrize("template", ["${}", "${1A}", "${FOO BAR}", "${FOO:x}", "${-x}"])
def test_invalid_expressions(template):
    with pytest.raises(InterpolationError, match="invalid interpolation format"):
        interpolate(template, ENV)


def test_on_missing_reports_unset_variables_once_per_use():
    seen: list[str] = []
    interpolate("${A} $B ${SET} ${C:-x} ${D-y}", ENV, seen.append)
    assert seen == ["A", "B"]  # defaults do not count as missing


def test_interpolate_tree_values_not_keys_and_paths_for_errors():
    tree = {"services": {"web": {"image": "busybox:${SET}", "${SET}": "k",
                                 "command": ["echo", "$OTHER", 3, None, True],
                                 "environment": {"A": "${BROKEN"}}}}
    errors: list[tuple[str, str]] = []
    out = interpolate_tree(tree, ENV, "", lambda p, m: errors.append((p, m)))
    web = out["services"]["web"]
    assert web["image"] == "busybox:val"
    assert "${SET}" in web  # keys are not interpolated
    assert web["command"] == ["echo", "o", 3, None, True]  # non-strings untouched
    assert errors == [("services.web.environment.A",
                       'invalid interpolation format "${BROKEN": missing closing "}"')]


def test_interpolate_tree_list_paths():
    errors: list[tuple[str, str]] = []
    interpolate_tree({"a": ["ok", "${X:?need X}"]}, {}, "", lambda p, m: errors.append((p, m)))
    assert errors == [("a[1]", 'required variable "X" is missing a value: need X')]


def test_interpolate_tree_paths_of_nested_lists_mappings_and_a_base_path():
    tree = {"s": {"w": {"cmd": [["${A:?a}"], {"k": "${B:?b}"}], 1: {"x": "${C"}}},
            "top": "${D:?d}"}
    errors: list[tuple[str, str]] = []
    out = interpolate_tree(tree, {}, "", lambda p, m: errors.append((p, m)))
    assert [p for p, _ in errors] == ["s.w.cmd[0][0]", "s.w.cmd[1].k", "s.w.1.x", "top"]
    assert out == tree and out is not tree and out["s"]["w"]["cmd"] is not tree["s"]["w"]["cmd"]
    errors.clear()
    interpolate_tree(["${A:?a}", {"k": ["${B:?b}"]}], {}, "base",
                     lambda p, m: errors.append((p, m)))
    assert [p for p, _ in errors] == ["base[0]", "base[1].k[0]"]
    errors.clear()
    interpolate_tree(["${A:?a}"], {}, "", lambda p, m: errors.append((p, m)))
    assert [p for p, _ in errors] == ["[0]"]
