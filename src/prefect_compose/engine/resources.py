"""Networks and volumes: created idempotently with Compose's labels, removed by project
label only. ``ensure_networks_and_volumes`` is what containers need before they start,
shared by `up` (the whole project) and `run` (one service)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prefect_compose.errors import EngineError, ResourceNotFound
from prefect_compose.engine.translate import translated
from prefect_compose.model.types import Network, Project
from prefect_compose.plan.labels import LABEL_PROJECT, resource_labels

log = logging.getLogger(__name__)


class ResourcesMixin:
    """The network and volume operations of :class:`~prefect_compose.engine.client.Engine`."""

    _api: Any

    def ensure_network(self, name: str, project: str, key: str,
                       labels: Mapping[str, str] | None = None, *, driver: str | None = None,
                       driver_opts: Mapping[str, str] | None = None,
                       internal: bool = False, attachable: bool = False,
                       enable_ipv6: bool = False, ipam: Mapping[str, Any] | None = None,
                       ) -> None:
        """Create network ``name`` for compose key ``key`` unless it exists (idempotent).
        ``ipam`` is the Engine API's IPAM object ({"Driver", "Config": [{"Subnet", ...}],
        "Options"}). An existing network of this project that is not ``internal`` as asked
        is an error: a network meant to be isolated is never used routable."""
        existing = self._network(name)
        if existing is None:
            try:
                with translated(f"create network {name}", self.where):
                    self._api.create_network(
                        name, driver=driver, options=dict(driver_opts or {}), internal=internal,
                        labels=resource_labels(project, "network", key, dict(labels or {})),
                        check_duplicate=True, attachable=attachable or None,
                        enable_ipv6=enable_ipv6, ipam=dict(ipam) if ipam else None)
                return
            except EngineError:
                existing = self._network(name)  # lost a race with another creator?
                if existing is None:
                    raise
        _warn_foreign("network", name, existing.get("Labels") or {}, project)
        _check_internal(existing, name, project, internal)

    def check_network(self, name: str, project: str, internal: bool) -> None:
        """An existing network of this project is as `internal` as asked (EngineError
        otherwise); a missing one is fine."""
        existing = self._network(name)
        if existing is not None:
            _check_internal(existing, name, project, internal)

    def require_network(self, name: str, key: str) -> None:
        """An external network must exist: EngineError naming it otherwise."""
        if self._network(name) is None:
            raise EngineError(f'external network "{name}" (networks.{key}) not found: it is '
                              "never created by up; create it first (docker network create "
                              f"{name})")

    def require_container(self, name: str, service: str, key: str = "network_mode") -> None:
        """The container a `network_mode: container:NAME` joins (or whose volumes a
        `volumes_from: [container:NAME]` mounts) must exist."""
        try:
            with translated(f"inspect container {name}", self.where):
                self._api.inspect_container(name)
        except ResourceNotFound:
            what = ("would join its network namespace" if key == "network_mode"
                    else "would mount its volumes")
            raise EngineError(f'container "{name}" (services.{service}.{key}: '
                              f"container:{name}) not found: the service {what}; start it "
                              "first") from None

    def require_volume(self, name: str, key: str) -> None:
        """An external volume must exist: EngineError naming it otherwise."""
        try:
            with translated(f"inspect volume {name}", self.where):
                self._api.inspect_volume(name)
        except ResourceNotFound:
            raise EngineError(f'external volume "{name}" (volumes.{key}) not found: it is '
                              "never created by up; create it first (docker volume create "
                              f"{name})") from None

    def _network(self, name: str) -> dict | None:
        try:
            with translated(f"inspect network {name}", self.where):
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
            with translated(f"inspect volume {name}", self.where):
                existing = self._api.inspect_volume(name)
        except ResourceNotFound:
            # creating an existing volume is a no-op in the engine, so no race to handle
            with translated(f"create volume {name}", self.where):
                self._api.create_volume(
                    name, driver=driver or "local", driver_opts=dict(driver_opts or {}) or None,
                    labels=resource_labels(project, "volume", key, dict(labels or {})))
            return
        _warn_foreign("volume", name, existing.get("Labels") or {}, project)

    def remove_project_networks(self, project: str) -> list[str]:
        """Remove the networks labelled with ``project``; return their names."""
        with translated(f"list networks of project {project}", self.where):
            nets = self._api.networks(filters={"label": f"{LABEL_PROJECT}={project}"})
        return self._remove_all(
            "network", [n for n in nets if (n.get("Labels") or {}).get(LABEL_PROJECT) == project],
            self._api.remove_network, key="Id")

    def remove_project_volumes(self, project: str) -> list[str]:
        """Remove the volumes labelled with ``project``; return their names."""
        with translated(f"list volumes of project {project}", self.where):
            vols = self._api.volumes(filters={"label": f"{LABEL_PROJECT}={project}"})
        vols = [v for v in (vols.get("Volumes") or [])
                if (v.get("Labels") or {}).get(LABEL_PROJECT) == project]
        return self._remove_all("volume", vols, self._api.remove_volume, key="Name")

    def _remove_all(self, kind: str, objs: list[dict], remove: Callable[[str], Any],
                    key: str) -> list[str]:
        removed, failed = [], []
        for obj in sorted(objs, key=lambda o: o["Name"]):
            try:
                with translated(f"remove {kind} {obj['Name']}", self.where):
                    remove(obj[key])
                removed.append(obj["Name"])
            except ResourceNotFound:
                pass
            except EngineError as exc:
                failed.append(str(exc))
        if failed:
            raise EngineError("; ".join(failed))
        return removed


def _check_internal(existing: Mapping[str, Any], name: str, project: str,
                    internal: bool) -> None:
    if bool(existing.get("Internal")) != internal and \
            (existing.get("Labels") or {}).get(LABEL_PROJECT) == project:
        raise EngineError(
            f"network {name} exists with internal={str(bool(existing.get('Internal'))).lower()}"
            f" but the compose file asks for internal={str(internal).lower()}: run "
            f"`prefect-compose down` to recreate it (networks are never changed in place)")


def _warn_foreign(kind: str, name: str, labels: Mapping[str, str], project: str) -> None:
    owner = labels.get(LABEL_PROJECT)
    if owner is None:
        log.warning("a %s named %s exists but was not created by compose; using it as it is",
                    kind, name)
    elif owner != project:
        log.warning("a %s named %s exists but belongs to project %r; using it as it is",
                    kind, name, owner)


def _used(project: Project, services: Iterable[str]) -> tuple[list[str], list[str]]:
    nets: set[str] = set()
    vols: set[str] = set()
    for name in services:
        svc = project.services[name]
        nets.update(svc.networks)
        vols.update(m.source for m in svc.volumes if m.type == "volume" and m.source)
    return sorted(nets), sorted(vols)


def check_external(engine: ResourcesMixin, project: Project, services: Iterable[str]) -> None:
    """The external networks and volumes these services use, and the containers whose
    network namespace they join or whose volumes they mount, exist (else EngineError naming the first missing one):
    checked before anything is built or created."""
    services = list(services)
    for name in services:
        svc = project.services[name]
        mode = svc.network_mode or ""
        if mode.startswith("container:"):
            engine.require_container(mode.split(":", 1)[1], name)
        for kind, other, _ in svc.volumes_from:
            if kind == "container":
                engine.require_container(other, name, "volumes_from")
    nets, vols = _used(project, services)
    for key in nets:
        if project.networks[key].external:
            engine.require_network(project.networks[key].name, key)
    for key in vols:
        if project.volumes[key].external:
            engine.require_volume(project.volumes[key].name, key)


def ipam_config(net: Network) -> dict[str, Any] | None:
    """The Engine API's IPAM object of a network (None: the engine's defaults)."""
    if net.ipam is None:
        return None
    pools = []
    for p in net.ipam.config:
        pool = {"Subnet": p.subnet, "IPRange": p.ip_range, "Gateway": p.gateway,
                "AuxiliaryAddresses": dict(p.aux_addresses) or None}
        pools.append({k: v for k, v in pool.items() if v})
    return {"Driver": net.ipam.driver or "default", "Config": pools,
            "Options": dict(net.ipam.options)}


def ensure_networks_and_volumes(engine: ResourcesMixin, project: Project,
                                services: Iterable[str]) -> None:
    """Check the external networks and volumes these services use, then create
    (idempotently) the others, as the compose file describes them."""
    services = list(services)
    check_external(engine, project, services)
    nets, vols = _used(project, services)
    for key in nets:  # every network is checked before the first is created
        net = project.networks[key]
        if not net.external:
            engine.check_network(net.name, project.name, net.internal)
    for key in nets:
        net = project.networks[key]
        if not net.external:
            engine.ensure_network(net.name, project.name, key, labels=net.labels,
                                  driver=net.driver, driver_opts=net.driver_opts,
                                  internal=net.internal, attachable=net.attachable,
                                  enable_ipv6=net.enable_ipv6, ipam=ipam_config(net))
    for key in vols:
        vol = project.volumes[key]
        if not vol.external:
            engine.ensure_volume(vol.name, project.name, key, labels=vol.labels,
                                 driver=vol.driver, driver_opts=vol.driver_opts)
