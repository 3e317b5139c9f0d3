"""The Prefect shell of a deployment: the ``compose-up`` flow, one task run per step submitted
with ``wait_for`` futures that follow depends_on, and the flow run's final state.

Everything else is plain Python: the step bodies (run/steps.py, jobs.py, services.py), the
bookkeeping and verdict (run/state.py), cleanup (run/cleanup.py) and the report
(run/report.py). The executor carries no decision logic: what runs, in which order and with
which timeout is the plan's; what happens to each long-running container, plan/converge.py's.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Cancelled, Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import allow_failure

from prefect_compose import masking
from prefect_compose.engine import Engine
from prefect_compose.plan.compile import Step, refuse_providers
from prefect_compose.plan.containers import check_file_sources
from prefect_compose.run.cleanup import cleanup_flow_run
from prefect_compose.run.deploy import deploy, step_finished
from prefect_compose.run.lock import release_lock_of_run
from prefect_compose.run.milestones import creation_tags, late_tags
from prefect_compose.run.reporting import PrefectReporter
from prefect_compose.run.state import Options, RunState, StepRecord, task_state
from prefect_compose.run.steps import StepLog, execute
from prefect_compose.trace import mark

_RUNS: dict[str, RunState] = {}
_PRELOADED: dict[str, tuple] = {}  # see preload()


def _not_thread_timeout_warning(record: logging.LogRecord) -> bool:
    """Prefect warns that timeout_seconds cannot interrupt a worker thread. We know: our
    deadline is enforced on the container, Prefect's timeout is only a backstop."""
    return not str(record.msg).startswith("Timeout of ")


logging.getLogger("prefect.task_runs").addFilter(_not_thread_timeout_warning)


# -- the step task ---------------------------------------------------------------------------
@task(name="step", cache_policy=NO_CACHE, persist_result=False, log_prints=False)
def run_step(run_id: str, step_id: str) -> Any:
    mark("step: first task run body", once=True)
    rs = _RUNS[run_id]
    late_tags(rs.plan, rs.plan.step(step_id))
    logger = get_run_logger()
    record = execute(rs, step_id, StepLog(logger, rs.reporter.api_logger(logger)))
    step_finished(rs, record)
    return _task_state(rs, record)


def _task_state(rs: RunState, record: StepRecord) -> State:
    kind, name, message = task_state(record, rs.out.mask)
    make = {"COMPLETED": Completed, "CANCELLED": Cancelled, "FAILED": Failed}[kind]
    return make(name=name, message=message)


# -- the flow ------------------------------------------------------------------------------------
def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters or {}
    if params.get("project_name"):
        return str(params["project_name"])
    if params.get("block"):
        from prefect_compose.blocks.compose_project import block_project_name

        return block_project_name(str(params["block"]))
    base = params.get("project_dir") or "."
    return os.path.basename(os.path.abspath(base)) or "compose"


@flow(name="compose-up", flow_run_name=_flow_run_name, persist_result=False, log_prints=False,
      task_runner=ThreadPoolTaskRunner(max_workers=32))
