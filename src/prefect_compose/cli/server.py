"""The kept local Prefect server behind `prefect-compose server start|stop|status`.

Prefect's ephemeral mode starts a throwaway server inside every process (about 10 s here, and
nobody else can watch or cancel its runs), so prefect-compose keeps one ordinary
`prefect server start` running in the background, with its SQLite DB under its own Prefect
home, and every command points `PREFECT_API_URL` at it when it is up
(`configure_environment`).

The home (`prefect_home()`, one per Prefect minor version: a newer Prefect migrates the DB past
what an older one can read) holds:

    prefect.db                    the server's SQLite DB (Prefect's default location)
    prefect-compose-server.pid    the server's pid (also its process group: it leads a session)
    prefect-compose-server.json   {"url", "ui_url", "pid", "host", "port", ...}
    prefect-compose-server.log    the server's stdout and stderr (the previous run's is .log.1)

This module must stay cheap to import: `api_url_if_running()` and `configure_environment()` run
before every command, so nothing here imports prefect (only the server process does).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

# argparse, signal, socket and subprocess are imported where they are used: the fast path
# (api_url_if_running) needs none of them.

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200
PID_FILE = "prefect-compose-server.pid"  # not Prefect's own `server.pid` (`prefect server stop`)
STATE_FILE = "prefect-compose-server.json"
LOG_FILE = "prefect-compose-server.log"
LOCK_FILE = "prefect-compose-server.lock"
EPHEMERAL_ASKED = "PREFECT_COMPOSE_SERVER=ephemeral: using Prefect's ephemeral mode"
AUTOSTART_WAIT_S = 180.0  # a first start migrates a new DB: 45-50 s on a loaded 2-core box
EPHEMERAL_HINT = ("no Prefect server running: using ephemeral mode (~10 s per command); "
                  "start one with `prefect-compose server start`")

# Inherited settings that would make the kept server something other than "SQLite under its
# own home, talking to itself": dropped from the server's environment.
_DROPPED_ENV = (
    "PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_UI_API_URL", "PREFECT_UI_URL",
    "PREFECT_PROFILE", "PREFECT_PROFILES_PATH",
    "PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL",
    "PREFECT__SERVER_FINAL", "PREFECT__SERVER_WEBSERVER_ONLY",
)

_hint_shown = False

from prefect_compose.cli.server_proc import (  # noqa: E402 - after the constants they use
    HEALTH_TIMEOUT_S,
    _health,
    _is_our_server,
    _kill_group,
    _pid_alive,
    _poll_health,
    _port_free,
    _prefect_minor_version,
    _profile_api_url,
    _tail,
)


class ServerError(RuntimeError):
    """The kept server could not be started or stopped; the message says why (and shows the
    tail of its log when the server itself failed)."""


@dataclass(frozen=True)
class ServerInfo:
    url: str  # the API URL, what PREFECT_API_URL is set to: http://127.0.0.1:4200/api
    ui_url: str  # http://127.0.0.1:4200
    pid: int
    host: str
    port: int
    home: Path
    log_file: Path
    started_at: float  # time.time() when it was spawned


# -- where things live ---------------------------------------------------------------------------
def prefect_home() -> Path:
    """`$PREFECT_COMPOSE_HOME`, else `~/.prefect-compose/prefect-MAJOR.MINOR`."""
    env = os.environ.get("PREFECT_COMPOSE_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path.home() / ".prefect-compose" / f"prefect-{_prefect_minor_version()}"


def _home(home: str | os.PathLike[str] | None) -> Path:
    return Path(home).expanduser().resolve() if home is not None else prefect_home()


def _urls(host: str, port: int) -> tuple[str, str]:
    h = f"[{host}]" if ":" in host else host
    return f"http://{h}:{port}/api", f"http://{h}:{port}"


# -- state files ---------------------------------------------------------------------------------
def _read_state(home: Path) -> dict | None:
    try:
        state = json.loads((home / STATE_FILE).read_text())
        int(state["pid"]), int(state["port"]), str(state["url"])
        return state
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:  # a pid file without state (a start interrupted at the wrong moment)
        return {"pid": int((home / PID_FILE).read_text().strip()), "port": -1, "url": ""}
    except (OSError, ValueError):
        return None


def _write_state(home: Path, info: ServerInfo) -> None:
    state = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(info).items()}
    tmp = home / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    (home / PID_FILE).write_text(f"{info.pid}\n")
    tmp.replace(home / STATE_FILE)


def _clear_state(home: Path) -> None:
    for name in (STATE_FILE, PID_FILE):
        with contextlib.suppress(FileNotFoundError):
            (home / name).unlink()


def _info(home: Path, state: dict) -> ServerInfo:
    host = state.get("host", DEFAULT_HOST)
    port = int(state["port"])
    url, ui_url = _urls(host, port)
    return ServerInfo(url=state.get("url") or url, ui_url=state.get("ui_url") or ui_url,
                      pid=int(state["pid"]), host=host, port=port, home=home,
                      log_file=home / LOG_FILE, started_at=float(state.get("started_at", 0)))


@contextlib.contextmanager
def _locked(home: Path, timeout: float) -> Iterator[None]:
    """One start/stop at a time per home (two terminals, two pytest workers)."""
    import fcntl

    with open(home / LOCK_FILE, "a") as f:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ServerError(f"another prefect-compose is starting or stopping the "
                                      f"server in {home} (lock held for {timeout:.0f}s)") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# -- the API -------------------------------------------------------------------------------------
def status(*, home: str | os.PathLike[str] | None = None) -> ServerInfo | None:
    """The running server (pid alive and `/api/health` answering), else None."""
    h = _home(home)
    state = _read_state(h)
    if not state or state["port"] < 0 or not _pid_alive(state["pid"]):
        return None
    info = _info(h, state)
    return info if _health(info.url) else None


def api_url_if_running(*, home: str | os.PathLike[str] | None = None) -> str | None:
    """The kept server's API URL when it is up, else None. Fast: a file read, a kill(0) and one
    loopback GET with a 0.3 s timeout; prefect is not imported."""
    info = status(home=home)
    return info.url if info else None


def start(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, wait: float = 60.0, *,
          home: str | os.PathLike[str] | None = None) -> ServerInfo:
    """Start the kept server, or return it when it is already up (whatever port it is on).

    Spawns `python -m prefect server start` detached (own session, so it outlives this process
    and `stop()` can signal its whole group), logging to the home's log file, and polls
    `/api/health` until `wait` seconds have passed. On failure the process is killed and a
    ServerError carries the tail of its log."""
    h = _home(home)
    h.mkdir(parents=True, exist_ok=True)
    with _locked(h, timeout=wait + 30):
        running = _adopt_running(h, wait)
        if running is not None:
            return running
        url, _ = _urls(host, port)
        if not _port_free(host, port):
            other = " by a Prefect server that prefect-compose did not start " \
                    f"(use it with PREFECT_API_URL={url})" if _health(url, 1.0) else ""
            raise ServerError(f"cannot start the Prefect server: {host}:{port} is in use{other};"
                              f" choose another port with --port")
        return _spawn(h, host, port, wait)


def _adopt_running(h: Path, wait: float) -> ServerInfo | None:
    """The server the home's state names, when it is alive and answers; stale state is
    cleared (a dead pid, a recycled pid, a pid file without its state)."""
    state = _read_state(h)
    if state and _pid_alive(state["pid"]) and state["port"] > 0:
        info = _info(h, state)
        if _health(info.url):
            return info
        if _is_our_server(info.pid, info.port):
            # alive but not answering: busy, or left over from a start that was killed
            # before it could clean up. Give it the same budget as a start, then give up.
            if _poll_health(info.url, None, time.monotonic() + wait):
                return info
            raise ServerError(
                f"the Prefect server in {h} (pid {info.pid}) is running but does not "
                f"answer on {info.url}; stop it with `prefect-compose server stop`.\n"
                f"--- {info.log_file} ---\n{_tail(info.log_file)}")
    elif state and state["port"] < 0 and _pid_alive(state["pid"]) \
            and _is_our_server(state["pid"], None):
        _kill_group(state["pid"], grace=5.0)  # a pid file without its state: unusable
    _clear_state(h)  # stale: the process is gone or the pid was recycled
    return None


def _server_env(h: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update({
        "PREFECT_HOME": str(h),
        "PREFECT_API_URL": url,  # the server's own UI and services talk to itself
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "true",
        "PREFECT_UI_ENABLED": "true",  # the pre-3.1 name of the same setting
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _spawn(h: Path, host: str, port: int, wait: float) -> ServerInfo:
    import subprocess

    url, ui_url = _urls(host, port)
    log_file = h / LOG_FILE
    with contextlib.suppress(OSError):
        log_file.replace(h / f"{LOG_FILE}.1")
    cmd = [*_prefect_command(), "server", "start", "--host", host, "--port", str(port),
           "--ui", "--analytics-off", "--no-prompt"]
    started_at = time.time()
    with open(log_file, "ab") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=_server_env(h, url), cwd=h,
                                start_new_session=True, close_fds=True)
    info = ServerInfo(url=url, ui_url=ui_url, pid=proc.pid, host=host, port=port, home=h,
                      log_file=log_file, started_at=started_at)
    try:
        _write_state(h, info)  # first, so `stop` finds a server that is still starting
        if _poll_health(url, proc, time.monotonic() + wait):
            return info
        code = proc.poll()
        why = (f"exited with code {code}" if code is not None
               else f"did not answer on {url}/health within {wait:.0f}s")
        raise ServerError(f"the Prefect server {why}\n--- {log_file} ---\n{_tail(log_file)}")
    except BaseException:  # including KeyboardInterrupt: leave nothing behind
        _kill_group(proc.pid, grace=5.0)
        with contextlib.suppress(Exception):
            proc.wait(timeout=1)
        _clear_state(h)
        raise


def _prefect_command() -> list[str]:
    # `python -m prefect` runs the CLI of the prefect installed beside this interpreter
    # (the venv's), whatever PATH says.
    return [sys.executable, "-m", "prefect"]


def stop(*, home: str | os.PathLike[str] | None = None, wait: float = 20.0) -> ServerInfo | None:
    """Stop the kept server: SIGTERM its process group, wait up to `wait` seconds, then
    SIGKILL. Returns what was stopped, or None when nothing was running (stale files are
    removed either way). Raises ServerError if the process survives SIGKILL."""
    h = _home(home)
    if not h.is_dir():
        return None
    with _locked(h, timeout=wait + 30):
        state = _read_state(h)
        if not state:
            return None
        pid, port = state["pid"], state["port"]
        if not _pid_alive(pid) or not _is_our_server(pid, port if port > 0 else None):
            _clear_state(h)
            return None
        info = _info(h, state) if port > 0 else None
        if not _kill_group(pid, grace=wait):
            raise ServerError(f"the Prefect server (pid {pid}) survived SIGKILL")
        _clear_state(h)
        return info


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _use(url: str, home: Path) -> str:
    os.environ["PREFECT_API_URL"] = url
    os.environ["PREFECT_HOME"] = str(home)
    if "prefect.context" in sys.modules:  # imported already: settings were read at import
        sys.modules["prefect.context"].refresh_global_settings_context()
    return url


def _ephemeral(echo: Callable[[str], None] | None, hint: str) -> None:
    global _hint_shown
    if not _hint_shown:
        _hint_shown = True
        (echo or _stderr)(hint)
    # Prefect gives an ephemeral server 20 s to answer; a 2-core machine needs more at times
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no phoning home


def _ephemeral_asked() -> bool:
    return os.environ.get("PREFECT_COMPOSE_SERVER", "").strip().lower() == "ephemeral"


def configure_environment(echo: Callable[[str], None] | None = None, *,
                          autostart: bool = False) -> str | None:
    """Point Prefect at a server. Call before importing prefect. In order:

    1. `PREFECT_API_URL` already set in the environment: left alone, returned.
    2. `PREFECT_COMPOSE_SERVER=ephemeral`: Prefect's ephemeral mode, as asked (one line says
       so), None.
    3. The kept server is up: `PREFECT_API_URL` and `PREFECT_HOME` are set to it, URL returned.
    4. The user's active Prefect profile sets `PREFECT_API_URL`: Prefect will use it; returned.
    5. With `autostart` (what the CLI's commands pass): the kept server is started on
       `$PREFECT_COMPOSE_PORT` (default 4200), one line through `echo` says so with the UI's
       address and how to stop it, and it is used. When it cannot start, the line says why
       and ephemeral mode is used.
    6. Otherwise one hint (once per process) that Prefect will run in ephemeral mode, None.
    """
    found = api_in_use(point=True)
    if found:
        return found
    if _ephemeral_asked():
        _ephemeral(echo, EPHEMERAL_ASKED)
        return None
    if autostart:
        port = int(os.environ.get("PREFECT_COMPOSE_PORT") or DEFAULT_PORT)
        try:
            info = start(port=port, wait=AUTOSTART_WAIT_S)
        except ServerError as exc:
            _ephemeral(echo, f"could not start the local Prefect server "
                             f"({str(exc).splitlines()[0]}): using ephemeral mode")
            return None
        (echo or _stderr)(f"started the local Prefect server: UI at {info.ui_url} "
                          f"(stop it with `prefect-compose server stop`)")
        return _use(info.url, info.home)
    _ephemeral(echo, EPHEMERAL_HINT)
    return None


def api_in_use(*, point: bool = False) -> str | None:
    """The API URL of a server already in use: `PREFECT_API_URL`, else the kept server when it
    is up, else the active profile's URL; None in ephemeral mode or when none is set. Never
    starts a server, prints nothing, imports no prefect. What the commands that only *report*
    to Prefect use (CLI `run` and `exec` record their runs), and steps 1-4 of
    `configure_environment` (with ``point``: Prefect is pointed at the kept server, as there),
    which `up` asks on a thread while the engine is connected."""
    current = os.environ.get("PREFECT_API_URL")
    if current:
        return current
    if _ephemeral_asked():
        return None
    url = api_url_if_running()
    if url:
        return _use(url, prefect_home()) if point else url
    return _profile_api_url()


def main(argv: Sequence[str] | None = None) -> int:
    """`prefect-compose server start|stop|status` (cli/server_cmd.py)."""
    from prefect_compose.cli.server_cmd import main as server_main

    return server_main(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
