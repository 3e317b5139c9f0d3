"""The Docker adapter: the only module that imports ``docker``.

Everything the runtime does to the engine goes through :class:`Engine`. It speaks in
docker-level, already-resolved terms (:class:`ContainerSpec`), never in Compose terms, and it
never decides anything: it creates, starts, waits, stops and removes what it is told to.

Waiting is event-driven. One background thread per ``Engine`` follows the engine's event
stream (container ``start``/``die``/``destroy``/``health_status`` ...) and wakes the waiters of
that container, which then re-read the container's state with one inspect. The stream is
opened with ``since`` set to just before it was requested, so an event cannot fall between
subscribing and the waiter's first inspect; if the stream breaks, it reconnects from the last
event seen, and every waiter re-inspects at least every ``_RECHECK_S`` seconds anyway.
Waiting never kills anything: a wait that runs out returns, and the caller stops the
container (timeouts are enforced on containers, never by interrupting threads).

Only objects that carry the project's ``com.docker.compose.project`` label are ever listed
for removal, so ``docker compose -p NAME ps/logs/down`` and prefect-compose see the same
state.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import math
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

from prefect_compose.errors import EngineUnavailable as _EngineUnavailableBase
from prefect_compose.errors import RunError

log = logging.getLogger(__name__)

# --- labels (docker/compose pkg/api/labels.go) -------------------------------------------------

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_ONEOFF = "com.docker.compose.oneoff"  # "True" / "False", as Compose writes them
LABEL_CONFIG_HASH = "com.docker.compose.config-hash"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_NETWORK = "com.docker.compose.network"  # the network's key in the compose file
LABEL_VOLUME = "com.docker.compose.volume"  # the volume's key in the compose file
LABEL_VERSION = "com.docker.compose.version"
LABEL_WORKING_DIR = "com.docker.compose.project.working_dir"
LABEL_CONFIG_FILES = "com.docker.compose.project.config_files"
LABEL_DEPENDS_ON = "com.docker.compose.depends_on"
LABEL_IMAGE = "com.docker.compose.image"
LABEL_SLUG = "com.docker.compose.slug"
LABEL_REPLACE = "com.docker.compose.replace"
LABEL_FLOW_RUN = "org.prefect-compose.flow-run-id"

# Written as com.docker.compose.version on networks and volumes we create. Compose compares
# it with its own version only to warn; any 2.x value keeps `docker compose down` quiet.
COMPOSE_VERSION = "2.40.3"

def compose_labels(project: str, service: str, *, config_hash: str, number: int | None = 1,
                   oneoff: bool = False, working_dir: str | None = None,
                   config_files: Sequence[str] = (), flow_run_id: str | None = None,
                   ) -> dict[str, str]:
    """The labels Compose v2 puts on a service container. ``docker compose ps`` lists only
    containers that carry a config-hash, so every container we create needs all of these."""
    labels = {LABEL_PROJECT: project, LABEL_SERVICE: service, LABEL_CONFIG_HASH: config_hash,
              LABEL_ONEOFF: "True" if oneoff else "False", LABEL_VERSION: COMPOSE_VERSION}
    if number is not None:
        labels[LABEL_NUMBER] = str(number)
    if working_dir:
        labels[LABEL_WORKING_DIR] = working_dir
    if config_files:
        labels[LABEL_CONFIG_FILES] = ",".join(config_files)
    if flow_run_id:
        labels[LABEL_FLOW_RUN] = flow_run_id
    return labels


_RECHECK_S = 2.0  # waiters re-inspect at least this often, whatever the event stream does
_ABORT_SLICE_S = 0.1  # how often a waiter looks at its abort event
_WAKE_ACTIONS = ("start", "die", "destroy", "restart", "oom", "health_status")

# --- errors ----------------------------------------------------------------------------------


class EngineError(RunError):
    """The engine refused or failed an operation."""


class EngineUnavailable(EngineError, _EngineUnavailableBase):
    """The Docker engine does not answer."""


class ResourceNotFound(EngineError):
    """The container, image, network or volume does not exist (any more)."""


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn docker SDK / transport exceptions into the EngineError family."""
    try:
        yield
    except EngineError:
        raise
    except docker.errors.NotFound as exc:
        raise ResourceNotFound(f"{what}: {_explain(exc)}") from exc
    except docker.errors.APIError as exc:
        raise EngineError(f"{what}: {_explain(exc)}") from exc
    except requests.exceptions.ConnectionError as exc:
        raise EngineUnavailable(f"{what}: Docker engine unreachable: {exc}") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineError(f"{what}: {exc}") from exc


