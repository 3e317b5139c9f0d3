"""`prefect-compose deploy` and `prefect-compose ps --jobs`: the commands that talk to the
Prefect API rather than the engine (run/deployments.py, run/history.py do the work)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from prefect_compose.errors import InputError, RunError
from prefect_compose.project import ProjectOptions, load_and_compile


def _server() -> str:
    """Point Prefect at the server in use (starting the kept one when none is set), or raise
    RunError (exit 1) when none answers: these commands need a real server."""
    from prefect_compose.cli.server import configure_environment

    url = configure_environment(echo=lambda m: print(m, file=sys.stderr), autostart=True)
    if not url:
        raise RunError("this command needs a Prefect server (PREFECT_COMPOSE_SERVER=ephemeral "
                       "keeps nothing); start one with `prefect-compose server start` or set "
                       "PREFECT_API_URL")
    from prefect_compose.run.deployments import server_answers

    why = server_answers()
    if why:
        raise RunError(f"no Prefect server answers at {url}: {why}")
    return url


def cmd_deploy(args: argparse.Namespace) -> int:
    options = ProjectOptions.from_args(args).absolute()
    project, plan = load_and_compile(options)  # exit 2 before the server is asked anything
    options = ProjectOptions(  # what the worker needs: the files as found, absolute
        files=tuple(os.path.abspath(f) for f in project.files),
        project_dir=project.working_dir, project_name=project.name,
        env_files=options.env_files, profiles=options.profiles,
        docker_host_block=args.docker_host_block, allow=options.allow)
    url = _server()
    from prefect_compose.run.deployments import DEFAULT_POOL, check_schedule, register, save_block

    check_schedule(args.cron, args.timezone)

    pool = args.pool or DEFAULT_POOL
    if pool.lower().startswith("prefect"):
        raise InputError(f'work pool names starting with "prefect" are reserved by Prefect: '
                         f'"{pool}" cannot be created (the default is {DEFAULT_POOL})',
                         path="--pool")
    if args.block:
        save_block(args.block, options, args.docker_host_block)
        print(f"saved compose-project block {args.block!r}", file=sys.stderr)
    registered, created = register(project, plan, options, pool=pool, cron=args.cron,
                                   timezone=args.timezone, block=args.block)
    if created:
        print(f"created process work pool {pool!r}", file=sys.stderr)
    for r in registered:
        print(f"deployment {r.name}" + (f"  schedule {r.schedule}" if r.schedule else ""))
    prefect = Path(sys.executable).with_name("prefect")
    # Prefect's own CLI knows nothing of the kept server: without this URL in its shell (or
    # in its profile: `prefect config set PREFECT_API_URL=...`), `prefect deployment run`
    # asks a throwaway ephemeral server and finds no deployment.
    print(f"\nstart a worker on the Docker host (any directory):\n"
          f"  PREFECT_API_URL={url} {prefect} worker start --pool {pool}\n"
          f"then run it (from any shell that has the server's URL):\n"
          f"  PREFECT_API_URL={url} {prefect} deployment run 'compose-up/{project.name}'")
    return 0


def cmd_ps_jobs(args: argparse.Namespace) -> int:
    from prefect_compose.cli.commands import _project_name, _project_only

    project = _project_only(args)
    name = _project_name(args, project)
    _server()
    from prefect_compose.run.history import job_history, render

    print(render(job_history(name, last=max(1, args.last))))
    return 0
