"""The engine-side primitive of the deployment lock: a container that is never started.

Container names are unique on an engine and ``POST /containers/create`` with a taken name fails
with 409 Conflict, so creating ``prefect-compose-lock.PROJECT`` is an atomic test-and-set that
every process talking to the engine sees (two CLI runs on ephemeral Prefect servers share only
the engine). The holder is written in the container's labels. The container is created from
``prefect-compose-lock:1``, an empty image (no layers, size 0) imported here once from an empty
tarball, so no registry and no other image is needed. Releasing and taking over remove the
lock by its container id, never by name: a stale lock removed twice cannot remove the new one.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass

import docker.errors
import requests.exceptions

from prefect_compose.engine.client import Engine
from prefect_compose.errors import EngineError, EngineUnavailable

LOCK_IMAGE_REPO = "prefect-compose-lock"
LOCK_IMAGE = f"{LOCK_IMAGE_REPO}:1"
LABEL_LOCK = "org.prefect-compose.lock"  # value: the project name
LABEL_LOCK_IMAGE = "org.prefect-compose.lock-image"


def lock_name(project: str) -> str:
    # project names are [a-z0-9_-] (normalised as Compose does): a dot never clashes with a
    # service container's PROJECT-SERVICE-N name
    return f"prefect-compose-lock.{project}"


@dataclass(frozen=True)
class LockRecord:
    id: str
    labels: Mapping[str, str]
    ours: bool  # False: a container of that name that is not a prefect-compose lock


class NameTaken(EngineError):
    """The lock's name is taken by a container that is not a lock of this project."""


class LockBox:
    """Create, read and remove the lock container of a project on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._api = engine.client.api
        self._where = getattr(engine, "where", None)

    def _unreachable(self, what: str, exc: Exception) -> EngineUnavailable:
        at = f" at {self._where}" if self._where else ""
        return EngineUnavailable(f"{what}: Docker engine unreachable{at}: {exc}")

    def _call(self, what: str, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except docker.errors.APIError as exc:
            raise EngineError(f"{what}: {str(exc.explanation or exc).strip()}") from exc
        except requests.exceptions.ConnectionError as exc:
            raise self._unreachable(what, exc) from exc

    def ensure_image(self) -> None:
        try:
            self._api.inspect_image(LOCK_IMAGE)
            return
        except docker.errors.NotFound:
            pass
        buf = io.BytesIO()
        tarfile.open(fileobj=buf, mode="w").close()
        # two importers at once both succeed; the tag points at either (identical) image
        self._call("create the lock image", self._api.import_image_from_data, buf.getvalue(),
                   repository=LOCK_IMAGE_REPO, tag="1",
                   changes=[f"LABEL {LABEL_LOCK_IMAGE}=1", 'CMD ["lock"]'])

    def try_create(self, project: str, labels: Mapping[str, str]) -> str | None:
        """Create the lock: its container id, or None when the name is already taken."""
        all_labels = {**labels, LABEL_LOCK: project}
        try:
            return self._api.create_container(LOCK_IMAGE, name=lock_name(project),
                                              labels=all_labels,
                                              host_config={"NetworkMode": "none"})["Id"]
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                return None
            if exc.status_code == 404 and "image" in str(exc.explanation or "").lower():
                self.ensure_image()  # removed meanwhile: import it and try once more
                return self.try_create(project, labels)
            raise EngineError(f"create lock {lock_name(project)}: "
                              f"{str(exc.explanation or exc).strip()}") from exc
        except requests.exceptions.ConnectionError as exc:
            raise self._unreachable("create lock", exc) from exc

    def read(self, project: str) -> LockRecord | None:
        """The container holding the project's lock name, or None when there is none."""
        try:
            data = self._api.inspect_container(lock_name(project))
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise EngineError(f"inspect lock {lock_name(project)}: {exc.explanation}") from exc
        labels = (data.get("Config") or {}).get("Labels") or {}
        # the engine resolves an id prefix too: the name must match exactly
        ours = labels.get(LABEL_LOCK) == project and \
            data.get("Name", "").lstrip("/") == lock_name(project)
        return LockRecord(id=data["Id"], labels=dict(labels), ours=ours)

    def find(self, labels: Mapping[str, str]) -> list[str]:
        """Ids of the lock containers carrying all of ``labels``."""
        wanted = [LABEL_LOCK, *(f"{k}={v}" for k, v in labels.items())]
        rows = self._call("list locks", self._api.containers, all=True,
                          filters={"label": wanted})
        return [r["Id"] for r in rows
                if all((r.get("Labels") or {}).get(k) == v for k, v in labels.items())]

    def remove(self, cid: str) -> bool:
        """Remove the lock container ``cid``; False when it was gone already."""
        try:
            self._api.remove_container(cid, force=True)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:
            if exc.status_code == 409 and "in progress" in str(exc.explanation):
                return False
            raise EngineError(f"remove lock {cid[:12]}: {exc.explanation}") from exc
        except requests.exceptions.ConnectionError as exc:
            raise self._unreachable(f"remove lock {cid[:12]}", exc) from exc
        return True
