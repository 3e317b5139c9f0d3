"""The commands behind the CLI other than `plan` and `server`.

`up` runs the Prefect flow; `down`, `ps`, `logs`, `run` and `exec` talk to the engine only
(no Prefect server needed, so they answer as fast as `docker compose` does); `run` and `exec`
also leave a flow run on the server in use, when there is one, by plain HTTP
(run/cli_record.py), so `ps --jobs` lists them. All of them only ever touch containers that
carry this project's labels.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Iterator

from prefect_compose.errors import InputError, RunError
from prefect_compose.project import ProjectOptions, load, load_and_compile


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "deploy":
        from prefect_compose.cli.deploy import cmd_deploy

        return cmd_deploy(args)
    if args.command == "ps" and args.jobs:
        from prefect_compose.cli.deploy import cmd_ps_jobs

        return cmd_ps_jobs(args)
    handler = {"up": cmd_up, "down": cmd_down, "ps": cmd_ps, "logs": cmd_logs,
               "run": cmd_run, "exec": cmd_exec}[args.command]
    return handler(args)


def _project_only(args: argparse.Namespace):
    """The project for commands that only need its name and services."""
    try:
        return load(ProjectOptions.from_args(args))
    except InputError:
        if args.project_name and not args.files:
            return None  # `down -p NAME` works without the file, as in Compose
        raise


def _engine():
    from prefect_compose.engine import Engine

    return Engine.connect(None)


def _reap(engine, project: str) -> None:
    """Job containers of runs that died are stopped and removed, one line each."""
    from prefect_compose.run.reaper import reap

    reap(engine, project, lambda line: print(line, file=sys.stderr))


# -- up ------------------------------------------------------------------------------------------
def _check_wait_lock(value: str | None) -> None:
    from prefect_compose.units import parse_duration

    if value:
        try:
            parse_duration(value)
        except ValueError as exc:
            raise InputError(str(exc), path="--wait-lock") from None


def cmd_up(args: argparse.Namespace) -> int:
    from prefect_compose.trace import mark

    mark("up: start")
    options = ProjectOptions.from_args(args)
    project, plan = load_and_compile(options)  # exit 2 before anything else happens
    mark("up: loaded and compiled")
    _check_wait_lock(args.wait_lock)
    from prefect_compose.plan.compile import refuse_providers
    from prefect_compose.plan.containers import check_file_sources

    refuse_providers(plan)
    check_file_sources(project, project.services)  # an unset secret variable: exit 2
    for w in plan.warnings:
        print(f"warning: {w}", file=sys.stderr)
    opening = _open_flow_run(args, project, plan)  # on a thread, while the engine is reached
    try:
        engine = _engine()  # fails fast (exit 1) when the engine does not answer
    except BaseException as exc:
        opening.abandon(exc)
        raise
    mark("up: engine connected")
    try:
        if opening.join().api is None:  # no server in use: start the kept one, as before
            from prefect_compose.cli.server import configure_environment

            api = configure_environment(echo=lambda m: print(m, file=sys.stderr),
                                        autostart=True)
            if api:  # started: its flow run, the same way, on this thread
                opening = _open_flow_run(args, project, plan, find=lambda: api).join()
        mark("up: server found")
        code = (_up_direct(args, project, plan, engine, opening)
                if opening.flow_run_id is not None else None)
        if code is not None:
            return code
        from prefect.logging.configuration import setup_logging

        from prefect_compose.run import liveview
        from prefect_compose.run.flow import compose_up, preload

        mark("up: prefect imported")
        setup_logging()
    except BaseException as exc:
        opening.abandon(exc)  # a flow run created but not yet handed to the deployment
        engine.close()
        raise
    settings = liveview.resolve(args.progress, args.ansi, args.verbose)
    named = _named(args, project)
    preload(named, project, plan, engine)  # the flow run does not load or connect again
    try:  # SIGTERM arrives as KeyboardInterrupt (the one handler is in cli/main.py)
        with liveview.session(settings):
            state = compose_up(
                **{k: v for k, v in named.items() if v is not None},
                force_recreate=args.force_recreate,
                no_recreate=args.no_recreate, no_rollback=args.no_rollback, echo=True,
                wait_lock=args.wait_lock,
                return_state=True)
    except KeyboardInterrupt:
        print("up: interrupted; containers this deployment started were stopped",
              file=sys.stderr)
        return 130
    mark("up: flow returned")
    message = state.message or state.name
    if state.is_completed():
        print(f"up: {message}", file=sys.stderr)
        return 0
    if state.is_cancelled():
        print(f"up: {message}", file=sys.stderr)
        return 130
    print(f"up: {message}", file=sys.stderr)
    return 1


def _named(args: argparse.Namespace, project) -> dict:
    """The `compose-up` flow's parameters that name the project: paths and names only."""
    import os

    return dict(project_dir=project.working_dir,
                files=[os.path.abspath(f) for f in project.files],
                project_name=project.name, profiles=list(args.profiles) or None,
                env_files=[os.path.abspath(e) for e in args.env_files] or None,
                job_timeout=args.job_timeout, docker_host_block=None,
                allow=list(args.allow) or None, block=None)


