"""Compose's dotenv format (.env, --env-file, env_file:). The big sample was compared with
`docker-compose config` for a service using it as env_file."""

from __future__ import annotations


import pytest

from prefect_compose.load.envfile import parse_env_text, read_env_file
from prefect_compose.errors import InputError


SAMPLE = """\
# comment
PLAIN=value
SPACED = spaced value  
export EXPORTED=yes
INLINE=foo # a comment
HASH=foo#bar
SQ='single $PLAIN \\n'
DQ="double $PLAIN \\n tab\\tend"
MULTI="line1
line2"
EMPTY=
BARE
REF=${PLAIN}-x
DEF=${NOPE:-fallback}
QHASH="a # not comment"
SQHASH='b # not comment'
EQ=a=b=c
DOTS.KEY=1
DASH-KEY=2
UNI=h\u00e9llo
TRAIL="quoted"  # comment after
"""


def test_sample_matches_compose():
    got = parse_env_text(SAMPLE, "a.env")
    assert got == {
        "PLAIN": "value",
        "SPACED": "spaced value",
        "EXPORTED": "yes",
        "INLINE": "foo",
        "HASH": "foo#bar",
        "SQ": "single $PLAIN \\n",          # single quotes: literal, no escapes
        "DQ": "double value \n tab\tend",   # double quotes: escapes and interpolation
        "MULTI": "line1\nline2",
        "EMPTY": "",
        "BARE": None,                       # no "=": taken from the environment, if set
        "REF": "value-x",
        "DEF": "fallback",
        "QHASH": "a # not comment",
        "SQHASH": "b # not comment",
        "EQ": "a=b=c",
        "DOTS.KEY": "1",
        "DASH-KEY": "2",
        "UNI": "h\u00e9llo",
        "TRAIL": "quoted",
    }


def test_lookup_feeds_interpolation_and_earlier_keys_win_over_it():
    got = parse_env_text("A=${HOME_X}/a\nB=${A}/b\nHOME_X=local\nC=${HOME_X}\n", "e.env",
                         lookup={"HOME_X": "/home/u"})
    assert got == {"A": "/home/u/a", "B": "/home/u/a/b", "HOME_X": "local", "C": "local"}


def test_later_key_overrides_earlier():
    assert parse_env_text("A=1\nA=2\n", "e.env") == {"A": "2"}


def test_blank_lines_and_comments_are_skipped():
    assert parse_env_text("\n\n   \n# x=1\n  # y=2\nZ=3\n", "e.env") == {"Z": "3"}


def test_crlf_line_endings():
    assert parse_env_text("A=1\r\nB=two\r\n", "e.env") == {"A": "1", "B": "two"}


@pytest.mark.parametrize("line, lineno", [("not a line", 1), ("A=1\nB=2\nnot a line", 3),
                                          ("A=1\nB C=2", 2)])
def test_invalid_line_names_file_and_line(line, lineno):
    with pytest.raises(InputError) as err:
        parse_env_text(line, "bad.env")
    assert err.value.file == "bad.env" and err.value.line == lineno
    assert str(err.value).startswith(f"bad.env:{lineno}: invalid line")


def test_key_starting_with_a_digit_is_accepted_as_in_compose():
    assert parse_env_text("1BAD=2\n", "e.env") == {"1BAD": "2"}


def test_unterminated_quote():
    with pytest.raises(InputError) as err:
        parse_env_text('A=1\nB="never closed\nC=3\n', "q.env")
    assert str(err.value) == "q.env:2: unterminated quoted value for B"


def test_bad_interpolation_names_line():
    with pytest.raises(InputError) as err:
        parse_env_text("A=1\nB=${OOPS\n", "i.env")
    assert str(err.value).startswith("i.env:2: invalid interpolation format")


def test_required_variable_in_env_file():
    with pytest.raises(InputError, match='required variable "X" is missing a value: set X'):
        parse_env_text("A=${X:?set X}\n", "r.env")


def test_read_env_file_bom_and_missing(tmp_path):
    f = tmp_path / "bom.env"
    f.write_bytes("\ufeffA=1\n".encode())
    assert read_env_file(f, "bom.env") == {"A": "1"}
    with pytest.raises(InputError) as err:
        read_env_file(tmp_path / "nope.env", "compose.yaml")
    assert str(err.value) == f"compose.yaml: env file not found: {tmp_path / 'nope.env'}"


def test_read_env_file_not_utf8(tmp_path):
    f = tmp_path / "latin.env"
    f.write_bytes(b"A=\xe9\xff\n")
    with pytest.raises(InputError, match="cannot read env file"):
        read_env_file(f, "compose.yaml")
