"""Where a critical-path step's time goes, from the engine's own event timestamps.

    uv run python benchmarks/steps.py [--runs 2] [--jobs 10] [--python PATH ...]

Deploys the chain graph (benchmarks/graphs.py: ten 1-second jobs in a row, then a service)
with `prefect-compose up` against one kept server, and for each job after the first prints the
gaps between the previous job's `die` and this job's `create` and `start`, the previous job's
`destroy` (its removal) and the job's own run (`start` -> `die`). Each `--python` is the
interpreter of a checkout to measure (default: this one), run in turn A B A B, so old and new
code can be compared on the same server and engine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import docker  # noqa: E402

import graphs  # noqa: E402
from harness import EventRecorder, kept_server, machine, teardown, timed_run, write_project  # noqa: E402


def gaps(events: list, n: int) -> list[dict]:
    """Per job i >= 1: ms from job i-1's die to job i's create / start, and job i-1's
    destroy; and job i's run (start -> die) in ms."""
    first: dict[tuple[str, str], float] = {}
    for e in events:
        first.setdefault((e.service, e.action), e.t)
    out = []
    for i in range(1, n):
        prev, cur = f"job{i - 1}", f"job{i}"
        die = first.get((prev, "die"))
        if die is None:
            continue

        def ms(key: tuple[str, str], base: float = die) -> float | None:
            t = first.get(key)
            return None if t is None else round((t - base) * 1000, 1)
        out.append({"step": cur, "die->create": ms((cur, "create")),
                    "die->start": ms((cur, "start")), "die->destroy": ms((prev, "destroy")),
                    "run": ms((cur, "die"), first.get((cur, "start"), die))})
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=10)
    ap.add_argument("--port", type=int, default=14890)
    ap.add_argument("--python", action="append", default=None,
                    help="interpreter of the checkout to run (repeatable; default: this one)")
    args = ap.parse_args()
    pythons = args.python or [sys.executable]
    workdir = Path(tempfile.mkdtemp(prefix="pc-steps-"))
    file = write_project(workdir, "chain", graphs.chain(args.jobs))
    client = docker.from_env()
    events = EventRecorder()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}", flush=True)
    server = kept_server(workdir, args.port)
    results: dict[str, list] = {p: [] for p in pythons}
    try:
        for r in range(args.runs):
            for py in pythons:
                project = f"bench-steps-{r}-{pythons.index(py)}"
                teardown(client, project)
                t0 = time.time()
                res = timed_run([py, "-m", "prefect_compose.cli.main", "-p", project, "-f",
                                 str(file), "up"], cwd=file.parent, env=server.env,
                                project=project, events=events, server=None,
                                log=workdir / "up.log")
                time.sleep(0.3)
                g = gaps(events.query(project, t0), args.jobs)
                results[py].append((res.wall, g))
                teardown(client, project)
                starts = [x["die->start"] for x in g if x["die->start"] is not None]
                print(f"run {r + 1} {py}: rc {res.rc}, wall {res.wall:.2f} s, die->start "
                      f"median {statistics.median(starts):.0f} ms" if starts else
                      f"run {r + 1} {py}: rc {res.rc}, no gaps (see {workdir}/up.log)",
                      flush=True)
    finally:
        server.stop()
        events.close()
    for py, runs in results.items():
        print(f"\n{py}")
        print("| step | die->create ms | die->start ms | die->destroy (prev) ms | run ms |")
        print("|---|---:|---:|---:|---:|")
        rows = [row for _, g in runs for row in g]
        for row in rows:
            print(f"| {row['step']} | {row['die->create']} | {row['die->start']} | "
                  f"{row['die->destroy']} | {row['run']} |")
        for key in ("die->create", "die->start", "die->destroy", "run"):
            vals = [row[key] for row in rows if row[key] is not None]
            if vals:
                print(f"median {key}: {statistics.median(vals):.0f} ms")
        print(f"walls: {', '.join(f'{w:.2f} s' for w, _ in runs)}")
    print(f"\n{machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