def _flow_parameters(args: argparse.Namespace, project) -> dict:
    """Every parameter of the `compose-up` flow, as Prefect records them."""
    parameters = dict(_named(args, project))
    parameters.update(force_recreate=args.force_recreate, no_recreate=args.no_recreate,
                      no_rollback=args.no_rollback, echo=True, wait_lock=args.wait_lock)
    return parameters


def _open_flow_run(args: argparse.Namespace, project, plan, find=None):
    """The direct `up`'s flow run, created on a thread (run/opening.py) in the server ``find``
    names: by default one already in use (starting the kept server waits until the engine
    has answered)."""
    from functools import partial

    from prefect_compose.cli.server import api_in_use
    from prefect_compose.run.milestones import flow_run_tags
    from prefect_compose.run.opening import Opening

    return Opening(find or partial(api_in_use, point=True), args.verbose, plan, project.name,
                   _flow_parameters(args, project), flow_run_tags(project.name))


def _up_direct(args: argparse.Namespace, project, plan, engine, opening) -> int:
    """`up` with Prefect off the critical path (run/direct.py), in the flow run ``opening``
    created: the exit code."""
    from prefect_compose.run import direct

    reporter = direct.RestReporter.opened(opening)
    opening.take()  # direct.run ends it from here
    from prefect_compose.run import liveview
    from prefect_compose.run.state import Options
    from prefect_compose.trace import mark
    from prefect_compose.units import parse_duration

    options = Options(force_recreate=args.force_recreate, no_recreate=args.no_recreate,
                      echo=True, rollback=not args.no_rollback)
    settings = liveview.resolve(args.progress, args.ansi, args.verbose)
    try:
        with liveview.session(settings):
            v = direct.run(reporter, project, plan, engine, options,
                           wait_lock_s=parse_duration(args.wait_lock) if args.wait_lock
                           else 0.0)
    except KeyboardInterrupt:
        engine.close()
        print("up: interrupted; containers this deployment started were stopped",
              file=sys.stderr)
        return 130
    engine.close()
    mark("up: flow returned")
    print(f"up: {v.message}", file=sys.stderr)
    return {"completed": 0, "cancelled": 130}.get(v.status, 1)


# -- down / ps / logs ----------------------------------------------------------------------------
def _project_name(args: argparse.Namespace, project) -> str:
    return project.name if project is not None else args.project_name


@contextlib.contextmanager
def _project_engine(args: argparse.Namespace, reap: bool = True) -> Iterator[tuple]:
    """(project or None, project name, engine) for down/ps/logs; with ``reap``, leftover job
    containers of dead runs are removed first (and said). The engine is closed after."""
    project = _project_only(args)
    name = _project_name(args, project)
    engine = _engine()
    try:
        if reap:
            _reap(engine, name)
        yield project, name, engine
    finally:
        engine.close()


