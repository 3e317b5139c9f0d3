"""Who started something on the engine, and whether that process is still alive.

The deployment lock and every job container carry their owner as labels: the host name, the
host's boot id, the pid and the pid's start time (so a recycled pid or a reboot is not
mistaken for the owner). ``alive()`` answers True or False on the owner's own host and None
(cannot tell) elsewhere; the caller then falls back on a deadline or on the flow run's state.

No docker, no prefect: pure and unit-tested.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

LABEL_HOST = "org.prefect-compose.host"
LABEL_BOOT_ID = "org.prefect-compose.boot-id"
LABEL_PID = "org.prefect-compose.pid"
LABEL_PID_START = "org.prefect-compose.pid-start"
LABEL_SINCE = "org.prefect-compose.since"
LABEL_DEADLINE = "org.prefect-compose.deadline"


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def boot_id() -> str:
    return _read("/proc/sys/kernel/random/boot_id")


def pid_start(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" when unknown)."""
    stat = _read(f"/proc/{pid}/stat")
    # the command name (field 2) may hold spaces and parentheses: split after the last ")"
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def pid_exists(pid: int) -> bool:
    """A live process (a zombie, killed but not yet reaped by its parent, is dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _read(f"/proc/{pid}/stat").rpartition(")")[2].split()
    return not fields or fields[0] not in ("Z", "X")


def utc_stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    boot_id: str = ""
    pid_start: str = ""

    @classmethod
    def me(cls) -> Owner:
        pid = os.getpid()
        return cls(host=socket.gethostname(), pid=pid, boot_id=boot_id(),
                   pid_start=pid_start(pid))

    def labels(self) -> dict[str, str]:
        return {LABEL_HOST: self.host, LABEL_PID: str(self.pid), LABEL_BOOT_ID: self.boot_id,
                LABEL_PID_START: self.pid_start}

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> Owner | None:
        host, pid = labels.get(LABEL_HOST), labels.get(LABEL_PID, "")
        if not host or not pid.isdigit():
            return None
        return cls(host=host, pid=int(pid), boot_id=labels.get(LABEL_BOOT_ID, ""),
                   pid_start=labels.get(LABEL_PID_START, ""))

    def alive(self) -> bool | None:
        """True or False on the owner's host; None on any other host (cannot tell)."""
        if self.host != socket.gethostname():
            return None
        if self.boot_id and boot_id() and self.boot_id != boot_id():
            return False  # the host rebooted since
        if not pid_exists(self.pid):
            return False
        if self.pid_start and pid_start(self.pid) not in ("", self.pid_start):
            return False  # the pid was recycled by another process
        return True

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host}"


def deadline_labels(seconds: float | None, now: datetime | None = None) -> dict[str, str]:
    """``since`` (now) and, when ``seconds`` is given, ``deadline`` (now + seconds)."""
    now = now or datetime.now(UTC)
    out = {LABEL_SINCE: utc_stamp(now)}
    if seconds is not None:
        out[LABEL_DEADLINE] = utc_stamp(now + timedelta(seconds=seconds))
    return out


def why_dead(labels: Mapping[str, str], now: datetime | None = None) -> str | None:
    """Why the run that owns a container (by its labels) is no longer alive, or None when it
    is (or when that cannot be told: then only its deadline can say)."""
    now = now or datetime.now(UTC)
    owner = Owner.from_labels(labels)
    if owner is not None and owner.alive() is False:
        return f"its run ({owner.describe()}) is gone"
    deadline = parse_stamp(labels.get(LABEL_DEADLINE))
    if deadline is not None and now > deadline:
        return f"past its deadline {utc_stamp(deadline)}"
    return None
