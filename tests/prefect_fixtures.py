"""One real Prefect server for the whole test session, and helpers that read runs back.

Use from ``tests/conftest.py``::

    from prefect_fixtures import prefect_server  # noqa: F401  (the session fixture)

and import the helpers (``read_flow_run``, ``task_runs_of``, ``task_run_states``, ``logs_of``,
``wait_for_flow_run``) from ``prefect_fixtures`` in test modules. Import it under that one name
(not ``tests.prefect_fixtures``): the server is shared through this module's state, so a test
module that also imports the fixture gets the same server, never a second one.

``prefect_server`` starts ``prefect_compose.cli.server.start()`` on a free loopback port with a
temporary home, points ``PREFECT_API_URL``/``PREFECT_HOME``/``PREFECT_COMPOSE_HOME`` at it
for the rest of the session (subprocesses such as ``prefect-compose up`` inherit them), yields
the API URL and stops the server at the end.

Cost: a Prefect server on a fresh SQLite DB spends most of its start migrating it (see the
timings in tests/integration/test_server.py). The first session therefore saves the migrated
DB in pytest's cache (``.pytest_cache/d/prefect-compose-db/``, keyed by Prefect's version) and
later sessions start from a copy of it; ``pytest --cache-clear`` forgets it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from prefect_compose.cli import server

START_WAIT_S = 180.0  # a fresh DB on a loaded 2-core machine took 50 s; be generous
_ENV_KEYS = ("PREFECT_API_URL", "PREFECT_HOME", "PREFECT_COMPOSE_HOME")
_lock = threading.Lock()
_shared: dict[str, Any] = {"refs": 0, "info": None, "saved_env": None, "tmp": None,
                           "owner": None}


# -- servers for tests ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def db_cache_dir(config: pytest.Config) -> Path | None:
    """Where the migrated DB template is kept: pytest's cache (None with -p no:cacheprovider)."""
    cache = getattr(config, "cache", None)
    return cache.mkdir("prefect-compose-db") if cache is not None else None


def _template(cache_dir: Path | None) -> Path | None:
    if cache_dir is None:
        return None
    return cache_dir / f"prefect-{version('prefect')}.db"


def start_test_server(home: Path, cache_dir: Path | None = None,
                      wait: float = START_WAIT_S) -> server.ServerInfo:
    """`server.start()` on a free port in `home`, seeded from the migrated DB in `cache_dir`
    when there is one (and saving one there after a start on a fresh DB)."""
    home.mkdir(parents=True, exist_ok=True)
    template = _template(cache_dir)
    seeded = False
    if template is not None and template.is_file() and not (home / "prefect.db").exists():
        shutil.copyfile(template, home / "prefect.db")
        seeded = True
    t0 = time.monotonic()
    info = server.start(port=free_port(), wait=wait, home=home)
    print(f"[prefect] server on {info.url} started in {time.monotonic() - t0:.1f}s "
          f"({'seeded from ' + str(template) if seeded else 'fresh DB'})", file=sys.stderr)
    if template is not None and not seeded:
        with contextlib.suppress(OSError, sqlite3.Error):
            _save_template(home / "prefect.db", template)
    return info


def _save_template(db: Path, template: Path) -> None:
    """A consistent copy of the live DB (sqlite's backup API reads one snapshot, WAL included),
    published atomically so concurrent sessions never see half a file."""
    template.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=template.parent, suffix=".tmp")
    os.close(fd)
    try:
        src = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        os.replace(tmp, template)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _refresh_prefect_settings() -> None:
    # Prefect reads its settings once, at import: a module that imported prefect before this
    # fixture ran would otherwise keep talking to an ephemeral server.
    if "prefect.context" in sys.modules:
        sys.modules["prefect.context"].refresh_global_settings_context()