DOWN_PARALLEL_DEFAULT = 16  # engine 20.10 deadlocks under ~200 concurrent force-removes


def parallel_limit(environ=None) -> int | None:
    """How many containers ``down`` stops and removes at once: COMPOSE_PARALLEL_LIMIT, as
    Compose v2 reads it (an integer; 0 or less means unlimited), else
    ``DOWN_PARALLEL_DEFAULT`` (Compose's own default is unlimited, which engine 20.10 does
    not survive on a wide project). None means unlimited."""
    import os

    value = (os.environ if environ is None else environ).get("COMPOSE_PARALLEL_LIMIT", "")
    if not value.strip():
        return DOWN_PARALLEL_DEFAULT
    try:
        limit = int(value)
    except ValueError:
        raise InputError(f"COMPOSE_PARALLEL_LIMIT must be an integer (found: {value!r})",
                         path="COMPOSE_PARALLEL_LIMIT") from None
    return limit if limit > 0 else None


def cmd_down(args: argparse.Namespace) -> int:
    limit = parallel_limit()  # a bad value exits 2 before anything is touched
    with _project_engine(args) as (project, name, engine):
        containers = engine.list_containers(name, inspect=False)  # state from the list call
        jobs = []
        for c in containers:
            grace = 10.0
            if project is not None and c.service in project.services:
                grace = project.services[c.service].stop_grace_period_s
            jobs.append((c, grace))
        if jobs:
            _run_bounded(lambda job: _stop_remove_reported(engine, *job, args.volumes), jobs,
                         min(limit or len(jobs), len(jobs)))
        for c in containers:
            print(f"removed container {c.name}", file=sys.stderr)
        for n in engine.remove_project_networks(name):
            print(f"removed network {n}", file=sys.stderr)
        if args.volumes:
            for v in engine.remove_project_volumes(name):
                print(f"removed volume {v}", file=sys.stderr)
    return 0


def _run_bounded(fn, items: list, workers: int) -> None:
    """``fn(item)`` for every item, at most ``workers`` at once; returns when all are done.
    Interrupted (Ctrl-C), what has not started is dropped and the calls under way finish."""
    from concurrent.futures import ThreadPoolExecutor, wait

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="down")
    try:
        wait([pool.submit(fn, item) for item in items])
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _stop_remove_reported(engine, c, grace: float, volumes: bool) -> None:
    """:func:`_stop_remove`, its error reported as an unhandled one in a thread is (through
    ``threading.excepthook``, on stderr), leaving the other containers' removal going."""
    try:
        _stop_remove(engine, c, grace, volumes)
    except Exception:  # noqa: BLE001 - reported as before the pool: one failure stops none
        threading.excepthook(threading.ExceptHookArgs(
            (*sys.exc_info(), threading.current_thread())))


def _stop_remove(engine, c, grace: float, volumes: bool = False) -> None:
    """Stop and remove one container; with ``down -v`` its anonymous volumes too (Compose)."""
    if c.state == "running":
        engine.stop(c.id, grace)
    engine.remove(c.id, force=True, volumes=volumes)


