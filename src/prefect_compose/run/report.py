"""What a run reports: the plan artifact (a table and a Mermaid graph), and the summary (a
table artifact with each step's outcome, exit code, duration and size-seconds, and the same
on the terminal). Artifacts are reporting: they never fail a deployment."""

from __future__ import annotations

import re
from typing import Any

from prefect_compose import masking
from prefect_compose.plan.compile import Plan
from prefect_compose.run.milestones import outcome_words, without_icon
from prefect_compose.run.state import RunState


def artifact_key(project: str, what: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", f"{project}-{what}".lower())


def publish_plan(plan: Plan, logger: Any, reporter: Any = None) -> None:
    """The plan artifact, through ``reporter`` (run/reporting.py; Prefect's client in the
    current flow run when None)."""
    from prefect_compose.plan.render import plan_artifact_markdown

    try:
        _reporter(reporter, logger).markdown_artifact(
            artifact_key(plan.project, "plan"), masking.mask(plan_artifact_markdown(plan)),
            f"compiled plan of {plan.project}")
    except Exception as exc:  # noqa: BLE001
        logger.warning(f"could not publish the plan artifact: {exc}")


def summary_rows(rs: RunState) -> list[dict[str, Any]]:
    rows = []
    for step in rs.plan.steps:
        r = rs.records[step.id]
        rows.append({"service": r.service, "step": r.step, "kind": r.kind,
                     "outcome": outcome_words(r.outcome.value, step.optional),
                     "exit_code": r.exit_code,
                     "duration_s": r.duration_s, "size_seconds": r.size_seconds})
    return rows


def summary_lines(rows: list[dict[str, Any]]) -> list[str]:
    width = max(len(r["step"]) for r in rows) if rows else 4
    words = [without_icon(r["outcome"]) for r in rows]
    ow = max((len(w) for w in words), default=8)
    lines = [""]
    for r, word in zip(rows, words):
        code = "" if r["exit_code"] is None else f" exit {r['exit_code']}"
        lines.append(f"  {r['step']:<{width}}  {word:<{ow}}{code:<8} "
                     f"{r['duration_s']:>7.1f}s  {r['size_seconds']:>8.1f} size-s")
    return lines


def _reporter(reporter: Any, logger: Any) -> Any:
    if reporter is not None:
        return reporter
    from prefect_compose.run.reporting import PrefectReporter

    return PrefectReporter(None, "", logger)


def publish_summary(rs: RunState, logger: Any, reporter: Any = None) -> None:
    rows = masking.mask_obj(summary_rows(rs))
    description = f"outcome of each step of {rs.project.name}"
    if rs.journal.rolled_back:
        description += (f"; rolled back to their previous containers: "
                        f"{', '.join(rs.journal.rolled_back)}")
    if rs.journal.failed:
        description += f"; could NOT be rolled back: {', '.join(rs.journal.failed)}"
    try:
        _reporter(reporter, logger).table_artifact(
            artifact_key(rs.project.name, "summary"), rows, description)
    except Exception as exc:  # noqa: BLE001
        logger.warning(f"could not publish the summary artifact: {exc}")
    rs.out.block(summary_lines(rows))
