"""`prefect-compose server start|stop|status`: the command line of the kept server."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from prefect_compose.cli.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    LOG_FILE,
    ServerError,
    ServerInfo,
    _pid_alive,
    _read_state,
    prefect_home,
    start,
    status,
    stop,
)


def _describe(info: ServerInfo) -> list[str]:
    return [f"API:  {info.url}", f"UI:   {info.ui_url}", f"pid:  {info.pid}",
            f"home: {info.home}", f"log:  {info.log_file}"]


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="prefect-compose server",
        description="start, stop or show the local Prefect server every command uses")
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (start)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on (start)")
    # a first start migrates a new DB: 16 s of CPU, 45-50 s measured on a loaded 2-core box
    parser.add_argument("--wait", type=float, default=120.0, metavar="SECONDS",
                        help="how long start waits for the server to answer (default 120)")
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return int(exc.code or 0)

    action = {"start": _start, "stop": _stop, "status": _status}[args.action]
    try:
        return action(args)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _start(args) -> int:
    running = status()
    t0 = time.monotonic()
    info = start(host=args.host, port=args.port, wait=args.wait)
    if running and running.pid == info.pid:
        print(f"Prefect server already running at {info.url}")
        if info.port != args.port:
            print(f"note: it listens on port {info.port}, not {args.port}; "
                  f"stop it first to move it", file=sys.stderr)
    else:
        print(f"Prefect server started in {time.monotonic() - t0:.1f}s at {info.url}")
    print("\n".join(_describe(info)))
    print(f"prefect-compose commands use it while it runs; for the prefect CLI: "
          f"export PREFECT_API_URL={info.url}")
    return 0


def _stop(args) -> int:
    stopped = stop()
    print(f"Prefect server stopped (pid {stopped.pid})" if stopped
          else "no Prefect server running")
    return 0


def _status(args) -> int:
    info = status()
    if info is None:
        state = _read_state(prefect_home())
        if state and _pid_alive(state["pid"]):
            print(f"Prefect server (pid {state['pid']}) is running but not answering; "
                  f"see {prefect_home() / LOG_FILE}")
        else:
            print("no Prefect server running; start one with `prefect-compose server start`")
        return 1
    print(f"Prefect server running at {info.url}")
    print("\n".join(_describe(info)))
    env_url = os.environ.get("PREFECT_API_URL")
    if env_url and env_url.rstrip("/") != info.url:
        print(f"note: PREFECT_API_URL={env_url} is set, so commands use that server",
              file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