def _explain(exc: docker.errors.APIError) -> str:
    return str(exc.explanation or exc).strip()


# --- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortBinding:
    target: int
    protocol: str = "tcp"
    published: str | None = None  # host port; None or "" = the engine picks one
    host_ip: str | None = None


@dataclass(frozen=True)
class Mount:
    type: str  # "volume" | "bind" | "tmpfs"
    source: str | None  # engine volume name (None: anonymous) or absolute host path
    target: str
    read_only: bool = False
    # bind only: let the engine create a missing host path (Compose's short syntax does)
    create_host_path: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """A container as the engine sees it: every Compose concept already resolved."""

    name: str | None
    image: str
    command: tuple[str, ...] | None = None  # None: the image's CMD
    entrypoint: tuple[str, ...] | None = None  # None: the image's; (): reset it
    environment: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    hostname: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[PortBinding, ...] = ()
    mounts: tuple[Mount, ...] = ()
    network: str | None = None  # primary network, attached at create
    aliases: tuple[str, ...] = ()  # DNS aliases on the primary network
    extra_networks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # docker format, lower-case keys, durations in ns: {"test": [...], "interval": ns,
    # "timeout": ns, "retries": n, "start_period": ns}, or {"test": ["NONE"]}
    healthcheck: Mapping[str, Any] | None = None
    stop_signal: str | None = None
    stop_grace_s: float = 10.0
    nano_cpus: int | None = None
    mem_limit: int | None = None  # bytes
    init: bool | None = None
    tty: bool = False
    # raw Docker API fields merged last: `extra` into HostConfig (CapAdd, ExtraHosts,
    # Privileged, RestartPolicy, ShmSize, ...), `config_extra` into the container Config
    # (OpenStdin, Domainname, ExposedPorts, ...)
    extra: Mapping[str, Any] = field(default_factory=dict)
    config_extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    service: str | None
    state: str  # created | running | restarting | paused | exited | dead | removing
    health: str | None  # starting | healthy | unhealthy | None (no healthcheck)
    exit_code: int | None  # None unless exited/dead
    labels: Mapping[str, str]
    created: str  # RFC 3339, as the engine reports it
    number: int | None
    image: str = ""


# --- the adapter -----------------------------------------------------------------------------


