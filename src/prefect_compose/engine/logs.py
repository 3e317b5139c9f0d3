"""Container output: following logs with the streams kept apart (the engine's multiplexed
format), whole lines decoded incrementally, and the last lines of a container."""

from __future__ import annotations

import codecs
import contextlib
import functools
import logging
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prefect_compose.engine.translate import translated

log = logging.getLogger(__name__)


class LogsMixin:
    """The log operations of :class:`~prefect_compose.engine.client.Engine`."""

    _api: Any
    _lock: threading.Lock
    _streams: set[Any]

    def stream_logs(self, cid: str, on_line: Callable[[str, str], None],
                    tty: bool | None = None) -> LogFollow:
        """Follow the container's stdout and stderr from its start, calling
        ``on_line("stdout" | "stderr", line)`` per line from a daemon thread that ends when the
        container stops (or when :meth:`LogFollow.finish` says it has). Call it after
        ``start`` (the engine replays what was already said).

        Engine 20.10's follow can end before the last lines are delivered (the CLI's
        ``docker logs -f`` loses them too), or seconds after the container exited: when the
        follow ends or is cut, the rest is read once more without follow, from the timestamp
        of the last message received."""
        if tty is None:  # the caller that created it knows (one engine round trip less)
            tty = bool((self.inspect(cid).get("Config") or {}).get("Tty"))
        res = self._open_logs(cid, follow=True, timestamps=not tty)

        def run(follow: LogFollow) -> None:
            lines = LineSplitter(on_line)
            seen = Seen()
            try:
                try:
                    for stream_name, data in frames(res.raw, tty):
                        lines.feed(stream_name, data if tty else seen.strip(stream_name, data))
                except Exception:  # cut by finish(): the rest is read below
                    if not follow.cut:
                        raise
                if not tty and not self._hub.closed:
                    self._read_rest(cid, seen, lines)
            except Exception as exc:  # noqa: BLE001 - closed by close(), or engine gone
                log.debug("log stream of %s ended: %s", cid, exc)
            finally:
                lines.flush()
                self._close_stream(res)

        follow = LogFollow(cid, tty, run, lambda: self._shutdown_socket(res))
        follow.start()
        return follow

    def _read_rest(self, cid: str, seen: Seen, lines: LineSplitter) -> None:
        """After a follow ended: what it did not deliver, read once without follow."""
        rest = self._open_logs(cid, follow=False, timestamps=True, since=seen.since())
        try:
            for stream_name, data in frames(rest.raw, False):
                if seen.is_new(stream_name, data):
                    lines.feed(stream_name, data.partition(b" ")[2])
        finally:
            self._close_stream(rest)

    def _open_logs(self, cid: str, follow: bool, timestamps: bool,
                   since: str | None = None) -> Any:
        """GET /containers/{id}/logs as a raw streaming response (the SDK's ``logs()`` drops
        which stream a frame came from, so this uses its request helpers directly)."""
        params: dict[str, Any] = {"stdout": 1, "stderr": 1, "follow": int(follow),
                                  "timestamps": int(timestamps), "tail": "all"}
        if since:
            params["since"] = since
        with translated(f"read logs of {cid}", self.where):
            res = self._api._get(self._api._url("/containers/{0}/logs", cid), params=params,
                                 stream=True)
            self._api._raise_for_status(res)
            # the client's 60 s read timeout must not end the follow of a quiet container
            self._api._disable_socket_timeout(self._api._get_raw_response_socket(res))
        with self._lock:
            self._streams.add(res)
        return res

    def _close_stream(self, res: Any) -> None:
        with self._lock:
            self._streams.discard(res)
        with contextlib.suppress(Exception):
            res.close()

    def _shutdown_stream(self, res: Any) -> None:
        """Close a following response at once: closing it alone blocks until the container
        writes again, so shut its socket down first."""
        self._shutdown_socket(res)
        with contextlib.suppress(Exception):
            res.close()

    def _shutdown_socket(self, res: Any) -> None:
        """End a response's reads now: its reader sees the end of the stream."""
        with contextlib.suppress(Exception):
            sock = self._api._get_raw_response_socket(res)
            sock = getattr(sock, "_sock", sock)
            sock.shutdown(socket.SHUT_RDWR)

    def logs_tail(self, cid: str, lines: int = 20) -> str:
        """The last ``lines`` lines of stdout and stderr, interleaved as they were written."""
        with translated(f"read logs of {cid}", self.where):
            out = self._api.logs(cid, stdout=True, stderr=True, tail=lines)
        return out.decode("utf-8", errors="replace")


class LogFollow(threading.Thread):
    """The thread that follows one container's output (:meth:`LogsMixin.stream_logs`)."""

    def __init__(self, cid: str, tty: bool, body: Callable[[LogFollow], None],
                 cut_stream: Callable[[], None]) -> None:
        super().__init__(target=body, args=(self,), name=f"logs-{cid[:12]}", daemon=True)
        self.tty = tty
        self.cut = False  # finish() ended the follow: what it missed is read without follow
        self._cut_stream = cut_stream

    def finish(self, timeout: float | None = None) -> None:
        """The container has exited (its ``die`` was seen, so the engine holds all of its
        output): deliver the rest of it and end. Without a TTY the follow is cut at once
        and the rest read in one request without follow, since engine 20.10 ends the
        follow of an exited container up to seconds late; with a TTY (no timestamps to
        resume from) the follow is waited for, up to ``timeout`` (default 2 s)."""
        if self.tty:
            self.join(FOLLOW_END_TTY_S if timeout is None else timeout)
            return
        self.cut = True
        self._cut_stream()
        self.join(FINISH_S if timeout is None else timeout)


