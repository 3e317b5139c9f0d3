"""Nothing outlives its deployment (SPEC "Safety").

Every job container (and every `run` container) carries its owner (host, boot id, pid, pid
start time), since when and its deadline as labels, next to the flow run id. When the process
that started it died (SIGKILL, OOM, reboot), the next `up`, `down` or `ps` of the project
stops and removes it, one line per container. A container whose owner cannot be judged from
here (another host) is removed only once past its deadline; one without our labels is left
alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from prefect_compose.engine import Engine
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


def reap(engine: Engine, project: str, say: Callable[[str], None]) -> list[str]:
    """Stop and remove the project's job containers whose run is gone; their names."""
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