class Engine:
    """One connection to one Docker engine. Thread-safe; create it inside the task that uses
    it (a docker client cannot be pickled) and ``close()`` it when done."""

    def __init__(self, client: docker.DockerClient) -> None:
        self._client = client
        self._api = client.api
        self._hub = _EventHub(self._api)
        self._streams: set[Any] = set()  # open log responses, closed by close()
        self._lock = threading.Lock()

    # -- connection --

    @classmethod
    def connect(cls, docker_host_block: str | None = None) -> Engine:
        """Connect through a prefect-docker ``DockerHost`` block when named, else through
        DOCKER_HOST / the local socket; raise EngineUnavailable when the engine does not
        answer."""
        where = os.environ.get("DOCKER_HOST") or "the local socket (unix:///var/run/docker.sock)"
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
        return cls(client)

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

    def _shutdown_stream(self, res: Any) -> None:
        """Close a following response at once: closing it alone blocks until the container
        writes again, so shut its socket down first."""
        with contextlib.suppress(Exception):
            sock = self._api._get_raw_response_socket(res)
            sock = getattr(sock, "_sock", sock)
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            res.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- networks and volumes --

    def ensure_network(self, name: str, project: str, key: str,
                       labels: Mapping[str, str] | None = None, *, driver: str | None = None,
                       driver_opts: Mapping[str, str] | None = None,
                       internal: bool = False) -> None:
        """Create network ``name`` for compose key ``key`` unless it exists (idempotent)."""
        existing = self._network(name)
        if existing is None:
            all_labels = {**(labels or {}), LABEL_PROJECT: project, LABEL_NETWORK: key,
                          LABEL_VERSION: COMPOSE_VERSION}
            try:
                with _translated(f"create network {name}"):
                    self._api.create_network(name, driver=driver, options=dict(driver_opts or {}),
                                             internal=internal, labels=all_labels,
                                             check_duplicate=True)
                return
            except EngineError:
                existing = self._network(name)  # lost a race with another creator?
                if existing is None:
                    raise
        _warn_foreign("network", name, existing.get("Labels") or {}, project)

    def _network(self, name: str) -> dict | None:
        try:
            with _translated(f"inspect network {name}"):
                net = self._api.inspect_network(name)
        except ResourceNotFound:
            return None
        # the engine also matches an ID prefix: `db` could find network `db9086999caf...`
        return net if net.get("Name") == name else None

    def ensure_volume(self, name: str, project: str, key: str,
                      labels: Mapping[str, str] | None = None, *, driver: str | None = None,
                      driver_opts: Mapping[str, str] | None = None) -> None:
        """Create volume ``name`` for compose key ``key`` unless it exists (idempotent)."""
        try:
            with _translated(f"inspect volume {name}"):
                existing = self._api.inspect_volume(name)
        except ResourceNotFound:
            all_labels = {**(labels or {}), LABEL_PROJECT: project, LABEL_VOLUME: key,
                          LABEL_VERSION: COMPOSE_VERSION}
            # creating an existing volume is a no-op in the engine, so no race to handle
            with _translated(f"create volume {name}"):
                self._api.create_volume(name, driver=driver or "local",
                                        driver_opts=dict(driver_opts or {}) or None,
                                        labels=all_labels)
            return
        _warn_foreign("volume", name, existing.get("Labels") or {}, project)

    def remove_project_networks(self, project: str) -> list[str]:
        """Remove the networks labelled with ``project``; return their names."""
        with _translated(f"list networks of project {project}"):
            nets = self._api.networks(filters={"label": f"{LABEL_PROJECT}={project}"})
        return self._remove_all(
            "network", [n for n in nets if (n.get("Labels") or {}).get(LABEL_PROJECT) == project],
            self._api.remove_network, key="Id")

    def remove_project_volumes(self, project: str) -> list[str]:
        """Remove the volumes labelled with ``project``; return their names."""
        with _translated(f"list volumes of project {project}"):
            vols = self._api.volumes(filters={"label": f"{LABEL_PROJECT}={project}"})
        vols = [v for v in (vols.get("Volumes") or [])
                if (v.get("Labels") or {}).get(LABEL_PROJECT) == project]
        return self._remove_all("volume", vols, self._api.remove_volume, key="Name")

    def _remove_all(self, kind: str, objs: list[dict], remove: Callable[[str], Any],
                    key: str) -> list[str]:
        removed, failed = [], []
        for obj in sorted(objs, key=lambda o: o["Name"]):
            try:
                with _translated(f"remove {kind} {obj['Name']}"):
                    remove(obj[key])
                removed.append(obj["Name"])
            except ResourceNotFound:
                pass
            except EngineError as exc:
                failed.append(str(exc))
        if failed:
            raise EngineError("; ".join(failed))
        return removed

    # -- images --

    def image_exists(self, ref: str) -> bool:
        try:
            with _translated(f"inspect image {ref}"):
                self._api.inspect_image(ref)
        except ResourceNotFound:
            return False
        return True

    def image_id(self, ref: str) -> str:
        """The engine's id of a local image ("" when it is not there)."""
        try:
            with _translated(f"inspect image {ref}"):
                return self._api.inspect_image(ref)["Id"]
        except ResourceNotFound:
            return ""

    def pull(self, ref: str) -> None:
        """Pull an image that is not present; EngineError naming it when that fails."""
        repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
        try:
            with _translated(f"pull image {ref}"):
                self._api.pull(repo or ref, tag=tag or "latest")
        except EngineError as exc:
            raise EngineError(f"image {ref} is not on the engine and could not be pulled: "
                              f"{exc}") from None

    def tag(self, image: str, ref: str) -> None:
        repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
        with _translated(f"tag {image} as {ref}"):
            self._api.tag(image, repo or ref, tag=tag or "latest")

    def list_containers_by_label(self, labels: Mapping[str, str]) -> list[ContainerInfo]:
        """Containers carrying all of ``labels`` (used to clean up by flow run id)."""
        with _translated("list containers"):
            rows = self._api.containers(all=True, filters={
                "label": [f"{k}={v}" for k, v in labels.items()]})
        result = []
        for r in rows:
            if all((r.get("Labels") or {}).get(k) == v for k, v in labels.items()):
                with contextlib.suppress(ResourceNotFound):
                    result.append(self.info(r["Id"]))
        return result

    def build(self, context: Path, tag: str, dockerfile: str | None = None,
              args: Mapping[str, str] | None = None, target: str | None = None,
              labels: Mapping[str, str] | None = None,
              on_log: Callable[[str], None] | None = None,
              extra_tags: Sequence[str] = ()) -> str:
        """Build ``context`` on the engine (never pulling) and tag it; return the image id.
        Raise EngineError with the tail of the build output when the build fails."""
        lines: list[str] = []
        image_id = None
        what = f"build {tag}"
        with _translated(what):
            stream = self._api.build(path=str(context), tag=tag, dockerfile=dockerfile,
                                     buildargs=dict(args or {}), target=target,
                                     labels=dict(labels or {}), rm=True, forcerm=True,
                                     pull=False, decode=True)
            for msg in stream:
                if "error" in msg or "errorDetail" in msg:
                    error = (msg.get("errorDetail") or {}).get("message") or msg.get("error")
                    tail = "\n".join(lines[-20:])
                    raise EngineError(f"{what} failed: {str(error).strip()}\n{tail}".rstrip())
                image_id = ((msg.get("aux") or {}).get("ID")) or image_id
                text = msg.get("stream") or msg.get("status") or ""
                for line in text.splitlines():
                    if line.strip():
                        lines.append(line)
                        if on_log is not None:
                            on_log(line)
            if image_id is None:
                image_id = self._api.inspect_image(tag)["Id"]
        for ref in extra_tags:
            self.tag(image_id, ref)
        return image_id

    # -- containers: lifecycle --

    def create(self, spec: ContainerSpec) -> str:
        """Create the container (not started) and connect its extra networks; return its id.
        On any failure nothing is left behind."""
        config = _container_config(spec)
        with _translated(f"create container {spec.name or spec.image}"):
            cid = self._api.create_container_from_config(config, name=spec.name)["Id"]
        try:
            for net, aliases in sorted(spec.extra_networks.items()):
                with _translated(f"connect {spec.name or cid[:12]} to network {net}"):
                    self._api.connect_container_to_network(cid, net, aliases=list(aliases) or None)
        except BaseException:
            with contextlib.suppress(EngineError):
                self.remove(cid, force=True)
            raise
        return cid

    def start(self, cid: str) -> None:
        with _translated(f"start container {cid}"):
            self._api.start(cid)

    def stop(self, cid: str, grace_s: float) -> None:
        """Send the container's stop signal, then SIGKILL after ``grace_s`` (rounded up to a
        whole second: the engine's unit). A container that is gone or stopped is fine."""
        with contextlib.suppress(ResourceNotFound), _translated(f"stop container {cid}"):
            self._api.stop(cid, timeout=max(0, math.ceil(grace_s)))

    def kill(self, cid: str) -> None:
        try:
            with _translated(f"kill container {cid}"):
                self._api.kill(cid)
        except ResourceNotFound:
            pass
        except EngineError as exc:
            if "is not running" not in str(exc):
                raise

    def remove(self, cid: str, force: bool = True, volumes: bool = False) -> None:
        try:
            with _translated(f"remove container {cid}"):
                self._api.remove_container(cid, v=volumes, force=force)
        except ResourceNotFound:
            pass
        except EngineError as exc:
            if "already in progress" not in str(exc):
                raise

    def rename(self, cid: str, new_name: str) -> None:
        with _translated(f"rename container {cid} to {new_name}"):
            self._api.rename(cid, new_name)

    def inspect(self, cid: str) -> dict:
        with _translated(f"inspect container {cid}"):
            return self._api.inspect_container(cid)

    def info(self, cid: str) -> ContainerInfo:
        return _info(self.inspect(cid))

    def list_containers(self, project: str, service: str | None = None,
                        oneoff: bool | None = None, all: bool = True,  # noqa: A002
                        extra_labels: Mapping[str, str] | None = None) -> list[ContainerInfo]:
        """The containers labelled with ``project`` (and nothing else), sorted by service,
        number and name."""
        wanted = {LABEL_PROJECT: project, **(extra_labels or {})}
        if service is not None:
            wanted[LABEL_SERVICE] = service
        if oneoff is not None:
            wanted[LABEL_ONEOFF] = "True" if oneoff else "False"
        with _translated(f"list containers of project {project}"):
            rows = self._api.containers(all=all, filters={
                "label": [f"{k}={v}" for k, v in wanted.items()]})
        result = []
        for row in rows:
            if any((row.get("Labels") or {}).get(k) != v for k, v in wanted.items()):
                continue  # belt and braces: never return another project's container
            try:
                result.append(self.info(row["Id"]))
            except ResourceNotFound:
                continue  # removed meanwhile
        return sorted(result, key=lambda c: (c.service or "", c.number or 0, c.name))

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
                if not _block(sub.wake, deadline, abort):
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
                if not _block(sub.wake, deadline, abort):
                    return "aborted" if abort is not None and abort.is_set() else "timeout"

    @contextlib.contextmanager
    def _watch(self, cid: str) -> Iterator[tuple[str, _Subscription]]:
        self._hub.ensure_running()
        full_id = self.inspect(cid)["Id"]
        sub = self._hub.subscribe(full_id)
        try:
            yield full_id, sub
        finally:
            self._hub.unsubscribe(full_id, sub)

    # -- output --

    def stream_logs(self, cid: str, on_line: Callable[[str, str], None]) -> threading.Thread:
        """Follow the container's stdout and stderr from its start, calling
        ``on_line("stdout" | "stderr", line)`` per line from a daemon thread that ends when the
        container stops. Call it after ``start`` (the engine replays what was already said).

        Engine 20.10's follow can end before the last lines are delivered (the CLI's
        ``docker logs -f`` loses them too): when the follow ends, the rest is read once more
        without follow, from the timestamp of the last message received."""
        tty = bool((self.inspect(cid).get("Config") or {}).get("Tty"))
        res = self._open_logs(cid, follow=True, timestamps=not tty)

        def run() -> None:
            lines = _LineSplitter(on_line)
            seen = _Seen()
            try:
                for stream_name, data in _frames(res.raw, tty):
                    lines.feed(stream_name, data if tty else seen.strip(data))
                if not tty and not self._hub.closed:
                    rest = self._open_logs(cid, follow=False, timestamps=True,
                                           since=seen.since())
                    try:
                        for stream_name, data in _frames(rest.raw, False):
                            if seen.is_new(data):
                                lines.feed(stream_name, seen.strip(data))
                    finally:
                        self._close_stream(rest)
            except Exception as exc:  # noqa: BLE001 - closed by close(), or engine gone
                log.debug("log stream of %s ended: %s", cid, exc)
            finally:
                lines.flush()
                self._close_stream(res)

        thread = threading.Thread(target=run, name=f"logs-{cid[:12]}", daemon=True)
        thread.start()
        return thread

    def _open_logs(self, cid: str, follow: bool, timestamps: bool,
                   since: str | None = None) -> Any:
        """GET /containers/{id}/logs as a raw streaming response (the SDK's ``logs()`` drops
        which stream a frame came from, so this uses its request helpers directly)."""
        params: dict[str, Any] = {"stdout": 1, "stderr": 1, "follow": int(follow),
                                  "timestamps": int(timestamps), "tail": "all"}
        if since:
            params["since"] = since
        with _translated(f"read logs of {cid}"):
            res = self._api._get(self._api._url("/containers/{0}/logs", cid), params=params,
                                 stream=True)
            self._api._raise_for_status(res)
            # the client's 60 s read timeout must not end the follow of a quiet container
            self._api._disable_socket_timeout(self._api._get_raw_response_socket(res))
        with self._lock:
            self._streams.add(res)
        return res

    def _close_stream(self, res: Any) -> None:
        with self._lock:
            self._streams.discard(res)
        with contextlib.suppress(Exception):
            res.close()

    def logs_tail(self, cid: str, lines: int = 20) -> str:
        """The last ``lines`` lines of stdout and stderr, interleaved as they were written."""
        with _translated(f"read logs of {cid}"):
            out = self._api.logs(cid, stdout=True, stderr=True, tail=lines)
        return out.decode("utf-8", errors="replace")

    def exec(self, cid: str, cmd: Sequence[str], env: Mapping[str, str] | None = None,
             workdir: str | None = None, user: str | None = None,
             on_output: Callable[[bytes], None] | None = None) -> int:
        """Run ``cmd`` in the running container; return its exit code. Output (stdout and
        stderr) goes to ``on_output`` as it arrives."""
        what = f"exec in {cid}"
        with _translated(what):
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


