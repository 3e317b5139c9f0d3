"""How fast `prefect-compose up` reacts: timeouts, failures, SIGINT and a cancel from Prefect.

    uv run python benchmarks/latency.py [--rounds 3] [--port 14890]

Against a kept server (`prefect-compose server start` under its own home and port). Every
figure is taken from the engine's own event timestamps (start, die, destroy), so it includes
nothing of this script's polling:

    timeout   a job `sleep 30` (PID 1, ignores SIGTERM) with `x-prefect.timeout: 2s` and
              `stop_grace_period: 1s`: destroy - (start + 2 s + 1 s), i.e. past the grace period
    failure   a job exits 3 after 1 s while a sibling job runs: the failing job's die ->
              the sibling's die
    sigint    SIGINT to `up` while a job and a service run: signal -> the last container this
              run started has died (and -> the process exited)
    cancel    the flow run set to CANCELLING through the Prefect API while a job and a service
              run: request -> the last container died (and -> the process exited)
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import docker  # noqa: E402

from harness import (FLOW_RUN_LABEL, EventRecorder, kept_server, machine, median,  # noqa: E402
                     ours_command, teardown, write_project)

IMAGE = "busybox:latest"
TRAPPING = ["sh", "-c", "trap 'exit 0' TERM; sleep 60 & wait"]

DOCS = {
    "timeout": {"services": {"slow": {
        "image": IMAGE, "restart": "no", "command": ["sleep", "30"], "stop_grace_period": "1s",
        "x-prefect": {"timeout": "2s"}}}},
    "failure": {"services": {
        "fails": {"image": IMAGE, "restart": "no", "command": ["sh", "-c", "sleep 1; exit 3"]},
        "sibling": {"image": IMAGE, "restart": "no", "command": TRAPPING,
                    "stop_grace_period": "1s"}}},
    "interrupt": {"services": {
        "svc": {"image": IMAGE, "command": TRAPPING, "stop_grace_period": "1s"},
        "job": {"image": IMAGE, "restart": "no", "command": TRAPPING,
                "stop_grace_period": "1s"}}},
}


def _spawn(file: Path, project: str, env: dict, log: Path) -> tuple[subprocess.Popen, float]:
    out = open(log, "ab")  # noqa: SIM115 - closed with the process
    t = time.time()
    proc = subprocess.Popen([*ours_command(), "-p", project, "-f", str(file), "up"],
                            cwd=file.parent, env=env, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, preexec_fn=_default_sigint)
    return proc, t


def _default_sigint() -> None:
    # a shell runs background jobs with SIGINT ignored, and Python keeps it ignored
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _latest(evs, action, service=None):
    ts = [e.t for e in evs if e.action == action and (service is None or e.service == service)]
    return max(ts) if ts else None


def one_timeout(file, project, env, events, log) -> float:
    proc, t = _spawn(file, project, env, log)
    proc.wait(timeout=120)
    evs = events.query(project, t)
    start = _latest(evs, "start", "slow")
    gone = _latest(evs, "destroy", "slow")
    return gone - (start + 2.0 + 1.0)


def one_failure(file, project, env, events, log) -> float:
    proc, t = _spawn(file, project, env, log)
    proc.wait(timeout=120)
    evs = events.query(project, t)
    return _latest(evs, "die", "sibling") - _latest(evs, "die", "fails")


def one_interrupt(file, project, env, events, log, server_url: str, how: str
                  ) -> tuple[float, float]:
    proc, t = _spawn(file, project, env, log)
    ok = events.wait_for(project, t, lambda evs: {e.service for e in evs
                                                  if e.action == "start"} >= {"svc", "job"}, 120)
    if not ok:
        proc.kill()
        raise RuntimeError(f"{how}: containers never started; see {log}")
    time.sleep(0.5)
    started = [e for e in events.query(project, t, "start")]
    cids = {e.cid for e in started}
    t_sig = time.time()
    if how == "sigint":
        proc.send_signal(signal.SIGINT)
    else:
        run_id = started[0].attrs.get(FLOW_RUN_LABEL)
        body = json.dumps({"state": {"type": "CANCELLING", "name": "Cancelling"},
                           "force": True}).encode()
        req = urllib.request.Request(f"{server_url}/flow_runs/{run_id}/set_state", data=body,
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()
    proc.wait(timeout=120)
    t_exit = time.time()
    events.wait_for(project, t, lambda evs: cids <= {e.cid for e in evs if e.action == "die"},
                    10)
    dies = [e.t for e in events.query(project, t, "die") if e.cid in cids]
    if len(dies) < len(cids):
        return float("inf"), t_exit - t_sig
    return max(dies) - t_sig, t_exit - t_sig


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--port", type=int, default=14890)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="pc-latency-"))
    workdir.mkdir(parents=True, exist_ok=True)
    client = docker.from_env()
    events = EventRecorder()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    server = kept_server(workdir, args.port)
    results: dict[str, list] = {}
    try:
        files = {k: write_project(workdir, k, doc) for k, doc in DOCS.items()}
        log = workdir / "latency.log"
        for _ in range(args.rounds):
            for key, fn in (("timeout", one_timeout), ("failure", one_failure)):
                project = f"bench-lat-{key}"
                teardown(client, project)
                results.setdefault(key, []).append(fn(files[key], project, server.env, events,
                                                      log))
                teardown(client, project)
            for how in ("sigint", "cancel"):
                project = f"bench-lat-{how}"
                teardown(client, project)
                results.setdefault(how, []).append(one_interrupt(
                    files["interrupt"], project, server.env, events, log, server.url, how))
                teardown(client, project)
            print(f"  round: {results}", file=sys.stderr, flush=True)
    finally:
        server.stop()
        events.close()
    print(f"{started}; {machine()}")
    print("| what | median | min | max | target |")
    print("|---|---:|---:|---:|---:|")
    rows = [("job timeout -> container gone, past the grace period", "timeout", None, "1 s"),
            ("a job fails -> its running sibling stopped (die -> die)", "failure", None, "1 s"),
            ("SIGINT -> every container this run started stopped", "sigint", 0, "2 s"),
            ("SIGINT -> `up` exited", "sigint", 1, "-"),
            ("cancel via the API -> every container stopped", "cancel", 0, "-"),
            ("cancel via the API -> `up` exited", "cancel", 1, "-")]
    for label, key, idx, target in rows:
        xs = [x if idx is None else x[idx] for x in results[key]]
        print(f"| {label} | {median(xs):.2f} s | {min(xs):.2f} s | {max(xs):.2f} s | "
              f"{target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
