"""Prefect's own CLI and a real process worker, for the tests that go through deployments
(test_prefect_ops.py, test_many_engines.py): `prefect deployment run`, `prefect flow-run
cancel`, and `prefect worker start --pool POOL` in a directory of the test's choosing."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

PREFECT = str(Path(sys.executable).with_name("prefect"))


def prefect_cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([PREFECT, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PREFECT_CLI_COLORS": "false"})


def deployment_run(name: str, *params: str, cwd: Path) -> str:
    """`prefect deployment run NAME --param ...`; returns the new flow run's id."""
    argv = ["deployment", "run", name]
    for p in params:
        argv += ["--param", p]
    proc = prefect_cli(*argv, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in proc.stdout.splitlines():
        if "UUID:" in line:
            return line.split("UUID:", 1)[1].strip()
    raise AssertionError(f"no flow run id in: {proc.stdout}")


class Worker:
    """`prefect worker start --pool POOL` in `cwd`, in its own process group, polling every
    second; stopped (SIGTERM, then SIGKILL) by `stop()`."""

    def __init__(self, pool: str, cwd: Path, log: Path,
                 env: dict[str, str] | None = None) -> None:
        self.log = log
        env = {**os.environ, "PREFECT_WORKER_QUERY_SECONDS": "1",
               "PREFECT_WORKER_PREFETCH_SECONDS": "5", **(env or {})}
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([PREFECT, "worker", "start", "--pool", pool],
                                         cwd=cwd, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the flow processes it started

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])