# --- helpers ---------------------------------------------------------------------------------


def _warn_foreign(kind: str, name: str, labels: Mapping[str, str], project: str) -> None:
    owner = labels.get(LABEL_PROJECT)
    if owner is None:
        log.warning("a %s named %s exists but was not created by compose; using it as it is",
                    kind, name)
    elif owner != project:
        log.warning("a %s named %s exists but belongs to project %r; using it as it is",
                    kind, name, owner)


def _container_config(spec: ContainerSpec) -> dict[str, Any]:
    """The body of POST /containers/create for ``spec`` (Docker Engine API 1.41)."""
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in spec.ports:
        key = f"{port.target}/{port.protocol or 'tcp'}"
        exposed[key] = {}
        bindings.setdefault(key, []).append(
            {"HostIp": port.host_ip or "", "HostPort": str(port.published or "")})
    mounts, binds = [], []
    for m in spec.mounts:
        if m.type == "bind" and m.create_host_path:
            binds.append(f"{m.source}:{m.target}{':ro' if m.read_only else ''}")
            continue
        entry: dict[str, Any] = {"Type": m.type, "Target": m.target, "ReadOnly": m.read_only}
        if m.source:
            entry["Source"] = m.source
        mounts.append(entry)
    host: dict[str, Any] = {
        "PortBindings": bindings, "Mounts": mounts, "Binds": binds,
        "NetworkMode": spec.network or "default",
    }
    if spec.nano_cpus:
        host["NanoCpus"] = spec.nano_cpus
    if spec.mem_limit:
        host["Memory"] = spec.mem_limit
    if spec.init is not None:
        host["Init"] = spec.init
    host.update(spec.extra)
    config: dict[str, Any] = {
        "Image": spec.image,
        "Env": [f"{k}={v}" for k, v in spec.environment.items()],
        "Labels": dict(spec.labels),
        "ExposedPorts": exposed,
        "Tty": spec.tty,
        "AttachStdout": True,
        "AttachStderr": True,
        "StopTimeout": max(0, math.ceil(spec.stop_grace_s)),
        "HostConfig": host,
    }
    if spec.command is not None:
        config["Cmd"] = list(spec.command)
    if spec.entrypoint is not None:
        config["Entrypoint"] = list(spec.entrypoint) or [""]  # [""] resets, as the CLI does
    if spec.working_dir:
        config["WorkingDir"] = spec.working_dir
    if spec.user:
        config["User"] = spec.user
    if spec.hostname:
        config["Hostname"] = spec.hostname
    if spec.stop_signal:
        config["StopSignal"] = spec.stop_signal
    if spec.healthcheck is not None:
        config["Healthcheck"] = _healthcheck(spec.healthcheck)
    if spec.network:
        config["NetworkingConfig"] = {"EndpointsConfig": {
            spec.network: {"Aliases": list(spec.aliases)} if spec.aliases else {}}}
    config.update(spec.config_extra)
    return config


