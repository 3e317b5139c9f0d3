"""One deployment of a project at a time on an engine (SPEC "Safety").

The lock is a never-started container named after the project on the Docker engine itself
(engine/lockbox.py: creating it is atomic), so it holds whether the two deployments report to
one Prefect server, to two, or to ephemeral ones, and whether a CLI or a Prefect worker runs
them. Its labels name the holder: flow run name and id, host, pid, since when.

A second deployment waits up to ``wait_s`` for it, then fails naming the holder. A lock whose
holder is gone (its pid is dead on this host, the host rebooted, or, seen from another host,
its flow run on this Prefect server is over) is taken over, and that is said.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from prefect_compose.engine import Engine
from prefect_compose.plan.labels import LABEL_FLOW_RUN
from prefect_compose.engine.lockbox import LockBox, lock_name
from prefect_compose.errors import RunError
from prefect_compose.owner import LABEL_SINCE, Owner, deadline_labels
from prefect_compose.units import format_duration

LABEL_FLOW_RUN_NAME = "org.prefect-compose.flow-run-name"
_POLL_S = 0.5
_MAX_TAKEOVERS = 20  # a bound on the loop, far above any real contention


class LockHeld(RunError):
    """Another deployment of the project is in progress."""


class LockNameTaken(RunError):
    """The lock's container name belongs to a container that is not a prefect-compose lock."""


def describe_holder(project: str, labels: Mapping[str, str]) -> str:
    """"deployment of P in progress: flow run N (id I), pid P on host H, since T"."""
    name = labels.get(LABEL_FLOW_RUN_NAME) or "?"
    run_id = labels.get(LABEL_FLOW_RUN) or "?"
    owner = Owner.from_labels(labels)
    where = owner.describe() if owner else "an unknown process"
    return (f"a deployment of {project} is in progress: flow run {name} (id {run_id}), "
            f"{where}, since {labels.get(LABEL_SINCE) or '?'}")


def flow_run_finished(flow_run_id: str) -> bool | None:
    """Whether the flow run is over on the Prefect server in use (None: not known there)."""
    try:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            state = client.read_flow_run(uuid.UUID(flow_run_id)).state
    except Exception:  # noqa: BLE001 - another server, or none: cannot tell
        return None
    return None if state is None else bool(state.is_final())


def stale_reason(labels: Mapping[str, str],
                 finished: Callable[[str], bool | None] = flow_run_finished) -> str | None:
    """Why the lock's holder is no longer deploying, or None when it may still be."""
    owner = Owner.from_labels(labels)
    alive = owner.alive() if owner is not None else None
    if alive is False:
        return f"{owner.describe()} is gone"
    if alive is None and labels.get(LABEL_FLOW_RUN):
        if finished(labels[LABEL_FLOW_RUN]):
            return f"its flow run {labels[LABEL_FLOW_RUN]} is over"
    return None


@dataclass
class Lease:
    """A held lock; ``release()`` is idempotent and removes only this lease's container."""
    box: LockBox
    project: str
    cid: str
    took_over: list[str] = field(default_factory=list)
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.box.remove(self.cid)


def acquire(engine: Engine, project: str, *, flow_run_id: str, flow_run_name: str,
            wait_s: float = 0.0, say: Callable[[str], None] = lambda m: None,
            finished: Callable[[str], bool | None] = flow_run_finished) -> Lease:
    """Take the project's lock on the engine, waiting up to ``wait_s`` for a live holder."""
    box = LockBox(engine)
    box.ensure_image()
    labels = {**Owner.me().labels(), **deadline_labels(None), LABEL_FLOW_RUN: flow_run_id,
              LABEL_FLOW_RUN_NAME: flow_run_name}
    deadline = time.monotonic() + wait_s
    took_over: list[str] = []
    announced = False
    for _ in range(_MAX_TAKEOVERS):
        while True:
            cid = box.try_create(project, labels)
            if cid is not None:
                return Lease(box, project, cid, took_over)
            record = box.read(project)
            if record is None:
                continue  # released between our create and our read: try again
            if not record.ours:
                raise LockNameTaken(
                    f"the container name {lock_name(project)} (the deployment lock of "
                    f"{project}) is taken by a container that is not a prefect-compose lock; "
                    "it was left alone")
            holder = describe_holder(project, record.labels)
            reason = stale_reason(record.labels, finished)
            if reason is not None:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                hint = "" if wait_s else "; pass --wait-lock D to wait for it"
                raise LockHeld(f"{holder}{hint}" if not wait_s else
                               f"{holder}; still held after waiting {format_duration(wait_s)}")
            if not announced:
                announced = True
                say(f"waiting up to {format_duration(wait_s)}: {holder}")
            time.sleep(min(_POLL_S, remaining))
        if box.remove(record.id):  # by id: a contender that removed it first makes this a no-op
            line = f"took over the lock left by a dead run ({holder.split(': ', 1)[1]}): {reason}"
            took_over.append(line)
            say(line)
    raise LockHeld(f"could not take the lock of {project}: it kept changing hands")


def release_lock_of_run(engine: Engine, flow_run_id: str) -> None:
    """Remove the lock a flow run holds (from the runner's cancel/crash hook)."""
    box = LockBox(engine)
    for cid in box.find({LABEL_FLOW_RUN: flow_run_id}):
        box.remove(cid)
