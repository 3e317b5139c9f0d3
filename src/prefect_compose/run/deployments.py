"""`prefect-compose deploy`: register a project's Prefect deployments on the server in use.

For project P it creates (or updates in place: Prefect upserts a deployment by flow and name):

    compose-up/P             deploy the project; concurrency limit 1, later runs wait (ENQUEUE);
                             `--cron` adds a redeploy schedule
    compose-run/P            a one-off command in a throwaway container (`service`, `command`)
    compose-exec/P           a command in a running container (`service`, `command`)
    compose-run/P-SERVICE    one per scheduled job, on its cron and timezone

on a process work pool (created when missing). The flows are referred to by module
(`prefect_compose.run.flow.compose_up`, ...) and the project by absolute paths on this host
(or by a `compose-project` block), with the project directory as the working directory: a
worker started in any directory, with this installation's Python, runs them. Parameters hold
paths and names, never environment values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect_compose.project import ProjectOptions

# Prefect reserves work pool names starting with "prefect" (the server answers 403), so the
# SPEC's default `prefect-compose` cannot exist: this is the default instead (README).
DEFAULT_POOL = "docker-host"


@dataclass(frozen=True)
class Registered:
    name: str  # "compose-up/P"
    deployment_id: str
    schedule: str | None  # "0 3 * * * (UTC)"


def _flows() -> dict[str, Any]:
    from prefect_compose.run.flow import compose_up
    from prefect_compose.run.oneoff_flows import compose_exec, compose_run

    return {"compose-up": compose_up, "compose-run": compose_run, "compose-exec": compose_exec}


def _entrypoint(flow: Any) -> str:
    return f"{flow.fn.__module__}.{flow.fn.__name__}"


def ensure_pool(client: Any, pool: str) -> bool:
    """The process work pool `pool`, created with the process worker's default job template
    when missing. True when it was created."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        existing = client.read_work_pool(pool)
    except ObjectNotFound:
        client.create_work_pool(WorkPoolCreate(
            name=pool, type="process",
            base_job_template=ProcessWorker.get_default_base_job_template(),
            description="Docker hosts run prefect-compose deployments from this pool"))
        return True
    if existing.type != "process":
        from prefect_compose.errors import InputError

        raise InputError(f'work pool "{pool}" is a {existing.type} pool; prefect-compose '
                         "needs a process pool (choose another with --pool)")
    return False


def check_schedule(cron: str | None, timezone: str | None) -> None:
    """`deploy --cron/--timezone`, checked as Prefect will (InputError, exit 2)."""
    from prefect_compose.errors import InputError

    if timezone and not cron:
        raise InputError("--timezone needs --cron", path="--timezone")
    if cron:
        from prefect.client.schemas.schedules import CronSchedule

        try:
            CronSchedule(cron=cron, timezone=timezone or "UTC")
        except ValueError as exc:
            msg = [line for line in str(exc).splitlines() if line.strip()]
            raise InputError(f"invalid schedule: {msg[-1] if msg else exc}",
                             path="--cron") from None


def _schedules(cron: str | None, timezone: str | None) -> list[Any]:
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule

    if not cron:
        return []
    return [DeploymentScheduleCreate(schedule=CronSchedule(cron=cron,
                                                           timezone=timezone or "UTC"),
                                     active=True)]


def register(project: Any, plan: Any, options: ProjectOptions, *, pool: str = DEFAULT_POOL,
             cron: str | None = None, timezone: str | None = None,
             block: str | None = None) -> tuple[list[Registered], bool]:
    """Create or update the project's deployments; returns them and whether the pool was
    created. `options` must hold absolute paths (`ProjectOptions.absolute()`); with `block`,
    the deployments name the project by that saved compose-project block instead."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy, ConcurrencyOptions
    from prefect.utilities.callables import parameter_schema

    flows = _flows()
    base = {"block": block} if block else {
        k: v for k, v in options.parameters().items() if v is not None}
    pull = [{"prefect.deployments.steps.set_working_directory": {
        "directory": project.working_dir}}]
    specs = [
        ("compose-up", project.name, dict(base), _schedules(cron, timezone), 1,
         f"Deploy the compose project {project.name} ({', '.join(project.files)})."),
        ("compose-run", project.name, dict(base), [], None,
         f"Run a command in a throwaway container of a {project.name} service "
         "(parameters: service, command)."),
        ("compose-exec", project.name, dict(base), [], None,
         f"Run a command inside a running {project.name} container "
         "(parameters: service, command)."),
    ]
    for sp in plan.scheduled:
        specs.append(("compose-run", f"{project.name}-{sp.name}", {**base, "service": sp.name},
                      _schedules(sp.schedule.cron, sp.schedule.timezone), None,
                      f"The scheduled job {sp.name} of {project.name}: {sp.schedule.cron} "
                      f"({sp.schedule.timezone})."))
    out: list[Registered] = []
    with get_client(sync_client=True) as client:
        created = ensure_pool(client, pool)
        for flow_name, name, params, schedules, limit, description in specs:
            flow = flows[flow_name]
            flow_id = client.create_flow_from_name(flow_name)
            dep_id = client.create_deployment(
                flow_id=flow_id, name=name, work_pool_name=pool,
                entrypoint=_entrypoint(flow), parameters=params, schedules=schedules,
                concurrency_limit=limit,
                concurrency_options=ConcurrencyOptions(
                    collision_strategy=ConcurrencyLimitStrategy.ENQUEUE) if limit else None,
                parameter_openapi_schema=parameter_schema(flow.fn).model_dump(),
                enforce_parameter_schema=False, pull_steps=pull, description=description,
                tags=["prefect-compose", f"project:{project.name}"])
            _sync_schedules(client, dep_id, schedules)
            when = None
            if schedules:
                s = schedules[0].schedule
                when = f"{s.cron} ({s.timezone})"
            out.append(Registered(f"{flow_name}/{name}", str(dep_id), when))
    return out, created


def _sync_schedules(client: Any, deployment_id: Any, wanted: list[Any]) -> None:
    """Re-running deploy replaces the schedules (Prefect's upsert keeps old ones): exactly
    the wanted ones remain."""
    current = client.read_deployment_schedules(deployment_id)
    want = {(w.schedule.cron, w.schedule.timezone) for w in wanted}
    have: set[tuple[str, str]] = set()
    for s in current:
        key = (getattr(s.schedule, "cron", None), getattr(s.schedule, "timezone", None))
        if key in want and key not in have:
            have.add(key)
            continue
        client.delete_deployment_schedule(deployment_id, s.id)
    missing = [w for w in wanted if (w.schedule.cron, w.schedule.timezone) not in have]
    if missing:
        client.create_deployment_schedules(deployment_id,
                                           [(w.schedule, w.active) for w in missing])


def save_block(name: str, options: ProjectOptions, docker_host_block: str | None) -> None:
    """Save (overwrite) the compose-project block `name` for these options, with the named
    DockerHost block nested; registers both block types so the UI offers them."""
    from prefect_docker.host import DockerHost

    from prefect_compose.blocks.compose_project import ComposeProject

    DockerHost.register_type_and_schema()
    ComposeProject.register_type_and_schema()
    host = DockerHost.load(docker_host_block) if docker_host_block else None
    ComposeProject.from_options(options, docker_host=host).save(name, overwrite=True)


def server_answers() -> str | None:
    """None when the API in use answers its health check, else why not."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        exc = client.api_healthcheck()
    return None if exc is None else f"{type(exc).__name__}: {exc}"
