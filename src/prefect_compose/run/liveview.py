"""What `up` shows on the terminal, fed by the runtime's step events (run/output.py's
:class:`~prefect_compose.run.output.Output` hands every line, status and step event here).

Two consoles, chosen once per process by the CLI (:func:`configure`, from ``--progress``,
``--ansi``, ``--verbose`` and ``NO_COLOR``):

- :class:`PlainConsole`: the prefixed log, ``service | line`` on stdout for container output
  and ``service * text`` on stderr for status, the prefix coloured per service as Compose
  colours it (when colour is on). What a pipe, a file, CI or ``--progress plain`` gets.
- :class:`LiveView`: on a terminal, a compact view like Compose's, on stderr: a header, a
  line per service with its state and elapsed time, redrawn in place (cursor up, erase
  down), and the last lines of job output below. Lines that must stay (the lock, the reaper,
  Prefect's own log lines with ``--verbose``) are printed above the view, which then redraws
  under them. When the run ends the last frame stays, and the summary is printed under it.

Rules, as in Compose: ``--ansi never`` (or ``NO_COLOR`` set, unless ``--ansi always``) means
no escape code at all, hence the plain log; ``--progress auto`` is the live view when stdout
and stderr are both terminals (and ``TERM`` is not ``dumb``). Everything written goes through
the one masker (prefect_compose.masking): the text is masked before it is coloured, and the
streams of the CLI mask again.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import re
import sys
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prefect_compose import masking

PROGRESS_MODES = ("auto", "tty", "plain")
ANSI_MODES = ("auto", "always", "never")

# Compose's rainbow (cmd/formatter/colors.go): cyan, yellow, green, magenta, blue, then the
# same intense; a service keeps its colour for the whole run.
RAINBOW = ("36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
TICK_S = 0.25  # how often the view redraws (its elapsed times move)
WINDOW_LINES = 6  # job output lines under the services
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Settings:
    """How this process's `up` talks to its terminal."""
    live: bool = False  # the live view (else the plain prefixed log)
    color: bool = False
    verbose: bool = False  # Prefect's own log lines on the console


def resolve(progress: str = "auto", ansi: str = "auto", verbose: bool = False,
            env: dict[str, str] | None = None, stdout: Any = None,
            stderr: Any = None) -> Settings:
    """The settings for ``--progress``, ``--ansi``, ``--verbose`` and the environment."""
    env = os.environ if env is None else env
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    terminal = _isatty(stdout) and _isatty(stderr) and env.get("TERM", "") != "dumb"
    if ansi == "auto" and env.get("NO_COLOR"):
        ansi = "never"  # https://no-color.org, and Compose reads it so
    if ansi == "never":
        return Settings(live=False, color=False, verbose=verbose)
    live = progress == "tty" or (progress == "auto" and terminal)
    color = ansi == "always" or terminal
    return Settings(live=live, color=color, verbose=verbose)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


_settings = Settings()
_in_session = False
_active: list[LiveView] = []
_active_lock = threading.Lock()


def configure(settings: Settings) -> None:
    global _settings
    _settings = settings


def current() -> Settings:
    return _settings


@contextlib.contextmanager
def session(settings: Settings) -> Iterator[Settings]:
    """``with session(resolve(...)):`` around a deployment: the consoles it opens use these
    settings; Prefect's console log lines are routed (hidden without ``verbose``, printed
    above a live view with it); any live view still open at the end is closed (its last
    frame drawn, the cursor shown again), also on Ctrl-C."""
    global _in_session
    previous = _settings
    configure(settings)
    unroute = route_console_logs(settings)
    _in_session = True
    try:
        yield settings
    finally:
        _in_session = False
        close_all()
        unroute()
        configure(previous)


def close_all() -> None:
    with _active_lock:
        views = list(_active)
    for v in views:
        v.close()


def console_for(project: str, services: list[str], steps: list[tuple[str, str]],
                settings: Settings | None = None,
                flow_run_id: str | None = None) -> PlainConsole | LiveView:
    """The console of one run: ``steps`` are (step id, service) in plan order. In a
    :func:`session` (the CLI), its first line says where to watch the flow run in the UI."""
    settings = settings or _settings
    console: PlainConsole | LiveView
    if settings.live:
        console = LiveView(project, services, steps, color=settings.color)
    else:
        console = PlainConsole(services, color=settings.color)
    url = flow_run_url(flow_run_id) if _in_session and flow_run_id else None
    if url:
        console.status("up", f"flow run {project}: {url}")
    return console


