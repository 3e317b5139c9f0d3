"""A unix-socket stand-in for the Docker engine that a test can cut and bring back.

    with EngineProxy(tmp_path / "engine.sock", "/var/run/docker.sock") as proxy:
        env = {"DOCKER_HOST": proxy.url}
        ...; proxy.cut()       # the engine is gone: every connection closed, none accepted
        ...; proxy.restore()   # it answers again, on the same socket
        proxy.requests         # (method, path) of every request sent through it

Every byte is forwarded to the real engine, so containers created through it are real ones
(labelled with the test's project, cleaned up by the project fixture). Losing the engine this
way changes nothing on the host (no second dockerd, no bridge, no iptables) and loses it
exactly as a client sees a crashed or unreachable daemon: open streams end, new connections
are refused.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
from pathlib import Path


_REQUEST_LINE = re.compile(rb"(?:^|\r\n)(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/1\.[01]\r\n")


class EngineProxy:
    """``requests``: (method, path with query) of every request a client sent, in order."""

    def __init__(self, path: Path, target: str) -> None:
        self.path = Path(path)
        self.target = target
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def __enter__(self) -> EngineProxy:
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()

    def restore(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Close the listening socket and every open connection; the path refuses."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        with self._lock:
            conns, self._conns = self._conns, set()
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self._conns |= {client, upstream}
            for a, b, seen in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, seen), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, record: bool = False) -> None:
        try:
            while data := src.recv(65536):
                if record:  # a request line starts a chunk or follows a CRLF
                    with self._lock:
                        self.requests += [(m.decode(), p.decode())
                                          for m, p in _REQUEST_LINE.findall(data)]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
