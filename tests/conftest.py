"""Shared fixtures. Docker: a session client and the local busybox test image (no pulls).

Under CI=true a Docker engine that does not answer FAILS the tests that need it; elsewhere
they are skipped.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

_IN_CI = os.environ.get("CI", "").lower() in ("true", "1")


def _load_image_builder():
    path = Path(__file__).parent / "images" / "build.py"
    spec = importlib.util.spec_from_file_location("prefect_compose_test_images", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def docker_client():
    """A ``docker.DockerClient`` for the engine under test (DOCKER_HOST or the local socket)."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001
        message = f"Docker engine unreachable: {exc}"
        if _IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox_image(docker_client) -> str:
    """The tag of the local ``busybox:latest`` image, built FROM scratch if missing."""
    builder = _load_image_builder()
    builder.ensure_busybox_image(docker_client)
    return builder.TAG


# One Prefect server for the whole session (tests/prefect_fixtures.py), imported by that exact
# module name: tests/ is not a package.
from prefect_fixtures import prefect_server  # noqa: E402,F401
