"""What containers need before they start: the project's networks and volumes, and built
images. Shared by `up` (the whole project) and `run` (one service)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from prefect_compose.engine.client import Engine
from prefect_compose.model.types import Project
from prefect_compose.plan.compile import BuildSpec


def ensure_networks_and_volumes(engine: Engine, project: Project,
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


def build_image(engine: Engine, build: BuildSpec,
                on_log: Callable[[str], None] | None = None) -> str:
    """Build once, tag with every tag the plan gives this build; returns the image id."""
    return engine.build(context=Path(build.context), tag=build.tags[0],
                        dockerfile=build.dockerfile,
                        args={k: v for k, v in build.args.items() if v is not None},
                        target=build.target, extra_tags=build.tags[1:], on_log=on_log)
