"""Where a deployment's records go besides its task runs' states: the flow run's logs, its
artifacts (plan, progress, summary), its events and tags, the tag concurrency limits that
apply and whether someone cancelled it.

Two reporters write the same records: :class:`PrefectReporter`, with Prefect's client inside
the `compose-up` flow run (a worker, `serve`, ephemeral mode, `--verbose`), and
run/direct.py's ``RestReporter``, with Prefect's REST API from the CLI's `up`, which imports
no prefect. The deployment itself (run/deploy.py) only talks to a reporter. Reporting never
fails a deployment: a failure to report is a warning.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

_log = logging.getLogger("prefect_compose.reporting")
_output_logger = logging.getLogger("prefect_compose.output")


class PrefectReporter:
    """Records through Prefect's client, inside the flow run (its run context attaches each
    artifact and log line to the flow run)."""

    def __init__(self, flow_run_id: str | None, flow_run_name: str, logger: Any) -> None:
        self.flow_run_id = flow_run_id
        self.flow_run_name = flow_run_name
        self.logger = logger
        self._client: Any = None

    def api_logger(self, run_logger: Any) -> logging.LoggerAdapter:
        """A logger that sends to the Prefect API under the run of ``run_logger`` but not to
        the console."""
        if not _output_logger.handlers:
            from prefect.logging.handlers import APILogHandler

            _output_logger.addHandler(APILogHandler())
            _output_logger.setLevel(logging.INFO)
            _output_logger.propagate = False
        return logging.LoggerAdapter(_output_logger,
                                     dict(getattr(run_logger, "extra", {}) or {}))

    def markdown_artifact(self, key: str, markdown: str, description: str) -> None:
        from prefect.artifacts import create_markdown_artifact

        create_markdown_artifact(key=key, markdown=markdown, description=description)

    def table_artifact(self, key: str, rows: list[dict[str, Any]], description: str) -> None:
        from prefect.artifacts import create_table_artifact

        create_table_artifact(key=key, table=rows, description=description)

    def progress_artifact(self, key: str, description: str) -> Any:
        from prefect.artifacts import create_progress_artifact

        return create_progress_artifact(progress=0.0, key=key, description=description)

    def update_progress(self, artifact_id: Any, percent: float, description: str) -> None:
        from prefect.artifacts import update_progress_artifact

        update_progress_artifact(artifact_id, percent, description=description)

    def emit(self, event: str, resource: dict[str, str], related: list[dict[str, str]],
             payload: dict[str, Any]) -> None:
        from prefect.events import emit_event

        emit_event(event=event, resource=resource, related=related, payload=payload)

    def tag_flow_run(self, tags: list[str]) -> None:
        tag_flow_run(self.flow_run_id, tags)

    def steps_done(self) -> None:
        """Nothing to hurry: Prefect's own log and event workers send as they batch."""

    def cancel_requested(self) -> bool:
        """Whether the flow run is cancelling or cancelled (one API read)."""
        from prefect.client.orchestration import get_client

        if self._client is None:
            self._client = get_client(sync_client=True).__enter__()
        state = self._client.read_flow_run(uuid.UUID(str(self.flow_run_id))).state
        return state is not None and (state.is_cancelling() or state.is_cancelled())

    def tag_limits(self) -> set[str] | None:
        """The tags a Prefect tag concurrency limit names (global `tag:NAME` limits and the
        older per-tag ones); None when the server cannot be asked."""
        try:
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                found = {g.name[4:] for g in _pages(client.read_global_concurrency_limits)
                         if g.name.startswith("tag:")}
                found |= {c.tag for c in _pages(client.read_concurrency_limits)}
        except Exception as exc:  # noqa: BLE001 - cannot tell
            _log.debug("could not read tag concurrency limits: %s", exc)
            return None
        return found


def _pages(read: Any, size: int = 200, most: int = 100) -> list[Any]:
    """Every item of a paged Prefect read (``read(limit=, offset=)``), at most ``most`` pages."""
    items: list[Any] = []
    for page_no in range(most):
        page = read(limit=size, offset=page_no * size)
        items.extend(page)
        if len(page) < size:
            break
    return items


def tag_flow_run(flow_run_id: str | None, tags: list[str]) -> None:
    """Add ``tags`` to the flow run (its project is only known once the flow loaded it)."""
    if not flow_run_id:
        return
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(uuid.UUID(str(flow_run_id)))
            merged = list(dict.fromkeys([*(run.tags or []), *tags]))
            if merged != list(run.tags or []):
                client.update_flow_run(run.id, tags=merged)
    except Exception as exc:  # noqa: BLE001 - reporting only
        _log.warning(f"could not tag flow run {flow_run_id}: {exc}")
