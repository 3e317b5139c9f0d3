"""Where an `up` spends its time: the PREFECT_COMPOSE_TRACE phase marks, median of N runs.

    uv run python benchmarks/phases.py [--runs 3] [--down] -- -p PROJECT -f compose.yaml up

Runs `prefect-compose ARGS` N times with PREFECT_COMPOSE_TRACE=1 (with --down, `down` of the
same project before each run: a first deploy each time) and prints, per phase mark, the median
time since process start and the median time since the previous mark.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys

MARK = re.compile(r"^trace \+(\d+\.\d+)s (.+)$")


def run_once(args: list[str], down: bool) -> list[tuple[str, float]]:
    cmd = [sys.executable, "-m", "prefect_compose.cli.main", *args]
    if down:
        up = args.index("up") if "up" in args else len(args)
        subprocess.run([*cmd[:3], *args[:up], "down"], capture_output=True, check=False)
    env = {**os.environ, "PREFECT_COMPOSE_TRACE": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"exit {proc.returncode}:\n{proc.stderr[-2000:]}")
    return [(m.group(2), float(m.group(1))) for line in proc.stderr.splitlines()
            if (m := MARK.match(line))]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--down", action="store_true")
    p.add_argument("args", nargs=argparse.REMAINDER)
    ns = p.parse_args()
    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    runs = [run_once(args, ns.down) for _ in range(ns.runs)]
    names = [n for n, _ in runs[0]]
    print(f"{'phase':40} {'at (median)':>12} {'step (median)':>14}")
    for i, name in enumerate(names):
        at = [dict(r).get(name) for r in runs]
        at = [a for a in at if a is not None]
        steps = []
        for r in runs:
            d = dict(r)
            if name in d and (i == 0 or names[i - 1] in d):
                steps.append(d[name] - (d[names[i - 1]] if i else 0.0))
        print(f"{name:40} {statistics.median(at):>11.3f}s {statistics.median(steps):>13.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