def _acquire(cache_dir: Path | None) -> str:
    with _lock:
        if _shared["refs"] == 0:
            tmp = Path(tempfile.mkdtemp(prefix="prefect-compose-test-"))
            try:
                info = start_test_server(tmp / "home", cache_dir)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            _shared.update(info=info, tmp=tmp, owner=os.getpid(),
                           saved_env={k: os.environ.get(k) for k in _ENV_KEYS})
            os.environ.update(PREFECT_API_URL=info.url, PREFECT_HOME=str(info.home),
                              PREFECT_COMPOSE_HOME=str(info.home))
            _refresh_prefect_settings()
        _shared["refs"] += 1
        return _shared["info"].url


def _release(final: bool = False) -> None:
    with _lock:
        if _shared["refs"] == 0 or _shared["owner"] != os.getpid():  # not in a forked child
            return
        _shared["refs"] = 0 if final else _shared["refs"] - 1
        if _shared["refs"]:
            return
        info, tmp, saved = _shared["info"], _shared["tmp"], _shared["saved_env"]
        _shared.update(info=None, tmp=None, saved_env=None)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _refresh_prefect_settings()
        try:
            server.stop(home=info.home)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


atexit.register(_release, True)  # backstop: never leave the session's server behind


@pytest.fixture(scope="session")
def prefect_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The API URL of one real Prefect server shared by the whole session (see module doc)."""
    url = _acquire(db_cache_dir(request.config))
    try:
        yield url
    finally:
        _release()


# -- reading runs back ---------------------------------------------------------------------------
def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def read_flow_run(flow_run_id: Any):
    """The flow run (a `prefect.client.schemas.objects.FlowRun`; `.state`, `.name`, ...)."""
    with _client() as client:
        return client.read_flow_run(_uuid(flow_run_id))


def wait_for_flow_run(flow_run_id: Any, timeout: float = 60.0, interval: float = 0.2):
    """Poll until the flow run is in a final state (Completed, Failed, Cancelled, Crashed);
    returns it, or fails the test after `timeout` seconds showing the last state."""
    deadline = time.monotonic() + timeout
    with _client() as client:
        while True:
            run = client.read_flow_run(_uuid(flow_run_id))
            if run.state is not None and run.state.is_final():
                return run
            if time.monotonic() > deadline:
                pytest.fail(f"flow run {flow_run_id} not finished after {timeout}s: "
                            f"{run.state!r}")
            time.sleep(interval)


def task_runs_of(flow_run_id: Any) -> list:
    """The flow run's task runs (`TaskRun`: `.name`, `.state`, ...), by expected start."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    runs: list = []
    with _client() as client:
        while True:
            page = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[_uuid(flow_run_id)])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200, offset=len(runs))
            runs.extend(page)
            if len(page) < 200:
                return runs


def task_run_states(flow_run_id: Any) -> dict[str, str]:
    """{task run name: state name} (`Completed`, `Failed`, `NotReady`, `Cancelled`, ...)."""
    return {tr.name: (tr.state.name if tr.state else "None") for tr in task_runs_of(flow_run_id)}


def flush_logs() -> None:
    """Send this process's queued run logs to the API now (they go in batches, every 2 s)."""
    with contextlib.suppress(Exception):
        from prefect.logging.handlers import APILogHandler

        APILogHandler().flush()


def logs_of(flow_run_id: Any, *, contains: str | None = None, timeout: float = 15.0,
            records: bool = False) -> list:
    """The log messages of a flow run and its task runs, oldest first (`records=True`: the
    `Log` objects, with `.level`, `.task_run_id`, ...).

    Logs reach the server in batches, after the run itself: with `contains`, wait (up to
    `timeout`) until some message contains that text, flushing this process's queue first."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    if contains is not None:
        flush_logs()
    deadline = time.monotonic() + timeout
    with _client() as client:
        while True:
            logs: list = []
            while True:
                page = client.read_logs(
                    log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(
                        any_=[_uuid(flow_run_id)])),
                    sort=LogSort.TIMESTAMP_ASC, limit=200, offset=len(logs))
                logs.extend(page)
                if len(page) < 200:
                    break
            found = contains is None or any(contains in log.message for log in logs)
            if found or time.monotonic() > deadline:
                return logs if records else [log.message for log in logs]
            time.sleep(0.2)
