"""Converge: the plan + the containers observed on the engine -> what to do with each
long-running service, and why (docker/compose ``pkg/compose/convergence.go``).

Pure: it takes plain data (no Docker, no Prefect), so it is unit-tested with fake observations.
The runtime observes, calls :func:`converge` once before the first container starts, and then
carries out the decisions without deciding anything itself.

Actions:

- ``create``   no container of the service exists
- ``replace``  its configuration or image changed, or ``--force-recreate``: a new container is
               created (under a temporary name) before the old one is touched
- ``start``    the container is up to date but not running
- ``keep``     the container is up to date and running (or ``--no-recreate``)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from prefect_compose.plan.compile import Plan


class Action(str, Enum):
    CREATE = "create"
    REPLACE = "replace"
    START = "start"
    KEEP = "keep"


@dataclass(frozen=True)
class Observed:
    """One existing long-running container of the project, as the engine reports it."""
    id: str
    name: str
    service: str
    state: str  # created | running | restarting | paused | exited | dead
    config_hash: str | None = None  # its com.docker.compose.config-hash label
    image_id: str | None = None  # the image id it was created from
    network_mode: str | None = None  # its HostConfig.NetworkMode (container:<id> when shared)

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting")


@dataclass(frozen=True)
class Decision:
    service: str
    action: Action
    reason: str
    want_hash: str  # the config-hash label the service's container must carry
    current: Observed | None = None  # the container acted on (started, kept, replaced)
    others: tuple[Observed, ...] = ()  # more containers of the service: replaced too

    def describe(self) -> str:
        return f"{self.service}: {self.action.value} ({self.reason})"


def desired_hash(config_hash: str, image_id: str) -> str:
    """The config-hash label: the configuration and the image it runs (a rebuilt or
    re-pulled image changes it too, as in Compose)."""
    return hashlib.sha256(f"{config_hash}:{image_id}".encode()).hexdigest()


def converge(plan: Plan, observed: Iterable[Observed], *, image_ids: Mapping[str, str],
             force_recreate: bool = False, no_recreate: bool = False,
             names: Mapping[str, str] | None = None,
             network_owners: Mapping[str, str] | None = None) -> dict[str, Decision]:
    """One decision per long-running service of ``plan``, keyed (and ordered) by name.

    ``image_ids`` maps each service to the id of the image it will run; ``names`` to its
    container's canonical name (preferred when several containers of a service exist);
    ``network_owners`` each `network_mode: service:X` service to X."""
    by_service: dict[str, list[Observed]] = {}
    for o in observed:
        by_service.setdefault(o.service, []).append(o)
    out: dict[str, Decision] = {}
    for sp in sorted(plan.services, key=lambda s: s.name):
        if sp.kind != "service":
            continue
        image_id = image_ids.get(sp.name, "")
        found = _ordered(by_service.get(sp.name, []), (names or {}).get(sp.name))
        out[sp.name] = _decide(sp.name, sp.config_hash, image_id, found, force_recreate,
                               no_recreate)
    if not no_recreate:
        _follow_network_owners(out, network_owners or {})
    return out


def _follow_network_owners(out: dict[str, Decision], owners: Mapping[str, str]) -> None:
    """A service in another's network namespace is replaced with it: a new owner container
    (or an owner that is not the one it joined) leaves its namespace behind."""
    changed = True
    while changed:  # owners of owners: until nothing changes (a chain is acyclic)
        changed = False
        for name, owner in sorted(owners.items()):
            d, od = out.get(name), out.get(owner)
            if d is None or od is None or d.action not in (Action.KEEP, Action.START):
                continue
            joined = (d.current.network_mode or "").removeprefix("container:")
            if od.action in (Action.CREATE, Action.REPLACE):
                reason = f"its network_mode owner {owner} gets a new container"
            elif od.current is not None and joined and joined != od.current.id:
                reason = f"it shares the network of an old container of {owner}"
            else:
                continue
            out[name] = Decision(name, Action.REPLACE, reason, d.want_hash, d.current,
                                 d.others)
            changed = True


def _ordered(found: list[Observed], canonical: str | None) -> list[Observed]:
    """The container to act on first: the canonically named one, else a running one, else
    the first by name."""
    return sorted(found, key=lambda o: (o.name != canonical, not o.running, o.name))


def _decide(service: str, config_hash: str, image_id: str, found: list[Observed],
            force_recreate: bool, no_recreate: bool) -> Decision:
    want = desired_hash(config_hash, image_id)
    if not found:
        return Decision(service, Action.CREATE, "missing: no container yet", want)
    current, others = found[0], tuple(found[1:])

    def replace(reason: str) -> Decision:
        return Decision(service, Action.REPLACE, reason, want, current, others)

    def reuse(reason: str) -> Decision:
        if current.running:
            return Decision(service, Action.KEEP, reason, want, current)
        return Decision(service, Action.START, f"{reason}; stopped ({current.state})", want, current)

    if force_recreate:
        return replace("--force-recreate")
    if no_recreate:
        return reuse("--no-recreate")
    if current.config_hash == want:
        return reuse("up to date")
    if current.config_hash is None:
        return replace("no config-hash label")
    if current.image_id and current.image_id != image_id and \
            current.config_hash == desired_hash(config_hash, current.image_id):
        return replace("image changed")
    return replace("configuration changed")
