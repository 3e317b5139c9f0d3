"""Plan renderings: text (for people and tests), JSON (for scripts), Mermaid and the plan
artifact's Markdown (for the Prefect UI).

The graph is drawn per *service*, not per step, so it stays readable at real sizes: one node
per service (and one per `pre_start` hook, which is a step of its own with its own timeout),
left to right, its kind and timeout in the node, jobs and services told apart by shape, and an
edge label only where the condition is not the default one (`started` into a service,
`completed` into a job). The artifact puts the table first: the V1 UI does not draw Mermaid,
and there the graph's source must still read as text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from prefect_compose.plan.compile import Plan, ServicePlan, Step
from prefect_compose.units import format_duration

_SHORT = {"service_started": "started", "service_healthy": "healthy",
          "service_completed_successfully": "completed"}
# Mermaid shapes per node kind: stadium for long-running services, a double-sided box
# (subroutine) for jobs, a flag for hooks, a hexagon for scheduled jobs
SHAPES = {"service": ("([", "])"), "job": ("[[", "]]"), "hook": (">", "]"),
          "scheduled": ("{{", "}}"), "provider": ("[/", "/]")}
_CLASSES = {"service": "fill:#e0f2fe,stroke:#0369a1,color:#0c4a6e",
            "job": "fill:#fef3c7,stroke:#b45309,color:#78350f",
            "hook": "fill:#ede9fe,stroke:#6d28d9,color:#4c1d95",
            "scheduled": "fill:#dcfce7,stroke:#15803d,color:#14532d",
            "provider": "fill:#f3f4f6,stroke:#4b5563,color:#111827"}
_KEYWORDS = {"end", "graph", "subgraph", "flowchart", "style", "class", "classdef", "click",
             "linkstyle", "direction", "call", "href", "default", "interpolate"}
LEGEND = ("Legend: `([service])` long-running service, `[[job]]` runs once per deployment, "
          "`>hook]` a pre_start hook, `{{scheduled}}` a scheduled job; an arrow points from "
          "what is waited for to what waits; a label names the condition where it is not the "
          "default (waiting for a service means `started`, for a job `completed`); dotted is "
          "optional (`required: false`). A wait that another path already implies is not "
          "drawn: the table lists every one.")


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


def node_id(name: str) -> str:
    """A Mermaid id that is always unique (characters Mermaid rejects are hex-escaped)."""
    return "s_" + re.sub(r"[^A-Za-z0-9]", lambda m: f"_{ord(m.group(0)):x}_", name)


def node_ids(names: list[str]) -> dict[str, str]:
    """Readable ids (`warm-cache` -> `warm_cache`) unless two names would meet: then all
    are hex-escaped by ``node_id``."""
    simple = {n: re.sub(r"[^A-Za-z0-9]+", "_", n) for n in names}
    if len(set(simple.values())) == len(simple) and all(
            re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", v) and v.lower() not in _KEYWORDS
            for v in simple.values()):
        return simple
    return {n: node_id(n) for n in names}


def _natural(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def in_plan_order(plan: Plan) -> list[ServicePlan]:
    """Services layer by layer (how many waits come before each), by name within a layer
    (`api-2` before `api-10`): the order a person reads the deployment in."""
    depth: dict[str, int] = {}
    for st in plan.steps:  # topological: upstreams come first
        depth[st.id] = 1 + max((depth[e.step] for e in st.upstream), default=-1)
    return sorted(plan.services, key=lambda sp: (depth.get(sp.steps[0], 0) if sp.steps else 0,
                                                 _natural(sp.name)))


def service_kind(sp: ServicePlan) -> str:
    """The kind a person reads: service, job, scheduled or provider."""
    return sp.kind


def _hooks(plan: Plan, sp: ServicePlan) -> list[Step]:
    return [plan.step(s) for s in sp.steps if plan.step(s).kind == "pre_start"]


def _node_line(nid: str, kind: str, title: str, detail: str) -> str:
    left, right = SHAPES.get(kind, SHAPES["job"])
    text = f"{title}<br>{detail}".replace('"', "'")
    return f'    {nid}{left}"{text}"{right}:::{kind if kind in _CLASSES else "job"}'


def _service_detail(sp: ServicePlan, kind: str) -> str:
    parts = [kind]
    if sp.timeout_s:
        parts.append(f"timeout {format_duration(sp.timeout_s)}")
    if sp.healthy_timeout_s:
        parts.append(f"healthy ≤ {format_duration(sp.healthy_timeout_s)}")
    if sp.retries:
        parts.append(f"{sp.retries} {'retry' if sp.retries == 1 else 'retries'}")
    return "<br>".join(parts)


def _default_condition(kind: str) -> str:
    return "service_started" if kind in ("service", "provider") else \
        "service_completed_successfully"


_STRENGTH = {"service_started": 1, "service_healthy": 2, "service_completed_successfully": 2}


def waits(plan: Plan) -> dict[str, dict[str, tuple[str, bool]]]:
    """{service: {dependency: (effective condition, required)}} for services in the plan."""
    names = {sp.name for sp in plan.services}
    return {sp.name: {d: (c, _required(plan, sp, d)) for d, c in sp.depends_on.items()
                      if d in names} for sp in plan.services}


def implied_waits(plan: Plan) -> set[tuple[str, str]]:
    """The (dependency, service) waits another path already implies, drawn by no edge.

    x waiting on y (required) starts after y started, and y started only after each of its
    required dependencies d reached its condition: so x's own wait on d adds nothing when its
    condition is no stronger than y's (on d, or on the first hop of a required path from d)."""
    w = waits(plan)
    reach: dict[str, dict[str, int]] = {}  # service -> {ancestor: strength it is known at}

    def ancestors(name: str) -> dict[str, int]:
        if name not in reach:
            reach[name] = {}
            out: dict[str, int] = {}
            for dep, (cond, required) in w[name].items():
                if not required:
                    continue
                out[dep] = max(out.get(dep, 0), _STRENGTH[cond])
                for a, strength in ancestors(dep).items():
                    out[a] = max(out.get(a, 0), strength)
            reach[name] = out
        return reach[name]

    implied = set()
    for name, deps in w.items():
        for dep, (cond, _) in deps.items():
            if any(ancestors(y).get(dep, 0) >= _STRENGTH[cond]
                   for y, (_, req) in deps.items() if y != dep and req):
                implied.add((dep, name))
    return implied


