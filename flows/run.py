"""Prefect entry point for one-off commands: `compose-run/NAME` runs CMD in a throwaway
container of a service (image, environment, volumes and network of the service), removes it,
and ends Completed for exit code 0, Failed otherwise, with the exit code in the message.

``env`` holds variable names only, read from the worker's environment: flow run parameters
are stored in Prefect and never hold values."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State

from prefect_compose.masking import masked_errors


@flow(name="compose-run", flow_run_name="run {service}", persist_result=False, log_prints=False)
@masked_errors()  # an error's message becomes the run's state message: mask it first
def compose_run(service: str, command: list[str] | None = None, project_dir: str = ".",
                files: list[str] | None = None, project_name: str | None = None,
                env: list[str] | None = None, timeout: str | None = None,
                docker_host_block: str | None = None) -> State:
    from prefect_compose.engine.client import Engine
    from prefect_compose.load.project import load_project
    from prefect_compose.run.oneoff import env_from_names, run_oneoff
    from prefect_compose.plan.compile import compile_plan
    from prefect_compose.units import parse_duration

    logger = get_run_logger()
    values = env_from_names(env)
    project = load_project(files or None, project_dir=project_dir, project_name=project_name)
    plan = compile_plan(project)
    engine = Engine.connect(docker_host_block)
    try:
        result = run_oneoff(engine, project, plan, service, command, env=values,
                            timeout_s=parse_duration(timeout) if timeout else None,
                            check_deps=False, flow_run_id=str(flow_run.id),
                            on_line=lambda stream, line: logger.info(line))
    finally:
        engine.close()
    summary = (f"{service}: exit code {result.exit_code} after {result.duration_s:.1f}s "
               f"({result.size_seconds:.1f} size-seconds)")
    if result.timed_out:
        return Failed(message=f"{service}: timed out after {timeout} (exit code 124)",
                      data=result.exit_code)
    if result.exit_code != 0:
        return Failed(message=summary, data=result.exit_code)
    return Completed(message=summary, data=result.exit_code)