def cmd_ps(args: argparse.Namespace) -> int:
    with _project_engine(args) as (project, name, engine):
        rows = [("NAME", "SERVICE", "STATE", "HEALTH", "EXIT CODE")]
        for c in sorted(engine.list_containers(name), key=lambda c: (c.service or "", c.name)):
            rows.append((c.name, c.service or "", c.state or "", c.health or "",
                         "" if c.state == "running" or c.exit_code is None else str(c.exit_code)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    with _project_engine(args, reap=False) as (project, name, engine):
        containers = engine.list_containers(name, oneoff=False, inspect=False)
        if args.services:
            unknown = set(args.services) - {c.service for c in containers} - (
                set(project.services) if project else set())
            if unknown:
                raise InputError(f'no such service: {", ".join(sorted(unknown))}')
            containers = [c for c in containers if c.service in args.services]
        width = max((len(c.service or "") for c in containers), default=0)
        for c in sorted(containers, key=lambda c: c.service or ""):
            for line in engine.logs_tail(c.id, None).splitlines():
                print(f"{c.service:<{width}} | {line}")
    return 0


# -- run / exec ------------------------------------------------------------------------------------
def _parse_env(pairs: list[str]) -> dict[str, str]:
    import os

    env = {}
    for p in pairs:
        if "=" in p:
            k, v = p.split("=", 1)
        else:
            k, v = p, os.environ.get(p, "")
        env[k] = v
    from prefect_compose import masking

    masking.register_env(env)
    return env


def cmd_run(args: argparse.Namespace) -> int:
    from prefect_compose.run.oneoff import run_oneoff
    from prefect_compose.units import parse_duration

    project, plan = load_and_compile(ProjectOptions.from_args(args))
    if args.service not in project.services:
        raise InputError(f'no such service: "{args.service}"', path=f"services.{args.service}")
    timeout = None
    if args.timeout:
        try:
            timeout = parse_duration(args.timeout)
        except ValueError as exc:
            raise InputError(str(exc), path="--timeout") from None
    env = _parse_env(args.env)
    engine = _engine()
    record = _record("run", project.name, args.service, args.cmd, project.working_dir)
    try:
        result = run_oneoff(
            engine, project, plan, args.service, list(args.cmd) or None,
            env=env, timeout_s=timeout, check_deps=not args.no_deps,
            on_line=lambda stream, line: print(
                line, file=sys.stderr if stream == "stderr" else sys.stdout, flush=True),
            on_warning=lambda m: print(f"warning: {m}", file=sys.stderr))
    except BaseException as exc:
        record.finish(130 if isinstance(exc, KeyboardInterrupt) else 1,
                      message=f"{args.service}: interrupted (exit code 130)"
                      if isinstance(exc, KeyboardInterrupt) else
                      f"{args.service}: {type(exc).__name__}: {exc} (exit code 1)")
        raise
    finally:
        engine.close()
    if result.timed_out:
        print(f"run: {args.service} timed out after {args.timeout}", file=sys.stderr)
        record.finish(result.exit_code, size_seconds=result.size_seconds,
                      message=f"{args.service}: timed out after {args.timeout} (exit code "
                              f"{result.exit_code}) ({result.size_seconds:.1f} size-seconds)")
    else:
        record.finish(result.exit_code, duration_s=result.duration_s,
                      size_seconds=result.size_seconds)
    return result.exit_code


def _record(verb: str, project: str, service: str, cmd, project_dir: str | None = None):
    """The flow run that lists this CLI `run`/`exec` in Prefect (run/cli_record.py), started
    at once; a no-op without a server in use."""
    from prefect_compose.cli.server import api_in_use
    from prefect_compose.run.cli_record import CliRecord

    return CliRecord(api_in_use, verb, project, service, list(cmd) or None,
                     project_dir).start()


def cmd_exec(args: argparse.Namespace) -> int:
    from prefect_compose.run.oneoff import exec_in

    project = _project_only(args)
    if not args.cmd:
        raise InputError("exec needs a command: prefect-compose exec SERVICE CMD...")
    if project is not None and args.service not in project.services:
        raise InputError(f'no such service: "{args.service}"', path=f"services.{args.service}")
    env = _parse_env(args.env)
    engine = _engine()
    out = sys.stdout.buffer
    name = _project_name(args, project)
    record = _record("exec", name, args.service, args.cmd,
                     project.working_dir if project is not None else None)
    try:
        code = exec_in(engine, name, args.service, list(args.cmd),
                       env=env, workdir=args.workdir, user=args.user,
                       on_output=lambda b: (out.write(b), out.flush()))
    except BaseException as exc:
        record.finish(1, message=f"{args.service}: {type(exc).__name__} (exit code 1)")
        raise
    finally:
        engine.close()
    if code is None:
        print(f"exec: service {args.service} is not running", file=sys.stderr)
        record.finish(1, message=f"{args.service} is not running (exit code 1)")
        return 1
    record.finish(code)
    return code


__all__ = ["dispatch", "RunError"]
