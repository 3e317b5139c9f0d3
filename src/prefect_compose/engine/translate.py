"""docker SDK and transport exceptions -> the EngineError family of ``errors.py``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import docker.errors
import requests.exceptions

from prefect_compose.errors import EngineError, EngineUnavailable, ResourceNotFound


@contextlib.contextmanager
def translated(what: str, host: str | None = None) -> Iterator[None]:
    """Run the block, raising what went wrong as an EngineError that starts with ``what``;
    an unreachable engine is named by ``host`` (where the client connects)."""
    try:
        yield
    except EngineError:
        raise
    except docker.errors.NotFound as exc:
        raise ResourceNotFound(f"{what}: {_explain(exc)}") from exc
    except docker.errors.APIError as exc:
        raise EngineError(f"{what}: {_explain(exc)}") from exc
    except requests.exceptions.ConnectionError as exc:
        at = f" at {host}" if host else ""
        raise EngineUnavailable(f"{what}: Docker engine unreachable{at}: {exc}") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineError(f"{what}: {exc}") from exc


def _explain(exc: docker.errors.APIError) -> str:
    return str(exc.explanation or exc).strip()
