"""`prefect-compose [GLOBAL] COMMAND [ARGS]`, as `docker compose` users expect.

A thin shell: it parses arguments, loads and compiles, and hands over. Prefect and Docker are
imported only by the commands that need them, so `plan` stays fast and engine-free.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from prefect_compose.errors import ComposeError, InputError

COMMANDS = ("plan", "up", "down", "ps", "logs", "run", "exec", "deploy", "server")


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    d = argparse.SUPPRESS if suppress else None
    parser.add_argument("-f", "--file", action="append", dest="files",
                        default=d if suppress else [], metavar="PATH",
                        help="compose file (repeatable; later files override earlier ones)")
    parser.add_argument("-p", "--project-name", default=d, metavar="NAME",
                        help="project name (default: top-level `name:`, else the directory)")
    parser.add_argument("--project-directory", default=d, metavar="DIR",
                        help="project directory (default: the first file's directory)")
    parser.add_argument("--env-file", action="append", dest="env_files",
                        default=d if suppress else [], metavar="PATH",
                        help="env file for interpolation (default: .env beside the first file)")
    parser.add_argument("--profile", action="append", dest="profiles",
                        default=d if suppress else [], metavar="NAME",
                        help="enable services of this profile (repeatable)")
    parser.add_argument("--progress", choices=("auto", "tty", "plain"), default=d or "auto",
                        help="up: `tty` a live view of the services, `plain` every line "
                             "prefixed by its service (default auto: tty on a terminal)")
    parser.add_argument("--ansi", choices=("auto", "always", "never"), default=d or "auto",
                        help="colours and cursor moves: never (also with NO_COLOR), always, "
                             "or auto (on a terminal)")
    parser.add_argument("--verbose", action="store_true", default=d or False,
                        help="show Prefect's own log lines too")


def _allow_option(p: argparse.ArgumentParser) -> None:
    from prefect_compose.model.types import ESCAPE_NAMES

    p.add_argument("--allow", action="append", default=[], metavar="NAME",
                   help="allow a host escape for every service (repeatable): "
                        + ", ".join(ESCAPE_NAMES))


def _up_options(p: argparse.ArgumentParser) -> None:
    _allow_option(p)
    p.add_argument("--job-timeout", metavar="D", help="default timeout for jobs, e.g. 10m")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--force-recreate", action="store_true",
                   help="recreate long-running containers even if unchanged")
    g.add_argument("--no-recreate", action="store_true",
                   help="never recreate existing long-running containers")
    p.add_argument("--no-rollback", action="store_true",
                   help="when the deployment fails, keep the new containers of the services "
                        "it replaced instead of putting the previous ones back")
    p.add_argument("--wait-lock", metavar="D", default=None,
                   help="wait up to D for a deployment of the project in progress (default: "
                        "fail at once, naming it)")


def _deploy_options(p: argparse.ArgumentParser) -> None:
    _allow_option(p)
    p.add_argument("--pool", default=None, metavar="NAME",
                   help="process work pool to run them (default: docker-host; created when "
                        "missing)")
    p.add_argument("--cron", metavar="CRON", help="also redeploy compose-up on this schedule")
    p.add_argument("--timezone", metavar="TZ", help="timezone of --cron (default UTC)")
    p.add_argument("--block", metavar="NAME",
                   help="save the project as this compose-project block and name it by the "
                        "block in the deployments")
    p.add_argument("--docker-host-block", metavar="NAME",
                   help="the prefect-docker DockerHost block that reaches this project's engine")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prefect-compose",
        description="Compile a Docker Compose file into a Prefect flow and run it on Docker.")
    _global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def add(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        _global_options(p, suppress=True)
        return p

    p = add("plan", "validate the project and print the compiled plan (touches no engine)")
    p.add_argument("--format", choices=("text", "json", "mermaid"), default="text")
    p.add_argument("--job-timeout", metavar="D", help="default timeout for jobs, e.g. 10m")

    _up_options(add("up", "deploy the project as one Prefect flow run"))
    p = add("down", "remove the project's containers and networks")
    p.add_argument("-v", "--volumes", action="store_true", help="remove named volumes too")

    p = add("ps", "list the project's containers")
    p.add_argument("--jobs", action="store_true",
                   help="the last runs of each job, `run` and `exec` (from the Prefect API)")
    p.add_argument("--last", type=int, default=5, metavar="N",
                   help="with --jobs: runs shown per job (default 5)")

    p = add("logs", "print the project's container logs")
    p.add_argument("services", nargs="*", metavar="SERVICE")

    p = add("run", "run a command in a new throwaway container of a service")
    p.add_argument("--timeout", metavar="D", help="stop the command after D (exit 124)")
    p.add_argument("-e", dest="env", action="append", default=[], metavar="K=V")
    p.add_argument("--no-deps", action="store_true", help="do not start dependencies")
    _allow_option(p)
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD")

    p = add("exec", "run a command in a service's running container")
    p.add_argument("-e", dest="env", action="append", default=[], metavar="K=V")
    p.add_argument("-w", "--workdir", metavar="DIR")
    p.add_argument("-u", "--user", metavar="USER")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD")

    _deploy_options(add("deploy", "register the project's Prefect deployments on the server "
                                  "in use"))
    p = sub.add_parser("server", help="manage the kept local Prefect server",
                       description="start, stop or show the local Prefect server every "
                                   "command uses when it is up")
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument("--port", type=int, default=4200)
    return parser


def _cmd_plan(args: argparse.Namespace) -> int:
    from prefect_compose.plan.render import plan_json, plan_mermaid, plan_text

    from prefect_compose.project import ProjectOptions, load_and_compile

    from dataclasses import replace

    # plan lists host escapes as warnings instead of refusing them, so a file can be inspected
    _, plan = load_and_compile(replace(ProjectOptions.from_args(args), escapes="warn"))
    if args.format != "json":
        for w in plan.warnings:
            print(f"warning: {w}", file=sys.stderr)
    render = {"text": plan_text, "json": plan_json, "mermaid": plan_mermaid}[args.format]
    out = render(plan)
    if args.format == "text":  # warnings went to stderr already
        out = "\n".join(line for line in out.splitlines() if not line.startswith("warning "))
    print(out)
    return 0


def _cmd_server(args: argparse.Namespace) -> int:
    from prefect_compose.cli import server

    return server.main([args.action, "--port", str(args.port)])


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    from prefect_compose.masking import masked_output

    with masked_output():  # every line this command prints goes through the masker
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    from prefect_compose import trace

    if trace.ENABLED:  # registered first, so it runs after Prefect's own exit handlers
        import atexit

        atexit.register(trace.mark, "process exit")
        trace.mark("cli: start")
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 for usage errors, 0 for --help
        return int(exc.code or 0)
    if args.command in ("run", "exec") and args.cmd and args.cmd[0] == "--":
        args.cmd = args.cmd[1:]
    if args.command in ("up", "run"):  # SIGTERM, like Ctrl-C: `up` stops what it started
        signal.signal(signal.SIGTERM, _terminate)  # and `run` removes its container
    try:
        if args.command == "plan":
            return _cmd_plan(args)
        if args.command == "server":
            return _cmd_server(args)
        from prefect_compose.cli import commands

        return commands.dispatch(args)
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except ComposeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `prefect-compose plan | head`
        sys.stderr.close()
        return 0
    except Exception as exc:  # noqa: BLE001 - a bug or an engine surprise: one line, exit 1
        if os.environ.get("PREFECT_COMPOSE_DEBUG"):
            raise
        print(f"error: {type(exc).__name__}: {exc} (set PREFECT_COMPOSE_DEBUG=1 for the "
              "traceback)", file=sys.stderr)
        return 1


def entrypoint() -> None:  # pragma: no cover
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
