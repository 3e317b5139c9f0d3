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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

# argparse, signal, socket and subprocess are imported where they are used: the fast path
# (api_url_if_running) needs none of them.

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200
PID_FILE = "prefect-compose-server.pid"  # not Prefect's own `server.pid` (`prefect server stop`)
STATE_FILE = "prefect-compose-server.json"
LOG_FILE = "prefect-compose-server.log"
LOCK_FILE = "prefect-compose-server.lock"
HEALTH_TIMEOUT_S = 0.3
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
def _prefect_minor_version() -> str:
    """MAJOR.MINOR of the installed prefect, without importing it. Its generated
    `_build_info.py` is read directly: importlib.metadata scans every installed distribution
    (~100 ms here)."""
    import importlib.util

    full = ""
    with contextlib.suppress(Exception):
        spec = importlib.util.find_spec("prefect")
        if spec is not None and spec.origin:
            for line in (Path(spec.origin).parent / "_build_info.py").read_text().splitlines():
                if line.startswith("__version__"):
                    full = line.split("=", 1)[1].strip().strip("'\"")
                    break
    if not full:
        from importlib.metadata import PackageNotFoundError, version

        try:
            full = version("prefect")
        except PackageNotFoundError:  # pragma: no cover - prefect is a dependency
            return "3.8"
    return ".".join(full.split(".")[:2])


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


