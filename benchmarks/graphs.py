"""The compose graphs the deploy benchmark runs, as plain dicts (written out as compose.yaml).

Every graph runs on the local `busybox:latest` only, publishes no host port (two projects run
side by side), and ends in a long-running service wherever it would otherwise end in a job:
`docker-compose up -d --wait` returns once its containers are running, so a trailing job would
let Compose stop the clock before the job has finished while ours waits for it.

    release  db healthy on a 1 s probe -> migrate and warm jobs (1 s each) -> 10 services
    chain    ten 1 s jobs, each waiting for the one before to complete, then one service
    wide     50 independent services
    dag200   200 services in 10 layers of 20; each waits for 1-3 services of the layer
             before it to have started
"""

from __future__ import annotations

IMAGE = "busybox:latest"
# a service that stops at once on SIGTERM (busybox sleep as PID 1 would ignore it)
SERVE = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


def _job(seconds: float) -> dict:
    return {"image": IMAGE, "restart": "no",
            "command": ["sh", "-c", f"echo working; sleep {seconds}; echo done"]}


def _service(**extra) -> dict:
    return {"image": IMAGE, "command": SERVE, "stop_grace_period": "1s", **extra}


def release() -> dict:
    services: dict[str, dict] = {
        "db": {"image": IMAGE, "stop_grace_period": "1s",
               "command": ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && "
                                       "exec httpd -f -p 5432 -h /www"],
               "healthcheck": {"test": ["CMD", "wget", "-q", "-O", "/dev/null",
                                        "http://localhost:5432/"],
                               "interval": "1s", "timeout": "2s", "retries": 30}},
        "migrate": {**_job(1), "depends_on": {"db": {"condition": "service_healthy"}}},
        "warm": {**_job(1), "depends_on": {"db": {"condition": "service_healthy"}}},
    }
    for i in range(10):
        services[f"app{i}"] = _service(depends_on={
            "migrate": {"condition": "service_completed_successfully"},
            "warm": {"condition": "service_completed_successfully"}})
    return {"services": services}


def chain(n: int = 10) -> dict:
    services: dict[str, dict] = {}
    for i in range(n):
        job = _job(1)
        if i:
            job["depends_on"] = {f"job{i - 1}": {"condition": "service_completed_successfully"}}
        services[f"job{i}"] = job
    services["tail"] = _service(depends_on={
        f"job{n - 1}": {"condition": "service_completed_successfully"}})
    return {"services": services}


def wide(n: int = 50) -> dict:
    return {"services": {f"svc{i}": _service() for i in range(n)}}


def dag(n: int = 200, width: int = 20) -> dict:
    services: dict[str, dict] = {}
    for i in range(n):
        layer, pos = divmod(i, width)
        svc = _service()
        if layer:
            deps = {}
            for k in range(1 + i % 3):
                j = (layer - 1) * width + (pos + k) % width
                deps[f"svc{j}"] = {"condition": "service_started"}
            svc["depends_on"] = deps
        services[f"svc{i}"] = svc
    return {"services": services}


GRAPHS = {"release": release, "chain": chain, "wide": wide, "dag200": dag}


def critical_path_steps(doc: dict) -> int:
    """Steps on the longest path, counted as our plan counts them: a service's start, a
    healthcheck wait, a job (start to exit) are one step each."""
    services = doc["services"]
    memo: dict[str, int] = {}

    def depth(name: str) -> int:  # steps up to and including this service being "ready"
        if name not in memo:
            svc = services[name]
            before = 0
            for dep, spec in (svc.get("depends_on") or {}).items():
                extra = 1 if spec["condition"] == "service_healthy" else 0
                before = max(before, depth(dep) + extra)
            memo[name] = before + 1
        return memo[name]

    return max(depth(s) for s in services)
