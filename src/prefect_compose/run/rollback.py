"""Replace, never remove first; and roll back what a failed deployment replaced.

A changed service's new container is created under a temporary name (as Compose does) before
the old one is touched; only then is the old one stopped and renamed aside, and the new one
takes the service's name. When the engine refuses the new one (create or start), the old one
is put back at once. The old container stays, stopped and renamed, in the run's
:class:`Journal` until the deployment ends: removed when it succeeded (or rollback is off),
restored (renamed back, started) when it failed or was interrupted. Jobs are not undone.

An explicit journal, not Prefect transactions: those roll back only on a raised exception, and
a submitted task that finishes after the rollback never runs its hook (DESIGN, Known traps).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any

from prefect_compose.plan.converge import Decision, Observed


@dataclass
class Replacement:
    """One old container set aside for a new one."""
    service: str
    old: Observed
    backup_name: str
    new_id: str | None = None  # None: an extra container of the service, set aside only


@dataclass
class Journal:
    entries: list[Replacement] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)  # services restored
    failed: list[str] = field(default_factory=list)  # services that could not be restored
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entry: Replacement) -> None:
        with self.lock:
            self.entries.append(entry)

    def drop(self, entry: Replacement) -> None:
        with self.lock:
            if entry in self.entries:
                self.entries.remove(entry)


def temporary_name(old: Observed, name: str) -> str:
    """Compose's name for a replacement while the old container still holds the name."""
    return f"{old.id[:12]}_{name}"


def backup_name(old: Observed, name: str) -> str:
    return f"{name}-rollback-{old.id[:12]}"


def replace(engine: Any, journal: Journal, decision: Decision, spec: Any, grace: float,
            created: dict[str, str], slot: Any) -> str:
    """Create the new container, then set the old one(s) aside and start the new one under
    the service's name; on any failure the old one serves again and the error propagates.
    Returns the new container's id."""
    old = decision.current
    assert old is not None
    name = spec.name
    cid = engine.create(dataclasses.replace(spec, name=temporary_name(old, name)))
    created[cid] = decision.service
    entries: list[Replacement] = []
    try:
        for o in (old, *decision.others):
            entry = Replacement(decision.service, o, backup_name(o, name),
                                new_id=cid if o is old else None)
            engine.stop(o.id, grace)
            engine.rename(o.id, entry.backup_name)
            entries.append(entry)
            journal.add(entry)
        engine.rename(cid, name)
        with slot():
            engine.start(cid)
    except BaseException:
        _remove_new(engine, cid, created)
        for entry in reversed(entries):
            restore(engine, entry)
            journal.drop(entry)
        raise
    return cid


def _remove_new(engine: Any, cid: str, created: dict[str, str]) -> None:
    try:
        engine.remove(cid, force=True)
    finally:
        created.pop(cid, None)


def restore(engine: Any, entry: Replacement) -> None:
    """The old container back under its own name, running if it was."""
    engine.rename(entry.old.id, entry.old.name)
    if entry.old.running:
        engine.start(entry.old.id)


def roll_back(engine: Any, journal: Journal, created: dict[str, str], grace: Any,
              logger: Any) -> None:
    """Undo every replacement of the run, newest first: the new container removed, the old
    one restored. ``grace(service)`` gives the stop grace period."""
    for entry in reversed(list(journal.entries)):
        try:
            if entry.new_id is not None:
                engine.stop(entry.new_id, grace(entry.service))
                _remove_new(engine, entry.new_id, created)
            restore(engine, entry)
        except Exception as exc:  # noqa: BLE001 - restore the others; say which failed
            logger.error(f"could not roll back {entry.service} to {entry.old.name}: {exc}")
            journal.failed.append(entry.service)
            continue
        journal.drop(entry)
        if entry.new_id is not None:
            journal.rolled_back.append(entry.service)
            logger.warning(f"rolled back {entry.service}: {entry.old.name} "
                           f"({entry.old.id[:12]}) serves again")


def commit(engine: Any, journal: Journal, logger: Any) -> None:
    """The deployment stands: remove the old containers set aside."""
    for entry in list(journal.entries):
        try:
            engine.remove(entry.old.id, force=True)
        except Exception as exc:  # noqa: BLE001 - a leftover, not a failed deployment
            logger.warning(f"could not remove the old container {entry.backup_name}: {exc}")
        journal.drop(entry)