def plan_mermaid(plan: Plan) -> str:
    """`flowchart LR`, one node per service and per hook; see the module docstring."""
    return _mermaid(plan, in_plan_order(plan))


def _mermaid(plan: Plan, targets: list[ServicePlan],
             shared: tuple[Any, ...] | None = None) -> str:
    """The nodes of ``targets`` (and their hooks) with every drawn wait into them; the
    services they wait for are drawn as nodes too. ``shared``: :func:`_graph_facts` of the
    plan, when one plan is drawn as several graphs (each wave's)."""
    lines = ["flowchart LR"]
    edges: list[str] = []
    kinds, ids, w, implied = shared or _graph_facts(plan)
    drawn: set[str] = set()
    used: set[str] = set()

    def node(name: str) -> None:
        if name not in drawn:
            drawn.add(name)
            sp = plan.service(name)
            used.add(kinds[name])
            lines.append(_node_line(ids[name], kinds[name], name,
                                    _service_detail(sp, kinds[name])))

    for sp in targets:
        hooks = _hooks(plan, sp)
        for h in hooks:
            used.add("hook")
            lines.append(_node_line(ids[h.id], "hook", h.id,
                                    f"hook<br>timeout {format_duration(h.timeout_s)}"))
        node(sp.name)
        chain = [ids[h.id] for h in hooks] + [ids[sp.name]]
        for dep, (cond, required) in sorted(w[sp.name].items(), key=lambda i: _natural(i[0])):
            if (dep, sp.name) in implied:
                continue
            arrow = "-->" if required else "-.->"
            label = "" if cond == _default_condition(kinds[dep]) else f"|{_SHORT[cond]}|"
            edges.append((dep, f"    {ids[dep]} {arrow}{label} {chain[0]}"))
        for x, y in zip(chain, chain[1:]):
            edges.append((None, f"    {x} --> {y}"))
    for dep, _ in edges:
        if dep is not None:
            node(dep)
    lines.extend(line for _, line in edges)
    for k in sorted(used):
        if k in _CLASSES:
            lines.append(f"    classDef {k} {_CLASSES[k]}")
    return "\n".join(lines)


