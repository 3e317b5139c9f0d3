"""Containers as the engine sees them, with no Docker import: what to create
(:class:`ContainerSpec`, every Compose concept already resolved) and what was observed
(:class:`ContainerInfo`). The engine adapter turns a spec into an API call; the planner
compares observed containers with the plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
    propagation: str | None = None  # bind
    selinux: str | None = None  # bind: z | Z
    nocopy: bool = False  # volume
    labels: Mapping[str, str] = field(default_factory=dict)  # volume: of a new volume
    tmpfs_size: int | None = None  # bytes
    tmpfs_mode: int | None = None


@dataclass(frozen=True)
class FileCopy:
    """A file written into the container after create, before start (a secret or config
    from `content` or `environment`, as Compose does): never shown."""
    target: str  # absolute path in the container
    content: str = field(repr=False)
    mode: int = 0o444
    uid: int | None = None
    gid: int | None = None


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
    expose: tuple[str, ...] = ()  # "80/tcp": exposed, not published
    mounts: tuple[Mount, ...] = ()
    files: tuple[FileCopy, ...] = ()  # written in after create (secrets/configs content)
    network: str | None = None  # primary network, attached at create
    aliases: tuple[str, ...] = ()  # DNS aliases on the primary network
    extra_networks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # IPAMConfig by network name: {"IPv4Address": ..., "IPv6Address": ..., "LinkLocalIPs"}
    addresses: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    endpoint_driver_opts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
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
