"""Deploy the bundled example with prefect-compose and with Docker Compose v2, side by side.

    uv run prefect-compose server start     # measured against a kept Prefect server
    uv run python benchmarks/deploy.py [--repeat 3]

For each tool: a first deploy on a clean engine (network, volume, build, db healthy, migrate
job, web healthy, warm-cache job), then a redeploy of the unchanged file (jobs run again,
services left running), then teardown. Compose runs as `docker-compose up -d --wait` (its
jobs are plain containers there, and it exits 1 once one has exited: only its time counts).
Wall-clock seconds, median of --repeat runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "release"


def _compose() -> str:
    import compose

    return str(Path(compose.__file__).parent / "docker-compose")


def timed(cmd: list[str], check: bool = True) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=EXAMPLE, check=check, capture_output=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ours = [sys.executable, "-m", "prefect_compose.cli.main", "-p", "bench-ours"]
    theirs = [_compose(), "-p", "bench-compose"]
    results: dict[str, dict[str, list[float]]] = {"prefect-compose": {}, "compose v2": {}}
    for _ in range(args.repeat):
        for name, base, up in (("prefect-compose", ours, ["up"]),
                               ("compose v2", theirs, ["up", "-d", "--wait"])):
            r = results[name]
            # Compose's `--wait` exits 1 here once a job container has exited (migrate is no
            # completion target for it): it has waited all the same, so only time it
            check = name == "prefect-compose"
            r.setdefault("first deploy", []).append(timed(base + up, check))
            r.setdefault("redeploy (unchanged)", []).append(timed(base + up, check))
            r.setdefault("down -v", []).append(timed(base + ["down", "-v"]))
    print("| step | prefect-compose | Docker Compose v2 |")
    print("|---|---:|---:|")
    for step in results["prefect-compose"]:
        a = statistics.median(results["prefect-compose"][step])
        b = statistics.median(results["compose v2"][step])
        print(f"| {step} | {a:.1f} s | {b:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
