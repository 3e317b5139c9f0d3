"""Container output: following logs with the streams kept apart (the engine's multiplexed
format), whole lines decoded incrementally, and the last lines of a container."""

from __future__ import annotations

import codecs
import contextlib
import logging
import socket
import struct
import threading
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
                    tty: bool | None = None) -> threading.Thread:
        """Follow the container's stdout and stderr from its start, calling
        ``on_line("stdout" | "stderr", line)`` per line from a daemon thread that ends when the
        container stops. Call it after ``start`` (the engine replays what was already said).

        Engine 20.10's follow can end before the last lines are delivered (the CLI's
        ``docker logs -f`` loses them too): when the follow ends, the rest is read once more
        without follow, from the timestamp of the last message received."""
        if tty is None:  # the caller that created it knows (one engine round trip less)
            tty = bool((self.inspect(cid).get("Config") or {}).get("Tty"))
        res = self._open_logs(cid, follow=True, timestamps=not tty)

        def run() -> None:
            lines = LineSplitter(on_line)
            seen = Seen()
            try:
                for stream_name, data in frames(res.raw, tty):
                    lines.feed(stream_name, data if tty else seen.strip(data))
                if not tty and not self._hub.closed:
                    self._read_rest(cid, seen, lines)
            except Exception as exc:  # noqa: BLE001 - closed by close(), or engine gone
                log.debug("log stream of %s ended: %s", cid, exc)
            finally:
                lines.flush()
                self._close_stream(res)

        thread = threading.Thread(target=run, name=f"logs-{cid[:12]}", daemon=True)
        thread.start()
        return thread

    def _read_rest(self, cid: str, seen: Seen, lines: LineSplitter) -> None:
        """After a follow ended: what it did not deliver, read once without follow."""
        rest = self._open_logs(cid, follow=False, timestamps=True, since=seen.since())
        try:
            for stream_name, data in frames(rest.raw, False):
                if seen.is_new(data):
                    lines.feed(stream_name, seen.strip(data))
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
        with contextlib.suppress(Exception):
            sock = self._api._get_raw_response_socket(res)
            sock = getattr(sock, "_sock", sock)
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            res.close()

    def logs_tail(self, cid: str, lines: int = 20) -> str:
        """The last ``lines`` lines of stdout and stderr, interleaved as they were written."""
        with translated(f"read logs of {cid}", self.where):
            out = self._api.logs(cid, stdout=True, stderr=True, tail=lines)
        return out.decode("utf-8", errors="replace")


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
        if length and not data:
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
    """Remembers the engine timestamp of the last log message received (``timestamps=1``
    prefixes each message with a fixed-width RFC 3339 UTC time and a space), so a second read
    from that time on can skip what was already delivered."""

    def __init__(self) -> None:
        self.last = ""
        self.count_at_last = 0  # messages received carrying exactly that timestamp
        self._skip = 0

    def strip(self, data: bytes) -> bytes:
        stamp, _, rest = data.partition(b" ")
        ts = stamp.decode("ascii", "replace")
        if ts == self.last:
            self.count_at_last += 1
        elif ts > self.last:
            self.last, self.count_at_last = ts, 1
        return rest

    def since(self) -> str | None:
        """``self.last`` as the API's ``since`` (seconds.nanoseconds), or None."""
        self._skip = self.count_at_last
        try:
            when = datetime.strptime(self.last[:19], "%Y-%m-%dT%H:%M:%S")
            seconds = int(when.replace(tzinfo=UTC).timestamp())
            return f"{seconds}.{int(self.last[20:29]):09d}"
        except ValueError:
            return None

    def is_new(self, data: bytes) -> bool:
        ts = data.partition(b" ")[0].decode("ascii", "replace")
        if ts < self.last:
            return False
        if ts == self.last and self._skip > 0:
            self._skip -= 1
            return False
        return True
