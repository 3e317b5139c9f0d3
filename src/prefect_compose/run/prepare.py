"""Everything before the first container starts: networks, volumes, builds and images, the
config-hash of every service, and the converge decisions (observe, then plan/converge.py
decides)."""

from __future__ import annotations

import time
from typing import Any

from prefect_compose.plan.labels import LABEL_CONFIG_HASH, LABEL_SERVICE
from prefect_compose.engine.images import build_image
from prefect_compose.engine.resources import check_external, ensure_networks_and_volumes
from prefect_compose.plan.containers import check_file_sources, container_name
from prefect_compose.plan.converge import Observed, converge, desired_hash
from prefect_compose.run.state import RunState


def prepare(rs: RunState, logger: Any) -> None:
    engine, plan, project = rs.engine, rs.plan, rs.project
    check_file_sources(project, project.services)  # before the engine is touched
    check_external(engine, project, project.services)  # before anything is built or created
    for b in plan.builds:
        rs.out.status(",".join(b.services), f"building {', '.join(b.tags)}")
        t0 = time.monotonic()
        build_image(engine, b, on_log=lambda line, s=b.services[0]: logger.debug(
            f"build {s}: {line}"))
        logger.info(f"built {', '.join(b.tags)} in {time.monotonic() - t0:.1f}s")
    if plan.builds:  # a build can take minutes: converge looks at the containers again
        rs.observed_rows = None
    image_ids: dict[str, str] = {}
    ids_by_ref: dict[str, str] = {}  # one inspect per image, not one per service

    def image_id(ref: str) -> str:
        if ref not in ids_by_ref:
            ids_by_ref[ref] = engine.image_id(ref)
        return ids_by_ref[ref]

    for sp in plan.services:
        image = sp.image or ""
        rs.images[sp.name] = image
        image_ids[sp.name] = image_id(image)
        rs.hashes[sp.name] = desired_hash(sp.config_hash, image_ids[sp.name])
    # after the builds and images: a build or image that fails leaves nothing created
    ensure_networks_and_volumes(engine, project, project.services)
    rs.decisions = converge(
        plan, observe(rs), image_ids=image_ids, force_recreate=rs.options.force_recreate,
        no_recreate=rs.options.no_recreate,
        names={n: container_name(project, project.services[n], oneoff=False)
               for n in project.services},
        network_owners={n: s.network_mode.split(":", 1)[1]
                        for n, s in project.services.items()
                        if (s.network_mode or "").startswith("service:")})
    if rs.decisions:  # one record, a line a service: 200 services are one log, not 200
        logger.info("converge:\n" + "\n".join(f"  {d.describe()}"
                                                 for d in rs.decisions.values()))


def observe(rs: RunState) -> list[Observed]:
    """The project's long-running containers as plain data, from one list call (Compose
    does the same): no inspect per container. The listing deploy made after the reaper
    when there is one (milliseconds ago, under this deployment's lock; none after a build)."""
    wanted = {sp.name for sp in rs.plan.services if sp.kind == "service"}
    rows, rs.observed_rows = rs.observed_rows, None  # used once
    if rows is None:
        rows = rs.engine.container_rows(rs.project.name, oneoff=False)
    out = []
    for row in rows:
        labels = row.get("Labels") or {}
        service = labels.get(LABEL_SERVICE)
        if service not in wanted:
            continue
        names = row.get("Names") or []
        out.append(Observed(id=row["Id"], name=names[0].lstrip("/") if names else row["Id"],
                            service=service, state=row.get("State", ""),
                            config_hash=labels.get(LABEL_CONFIG_HASH),
                            image_id=row.get("ImageID") or None,
                            network_mode=(row.get("HostConfig") or {}).get("NetworkMode")))
    return out
