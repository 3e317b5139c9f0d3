"""Process, HTTP and file helpers of the kept Prefect server (cli/server.py): is a pid alive
and ours, does `/api/health` answer, is a port free, stop a process group, which Prefect
version is installed, what the user's Prefect profile sets. Cheap to import: no prefect,
and socket/signal/select only where they are used."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

HEALTH_TIMEOUT_S = 0.3  # the fast path: one loopback GET before every command


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
