"""Plan renderings: text (for people and tests), JSON (for scripts), Mermaid (for the UI)."""

from __future__ import annotations

import json
import re

from prefect_compose.plan.compile import Plan
from prefect_compose.units import format_duration

_SHORT = {"service_started": "started", "service_healthy": "healthy",
          "service_completed_successfully": "completed"}


def plan_text(plan: Plan) -> str:
    lines = [f"project {plan.project} ({', '.join(plan.files)})"]
    for b in plan.builds:
        df = b.dockerfile or "Dockerfile"
        lines.append(f"build   {', '.join(b.tags)} from {b.context} ({df})"
                     f" for {', '.join(b.services)}")
    width = max([len(s.id) for s in plan.steps] + [4])
    for step in plan.steps:
        after = ", ".join(
            f"{e.step} ({_SHORT[e.condition]}{'' if e.required else ', optional'})"
            for e in step.upstream) or "-"
        timeout = format_duration(step.timeout_s) if step.timeout_s else "-"
        lines.append(f"step    {step.id:<{width}}  {step.kind:<9} timeout {timeout:<6} "
                     f"after {after}" + ("  [may fail: only optional dependents]"
                                         if step.optional else ""))
    for s in plan.scheduled:
        lines.append(f'scheduled {s.name}  cron "{s.schedule.cron}" {s.schedule.timezone}  '
                     f"timeout {format_duration(s.timeout_s)}  (not run by up: its own "
                     "deployment runs it, see `prefect-compose deploy`)")
    for w in plan.warnings:
        lines.append(f"warning {w}")
    return "\n".join(lines)


def plan_json(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2, sort_keys=False)


def _node(step_id: str) -> str:
    """A Mermaid id: readable, and unique (characters Mermaid rejects are hex-escaped)."""
    return "s_" + re.sub(r"[^A-Za-z0-9]", lambda m: f"_{ord(m.group(0)):x}_", step_id)


def plan_mermaid(plan: Plan) -> str:
    lines = ["flowchart TD"]
    shapes = {"job": ("[[", "]]"), "pre_start": ("[[", "]]"), "start": ("(", ")"),
              "health": ("{{", "}}"), "provider": ("[/", "/]")}
    for step in plan.steps:
        left, right = shapes[step.kind]
        label = step.id.replace('"', "'")
        if step.timeout_s:
            label += f" ⏱ {format_duration(step.timeout_s)}"
        lines.append(f'    {_node(step.id)}{left}"{label}"{right}')
    for step in plan.steps:
        for e in step.upstream:
            arrow = "-->" if e.required else "-.->"
            lines.append(f"    {_node(e.step)} {arrow}|{_SHORT[e.condition]}| {_node(step.id)}")
    return "\n".join(lines)


def plan_table_markdown(plan: Plan) -> str:
    rows = ["| service | kind | image | waits for | timeout |", "|---|---|---|---|---|"]
    for s in plan.services:
        deps = ", ".join(f"{d} ({_SHORT[c]})" for d, c in s.depends_on.items()) or "-"
        rows.append(f"| {s.name} | {s.kind} | {s.image or '-'} | {deps} | "
                    f"{format_duration(s.timeout_s) if s.timeout_s else '-'} |")
    return "\n".join(rows)
