"""What a run reports: the plan artifact (a table and a Mermaid graph), and the summary (a
table artifact with each step's outcome, exit code, duration and size-seconds, and the same
on the terminal). Artifacts are reporting: they never fail a deployment."""

from __future__ import annotations

import re
from typing import Any

from prefect_compose.plan.compile import Plan
from prefect_compose.run.state import RunState


def artifact_key(project: str, what: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", f"{project}-{what}".lower())


def publish_plan(plan: Plan, logger: Any) -> None:
    from prefect.artifacts import create_markdown_artifact

    from prefect_compose.plan.render import plan_artifact_markdown

    try:
        create_markdown_artifact(
            key=artifact_key(plan.project, "plan"), markdown=plan_artifact_markdown(plan),
            description=f"compiled plan of {plan.project}")
    except Exception as exc:  # noqa: BLE001
        logger.warning(f"could not publish the plan artifact: {exc}")


def summary_rows(rs: RunState) -> list[dict[str, Any]]:
    rows = []
    for step in rs.plan.steps:
        r = rs.records[step.id]
        rows.append({"service": r.service, "step": r.step, "kind": r.kind,
                     "outcome": r.outcome.value, "exit_code": r.exit_code,
                     "duration_s": r.duration_s, "size_seconds": r.size_seconds})
    return rows


def summary_lines(rows: list[dict[str, Any]]) -> list[str]:
    width = max(len(r["step"]) for r in rows) if rows else 4
    lines = [""]
    for r in rows:
        code = "" if r["exit_code"] is None else f" exit {r['exit_code']}"
        lines.append(f"  {r['step']:<{width}}  {r['outcome']:<11}{code:<8} "
                     f"{r['duration_s']:>7.1f}s  {r['size_seconds']:>8.1f} size-s")
    return lines


def publish_summary(rs: RunState, logger: Any) -> None:
    from prefect.artifacts import create_table_artifact

    rows = summary_rows(rs)
    try:
        create_table_artifact(key=artifact_key(rs.project.name, "summary"), table=rows,
                              description=f"outcome of each step of {rs.project.name}")
    except Exception as exc:  # noqa: BLE001
        logger.warning(f"could not publish the summary artifact: {exc}")
    rs.out.block(summary_lines(rows))
