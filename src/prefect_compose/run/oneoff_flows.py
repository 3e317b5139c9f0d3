"""The Prefect flows behind `compose-run/NAME` and `compose-exec/NAME` (flows/run.py and
flows/exec.py re-export them): a one-off command in a throwaway container of a service, or
inside its running container. Both name the project as `compose-up` does (paths, or a
`compose-project` block), load it through the one `load_and_compile`, and end Completed for
exit code 0, else Failed with the exit code in the message (and as the state's data)."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State

from prefect_compose.blocks.compose_project import project_options
from prefect_compose.project import load_and_compile


@flow(name="compose-run", flow_run_name="run {service}", persist_result=False, log_prints=False)
def compose_run(service: str, command: list[str] | None = None, project_dir: str | None = None,
                files: list[str] | None = None, project_name: str | None = None,
                profiles: list[str] | None = None, env_files: list[str] | None = None,
                env: dict[str, str] | None = None, timeout: str | None = None,
                docker_host_block: str | None = None, block: str | None = None) -> State:
    """Run COMMAND (default: the service's own) in a new container of SERVICE. A job (and a
    scheduled job) gets its `x-prefect.timeout` unless `timeout` says otherwise."""
    from prefect_compose.engine.client import Engine
    from prefect_compose.run.oneoff import run_oneoff
    from prefect_compose.units import parse_duration

    logger = get_run_logger()
    options = project_options(block, project_dir=project_dir, files=files,
                              project_name=project_name, profiles=profiles,
                              env_files=env_files, docker_host_block=docker_host_block)
    project, plan = load_and_compile(options)
    if service not in project.services:
        return Failed(message=f'no such service: "{service}" in project {project.name}')
    timeout_s = parse_duration(timeout) if timeout else plan.service(service).timeout_s
    engine = Engine.connect(options.docker_host_block)
    try:
        result = run_oneoff(engine, project, plan, service, command, env=env or {},
                            timeout_s=timeout_s, check_deps=False,
                            flow_run_id=str(flow_run.id),
                            on_line=lambda stream, line: logger.info(line))
    finally:
        engine.close()
    summary = (f"{service}: exit code {result.exit_code} after {result.duration_s:.1f}s "
               f"({result.size_seconds:.1f} size-seconds)")
    if result.timed_out:
        from prefect_compose.units import format_duration

        return Failed(message=f"{service}: timed out after {format_duration(timeout_s)} "
                              f"(exit code 124)", data=result.exit_code)
    if result.exit_code != 0:
        return Failed(message=summary, data=result.exit_code)
    return Completed(message=summary, data=result.exit_code)


@flow(name="compose-exec", flow_run_name="exec {service}", persist_result=False,
      log_prints=False)
def compose_exec(service: str, command: list[str], project_dir: str | None = None,
                 files: list[str] | None = None, project_name: str | None = None,
                 profiles: list[str] | None = None, env_files: list[str] | None = None,
                 env: dict[str, str] | None = None, workdir: str | None = None,
                 user: str | None = None, docker_host_block: str | None = None,
                 block: str | None = None) -> State:
    """Run COMMAND inside SERVICE's running container; Failed when it is not running."""
    from prefect_compose.engine.client import Engine
    from prefect_compose.run.oneoff import exec_in

    logger = get_run_logger()
    options = project_options(block, project_dir=project_dir, files=files,
                              project_name=project_name, profiles=profiles,
                              env_files=env_files, docker_host_block=docker_host_block)
    project, _ = load_and_compile(options)
    engine = Engine.connect(options.docker_host_block)
    try:
        code = exec_in(engine, project.name, service, command, env=env, workdir=workdir,
                       user=user, on_output=lambda b: [logger.info(line) for line in
                                                       b.decode(errors="replace").splitlines()])
    finally:
        engine.close()
    if code is None:
        return Failed(message=f"{service} is not running (exit code 1)", data=1)
    if code != 0:
        return Failed(message=f"{service}: exit code {code}", data=code)
    return Completed(message=f"{service}: exit code 0", data=code)