# -- small process and HTTP helpers --------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    """True when `pid` is a live process (a zombie is dead; our own exited child is reaped)."""
    if pid <= 0:
        return False
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False  # our child (the pytest fixture's case), now reaped
    except ChildProcessError:
        pass  # not our child: the usual case
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # someone else's zombie still answers kill(0)
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _is_our_server(pid: int, port: int | None) -> bool:
    """Guard against a recycled pid: the process must be `prefect server start ... PORT`."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the pid file
    words = [a.decode(errors="replace") for a in argv]
    return ("server" in words and "start" in words and any("prefect" in w for w in words)
            and (port is None or str(port) in words))


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait (on the process's pidfd when the OS has one, else a short poll) until it is gone."""
    deadline = time.monotonic() + timeout
    pidfd = None
    with contextlib.suppress(AttributeError, OSError):
        pidfd = os.pidfd_open(pid)
    try:
        while _pid_alive(pid):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if pidfd is not None:
                import select

                select.select([pidfd], [], [], min(remaining, 0.5))
            else:
                time.sleep(min(remaining, 0.05))
        return True
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _health(url: str, timeout: float = HEALTH_TIMEOUT_S) -> bool:
    """GET {url}/health answers 200 `true`, within `timeout` seconds in all.

    A plain HTTP/1.0 request on a socket: importing urllib.request alone costs 80-200 ms here
    (ssl, email, http.client), ten times the request itself, and this runs before every
    command. It also never goes through a proxy (`http_proxy` would swallow a loopback URL)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    deadline = time.monotonic() + timeout
    request = (f"GET {parts.path.rstrip('/')}/health HTTP/1.0\r\nHost: {parts.netloc}\r\n"
               f"Accept: application/json\r\nConnection: close\r\n\r\n").encode()
    data = b""
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as s:
            s.sendall(request)
            while len(data) < 65536:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                s.settimeout(remaining)
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:  # refused, reset, timed out
        return False
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    return len(status) >= 2 and status[1] == b"200" and body.strip() == b"true"


def _port_free(host: str, port: int) -> bool:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty log)"


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
    import subprocess

    h = _home(home)
    h.mkdir(parents=True, exist_ok=True)
    with _locked(h, timeout=wait + 30):
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

        url, ui_url = _urls(host, port)
        if not _port_free(host, port):
            other = " by a Prefect server that prefect-compose did not start " \
                    f"(use it with PREFECT_API_URL={url})" if _health(url, 1.0) else ""
            raise ServerError(f"cannot start the Prefect server: {host}:{port} is in use{other};"
                              f" choose another port with --port")

        log_file = h / LOG_FILE
        with contextlib.suppress(OSError):
            log_file.replace(h / f"{LOG_FILE}.1")
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        env.update({
            "PREFECT_HOME": str(h),
            "PREFECT_API_URL": url,  # the server's own UI and services talk to itself
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "true",
            "PREFECT_UI_ENABLED": "true",  # the pre-3.1 name of the same setting
            "PYTHONUNBUFFERED": "1",
        })
        cmd = [*_prefect_command(), "server", "start", "--host", host, "--port", str(port),
               "--ui", "--analytics-off", "--no-prompt"]
        started_at = time.time()
        with open(log_file, "ab") as log:
            log.write(f"$ {' '.join(cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=env, cwd=h,
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


def _poll_health(url: str, proc: subprocess.Popen | None, deadline: float) -> bool:
    """Poll `/api/health` every 0.1 s until the deadline; stop early if `proc` exits."""
    import subprocess
    while True:
        if _health(url, timeout=0.5):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if proc is not None:
            try:
                proc.wait(timeout=min(0.1, remaining))  # the pause doubles as an exit check
                return _health(url, timeout=0.5)  # exited: only a miracle answers now
            except subprocess.TimeoutExpired:
                continue
        time.sleep(min(0.1, remaining))


def _kill_group(pid: int, grace: float) -> bool:
    """SIGTERM the process group led by `pid`, SIGKILL it after `grace` seconds. True when the
    leader is gone."""
    import signal

    def signal_group(sig: int) -> None:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    signal_group(signal.SIGTERM)
    if not _wait_gone(pid, grace):
        signal_group(signal.SIGKILL)
        if not _wait_gone(pid, 5.0):
            return False
    signal_group(signal.SIGKILL)  # stragglers left in the group once the leader is gone
    return True


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


def _profile_api_url() -> str | None:
    """PREFECT_API_URL from the user's active Prefect profile (what Prefect itself would use
    with no environment variable), read without importing prefect."""
    path = os.environ.get("PREFECT_PROFILES_PATH") or str(
        Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect") / "profiles.toml")
    try:
        raw = Path(path).expanduser().read_bytes()
    except OSError:
        return None
    import tomllib

    try:
        doc = tomllib.loads(raw.decode())
    except (ValueError, UnicodeDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or doc.get("active") or "ephemeral"
    profile = doc.get("profiles", {})
    profile = profile.get(active) if isinstance(profile, dict) else None
    value = profile.get("PREFECT_API_URL") if isinstance(profile, dict) else None
    return str(value) if value else None


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def configure_environment(echo: Callable[[str], None] | None = None) -> str | None:
    """Point Prefect at a server. Call before importing prefect. In order:

    1. `PREFECT_API_URL` already set in the environment: left alone, returned.
    2. The kept server is up: `PREFECT_API_URL` and `PREFECT_HOME` are set to it, URL returned.
    3. The user's active Prefect profile sets `PREFECT_API_URL`: Prefect will use it; returned.
    4. Otherwise one hint (once per process) through `echo` (default: stderr) that Prefect will
       run in ephemeral mode, and None.
    """
    global _hint_shown
    current = os.environ.get("PREFECT_API_URL")
    if current:
        return current
    url = api_url_if_running()
    if url:
        os.environ["PREFECT_API_URL"] = url
        os.environ["PREFECT_HOME"] = str(prefect_home())
        if "prefect.context" in sys.modules:  # imported already: settings were read at import
            sys.modules["prefect.context"].refresh_global_settings_context()
        return url
    profile_url = _profile_api_url()
    if profile_url:
        return profile_url
    if not _hint_shown:
        _hint_shown = True
        (echo or _stderr)(EPHEMERAL_HINT)
    # Prefect gives an ephemeral server 20 s to answer; a 2-core machine needs more at times
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no phoning home
    return None


# -- `prefect-compose server ...` ----------------------------------------------------------------
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

    try:
        if args.action == "start":
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
        if args.action == "stop":
            stopped = stop()
            print(f"Prefect server stopped (pid {stopped.pid})" if stopped
                  else "no Prefect server running")
            return 0
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
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
