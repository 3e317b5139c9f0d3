"""The Prefect flows behind `compose-run/NAME` and `compose-exec/NAME` (flows/run.py and
flows/exec.py re-export them): a one-off command in a throwaway container of a service, or
inside its running container. Both name the project as `compose-up` does (paths, or a
`compose-project` block), load it through the one `load_and_compile`, and end Completed for
exit code 0, else Failed with the exit code in the message (and as the state's data).

``env`` holds variable *names* only, read from the worker's environment: flow run parameters
are stored in Prefect and never hold values (SPEC: Prefect). Errors reach the state message
masked."""

from __future__ import annotations

from dataclasses import replace

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State

from prefect_compose.blocks.compose_project import project_options
from prefect_compose.masking import masked_errors
from prefect_compose.project import load_and_compile


def remove_run_containers(flow: object = None, flow_run: object = None,
                          state: object = None) -> None:
    """on_cancellation / on_crashed hook (it runs in the runner, after the flow process may
    have been killed): remove this flow run's throwaway containers, found by label."""
    from prefect_compose.engine import Engine
    from prefect_compose.plan.labels import LABEL_FLOW_RUN, LABEL_ONEOFF

    params = dict(getattr(flow_run, "parameters", None) or {})
    try:
        options = project_options(params.get("block"), **{
            k: params.get(k) for k in ("project_dir", "files", "project_name", "profiles",
                                       "env_files", "docker_host_block")})
        project, _ = load_and_compile(replace(options, escapes="warn"))  # clean up anyway
        engine = Engine.connect(options.docker_host_block)
    except Exception:  # noqa: BLE001 - nothing to clean that we could find
        return
    try:
        for c in engine.list_containers(project.name,
                                        extra_labels={LABEL_FLOW_RUN: str(flow_run.id)}):
            if c.labels.get(LABEL_ONEOFF) == "True":
                engine.remove(c.id, force=True)
    finally:
        engine.close()


def _tag(project: str, service: str) -> None:
    """``project:NAME``, ``service:NAME``, ``kind:one-off`` on this flow run (the project is
    only known once the flow loaded it)."""
    from prefect_compose.run.milestones import flow_run_tags, tag_flow_run

    tag_flow_run(str(flow_run.id) if flow_run.id else None, flow_run_tags(project, service))


@flow(name="compose-run", flow_run_name="run {service}", persist_result=False, log_prints=False,
      on_cancellation=[remove_run_containers], on_crashed=[remove_run_containers])
@masked_errors()
def compose_run(service: str, command: list[str] | None = None, project_dir: str | None = None,
                files: list[str] | None = None, project_name: str | None = None,
                profiles: list[str] | None = None, env_files: list[str] | None = None,
                env: list[str] | None = None, timeout: str | None = None,
                docker_host_block: str | None = None, block: str | None = None,
                allow: list[str] | None = None) -> State:
    """Run COMMAND (default: the service's own) in a new container of SERVICE. A job (and a
    scheduled job) gets its `x-prefect.timeout` unless `timeout` says otherwise."""
    from prefect_compose.engine import Engine
    from prefect_compose.run.oneoff import env_from_names, run_oneoff
    from prefect_compose.units import parse_duration

    logger = get_run_logger()
    values = env_from_names(env)
    options = project_options(block, project_dir=project_dir, files=files,
                              project_name=project_name, profiles=profiles,
                              env_files=env_files, docker_host_block=docker_host_block,
                              allow=allow)
    project, plan = load_and_compile(options)
    _tag(project.name, service)
    if service not in project.services:
        return Failed(message=f'no such service: "{service}" in project {project.name}')
    timeout_s = parse_duration(timeout) if timeout else plan.service(service).timeout_s
    engine = Engine.connect(options.docker_host_block)
    try:
        result = run_oneoff(engine, project, plan, service, command, env=values,
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
@masked_errors()
def compose_exec(service: str, command: list[str], project_dir: str | None = None,
                 files: list[str] | None = None, project_name: str | None = None,
                 profiles: list[str] | None = None, env_files: list[str] | None = None,
                 env: list[str] | None = None, workdir: str | None = None,
                 user: str | None = None, docker_host_block: str | None = None,
                 block: str | None = None) -> State:
    """Run COMMAND inside SERVICE's running container; Failed when it is not running."""
    from prefect_compose.engine import Engine
    from prefect_compose.run.oneoff import env_from_names, exec_in

    logger = get_run_logger()
    values = env_from_names(env)
    options = project_options(block, project_dir=project_dir, files=files,
                              project_name=project_name, profiles=profiles,
                              env_files=env_files, docker_host_block=docker_host_block)
    project, _ = load_and_compile(replace(options, escapes="warn"))  # exec creates nothing
    _tag(project.name, service)
    engine = Engine.connect(options.docker_host_block)
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
