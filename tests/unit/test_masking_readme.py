"""The README's "What is masked" says what masking.py does: the same name words, the same
minimum length, and common defaults that really are left alone."""

from __future__ import annotations

from pathlib import Path

from prefect_compose import masking

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("## What is masked"):README.index("## Prefect")]


def test_the_section_names_every_secret_name_word_and_part():
    for word in (*masking._WORDS, *masking._PARTS):
        assert word in SECTION, word


def test_the_minimum_length_and_the_common_defaults_are_as_said():
    assert f"shorter than {masking.MIN_LEN} characters" in SECTION
    for word in ("postgres", "changeme", "secret", "admin"):
        assert word in masking.COMMON and f"`{word}`" in SECTION
    m = masking.Masker(["postgres", "short", "a-long-random-value"])
    assert m.mask("postgres short a-long-random-value") == "postgres short ********"
    assert m.mask("POSTGRES_PASSWORD=postgres") == "POSTGRES_PASSWORD=********"
    assert m.mask("db://u:pw@h") == "db://u:********@h"