_HEALTH_KEYS = {"test": "Test", "interval": "Interval", "timeout": "Timeout",
                "retries": "Retries", "start_period": "StartPeriod"}


def _healthcheck(hc: Mapping[str, Any]) -> dict[str, Any]:
    """Docker's lower-case healthcheck mapping -> the API's; ``start_interval`` (API 1.44) is
    dropped, as engine 20.10 rejects it."""
    out = {}
    for key, value in hc.items():
        api_key = _HEALTH_KEYS.get(key, key if key[:1].isupper() else None)
        if api_key and api_key != "StartInterval" and value is not None:
            out[api_key] = int(value) if api_key != "Test" else list(value)
    return out


def _info(data: Mapping[str, Any]) -> ContainerInfo:
    labels = (data.get("Config") or {}).get("Labels") or {}
    state = data.get("State") or {}
    status = state.get("Status", "")
    number = labels.get(LABEL_NUMBER)
    return ContainerInfo(
        id=data["Id"], name=data.get("Name", "").lstrip("/"), service=labels.get(LABEL_SERVICE),
        state=status, health=(state.get("Health") or {}).get("Status"),
        exit_code=int(state.get("ExitCode", 0)) if status in ("exited", "dead") else None,
        labels=dict(labels), created=data.get("Created", ""),
        number=int(number) if number and number.isdigit() else None,
        image=(data.get("Config") or {}).get("Image", ""))


