"""Prefect's REST API with the standard library only: what the CLI's commands use to report to
a Prefect server without importing prefect (1-1.8 s here, longer than a whole unchanged
`docker compose up` of 50 services).

One keep-alive connection per thread; every call is JSON in, JSON out; a non-2xx answer, a
refused or dropped connection raise :class:`RestError` (a dropped keep-alive connection is
retried once on a new one, as the server may close idle ones).
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

TIMEOUT_S = 10.0


RETRIES = 6
BACKOFF_S = 0.1  # then 0.2, 0.4, ... (3.2 s at most): 6.3 s in all


class RestError(OSError):
    pass


class _Busy(Exception):
    def __init__(self, text: str, retry_after: float | None) -> None:
        super().__init__(text)
        self.retry_after = retry_after


def now_iso() -> str:
    """A UTC timestamp as Prefect's API writes them."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class PrefectRest:
    def __init__(self, api_url: str, timeout: float = TIMEOUT_S, retries: int = RETRIES) -> None:
        self.api_url = api_url.rstrip("/")
        parts = urlsplit(self.api_url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port
        self._prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self._local = threading.local()
        self.requests = 0  # how many calls this client made (the benchmarks count them)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get("PREFECT_API_KEY")
        if key:
            self._headers["Authorization"] = f"Bearer {key}"

    def _connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = kind(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One call; a busy server (429, 502, 503: a SQLite server answers 503 while another
        writer holds the database) is asked again after a growing pause, as Prefect's own
        client does, up to ``retries`` times."""
        data = None if body is None else json.dumps(body, default=str)
        for attempt in range(self.retries + 1):
            try:
                return self._call_once(method, path, data)
            except _Busy as busy:
                if attempt == self.retries:
                    raise RestError(str(busy)) from None
                time.sleep(busy.retry_after if busy.retry_after is not None
                           else BACKOFF_S * 2 ** attempt)
        raise RestError(f"{method} {path}: no answer")  # pragma: no cover - loop returns

    def _call_once(self, method: str, path: str, data: str | None) -> Any:
        self.requests += 1
        for attempt in (0, 1):
            conn = self._connection(fresh=attempt > 0)
            try:
                conn.request(method, self._prefix + path, data, self._headers)
                resp = conn.getresponse()
                payload = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError, http.client.CannotSendRequest) as exc:
                if attempt == 0:
                    continue  # an idle keep-alive connection the server closed: once more
                raise RestError(f"{method} {path}: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                self._connection(fresh=True)
                raise RestError(f"{method} {path}: {exc}") from None
            if resp.status in (429, 502, 503):
                after = resp.getheader("Retry-After")
                raise _Busy(f"{method} {path}: HTTP {resp.status}",
                            float(after) if after and after.isdigit() else None)
            if resp.status >= 300:
                raise RestError(f"{method} {path}: HTTP {resp.status} "
                                f"{payload[:300].decode(errors='replace')}")
            return json.loads(payload) if payload else None
        raise RestError(f"{method} {path}: no answer")  # pragma: no cover - loop returns

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- what the CLI reads and writes -------------------------------------------------------
    def flow_id(self, name: str) -> str:
        return self.call("POST", "/flows/", {"name": name})["id"]

    def ui_url(self, path: str) -> str:
        """A page of the Prefect UI: `PREFECT_UI_URL`, else the API's address without
        `/api` (what Prefect's own `url_for` does)."""
        base = os.environ.get("PREFECT_UI_URL") or (
            self.api_url[:-4] if self.api_url.endswith("/api") else self.api_url)
        return f"{base.rstrip('/')}/{path.lstrip('/')}"


def paged(rest: PrefectRest, path: str, size: int = 200, most: int = 50) -> list[dict]:
    """Every item of a paged `POST .../filter` read."""
    items: list[dict] = []
    for page_no in range(most):
        page = rest.call("POST", path, {"limit": size, "offset": page_no * size}) or []
        items.extend(page)
        if len(page) < size:
            break
    return items