FOLLOW_END_TTY_S = 2.0  # how long a TTY container's follow may take to end after its exit
FINISH_S = 10.0  # a bound only: the rest of an exited container's output is one request


def frames(raw: Any, tty: bool) -> Iterator[tuple[str, bytes]]:
    """(stream name, bytes) from a logs response: raw bytes for a TTY, else the engine's
    multiplexed format (8-byte header: stream id, 3 zero bytes, big-endian length)."""
    if tty:
        while chunk := raw.read1(65536):
            yield "stdout", chunk
        return
    while header := raw.read(8):
        if len(header) < 8:
            return
        stream_id, length = struct.unpack(">BxxxL", header)
        data = raw.read(length) if length else b""
        if len(data) < length:  # cut mid-frame: the rest is read again from its timestamp
            return
        yield ("stderr" if stream_id == 2 else "stdout"), data


class LineSplitter:
    """Per-stream incremental UTF-8 decoding; whole lines only, partial ones kept."""

    def __init__(self, on_line: Callable[[str, str], None]) -> None:
        self._on_line = on_line
        self._decoders: dict[str, codecs.IncrementalDecoder] = {}
        self._partial: dict[str, str] = {}

    def feed(self, stream: str, data: bytes) -> None:
        decoder = self._decoders.get(stream)
        if decoder is None:
            decoder = self._decoders[stream] = codecs.getincrementaldecoder("utf-8")("replace")
        text = self._partial.pop(stream, "") + decoder.decode(data)
        *whole, rest = text.split("\n")
        for line in whole:
            self._emit(stream, line)
        if rest:
            self._partial[stream] = rest

    def flush(self) -> None:
        for stream, decoder in self._decoders.items():
            rest = self._partial.pop(stream, "") + decoder.decode(b"", final=True)
            if rest:
                self._emit(stream, rest)

    def _emit(self, stream: str, line: str) -> None:
        try:
            self._on_line(stream, line.removesuffix("\r"))
        except Exception:  # a broken callback must not end the stream
            log.exception("log callback failed")


class Seen:
    """What a follow delivered (``timestamps=1`` prefixes each message with a fixed-width
    RFC 3339 UTC time and a space), so that a second read without follow, from
    :meth:`since`, skips exactly that.

    Per stream the engine's timestamps grow message by message (one copier per stream), but
    the two streams' messages can reach the log out of timestamp order (a stderr line may be
    stamped before the last stdout line received and still be undelivered): the second read
    starts ``MARGIN_NS`` before the last message received, and skips, per stream, as many
    messages as were received from that time on."""

    MARGIN_NS = 1_000_000_000

    def __init__(self) -> None:
        self.last_ns: int | None = None
        self._recent: dict[str, deque[int]] = {}  # per stream: times within the margin
        self._since_ns: int | None = None
        self._skip: dict[str, int] = {}

    def strip(self, stream: str, data: bytes) -> bytes:
        stamp, _, rest = data.partition(b" ")
        ns = stamp_ns(stamp)
        if ns is not None:
            if self.last_ns is None or ns > self.last_ns:
                self.last_ns = ns
            recent = self._recent.setdefault(stream, deque())
            recent.append(ns)
            oldest = self.last_ns - self.MARGIN_NS
            while recent and recent[0] < oldest:
                recent.popleft()
        return rest

    def since(self) -> str | None:
        """Where the second read starts, as the API's ``since`` (seconds.nanoseconds); None
        (read everything) when nothing was received."""
        if self.last_ns is None:
            return None
        self._since_ns = since = max(0, self.last_ns - self.MARGIN_NS)
        self._skip = {stream: sum(1 for t in times if t >= since)
                      for stream, times in self._recent.items()}
        return f"{since // 10**9}.{since % 10**9:09d}"

    def is_new(self, stream: str, data: bytes) -> bool:
        ns = stamp_ns(data.partition(b" ")[0])
        if self._since_ns is not None and ns is not None and ns < self._since_ns:
            return False  # before the second read's start (the engine filters them too)
        if self._skip.get(stream, 0) > 0:
            self._skip[stream] -= 1
            return False
        return True


@functools.lru_cache(maxsize=8)
def _day_s(day: bytes) -> int:
    return int(datetime.strptime(day.decode("ascii"), "%Y-%m-%d").replace(
        tzinfo=UTC).timestamp())


def stamp_ns(stamp: bytes) -> int | None:
    """``2026-12-02T19:22:56.123456789Z`` as nanoseconds since the epoch (None if not one)."""
    try:
        seconds = _day_s(stamp[:10]) + int(stamp[11:13]) * 3600 + int(stamp[14:16]) * 60 + \
            int(stamp[17:19])
        return seconds * 10**9 + int(stamp[20:29])
    except ValueError:
        return None