def flow_run_url(flow_run_id: str) -> str | None:
    """The flow run's page in the Prefect UI (None when no UI is known)."""
    try:
        if "prefect" not in sys.modules:  # the CLI's direct `up` (run/direct.py): no import
            from prefect_compose.run.rest import PrefectRest

            api = os.environ.get("PREFECT_API_URL")
            return PrefectRest(api).ui_url(f"runs/flow-run/{flow_run_id}") if api else None
        from prefect.utilities.urls import url_for

        return url_for("flow-run", obj_id=flow_run_id)
    except Exception:  # noqa: BLE001 - reporting only
        return None


# -- colours -------------------------------------------------------------------------------------
def sgr(text: str, code: str, on: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if on and code else text


def colours(services: Iterable[str]) -> dict[str, str]:
    return {s: RAINBOW[i % len(RAINBOW)] for i, s in enumerate(services)}


def visible(text: str) -> str:
    """``text`` without escape sequences and control characters (a container's own colours
    and carriage returns would break the view's line count)."""
    return _CONTROL.sub("", text.expandtabs(4))


def cell_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else
               0 if unicodedata.combining(c) else 1 for c in text)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells (an ellipsis marks the cut)."""
    if cell_width(text) <= width:
        return text
    out, used = [], 0
    for c in text:
        w = cell_width(c)
        if used + w > max(0, width - 1):
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


# -- the plain prefixed log ----------------------------------------------------------------------
class PlainConsole:
    """``service | line`` on stdout, ``service * text`` on stderr (the prefix coloured per
    service when colour is on); step events are not shown."""

    live = False

    def __init__(self, services: Iterable[str], *, color: bool = False) -> None:
        services = list(services)
        self.width = max((len(s) for s in services), default=4)
        self.color = color
        self.colours = colours(services)
        self._lock = threading.Lock()

    def _prefix(self, service: str, sep: str) -> str:
        return sgr(f"{service:<{self.width}} {sep}", self.colours.get(service, ""), self.color)

    def line(self, service: str, text: str) -> None:
        with self._lock:
            print(f"{self._prefix(service, '|')} {text}", file=sys.stdout, flush=True)

    def status(self, service: str, text: str) -> None:
        with self._lock:
            print(f"{self._prefix(service, '*')} {text}", file=sys.stderr, flush=True)

    def above(self, text: str) -> None:
        with self._lock:
            print(text, file=sys.stderr, flush=True)

    def block(self, lines: Iterable[str]) -> None:
        with self._lock:
            for line in lines:
                print(line, file=sys.stderr, flush=True)

    def step_started(self, step: str, service: str) -> None:
        pass

    def step_finished(self, step: str, service: str, outcome: str, failed: bool) -> None:
        pass

    def close(self) -> None:
        pass


# -- the live view -------------------------------------------------------------------------------
@dataclass
class _Service:
    name: str
    steps: set[str] = field(default_factory=set)
    active: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    started: float | None = None
    ended: float | None = None
    failed: bool = False
    stopped: str = ""  # "cancelled" or "not started" when a step of it did not run
    text: str = ""
    changed: float = 0.0

    @property
    def finished(self) -> bool:
        return bool(self.steps) and self.done >= self.steps

    def elapsed(self, now: float) -> float | None:
        if self.started is None:
            return None
        return (self.ended or now) - self.started


class LiveView:
    """The compact live view of one deployment on stderr (see the module's doc)."""

    live = True

    def __init__(self, project: str, services: Iterable[str], steps: Iterable[tuple[str, str]],
                 *, color: bool = True, stream: Any = None, tick_s: float = TICK_S,
                 size: tuple[int, int] | None = None) -> None:
        self.project = project
        self.services = {s: _Service(s) for s in services}
        for step, service in steps:
            self.services.setdefault(service, _Service(service)).steps.add(step)
        self.width = max((len(s) for s in self.services), default=4)
        self.color = color
        self.colours = colours(self.services)
        self._stream = stream
        self._size = size
        self._tick_s = tick_s
        self._t0 = time.monotonic()
        self._window: collections.deque[tuple[str, str]] = collections.deque(maxlen=64)
        self._pending: list[str] = []  # lines to print above the view at the next frame
        self._drawn = 0  # lines of the last frame (the cursor is on the line under it)
        self._frames = 0
        self._lock = threading.RLock()
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="liveview", daemon=True)
        with _active_lock:
            _active.append(self)
        self._write("\x1b[?25l" if self._stream_isatty() else "")  # hide the cursor
        self._thread.start()

    # -- the runtime's events (any thread) -------------------------------------------------
    def line(self, service: str, text: str) -> None:
        with self._lock:
            self._window.append((service, visible(text)))
        self._dirty.set()

    def status(self, service: str, text: str) -> None:
        svc = self.services.get(service)
        with self._lock:
            if svc is None:  # the run's own lines (lock, reaper, interrupted): kept above
                self._pending.append(self._status_line(service, text))
            else:
                svc.text, svc.changed = visible(text), time.monotonic()
        self._dirty.set()

    def above(self, text: str) -> None:
        with self._lock:
            self._pending.append(text)
        self._dirty.set()

    def step_started(self, step: str, service: str) -> None:
        svc = self.services.get(service)
        if svc is None:
            return
        with self._lock:
            svc.active.add(step)
            svc.started = svc.started or time.monotonic()
        self._dirty.set()

    def step_finished(self, step: str, service: str, outcome: str, failed: bool) -> None:
        svc = self.services.get(service)
        if svc is None:
            return
        with self._lock:
            now = time.monotonic()
            svc.active.discard(step)
            svc.done.add(step)
            svc.failed = svc.failed or failed
            if outcome in ("cancelled", "not started"):
                svc.stopped = svc.stopped or outcome
            else:
                svc.started = svc.started or now
            if failed or svc.finished or svc.stopped:
                svc.ended = now
            if failed and not svc.text:
                svc.text = outcome
        self._dirty.set()

    def block(self, lines: Iterable[str]) -> None:
        """The end-of-run summary: the last frame stays, the lines go under it."""
        self.close()
        with self._lock:
            self._write("".join(f"{line}\n" for line in lines))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._dirty.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        with self._lock:
            self._draw(final=True)
            self._write("\x1b[?25h" if self._stream_isatty() else "")
        with _active_lock:
            if self in _active:
                _active.remove(self)

    # -- drawing -----------------------------------------------------------------------------
    @property
    def frames(self) -> int:
        return self._frames

    def _run(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait(self._tick_s)
            if self._stop.is_set():
                return
            self._dirty.clear()
            with self._lock:
                if not self._closed:
                    self._draw()

    def _out(self) -> Any:
        return self._stream or sys.stderr

    def _stream_isatty(self) -> bool:
        return _isatty(self._out())

    def _write(self, text: str) -> None:
        if not text:
            return
        out = self._out()
        try:
            out.write(text)
            out.flush()
        except (OSError, ValueError):  # the terminal went away: nothing more to show
            self._stop.set()

    def _terminal(self) -> tuple[int, int]:
        if self._size:
            return self._size
        try:
            cols, rows = os.get_terminal_size(self._out().fileno())
        except (AttributeError, ValueError, OSError):
            cols = rows = 0
        cols = cols or int(os.environ.get("COLUMNS") or 80)
        rows = rows or int(os.environ.get("LINES") or 24)
        return max(cols, 20), max(rows, 6)

    def _draw(self, final: bool = False) -> None:
        cols, rows = self._terminal()
        frame = self.frame(final=final, cols=cols, rows=rows)
        parts = []
        if self._drawn:
            parts.append(f"\x1b[{self._drawn}A\r")  # back to the first line of the view
        parts.append("\x1b[J")  # erase it, and everything under it
        parts.extend(f"{masking.mask(p)}\n" for p in self._pending)
        self._pending.clear()
        parts.extend(f"{line}\n" for line in frame)
        self._drawn = len(frame)
        self._frames += 1
        self._write("".join(parts))

    def frame(self, *, final: bool = False, cols: int = 80, rows: int = 24) -> list[str]:
        """The lines of the view (no cursor movement), each narrower than ``cols``."""
        now = time.monotonic()
        svcs = list(self.services.values())
        ready = sum(1 for s in svcs if s.finished and not s.failed and not s.stopped)
        failed = sum(1 for s in svcs if s.failed)
        spin = SPINNER[int((now - self._t0) / 0.1) % len(SPINNER)]
        state = (("✘" if failed else "✔") if final else spin)
        head = (f"[+] {self.project}: {ready}/{len(svcs)} ready"
                + (f", {failed} failed" if failed else "")
                + f"  {_seconds(now - self._t0)}")
        lines = [sgr(clip(f"{state} {head}", cols - 1), "1", self.color)]
        window = [] if final else list(self._window)[-WINDOW_LINES:]
        budget = max(3, rows - 2 - min(len(window), 3))
        shown = self._select(svcs, budget, now)
        for svc in svcs:
            if svc.name in shown:
                lines.append(self._service_line(svc, final, cols, now, spin))
        hidden = [s for s in svcs if s.name not in shown]
        if hidden:
            done = sum(1 for s in hidden if s.finished)
            lines.append(sgr(clip(f"   … {len(hidden)} more: {done} done, "
                                  f"{len(hidden) - done} waiting", cols - 1), "2", self.color))
        room = max(0, rows - 1 - len(lines))
        for service, text in window[-room:] if room else []:
            prefix = sgr(f"{service:<{self.width}} |", self.colours.get(service, ""),
                         self.color)
            lines.append("   " + prefix + " " + clip(text, max(1, cols - self.width - 7)))
        return lines

    def _select(self, svcs: list[_Service], budget: int, now: float) -> set[str]:
        """Which services get a line when not all fit: failed, then running, then the most
        recently changed, then the waiting ones in plan order."""
        if len(svcs) <= budget:
            return {s.name for s in svcs}
        budget -= 1  # the "… N more" line

        def rank(ix_s: tuple[int, _Service]) -> tuple:
            ix, s = ix_s
            running = s.started is not None and not s.finished and not s.failed
            return (not s.failed, not running, s.started is None, -(s.ended or s.changed), ix)

        ordered = sorted(enumerate(svcs), key=rank)
        return {s.name for _, s in ordered[:max(1, budget)]}

    def _service_line(self, svc: _Service, final: bool, cols: int, now: float,
                      spin: str) -> str:
        if svc.failed:
            mark, mcode, text = "✘", "31", svc.text or "failed"
        elif svc.stopped and not svc.active:
            mark, mcode = "-", "33"
            text = "cancelled" if svc.started is not None else "not started"
        elif svc.finished:
            mark, mcode, text = "✔", "32", svc.text or "done"
        elif svc.started is not None:
            if final:
                mark, mcode, text = "-", "33", svc.text or "cancelled"
            else:
                mark, mcode, text = spin, "36", svc.text or "starting"
        else:
            mark, mcode = ("-", "2") if final else (" ", "")
            text = "not started" if final else "waiting"
        elapsed = svc.elapsed(now)
        right = _seconds(elapsed) if elapsed is not None else ""
        room = cols - 1 - 5 - self.width - len(right) - 1
        text = clip(text, max(1, room))
        pad = max(1, cols - 1 - 5 - self.width - cell_width(text) - len(right))
        name = sgr(f"{svc.name:<{self.width}}", self.colours.get(svc.name, ""), self.color)
        body = sgr(text, "2", self.color and svc.started is None)
        return f" {sgr(mark, mcode, self.color)} {name}  {body}{' ' * pad}{right}"

    def _status_line(self, service: str, text: str) -> str:
        return f"{sgr(service, '1', self.color)} * {text}"


def _seconds(value: float) -> str:
    return f"{value:.1f}s"


# -- Prefect's console log lines ---------------------------------------------------------------
_RUN_LOGGERS = ("prefect.task_runs", "prefect.flow_runs", "prefect.task_engine",
                "prefect.flow_engine")


def route_console_logs(settings: Settings) -> Any:
    """Prefect's console handler (on the root logger): without ``verbose`` it shows none of
    Prefect's own lines (the API still gets them all) but errors outside the runs' loggers;
    with a live view open, what it shows is printed above the view. Returns the undo."""
    root = logging.getLogger()

    def filter_for(handler: logging.Handler) -> Any:
        def keep(record: logging.LogRecord) -> bool:
            if record.exc_info and record.exc_info[0] is None:
                record.exc_info = None  # Prefect logs failed states with an empty traceback
            if record.name.startswith("prefect") and not settings.verbose and (
                    record.levelno < logging.ERROR or record.name.startswith(_RUN_LOGGERS)):
                return False
            with _active_lock:
                view = _active[-1] if _active else None
            if view is not None:
                view.above(visible((handler.formatter or logging.Formatter()).format(record)))
                return False
            return True
        return keep

    installed = [(h, filter_for(h)) for h in root.handlers
                 if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    for h, f in installed:
        h.addFilter(f)

    def undo() -> None:
        for h, f in installed:
            h.removeFilter(f)
    return undo