@masking.masked_errors()  # an error's message becomes the run's state message: mask it first
def compose_up(project_dir: str | None = None, files: list[str] | None = None,
               project_name: str | None = None, profiles: list[str] | None = None,
               env_files: list[str] | None = None, job_timeout: str | None = None,
               force_recreate: bool = False, no_recreate: bool = False,
               docker_host_block: str | None = None, echo: bool = False,
               block: str | None = None, no_rollback: bool = False,
               wait_lock: str | None = None, allow: list[str] | None = None) -> State:
    """Deploy a Compose project: build, converge long-running services, run jobs once. The
    project is named by its paths, or by a `compose-project` block (`block`); a deployment
    of it in progress is waited for up to `wait_lock` (default: fail at once, naming it)."""
    from prefect.runtime import flow_run

    from prefect_compose.units import parse_duration

    mark("flow: body entered")
    logger = get_run_logger()
    named = dict(project_dir=project_dir, files=files, project_name=project_name,
                 profiles=profiles, env_files=env_files, job_timeout=job_timeout,
                 docker_host_block=docker_host_block, allow=allow, block=block)
    project, plan, engine = _loaded(named)  # host escapes not allowed: exit 2
    rs = RunState(project=project, plan=plan, engine=engine,
                  flow_run_id=str(flow_run.id or uuid.uuid4()),
                  options=Options(force_recreate=force_recreate, no_recreate=no_recreate,
                                  echo=echo, rollback=not no_rollback))
    _RUNS[rs.id] = rs
    reporter = PrefectReporter(rs.flow_run_id, str(flow_run.name or project.name), logger)
    try:
        v = deploy(rs, reporter, lambda step, wait_for: _submit_step(rs, step, wait_for),
                   wait_lock_s=parse_duration(wait_lock) if wait_lock else 0.0,
                   watch_cancel=bool(os.environ.get("PREFECT_API_URL")))
    finally:  # an ephemeral server: nobody else can cancel this run, no watcher
        _RUNS.pop(rs.id, None)
        engine.close()
    if v.status == "completed":
        return Completed(message=v.message)
    if v.status == "cancelled":
        return Cancelled(message=v.message)
    return Failed(message=v.message)


def preload(named: dict[str, Any], project: Any, plan: Any, engine: Engine) -> None:
    """The CLI loaded, compiled, checked (providers, file sources) and connected already: a flow run
    named by the same parameters in this process takes them over instead of doing it
    again."""
    _PRELOADED["up"] = (named, project, plan, engine)


def _loaded(named: dict[str, Any]) -> tuple[Any, Any, Engine]:
    pre = _PRELOADED.pop("up", None)
    if pre is not None:
        if pre[0] == named:
            return pre[1], pre[2], pre[3]
        pre[3].close()
    from prefect_compose.project import ProjectOptions, load_and_compile

    params = {k: v for k, v in named.items() if k != "block"}
    if named["block"]:  # prefect-docker is imported only for a block
        from prefect_compose.blocks.compose_project import project_options

        options = project_options(named["block"], **params)
    else:
        options = ProjectOptions.from_parameters(**params)
    project, plan = load_and_compile(options)
    refuse_providers(plan)
    check_file_sources(project, project.services)
    return project, plan, Engine.connect(options.docker_host_block)


def _submit_step(rs: RunState, step: Step, wait_for: list[Any]) -> Any:
    """One task run for the step, submitted once its upstreams are done (run/schedule.py):
    ``wait_for`` (done already) only draws the graph's edges in the UI; whether a failed
    upstream cancels the step is the step's own decision (run/steps.py)."""
    return run_step.with_options(
        name=step.id, task_run_name=step.id, timeout_seconds=_backstop(rs, step),
        tags=creation_tags(rs.plan, step, rs.limited_tags)).submit(
        rs.id, step.id, wait_for=[allow_failure(f) for f in wait_for])


def _backstop(rs: RunState, step: Step) -> float | None:
    """Prefect's own timeout, a little above the container deadline: only a backstop."""
    if step.timeout_s is None:
        return None
    sp = rs.plan.service(step.service)
    attempts = 1 + sp.retries
    return step.timeout_s * attempts + sp.retry_delay_s * (attempts - 1) + \
        rs.grace(step.service) + 30


def on_cancel_or_crash(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect hook (runs in the runner process): clean up by the flow run's label."""
    from prefect_compose.blocks.compose_project import project_options

    params = getattr(flow_run, "parameters", {}) or {}
    try:  # the engine the run used: its DockerHost block, or its compose-project block's
        options = project_options(params.get("block"),
                                  docker_host_block=params.get("docker_host_block"))
        engine = Engine.connect(options.docker_host_block)
    except Exception:  # noqa: BLE001
        return
    try:
        release_lock_of_run(engine, str(flow_run.id))
        cleanup_flow_run(engine, str(flow_run.id))
    finally:
        engine.close()


compose_up = compose_up.with_options(on_cancellation=[on_cancel_or_crash],
                                     on_crashed=[on_cancel_or_crash])
