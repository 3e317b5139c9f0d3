"""Waiting on the engine's event stream.

One background thread per ``Engine`` follows the container events (``start``/``die``/
``destroy``/``health_status`` ...) and wakes the waiters of that container, which then re-read
the container's state with one inspect. The stream is opened with ``since`` set to just before
it was requested, so an event cannot fall between subscribing and the waiter's first inspect;
if the stream breaks, it reconnects from the last event seen, and every waiter re-inspects at
least every ``RECHECK_S`` seconds anyway.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import docker

from prefect_compose.errors import EngineError

log = logging.getLogger(__name__)

RECHECK_S = 2.0  # waiters re-inspect at least this often, whatever the event stream does
_ABORT_SLICE_S = 0.1  # how often a waiter looks at its abort event
_WAKE_ACTIONS = ("start", "die", "destroy", "restart", "oom", "health_status")


def block(wake: threading.Event, deadline: float | None, abort: threading.Event | None) -> bool:
    """Wait until the container may have changed (True: re-inspect it), or until the deadline
    passed or ``abort`` was set (False)."""
    recheck = time.monotonic() + RECHECK_S
    while True:
        if abort is not None and abort.is_set():
            return False
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return False
        if now >= recheck:
            return True
        step = recheck - now
        if deadline is not None:
            step = min(step, deadline - now)
        if abort is not None:
            step = min(step, _ABORT_SLICE_S)
        if wake.wait(step):
            wake.clear()
            return True


class Subscription:
    """One waiter on one container: woken by its events; ``exit_code`` set by ``die``."""

    __slots__ = ("wake", "exit_code")

    def __init__(self) -> None:
        self.wake = threading.Event()
        self.exit_code: int | None = None


class EventHub:
    """One reader of the engine's container events, waking subscribers by container id."""

    def __init__(self, api: docker.APIClient) -> None:
        self._api = api
        self._lock = threading.Lock()
        self._subs: dict[str, set[Subscription]] = {}
        self._thread: threading.Thread | None = None
        self._stream: Any = None
        self._ready = threading.Event()
        self._closed = threading.Event()

    def ensure_running(self, timeout: float = 5.0) -> None:
        with self._lock:
            if self._closed.is_set():
                raise EngineError("the engine connection is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="docker-events",
                                                daemon=True)
                self._thread.start()
        if not self._ready.wait(timeout):  # waiters still re-inspect every RECHECK_S
            log.warning("Docker event stream not ready after %.0f s; polling instead", timeout)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def subscribe(self, cid: str) -> Subscription:
        sub = Subscription()
        with self._lock:
            self._subs.setdefault(cid, set()).add(sub)
        return sub

    def unsubscribe(self, cid: str, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(cid)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[cid]

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            stream, thread = self._stream, self._thread
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        if thread is not None:
            thread.join(timeout=2)

    def _run(self) -> None:
        since_ns = time.time_ns()  # replay from here: nothing falls between subscribe & inspect
        while not self._closed.is_set():
            try:
                since_ns = self._follow(since_ns)
            except Exception as exc:  # noqa: BLE001 - reconnect below unless closing
                if not self._closed.is_set():
                    log.debug("Docker event stream broke: %s", exc)
            finally:
                self._ready.clear()
                with self._lock:
                    stream, self._stream = self._stream, None
                if stream is not None:
                    with contextlib.suppress(Exception):
                        stream.close()
            self._closed.wait(0.5)

    def _follow(self, since_ns: int) -> int:
        """Read the stream from ``since_ns`` until it ends; return the last event's time."""
        stream = self._api.events(
            since=f"{since_ns // 10**9}.{since_ns % 10**9:09d}", decode=True,
            filters={"type": "container", "event": list(_WAKE_ACTIONS)})
        with self._lock:
            self._stream = stream
        if self._closed.is_set():
            stream.close()
            return since_ns
        self._ready.set()
        for event in stream:
            since_ns = int(event.get("timeNano") or since_ns)
            self._dispatch(event)
        return since_ns

    def _dispatch(self, event: dict) -> None:
        cid = event.get("id") or (event.get("Actor") or {}).get("ID")
        with self._lock:
            subs = list(self._subs.get(cid, ()))
        code = ((event.get("Actor") or {}).get("Attributes") or {}).get("exitCode")
        for sub in subs:
            if event.get("Action") == "die" and str(code).lstrip("-").isdigit():
                sub.exit_code = int(code)
            sub.wake.set()