def _block(wake: threading.Event, deadline: float | None, abort: threading.Event | None) -> bool:
    """Wait until the container may have changed (True: re-inspect it), or until the deadline
    passed or ``abort`` was set (False)."""
    recheck = time.monotonic() + _RECHECK_S
    while True:
        if abort is not None and abort.is_set():
            return False
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return False
        if now >= recheck:
            return True
        step = recheck - now
        if deadline is not None:
            step = min(step, deadline - now)
        if abort is not None:
            step = min(step, _ABORT_SLICE_S)
        if wake.wait(step):
            wake.clear()
            return True


def _frames(raw: Any, tty: bool) -> Iterator[tuple[str, bytes]]:
    """(stream name, bytes) from a logs response: raw bytes for a TTY, else the engine's
    multiplexed format (8-byte header: stream id, 3 zero bytes, big-endian length)."""
    if tty:
        while chunk := raw.read1(65536):
            yield "stdout", chunk
        return
    while header := raw.read(8):
        if len(header) < 8:
            return
        stream_id, length = struct.unpack(">BxxxL", header)
        data = raw.read(length) if length else b""
        if length and not data:
            return
        yield ("stderr" if stream_id == 2 else "stdout"), data


class _LineSplitter:
    """Per-stream incremental UTF-8 decoding; whole lines only, partial ones kept."""

    def __init__(self, on_line: Callable[[str, str], None]) -> None:
        self._on_line = on_line
        self._decoders: dict[str, codecs.IncrementalDecoder] = {}
        self._partial: dict[str, str] = {}

    def feed(self, stream: str, data: bytes) -> None:
        decoder = self._decoders.get(stream)
        if decoder is None:
            decoder = self._decoders[stream] = codecs.getincrementaldecoder("utf-8")("replace")
        text = self._partial.pop(stream, "") + decoder.decode(data)
        *whole, rest = text.split("\n")
        for line in whole:
            self._emit(stream, line)
        if rest:
            self._partial[stream] = rest

    def flush(self) -> None:
        for stream, decoder in self._decoders.items():
            rest = self._partial.pop(stream, "") + decoder.decode(b"", final=True)
            if rest:
                self._emit(stream, rest)

    def _emit(self, stream: str, line: str) -> None:
        try:
            self._on_line(stream, line.removesuffix("\r"))
        except Exception:  # a broken callback must not end the stream
            log.exception("log callback failed")


