"""Prefect entry point for `compose-exec/NAME`: run CMD inside a service's running container;
Completed for exit code 0, Failed otherwise (exit code in the message).

``env`` holds variable names only, read from the worker's environment: flow run parameters
are stored in Prefect and never hold values."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State

from prefect_compose.masking import masked_errors


@flow(name="compose-exec", flow_run_name="exec {service}", persist_result=False,
      log_prints=False)
@masked_errors()  # an error's message becomes the run's state message: mask it first
def compose_exec(service: str, command: list[str], project_dir: str = ".",
                 files: list[str] | None = None, project_name: str | None = None,
                 env: list[str] | None = None, workdir: str | None = None,
                 user: str | None = None, docker_host_block: str | None = None) -> State:
    from prefect_compose.engine.client import Engine
    from prefect_compose.load.project import load_project
    from prefect_compose.run.oneoff import env_from_names, exec_in

    logger = get_run_logger()
    values = env_from_names(env)
    project = load_project(files or None, project_dir=project_dir, project_name=project_name)
    engine = Engine.connect(docker_host_block)
    try:
        code = exec_in(engine, project.name, service, command, env=values, workdir=workdir,
                       user=user, on_output=lambda b: [logger.info(line) for line in
                                                       b.decode(errors="replace").splitlines()])
    finally:
        engine.close()
    if code is None:
        return Failed(message=f"{service} is not running (exit code 1)", data=1)
    if code != 0:
        return Failed(message=f"{service}: exit code {code}", data=code)
    return Completed(message=f"{service}: exit code 0", data=code)