def _graph_facts(plan: Plan) -> tuple[Any, ...]:
    """What every graph of a plan is drawn from: kinds, node ids, waits and implied waits."""
    kinds = {sp.name: service_kind(sp) for sp in plan.services}
    ids = node_ids([sp.name for sp in plan.services] + [
        st.id for st in plan.steps if st.kind == "pre_start"])
    return kinds, ids, waits(plan), implied_waits(plan)


def service_layers(plan: Plan) -> list[list[ServicePlan]]:
    """Services by layer: 0 waits for nothing, n waits for something in layer n-1."""
    w = waits(plan)
    layer: dict[str, int] = {}
    for sp in in_plan_order(plan):  # dependencies come first
        layer[sp.name] = 1 + max((layer[d] for d in w[sp.name]), default=-1)
    out: list[list[ServicePlan]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for sp in in_plan_order(plan):
        out[layer[sp.name]].append(sp)
    return out


# past these sizes one graph, scaled to the UI's text column, is too small to read
WAVES_ABOVE_SERVICES = 12
WAVES_ABOVE_LAYERS = 4


def plan_graph_markdown(plan: Plan) -> str:
    """One graph for a small plan; for a large one a graph per wave (the services of one
    layer and what they wait for), each narrow enough to read at the UI's column width."""
    layers = service_layers(plan)
    if len(plan.services) <= WAVES_ABOVE_SERVICES and len(layers) <= WAVES_ABOVE_LAYERS:
        return f"```mermaid\n{plan_mermaid(plan)}\n```\n"
    parts = [f"{len(layers)} waves: each graph shows the services of one wave (on the right) "
             "and what they wait for (on the left).\n"]
    shared = _graph_facts(plan)  # once, not once a wave (10 waves of 200 services: 50 ms)
    for i, layer in enumerate(layers, 1):
        names = ", ".join(sp.name for sp in layer[:6]) + (", ..." if len(layer) > 6 else "")
        parts.append(f"### Wave {i} of {len(layers)}: {len(layer)} "
                     f"{'service' if len(layer) == 1 else 'services'} ({names})\n\n"
                     f"```mermaid\n{_mermaid(plan, layer, shared)}\n```\n")
    return "\n".join(parts)


def _required(plan: Plan, sp: ServicePlan, dep: str) -> bool:
    first = plan.step(sp.steps[0])
    return all(e.required for e in first.upstream if e.service == dep)


def plan_table_markdown(plan: Plan) -> str:
    rows = ["| service | kind | image | waits for | timeout |", "|---|---|---|---|---|"]
    names = {p.name for p in plan.services}
    for s in in_plan_order(plan):
        deps = ", ".join(f"{d} ({_SHORT[c]}{'' if _required(plan, s, d) else ', optional'})"
                         for d, c in s.depends_on.items() if d in names) or "-"
        kind = service_kind(s)
        hooks = _hooks(plan, s)
        if hooks:
            kind += f" + {len(hooks)} pre_start {'hook' if len(hooks) == 1 else 'hooks'}"
        timeout = format_duration(s.timeout_s) if s.timeout_s else (
            f"healthy within {format_duration(s.healthy_timeout_s)}"
            if s.healthy_timeout_s else "-")
        rows.append(f"| {s.name} | {kind} | {s.image or '-'} | {deps} | {timeout} |")
    return "\n".join(rows)


def plan_overview(plan: Plan) -> str:
    """One sentence: how many services of each kind, how many steps."""
    counts: dict[str, int] = {}
    for sp in plan.services:
        counts[service_kind(sp)] = counts.get(service_kind(sp), 0) + 1
    words = {"service": ("long-running service", "long-running services"),
             "job": ("job", "jobs"), "scheduled": ("scheduled job", "scheduled jobs"),
             "provider": ("provider", "providers")}
    parts = [f"{n} {words.get(k, (k, k))[n != 1]}" for k, n in sorted(counts.items())]
    return (f"{len(plan.services)} services ({', '.join(parts)}), "
            f"{len(plan.steps)} steps.")


def plan_artifact_markdown(plan: Plan) -> str:
    """The plan artifact: title, overview, the table, then the graph and its legend."""
    return (f"# Plan for {plan.project}\n\n{plan_overview(plan)}\n\n"
            f"{plan_table_markdown(plan)}\n\n## Graph\n\n{LEGEND}\n\n"
            f"{plan_graph_markdown(plan)}")
