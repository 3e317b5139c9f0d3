"""One-off commands: `run` (a throwaway container of a service) and `exec` (inside the
running one). Shared by the CLI and the Prefect flows in flows/run.py and flows/exec.py."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from prefect_compose.run.accounting import size_seconds
from prefect_compose.engine import Engine
from prefect_compose.model.types import Project
from prefect_compose.plan.compile import Plan
from prefect_compose.engine.images import build_image
from prefect_compose.engine.resources import ensure_networks_and_volumes
from prefect_compose.plan.containers import build_spec, check_file_sources
from prefect_compose.run.reaper import owned

TIMEOUT_EXIT_CODE = 124


def env_from_names(names: Sequence[str] | None,
                   environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The run/exec flows take variable *names* (flow run parameters are stored in the Prefect
    database and shown in the UI, so they never hold values): each is read from the
    environment of the process running the flow (the worker), as `docker run -e NAME` does.
    A name that is not set there is left out. ``NAME=value`` is refused."""
    import os

    from prefect_compose.errors import InputError

    environ = os.environ if environ is None else environ
    out = {}
    for name in names or ():
        if "=" in name:
            raise InputError("env takes variable names only, read from the worker's "
                             "environment (flow run parameters are stored in Prefect and "
                             f"must not hold values): got a NAME=value entry for "
                             f"{name.split('=', 1)[0]!r}", path="env")
        if name in environ:
            out[name] = environ[name]
    from prefect_compose import masking

    masking.register_env(out)
    return out


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    timed_out: bool
    duration_s: float
    size_seconds: float
    container: str


def prepare_service(engine: Engine, project: Project, plan: Plan, service: str) -> str:
    """Networks, volumes and the image a service's container needs; returns the image."""
    check_file_sources(project, [service])
    ensure_networks_and_volumes(engine, project, [service])
    from prefect_compose.run.faults import ensure_images

    ensure_images(engine, project, plan, [service])
    image = plan.service(service).image or ""
    build = next((b for b in plan.builds if image in b.tags), None)
    if build is not None and (project.services[service].pull_policy == "build"
                              or not engine.image_exists(image)):
        build_image(engine, build)
    return image


def run_oneoff(engine: Engine, project: Project, plan: Plan, service: str,
               command: Sequence[str] | None, *, env: Mapping[str, str] | None = None,
               timeout_s: float | None = None, check_deps: bool = True,
               on_line: Callable[[str, str], None] | None = None,
               on_warning: Callable[[str], None] | None = None,
               flow_run_id: str | None = None) -> RunResult:
    """Run COMMAND in a new container with the service's image, environment, volumes and
    network; remove it afterwards. Exit code 124 when the timeout stops it."""
    svc = project.services[service]
    sp = plan.service(service)
    if check_deps and on_warning:
        running = {c.service for c in engine.list_containers(project.name, oneoff=False)
                   if c.state == "running"}
        missing = sorted(d for d, dep in svc.depends_on.items()
                         if dep.required and d not in running and plan.service(d).kind != "job")
        if missing:
            on_warning(f"{', '.join(missing)} not running: deploy with `up` first, or pass "
                       "--no-deps")
    image = prepare_service(engine, project, plan, service)
    spec = owned(build_spec(project, svc, image=image, config_hash=sp.config_hash,
                            oneoff=True, command=tuple(command) if command else None,
                            extra_env=env, use_aliases=False, publish_ports=False,
                            flow_run_id=flow_run_id),
                 None if timeout_s is None else timeout_s + svc.stop_grace_period_s)
    cid = engine.create(spec)
    code: int | None = None
    t0 = time.monotonic()
    try:
        engine.start(cid)
        t0 = time.monotonic()
        follow = engine.stream_logs(cid, on_line or (lambda s, l: None), tty=spec.tty)
        code = engine.wait_exit(cid, timeout=timeout_s)
        if code is None:
            engine.stop(cid, svc.stop_grace_period_s)  # returns once it has exited
        # it exited, so the engine holds all of its output: the follow is cut and the rest
        # read without follow (engine 20.10 ends a follow up to seconds late), as a job's
        follow.finish()
    finally:
        elapsed = time.monotonic() - t0
        cpus, mem = engine.stats_limits(cid)
        engine.remove(cid, force=True)
    return RunResult(exit_code=TIMEOUT_EXIT_CODE if code is None else code,
                     timed_out=code is None, duration_s=round(elapsed, 3),
                     size_seconds=size_seconds(cpus, mem, elapsed), container=spec.name or cid)


def exec_in(engine: Engine, project: str, service: str, command: Sequence[str], *,
            env: Mapping[str, str] | None = None, workdir: str | None = None,
            user: str | None = None,
            on_output: Callable[[bytes], None] | None = None) -> int | None:
    """Run COMMAND inside the service's running container; None when it is not running."""
    running = [c for c in engine.list_containers(project, service=service, oneoff=False)
               if c.state == "running"]
    if not running:
        return None
    return engine.exec(running[0].id, list(command), env=dict(env or {}), workdir=workdir,
                       user=user, on_output=on_output)
