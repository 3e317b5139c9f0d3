"""Phase timestamps for finding where a command's time goes (benchmarks, not tests).

``PREFECT_COMPOSE_TRACE=1`` makes ``mark(name)`` print ``trace +1.234s name`` to stderr, the
time since the process started (from /proc when it can tell, else since this module's
import); unset, ``mark`` does nothing. ``benchmarks/phases.py`` reads these lines.
"""

from __future__ import annotations

import os
import sys
import threading
import time

ENABLED = bool(os.environ.get("PREFECT_COMPOSE_TRACE"))


def _process_start() -> float:
    """The process's start on the monotonic clock (Linux: its start time since boot, in
    clock ticks of 10 ms), else now."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        since = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
        return time.monotonic() - since
    except Exception:  # noqa: BLE001 - not Linux: since import
        return time.monotonic()


_T0 = _process_start() if ENABLED else 0.0
_lock = threading.Lock()
_seen: set[str] = set()


def mark(name: str, *, once: bool = False) -> None:
    if not ENABLED:
        return
    with _lock:
        if once:
            if name in _seen:
                return
            _seen.add(name)
        print(f"trace +{time.monotonic() - _T0:.3f}s {name}", file=sys.__stderr__, flush=True)
