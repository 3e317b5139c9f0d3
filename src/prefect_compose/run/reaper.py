"""Nothing outlives its deployment (SPEC "Safety").

Every job container (and every `run` container) carries its owner (host, boot id, pid, pid
start time), since when and its deadline as labels, next to the flow run id. When the process
that started it died (SIGKILL, OOM, reboot), the next `up`, `down` or `ps` of the project
stops and removes it, one line per container. A container whose owner cannot be judged from
here (another host) is removed only once past its deadline; one without our labels is left
alone.

The same commands settle what an `up` killed in the middle of a replacement left behind
(run/rollback.py): an old container set aside as ``NAME-rollback-ID`` is restored (renamed
back and started) when no container of its service is running, and removed when one is; a
new container still under its temporary name ``ID_NAME`` that never started is removed. Not
while a live deployment of the project holds the lock: those are its own, mid-replacement.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from prefect_compose.engine import Engine
from prefect_compose.engine.apiconfig import in_order, row_info
from prefect_compose.errors import EngineError
from prefect_compose.plan.labels import LABEL_FLOW_RUN
from prefect_compose.plan.specs import ContainerSpec
from prefect_compose.owner import LABEL_DEADLINE, LABEL_PID, Owner, deadline_labels, why_dead

DEADLINE_MARGIN_S = 30.0  # past the timeout and grace period, before another process reaps


def owned(spec: ContainerSpec, lifetime_s: float | None) -> ContainerSpec:
    """``spec`` with the owner, since and deadline labels (deadline: now + ``lifetime_s`` +
    a margin; none when the container has no time limit)."""
    seconds = None if lifetime_s is None else lifetime_s + DEADLINE_MARGIN_S
    return dataclasses.replace(spec, labels={**spec.labels, **Owner.me().labels(),
                                             **deadline_labels(seconds)})


def reap(engine: Engine, project: str, say: Callable[[str], None], *,
         holding_lock: bool = False, rows: list[dict] | None = None) -> list[str]:
    """Stop and remove the project's job containers whose run is gone, and settle the
    leftovers of an interrupted replacement (``holding_lock``: the caller holds the project's
    deployment lock, so none of them can be a live run's); the names of what was acted on.
    ``rows``: the project's long-running containers, listed already (Engine.container_rows
    with oneoff=False), when the caller uses that listing again (run/deploy.py)."""
    removed = _reap_jobs(engine, project, say)
    if holding_lock or not _live_deployment(engine, project):
        removed += reap_replacements(engine, project, say, rows=rows)
    return removed


def _live_deployment(engine: Engine, project: str) -> bool:
    """Whether a deployment of ``project`` that may still be alive holds its lock."""
    from prefect_compose.engine.lockbox import LockBox
    from prefect_compose.run.lock import stale_reason

    try:
        record = LockBox(engine).read(project)
    except EngineError:
        return True  # cannot tell: leave its containers alone
    return record is not None and record.ours and stale_reason(record.labels) is None


_BACKUP = re.compile(r"^(?P<name>.+)-rollback-(?P<id>[0-9a-f]{12})$")
_TEMPORARY = re.compile(r"^(?P<id>[0-9a-f]{12})_(?P<name>.+)$")


def reap_replacements(engine: Engine, project: str, say: Callable[[str], None], *,
                      rows: list[dict] | None = None) -> list[str]:
    """Old containers set aside (``NAME-rollback-ID``) by an `up` that died: restored when no
    container of their service runs, removed when one does; new containers never started
    under their temporary name (``ID_NAME``): removed. One line each. ``rows``: as reap's."""
    listed = (engine.list_containers(project, oneoff=False, inspect=False) if rows is None
              else in_order(row_info(r) for r in rows))
    containers = [c for c in listed if c.service]
    done: list[str] = []
    backups = [(c, m) for c in containers if (m := _BACKUP.match(c.name))
               and c.id.startswith(m.group("id"))]
    backup_ids = {c.id for c, _ in backups}
    gone = set(backup_ids)  # acted on already: not looked at again below
    for c, m in backups:
        peers = [o for o in containers if o.service == c.service and o.id not in backup_ids]
        try:
            if any(o.state in ("running", "restarting") for o in peers):
                engine.remove(c.id, force=True)
                say(f"removed {c.name}, the old {c.service} container set aside by an "
                    "interrupted up: a new one is running")
            else:
                for o in peers:  # a new container that never started, under either name
                    if o.name in (m.group("name"), f"{m.group('id')}_{m.group('name')}"):
                        engine.remove(o.id, force=True)
                        gone.add(o.id)
                engine.rename(c.id, m.group("name"))
                engine.start(c.id)
                say(f"restored {m.group('name')} ({c.id[:12]}), the old {c.service} container "
                    "set aside by an interrupted up: no new one was running")
        except EngineError as exc:
            say(f"could not settle {c.name}, left by an interrupted up: {exc}")
            continue
        done.append(c.name)
    for c in containers:
        m = _TEMPORARY.match(c.name)
        if m is None or c.id in gone or c.state in ("running", "restarting"):
            continue
        if not any(o.name == m.group("name") and o.service == c.service for o in containers):
            continue  # not a replacement's leftover: some other name of that shape
        try:
            engine.remove(c.id, force=True)
        except EngineError as exc:
            say(f"could not remove {c.name}, left by an interrupted up: {exc}")
            continue
        say(f"removed {c.name}, a new {c.service} container an interrupted up never started")
        done.append(c.name)
    return done


def _reap_jobs(engine: Engine, project: str, say: Callable[[str], None]) -> list[str]:
    removed = []
    for c in engine.list_containers(project, oneoff=True):
        if LABEL_PID not in c.labels and LABEL_DEADLINE not in c.labels:
            continue  # not started by us (or by an older version): not ours to judge
        reason = why_dead(c.labels)
        if reason is None:
            continue
        try:
            grace = int((engine.inspect(c.id).get("Config") or {}).get("StopTimeout") or 10)
            if c.state == "running":
                engine.stop(c.id, grace)
            engine.remove(c.id, force=True)
        except EngineError as exc:
            say(f"could not remove leftover job container {c.name}: {exc}")
            continue
        run = c.labels.get(LABEL_FLOW_RUN, "?")
        say(f"removed leftover job container {c.name} ({c.service}) of flow run {run}: "
            f"{reason}")
        removed.append(c.name)
    return removed
