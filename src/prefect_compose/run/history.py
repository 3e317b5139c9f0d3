"""`prefect-compose ps --jobs`: the last runs of each job, `run` and `exec` of a project, read
back from the Prefect API.

- jobs of a deployment: each `compose-up` flow run of the project publishes a summary table
  artifact (service, step, kind, outcome, exit code, duration, size-seconds); its job and
  pre_start rows are the job runs, dated by the flow run's start;
- `run` and `exec`: the `compose-run` / `compose-exec` flow runs of the project (deployed,
  scheduled or called from Python, and the records CLI `run`/`exec` leave, named
  "run SERVICE (cli)": run/cli_record.py), whose final state message carries the exit code
  and, for `run`, the size-seconds.

A flow run belongs to project P when its parameters name P (`project_name`), or its
`compose-project` block does, or (compose-up) it is named P.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

FLOWS = ("compose-up", "compose-run", "compose-exec")
_EXIT = re.compile(r"exit code (\d+)")
_SIZE = re.compile(r"\(([\d.]+) size-seconds\)")
SCAN_LIMIT = 200  # most recent flow runs looked at per flow


@dataclass(frozen=True)
class JobRun:
    what: str  # "migrate" (a job of up), "run backup", "exec web"
    when: datetime | None
    outcome: str
    exit_code: int | None
    duration_s: float | None
    size_seconds: float | None
    flow_run: str  # the flow run's name


def _project_of(run: Any, blocks: dict[str, str | None]) -> str | None:
    params = run.parameters or {}
    if params.get("project_name"):
        return str(params["project_name"])
    block = params.get("block")
    if block:
        if block not in blocks:
            blocks[block] = _block_project(block)
        return blocks[block]
    return None


def _block_project(block: str) -> str | None:
    try:
        from prefect_compose.blocks.compose_project import ComposeProject
        from prefect_compose.project import load

        saved = ComposeProject.load(block)
        return saved.project_name or load(saved.options()).name
    except Exception:  # noqa: BLE001 - a deleted block or moved files: not this project's
        return None


def _flow_runs(client: Any, flow_name: str) -> list[Any]:
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    return client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                                 sort=FlowRunSort.START_TIME_DESC, limit=SCAN_LIMIT)


def _duration(run: Any) -> float | None:
    if run.start_time and run.end_time:
        return (run.end_time - run.start_time).total_seconds()
    return run.total_run_time.total_seconds() if run.total_run_time else None


def _oneoff_row(run: Any, flow_name: str) -> JobRun:
    message = (run.state.message if run.state else "") or ""
    code = _EXIT.search(message)
    size = _SIZE.search(message)
    verb = "run" if flow_name == "compose-run" else "exec"
    service = (run.parameters or {}).get("service") or run.name.split(" ", 1)[-1]
    return JobRun(what=f"{verb} {service}", when=run.start_time or run.expected_start_time,
                  outcome=run.state.name if run.state else "?",
                  exit_code=int(code.group(1)) if code else None,
                  duration_s=_duration(run), size_seconds=float(size.group(1)) if size
                  else None, flow_run=run.name)


def _summary_rows(client: Any, run: Any) -> list[dict[str, Any]]:
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterType,
    )

    artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
        flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]),
        type=ArtifactFilterType(any_=["table"])), limit=20)
    for a in artifacts:
        if a.key and a.key.endswith("-summary"):
            data = json.loads(a.data) if isinstance(a.data, str) else a.data
            return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []
    return []


def _words(outcome: Any) -> str:
    """The summary's outcome without its icon ("✅ succeeded" -> "succeeded"): an emoji is two
    columns wide in a terminal, and the table is aligned by characters."""
    text = str(outcome)
    return text.split(" ", 1)[1] if " " in text and not text[0].isalnum() else text


def _up_rows(client: Any, run: Any) -> list[JobRun]:
    rows = []
    for r in _summary_rows(client, run):
        if r.get("kind") not in ("job", "pre_start"):
            continue
        rows.append(JobRun(what=str(r.get("step") or r.get("service")),
                           when=run.start_time or run.expected_start_time,
                           outcome=_words(r.get("outcome")), exit_code=r.get("exit_code"),
                           duration_s=r.get("duration_s"), size_seconds=r.get("size_seconds"),
                           flow_run=run.name))
    return rows


def job_history(project: str, last: int = 5) -> list[JobRun]:
    """The `last` most recent runs of each job, run and exec of `project`, newest first."""
    from prefect.client.orchestration import get_client

    blocks: dict[str, str | None] = {}
    rows: list[JobRun] = []
    with get_client(sync_client=True) as client:
        for flow_name in FLOWS:
            for run in _flow_runs(client, flow_name):
                if run.start_time is None and not (run.state and run.state.is_final()):
                    continue  # scheduled for later (or pending): not a run yet
                owner = _project_of(run, blocks)
                if flow_name == "compose-up":
                    if (owner or run.name) != project:
                        continue
                    rows.extend(_up_rows(client, run))
                elif owner == project:
                    rows.append(_oneoff_row(run, flow_name))
    newest: dict[str, list[JobRun]] = {}
    for r in sorted(rows, key=lambda r: r.when.timestamp() if r.when else 0.0, reverse=True):
        newest.setdefault(r.what, [])
        if len(newest[r.what]) < last:
            newest[r.what].append(r)
    return [r for what in sorted(newest) for r in newest[what]]


def render(rows: list[JobRun]) -> str:
    table = [("JOB", "WHEN", "OUTCOME", "EXIT CODE", "DURATION", "SIZE-SECONDS", "FLOW RUN")]
    for r in rows:
        table.append((r.what, r.when.astimezone().strftime("%Y-%m-%d %H:%M:%S") if r.when
                      else "-", r.outcome, "-" if r.exit_code is None else str(r.exit_code),
                      "-" if r.duration_s is None else f"{r.duration_s:.1f}s",
                      "-" if r.size_seconds is None else f"{r.size_seconds:.1f}", r.flow_run))
    if len(table) == 1:
        return "no runs of jobs, run or exec found for this project"
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip()
                     for row in table)