class _Seen:
    """Remembers the engine timestamp of the last log message received (``timestamps=1``
    prefixes each message with a fixed-width RFC 3339 UTC time and a space), so a second read
    from that time on can skip what was already delivered."""

    def __init__(self) -> None:
        self.last = ""
        self.count_at_last = 0  # messages received carrying exactly that timestamp
        self._skip = 0

    def strip(self, data: bytes) -> bytes:
        stamp, _, rest = data.partition(b" ")
        ts = stamp.decode("ascii", "replace")
        if ts == self.last:
            self.count_at_last += 1
        elif ts > self.last:
            self.last, self.count_at_last = ts, 1
        return rest

    def since(self) -> str | None:
        """``self.last`` as the API's ``since`` (seconds.nanoseconds), or None."""
        self._skip = self.count_at_last
        try:
            when = datetime.strptime(self.last[:19], "%Y-%m-%dT%H:%M:%S")
            seconds = int(when.replace(tzinfo=UTC).timestamp())
            return f"{seconds}.{int(self.last[20:29]):09d}"
        except ValueError:
            return None

    def is_new(self, data: bytes) -> bool:
        ts = data.partition(b" ")[0].decode("ascii", "replace")
        if ts < self.last:
            return False
        if ts == self.last and self._skip > 0:
            self._skip -= 1
            return False
        return True


