"""How long `plan` takes to refuse the alias bomb of tests/fixtures/invalid/alias_bomb.yaml
(a YAML "billion laughs"), and how long Docker Compose v2 spends on the same file.

    uv run python benchmarks/alias_bomb.py [--repeat 5] [--compose-timeout 10]

The unit test only checks the verdict (exit 2, "alias bomb"); the time is measured here,
because a loaded machine makes any bound in a test flaky. Ours refuses it in-process after
counting nodes (no expansion); Compose expands it and is killed after --compose-timeout s.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import time
from pathlib import Path

FIXTURE = (Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "invalid"
           / "alias_bomb.yaml")


def ours(repeat: int) -> list[float]:
    from prefect_compose.cli.main import main

    os.chdir(FIXTURE.parent)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):
            code = main(["plan", "-f", FIXTURE.name])
        times.append(time.perf_counter() - started)
        assert code == 2, code
    return times


def compose(timeout: float) -> str:
    import compose as compose_pkg

    binary = Path(compose_pkg.__file__).resolve().parent / "docker-compose"
    started = time.perf_counter()
    try:
        env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
        proc = subprocess.run([str(binary), "-f", FIXTURE.name, "config"], cwd=FIXTURE.parent,
                              capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return f"still running after {timeout:g} s (killed)"
    return f"exit {proc.returncode} after {time.perf_counter() - started:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compose-timeout", type=float, default=10.0)
    args = parser.parse_args()
    times = ours(args.repeat)
    print(f"prefect-compose plan: refused in median {statistics.median(times) * 1000:.1f} ms "
          f"(max {max(times) * 1000:.1f} ms, {args.repeat} runs)")
    print(f"docker compose config: {compose(args.compose_timeout)}")


if __name__ == "__main__":
    main()
