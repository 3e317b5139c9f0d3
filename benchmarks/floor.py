"""The floor of a graph: what any tool must spend on this engine to deploy it.

Plain docker SDK, in this process; the network and every container are created before the
clock starts, so what is timed is only the starts and the waits the graph itself imposes:
each service starts as soon as its upstreams are started / healthy / completed (one thread
per service, engine events for exits and health, no polling), and the clock stops when every
job has completed and every service is started (healthy, if it has a healthcheck, as
`docker-compose up --wait` requires).

For an unchanged redeploy the services are started (and healthy) before the clock starts, and
only the jobs run again: that is all a redeploy has to do.
"""

from __future__ import annotations

import contextlib
import threading
import time

import docker

from harness import PROJECT_LABEL, SERVICE_LABEL, teardown


def _is_job(svc: dict) -> bool:
    return svc.get("restart") == "no"


class _Watch:
    """Exits and health from one event stream."""

    def __init__(self, client: docker.DockerClient, project: str) -> None:
        self.cond = threading.Condition()
        self.died: dict[str, int] = {}
        self.healthy: set[str] = set()
        self._stream = client.api.events(decode=True, filters={
            "type": "container", "label": f"{PROJECT_LABEL}={project}"})
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            for e in self._stream:
                cid, action = e.get("id", ""), e.get("Action", "")
                with self.cond:
                    if action == "die":
                        attrs = (e.get("Actor") or {}).get("Attributes") or {}
                        self.died[cid] = int(attrs.get("exitCode", "0"))
                    elif action == "health_status: healthy":
                        self.healthy.add(cid)
                    self.cond.notify_all()

    def wait(self, pred, timeout: float = 120) -> None:
        with self.cond:
            if not self.cond.wait_for(pred, timeout):
                raise TimeoutError("floor: the engine did not report in time")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()


def _create(client: docker.DockerClient, project: str, net: str, name: str, svc: dict) -> str:
    hc = svc.get("healthcheck")
    healthcheck = None
    if hc:
        healthcheck = {"test": hc["test"], "interval": int(1e9), "timeout": int(2e9),
                       "retries": int(hc.get("retries", 3))}
    c = client.api.create_container(
        svc["image"], command=svc["command"], name=f"{project}-{name}-1",
        labels={PROJECT_LABEL: project, SERVICE_LABEL: name}, healthcheck=healthcheck,
        host_config=client.api.create_host_config(network_mode=net),
        stop_signal="SIGTERM")
    return c["Id"]


def measure(doc: dict, project: str, redeploy: bool = False) -> float:
    """Seconds from the first start to the graph deployed, everything pre-created."""
    client = docker.from_env(max_pool_size=256)
    services = doc["services"]
    teardown(client, project)
    net = f"{project}_default"
    try:
        client.api.create_network(net, labels={PROJECT_LABEL: project}, check_duplicate=True)
    except docker.errors.APIError as exc:  # a loaded engine can keep a removed network's
        if exc.status_code != 409:          # endpoint ("active endpoints"): reuse it
            raise
    watch = _Watch(client, project)
    try:
        ids = {name: _create(client, project, net, name, svc) for name, svc in services.items()}
        if redeploy:  # the services run already; the jobs ran once and exited
            _run_graph(client, watch, services, ids, jobs_only=False)
        t0 = time.perf_counter()
        _run_graph(client, watch, services, ids, jobs_only=redeploy)
        return time.perf_counter() - t0
    finally:
        watch.close()
        teardown(client, project)
        client.close()


def _run_graph(client, watch: _Watch, services: dict, ids: dict, jobs_only: bool) -> None:
    started = {n: threading.Event() for n in services}
    healthy = {n: threading.Event() for n in services}
    completed = {n: threading.Event() for n in services}
    errors: list[BaseException] = []
    already = {ids[n] for n in services} if jobs_only else set()

    def one(name: str) -> None:
        try:
            svc = services[name]
            for dep, spec in (svc.get("depends_on") or {}).items():
                ev = {"service_started": started, "service_healthy": healthy,
                      "service_completed_successfully": completed}[spec["condition"]][dep]
                if not ev.wait(120):
                    raise TimeoutError(f"floor: {dep} never got ready")
            cid = ids[name]
            if jobs_only and not _is_job(svc):  # running and healthy already
                started[name].set(), healthy[name].set()
                return
            if _is_job(svc):
                with watch.cond:
                    watch.died.pop(cid, None)
                client.api.start(cid)
                started[name].set()
                watch.wait(lambda: cid in watch.died)
                if watch.died[cid] != 0:
                    raise RuntimeError(f"floor: job {name} failed")
                completed[name].set()
                return
            client.api.start(cid)
            started[name].set()
            if svc.get("healthcheck") and cid not in already:
                watch.wait(lambda: cid in watch.healthy)
            healthy[name].set()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            for ev in (started, healthy, completed):
                ev[name].set()

    threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