class _Subscription:
    """One waiter on one container: woken by its events; ``exit_code`` set by ``die``."""

    __slots__ = ("wake", "exit_code")

    def __init__(self) -> None:
        self.wake = threading.Event()
        self.exit_code: int | None = None


class _EventHub:
    """One reader of the engine's container events, waking subscribers by container id."""

    def __init__(self, api: docker.APIClient) -> None:
        self._api = api
        self._lock = threading.Lock()
        self._subs: dict[str, set[_Subscription]] = {}
        self._thread: threading.Thread | None = None
        self._stream: Any = None
        self._ready = threading.Event()
        self._closed = threading.Event()

    def ensure_running(self, timeout: float = 5.0) -> None:
        with self._lock:
            if self._closed.is_set():
                raise EngineError("the engine connection is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="docker-events",
                                                daemon=True)
                self._thread.start()
        if not self._ready.wait(timeout):  # waiters still re-inspect every _RECHECK_S
            log.warning("Docker event stream not ready after %.0f s; polling instead", timeout)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def subscribe(self, cid: str) -> _Subscription:
        sub = _Subscription()
        with self._lock:
            self._subs.setdefault(cid, set()).add(sub)
        return sub

    def unsubscribe(self, cid: str, sub: _Subscription) -> None:
        with self._lock:
            subs = self._subs.get(cid)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[cid]

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            stream, thread = self._stream, self._thread
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        if thread is not None:
            thread.join(timeout=2)

    def _run(self) -> None:
        since_ns = time.time_ns()  # replay from here: nothing falls between subscribe & inspect
        while not self._closed.is_set():
            try:
                stream = self._api.events(
                    since=f"{since_ns // 10**9}.{since_ns % 10**9:09d}", decode=True,
                    filters={"type": "container", "event": list(_WAKE_ACTIONS)})
                with self._lock:
                    self._stream = stream
                if self._closed.is_set():
                    stream.close()
                    return
                self._ready.set()
                for event in stream:
                    since_ns = int(event.get("timeNano") or since_ns)
                    cid = event.get("id") or (event.get("Actor") or {}).get("ID")
                    with self._lock:
                        subs = list(self._subs.get(cid, ()))
                    code = ((event.get("Actor") or {}).get("Attributes") or {}).get("exitCode")
                    for sub in subs:
                        if event.get("Action") == "die" and str(code).lstrip("-").isdigit():
                            sub.exit_code = int(code)
                        sub.wake.set()
            except Exception as exc:  # noqa: BLE001 - reconnect below unless closing
                if not self._closed.is_set():
                    log.debug("Docker event stream broke: %s", exc)
            finally:
                self._ready.clear()
                with self._lock:
                    stream, self._stream = self._stream, None
                if stream is not None:
                    with contextlib.suppress(Exception):
                        stream.close()
            self._closed.wait(0.5)
