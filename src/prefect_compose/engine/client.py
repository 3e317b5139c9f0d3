"""The Docker adapter: :class:`Engine`, one connection to one engine.

Everything the runtime does to the engine goes through it. It speaks in docker-level,
already-resolved terms (:class:`~prefect_compose.plan.specs.ContainerSpec`), never in Compose
terms, and it never decides anything: it creates, starts, waits, stops and removes what it is
told to. Its operations are grouped by job: this module (connection and containers),
``events`` (waiting), ``logs``, ``images``, ``resources`` (networks and volumes); errors come
out as the EngineError family (``translate``).

Waiting never kills anything: a wait that runs out returns, and the caller stops the
container (timeouts are enforced on containers, never by interrupting threads). Only objects
that carry the project's ``com.docker.compose.project`` label are ever listed for removal.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import docker

from prefect_compose.errors import EngineError, EngineUnavailable, ResourceNotFound
from prefect_compose.engine.apiconfig import (container_config, container_info, file_archive,
                                             in_order, row_info)
from prefect_compose.engine.events import EventHub, Subscription, block
from prefect_compose.engine.images import ImagesMixin
from prefect_compose.engine.logs import LogsMixin
from prefect_compose.engine.resources import ResourcesMixin
from prefect_compose.engine.translate import translated
from prefect_compose.trace import mark
from prefect_compose.plan.labels import LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE
from prefect_compose.plan.specs import ContainerInfo, ContainerSpec


def _default_where() -> str:
    return os.environ.get("DOCKER_HOST") or "the local socket (unix:///var/run/docker.sock)"


NAME_FILTER_MAX = 16  # rows_named: more names than this, one list of all containers

class Engine(LogsMixin, ImagesMixin, ResourcesMixin):
    """One connection to one Docker engine. Thread-safe; create it inside the task that uses
    it (a docker client cannot be pickled) and ``close()`` it when done."""

    def __init__(self, client: docker.DockerClient, where: str | None = None) -> None:
        self.where = where or _default_where()  # named when the engine is unreachable
        self._client = client
        self._api = client.api
        self._hub = EventHub(self._api)
        self._streams: set[Any] = set()  # open log responses, closed by close()
        self._lock = threading.Lock()

    # -- connection --

    @classmethod
    def connect(cls, docker_host_block: str | None = None) -> Engine:
        """Connect through a prefect-docker ``DockerHost`` block when named, else through
        DOCKER_HOST / the local socket; raise EngineUnavailable when the engine does not
        answer."""
        where = _default_where()
        client = None
        if docker_host_block:
            try:
                from prefect_docker.host import DockerHost  # lazy: prefect is slow to import

                host = DockerHost.load(docker_host_block)
            except Exception as exc:  # noqa: BLE001
                raise EngineUnavailable(
                    f"Docker host block {docker_host_block!r} could not be loaded: {exc}") from exc
            where = f"{host.base_url or where} (DockerHost block {docker_host_block!r})"
        try:
            if docker_host_block:
                client = host.get_client()
            else:
                client = docker.from_env(max_pool_size=32)
            client.ping()
        except Exception as exc:  # noqa: BLE001 - every failure here means "unreachable"
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
            raise EngineUnavailable(f"Docker engine unreachable at {where}: {exc}") from exc
        return cls(client, where)

    @property
    def client(self) -> docker.DockerClient:
        return self._client

    def close(self) -> None:
        """Stop the event reader and the log followers, close the client."""
        self._hub.close()
        with self._lock:
            streams, self._streams = list(self._streams), set()
        for res in streams:
            self._shutdown_stream(res)
        with contextlib.suppress(Exception):
            self._client.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- containers: lifecycle --

    def create(self, spec: ContainerSpec) -> str:
        """Create the container (not started) and connect its extra networks; return its id.
        On any failure nothing is left behind."""
        config = container_config(spec)
        with translated(f"create container {spec.name or spec.image}", self.where):
            cid = self._api.create_container_from_config(config, name=spec.name)["Id"]
        try:
            if spec.files:
                with translated(f"write secrets and configs into {spec.name or cid[:12]}", self.where):
                    self._api.put_archive(cid, "/", file_archive(spec.files))
            for net, aliases in sorted(spec.extra_networks.items()):
                with translated(f"connect {spec.name or cid[:12]} to network {net}", self.where):
                    ips = spec.addresses.get(net) or {}
                    self._api.connect_container_to_network(
                        cid, net, aliases=list(aliases) or None,
                        ipv4_address=ips.get("IPv4Address"), ipv6_address=ips.get("IPv6Address"),
                        link_local_ips=ips.get("LinkLocalIPs"),
                        driver_opt=dict(spec.endpoint_driver_opts.get(net) or {}) or None)
        except BaseException:
            with contextlib.suppress(EngineError):
                self.remove(cid, force=True)
            raise
        return cid

    def start(self, cid: str) -> None:
        with translated(f"start container {cid}", self.where):
            self._api.start(cid)
        mark("engine: first container started", once=True)

    def stop(self, cid: str, grace_s: float) -> None:
        """Send the container's stop signal, then SIGKILL after ``grace_s`` (rounded up to a
        whole second: the engine's unit). A container that is gone or stopped is fine."""
        with contextlib.suppress(ResourceNotFound), translated(f"stop container {cid}", self.where):
            self._api.stop(cid, timeout=max(0, math.ceil(grace_s)))

    def kill(self, cid: str) -> None:
        self._tolerant(f"kill container {cid}", "is not running", self._api.kill, cid)

    def remove(self, cid: str, force: bool = True, volumes: bool = False) -> None:
        self._tolerant(f"remove container {cid}", "already in progress",
                       self._api.remove_container, cid, v=volumes, force=force)

    def rename(self, cid: str, new_name: str) -> None:
        with translated(f"rename container {cid} to {new_name}", self.where):
            self._api.rename(cid, new_name)

    def _tolerant(self, what: str, fine: str, call: Callable[..., Any], *args: Any,
                  **kwargs: Any) -> None:
        """``call``, where a container that is gone, or an error saying ``fine``, is fine."""
        try:
            with translated(what, self.where):
                call(*args, **kwargs)
        except ResourceNotFound:
            pass
        except EngineError as exc:
            if fine not in str(exc):
                raise

    def inspect(self, cid: str) -> dict:
        with translated(f"inspect container {cid}", self.where):
            return self._api.inspect_container(cid)

    def info(self, cid: str) -> ContainerInfo:
        return container_info(self.inspect(cid))

    def list_containers(self, project: str, service: str | None = None,
                        oneoff: bool | None = None, all: bool = True,  # noqa: A002
                        extra_labels: Mapping[str, str] | None = None,
                        inspect: bool = True) -> list[ContainerInfo]:
        """The containers labelled with ``project`` (and nothing else), sorted by service,
        number and name. ``inspect=False``: from the one list call only (id, name, service,
        state, labels, image; no health, exit code or creation time), no inspect each (200
        inspects cost 0.4 s)."""
        wanted = {LABEL_PROJECT: project, **(extra_labels or {})}
        if service is not None:
            wanted[LABEL_SERVICE] = service
        if oneoff is not None:
            wanted[LABEL_ONEOFF] = "True" if oneoff else "False"
        result = self._containers_with(wanted, all=all, what=f"containers of project {project}",
                                       inspect=inspect)
        return in_order(result)

    def container_rows(self, project: str, oneoff: bool | None = None) -> list[dict]:
        """The project's containers as one list call reports them (no inspect each): ``Id``,
        ``Names``, ``State``, ``ImageID``, ``Labels``, ... (what converge observes)."""
        wanted = {LABEL_PROJECT: project}
        if oneoff is not None:
            wanted[LABEL_ONEOFF] = "True" if oneoff else "False"
        with translated(f"list containers of project {project}"):
            rows = self._api.containers(all=True, filters={
                "label": [f"{k}={v}" for k, v in wanted.items()]})
        return [r for r in rows
                if all((r.get("Labels") or {}).get(k) == v for k, v in wanted.items())]

    def rows_named(self, names: Sequence[str]) -> dict[str, dict]:
        """{name: list row} of the containers holding exactly these names, in one call: a
        name filter for a few names, else every container, matched here (the engine tries
        each of 200 name patterns on every container: 0.18 s, where the whole list takes
        ~10 ms)."""
        if not names:
            return {}
        filters = {"name": list(names)} if len(names) <= NAME_FILTER_MAX else {}
        with translated("list containers by name"):
            rows = self._api.containers(all=True, filters=filters)
        wanted, out = set(names), {}
        for r in rows:
            for n in r.get("Names") or []:
                if n.lstrip("/") in wanted:
                    out[n.lstrip("/")] = r
        return out

    def list_containers_by_label(self, labels: Mapping[str, str]) -> list[ContainerInfo]:
        """Containers carrying all of ``labels`` (used to clean up by flow run id)."""
        return self._containers_with(labels, all=True, what="containers")

    def _containers_with(self, wanted: Mapping[str, str], *, all: bool,  # noqa: A002
                         what: str, inspect: bool = True) -> list[ContainerInfo]:
        with translated(f"list {what}", self.where):
            rows = self._api.containers(all=all, filters={
                "label": [f"{k}={v}" for k, v in wanted.items()]})
        result = []
        for row in rows:
            if any((row.get("Labels") or {}).get(k) != v for k, v in wanted.items()):
                continue  # belt and braces: never return another project's container
            if not inspect:
                result.append(row_info(row))
                continue
            with contextlib.suppress(ResourceNotFound):  # removed meanwhile
                result.append(self.info(row["Id"]))
        return result

    def stats_limits(self, cid: str) -> tuple[float | None, int | None]:
        """(cpus, memory bytes) configured on the container; None where unlimited."""
        host = self.inspect(cid).get("HostConfig") or {}
        nano, mem = host.get("NanoCpus") or 0, host.get("Memory") or 0
        return (nano / 1e9 if nano else None, mem or None)

    # -- containers: waiting --

    def wait_exit(self, cid: str, timeout: float | None,
                  abort: threading.Event | None = None) -> int | None:
        """Block until the container exits and return its exit code; None when ``timeout``
        elapsed or ``abort`` was set first (the container is then left running)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._watch(cid) as (full_id, sub):
            while True:
                state = self.inspect(full_id)["State"]
                if state.get("Status") in ("exited", "dead"):
                    return int(state.get("ExitCode", -1))
                if not block(sub.wake, deadline, abort):
                    return None
                if sub.exit_code is not None:
                    # the `die` event carries the code; an inspect now would wait ~0.1 s for
                    # the engine to finish its exit cleanup (it holds the container's lock)
                    return sub.exit_code

    def wait_healthy(self, cid: str, timeout: float,
                     abort: threading.Event | None = None) -> str:
        """Block until the healthcheck decides. Returns "healthy", "unhealthy" (the engine
        gave up), "exited", "timeout", "aborted", or "none" (no healthcheck configured)."""
        deadline = time.monotonic() + timeout
        with self._watch(cid) as (full_id, sub):
            while True:
                data = self.inspect(full_id)
                state = data["State"]
                if state.get("Status") in ("exited", "dead"):
                    return "exited"
                test = ((data.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
                if not test or test[0] == "NONE":
                    return "none"
                health = (state.get("Health") or {}).get("Status")  # absent until started
                if health in ("healthy", "unhealthy"):
                    return health
                if not block(sub.wake, deadline, abort):
                    return "aborted" if abort is not None and abort.is_set() else "timeout"

    @contextlib.contextmanager
    def _watch(self, cid: str) -> Iterator[tuple[str, Subscription]]:
        self._hub.ensure_running()
        full_id = self.inspect(cid)["Id"]
        sub = self._hub.subscribe(full_id)
        try:
            yield full_id, sub
        finally:
            self._hub.unsubscribe(full_id, sub)

    # -- containers: commands --

    def exec(self, cid: str, cmd: Sequence[str], env: Mapping[str, str] | None = None,
             workdir: str | None = None, user: str | None = None,
             on_output: Callable[[bytes], None] | None = None) -> int:
        """Run ``cmd`` in the running container; return its exit code. Output (stdout and
        stderr) goes to ``on_output`` as it arrives."""
        what = f"exec in {cid}"
        with translated(what, self.where):
            exec_id = self._api.exec_create(cid, list(cmd), stdout=True, stderr=True,
                                            environment=dict(env or {}) or None,
                                            workdir=workdir, user=user or "")["Id"]
            # frames are read with poll(): no read timeout applies to a quiet command
            for out, err in self._api.exec_start(exec_id, stream=True, demux=True):
                for chunk in (out, err):
                    if chunk and on_output is not None:
                        on_output(chunk)
            deadline = time.monotonic() + 10
            while True:  # the stream closes a moment before the engine records the exit
                result = self._api.exec_inspect(exec_id)
                if not result.get("Running") or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
        code = result.get("ExitCode")
        if code is None:
            raise EngineError(f"{what}: {' '.join(cmd)!r} did not report an exit code")
        return int(code)
