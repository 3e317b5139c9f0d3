"""Networks and volumes: created idempotently with Compose's labels, removed by project
label only. ``ensure_networks_and_volumes`` is what containers need before they start,
shared by `up` (the whole project) and `run` (one service)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prefect_compose.errors import EngineError, ResourceNotFound
from prefect_compose.engine.translate import translated
from prefect_compose.model.types import Project
from prefect_compose.plan.labels import LABEL_PROJECT, resource_labels

log = logging.getLogger(__name__)


class ResourcesMixin:
    """The network and volume operations of :class:`~prefect_compose.engine.client.Engine`."""

    _api: Any

    def ensure_network(self, name: str, project: str, key: str,
                       labels: Mapping[str, str] | None = None, *, driver: str | None = None,
                       driver_opts: Mapping[str, str] | None = None,
                       internal: bool = False) -> None:
        """Create network ``name`` for compose key ``key`` unless it exists (idempotent)."""
        existing = self._network(name)
        if existing is None:
            try:
                with translated(f"create network {name}"):
                    self._api.create_network(
                        name, driver=driver, options=dict(driver_opts or {}), internal=internal,
                        labels=resource_labels(project, "network", key, dict(labels or {})),
                        check_duplicate=True)
                return
            except EngineError:
                existing = self._network(name)  # lost a race with another creator?
                if existing is None:
                    raise
        _warn_foreign("network", name, existing.get("Labels") or {}, project)

    def _network(self, name: str) -> dict | None:
        try:
            with translated(f"inspect network {name}"):
                net = self._api.inspect_network(name)
        except ResourceNotFound:
            return None
        # the engine also matches an ID prefix: `db` could find network `db9086999caf...`
        return net if net.get("Name") == name else None

    def ensure_volume(self, name: str, project: str, key: str,
                      labels: Mapping[str, str] | None = None, *, driver: str | None = None,
                      driver_opts: Mapping[str, str] | None = None) -> None:
        """Create volume ``name`` for compose key ``key`` unless it exists (idempotent)."""
        try:
            with translated(f"inspect volume {name}"):
                existing = self._api.inspect_volume(name)
        except ResourceNotFound:
            # creating an existing volume is a no-op in the engine, so no race to handle
            with translated(f"create volume {name}"):
                self._api.create_volume(
                    name, driver=driver or "local", driver_opts=dict(driver_opts or {}) or None,
                    labels=resource_labels(project, "volume", key, dict(labels or {})))
            return
        _warn_foreign("volume", name, existing.get("Labels") or {}, project)

    def remove_project_networks(self, project: str) -> list[str]:
        """Remove the networks labelled with ``project``; return their names."""
        with translated(f"list networks of project {project}"):
            nets = self._api.networks(filters={"label": f"{LABEL_PROJECT}={project}"})
        return self._remove_all(
            "network", [n for n in nets if (n.get("Labels") or {}).get(LABEL_PROJECT) == project],
            self._api.remove_network, key="Id")

    def remove_project_volumes(self, project: str) -> list[str]:
        """Remove the volumes labelled with ``project``; return their names."""
        with translated(f"list volumes of project {project}"):
            vols = self._api.volumes(filters={"label": f"{LABEL_PROJECT}={project}"})
        vols = [v for v in (vols.get("Volumes") or [])
                if (v.get("Labels") or {}).get(LABEL_PROJECT) == project]
        return self._remove_all("volume", vols, self._api.remove_volume, key="Name")

    def _remove_all(self, kind: str, objs: list[dict], remove: Callable[[str], Any],
                    key: str) -> list[str]:
        removed, failed = [], []
        for obj in sorted(objs, key=lambda o: o["Name"]):
            try:
                with translated(f"remove {kind} {obj['Name']}"):
                    remove(obj[key])
                removed.append(obj["Name"])
            except ResourceNotFound:
                pass
            except EngineError as exc:
                failed.append(str(exc))
        if failed:
            raise EngineError("; ".join(failed))
        return removed


def _warn_foreign(kind: str, name: str, labels: Mapping[str, str], project: str) -> None:
    owner = labels.get(LABEL_PROJECT)
    if owner is None:
        log.warning("a %s named %s exists but was not created by compose; using it as it is",
                    kind, name)
    elif owner != project:
        log.warning("a %s named %s exists but belongs to project %r; using it as it is",
                    kind, name, owner)


def ensure_networks_and_volumes(engine: ResourcesMixin, project: Project,
                                services: Iterable[str]) -> None:
    """Create (idempotently) the non-external networks and volumes these services use."""
    nets: set[str] = set()
    vols: set[str] = set()
    for name in services:
        svc = project.services[name]
        nets.update(svc.networks)
        vols.update(m.source for m in svc.volumes if m.type == "volume" and m.source)
    for key in sorted(nets):
        net = project.networks[key]
        if not net.external:
            engine.ensure_network(net.name, project.name, key, labels=net.labels)
    for key in sorted(vols):
        vol = project.volumes[key]
        if not vol.external:
            engine.ensure_volume(vol.name, project.name, key, labels=vol.labels)
