"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def proj(tmp_path, monkeypatch):
    """An empty project directory that is also the working directory."""
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES",
                "COMPOSE_PATH_SEPARATOR"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.chdir(root)
    return root
