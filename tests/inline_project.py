"""Helpers for tests that load compose projects written inline (the `proj` fixture, in
tests/unit/conftest.py, is the project directory and the working directory)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from prefect_compose.errors import InputError
from prefect_compose.load import load_project

SIMPLE = """\
services:
  web:
    image: busybox
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def load(*files: str, **kwargs):
    kwargs.setdefault("environ", {})
    return load_project(list(files) or None, **kwargs)


def load_error(*files: str, **kwargs) -> InputError:
    with pytest.raises(InputError) as err:
        load(*files, **kwargs)
    return err.value
