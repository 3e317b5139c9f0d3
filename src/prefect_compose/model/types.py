"""Frozen pydantic models of the Compose subset a deployment uses, in canonical form.

Shorthand has already been made long by the loader (``load.canonical``) and values checked by
``model.build``: environment is a dict, command an argv tuple, depends_on a mapping of
``Dependency``, durations are seconds, sizes are bytes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Condition = Literal["service_started", "service_healthy", "service_completed_successfully"]
CONDITIONS: tuple[str, ...] = ("service_started", "service_healthy",
                               "service_completed_successfully")
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")


class Frozen(BaseModel):
    """The one base of every immutable model (the project's and the plan's)."""
    model_config = ConfigDict(frozen=True, extra="forbid")


class Dependency(Frozen):
    condition: Condition = "service_started"
    required: bool = True
    restart: bool = False
    short_form: bool = False  # `depends_on: [x]`: on a job it means completed successfully


class Healthcheck(Frozen):
    test: tuple[str, ...] | None = None  # None: inherit the image's HEALTHCHECK
    interval_s: float = 30.0
    timeout_s: float = 30.0
    retries: int = 3
    start_period_s: float = 0.0
    start_interval_s: float = 5.0
    disable: bool = False


class Build(Frozen):
    context: str  # absolute path (or a URL, which we do not build)
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: dict[str, str | None] = Field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    tags: tuple[str, ...] = ()  # more tags of the built image
    network: str | None = None  # the network RUN steps use
    extra_hosts: tuple[str, ...] = ()  # "host:ip", for RUN steps
    shm_size: int | None = None  # bytes
    no_cache: bool = False
    pull: bool = False  # pull the base image first


class Port(Frozen):
    target: int
    published: str | None = None
    host_ip: str | None = None
    protocol: str = "tcp"


class Mount(Frozen):
    type: Literal["volume", "bind", "tmpfs"]  # npipe, cluster, image: refused by the model
    source: str | None = None  # a volume key (not its engine name) or an absolute host path
    target: str
    read_only: bool = False
    propagation: str | None = None  # bind: rprivate, private, rshared, shared, rslave, slave
    selinux: str | None = None  # bind: z (shared) or Z (private) relabelling
    nocopy: bool = False  # volume: do not copy the image's content into a new volume
    volume_labels: dict[str, str] = Field(default_factory=dict)  # volume: of a new volume
    tmpfs_size: int | None = None  # tmpfs: bytes
    tmpfs_mode: int | None = None  # tmpfs: permission bits


class ServiceNetwork(Frozen):
    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    priority: int = 0
    link_local_ips: tuple[str, ...] = ()
    driver_opts: dict[str, str] = Field(default_factory=dict)


class Hook(Frozen):
    """A pre_start entry: runs to completion before the service starts."""
    command: tuple[str, ...]
    image: str | None = None  # defaults to the service's image
    environment: dict[str, str | None] = Field(default_factory=dict)
    user: str | None = None
    working_dir: str | None = None
    privileged: bool = False


class FileMount(Frozen):
    """A secret or config granted to a service, resolved to a host file or inline content."""
    source: str
    target: str
    file: str | None = None
    content: str | None = None
    environment: str | None = None
    mode: int | None = None
    uid: str | None = None
    gid: str | None = None

    @property
    def copied(self) -> bool:
        """Inline or environment content: written into the container before it starts
        (a `file` source is bind-mounted instead)."""
        return self.file is None and (self.content is not None or self.environment is not None)


class Schedule(Frozen):
    """`x-prefect.schedule` (or `triggers.schedule` of a top-level job): when a scheduled job
    runs, as a cron string in a timezone."""
    cron: str
    timezone: str = "UTC"


# host escapes a service may be allowed (x-prefect.allow); what each is: plan/escapes.py
ESCAPE_NAMES = ("privileged", "host_network", "host_pid", "host_ipc", "cap_all",
                "cap_sys_admin", "docker_socket", "host_root")


class XPrefect(Frozen):
    allow: tuple[str, ...] = ()  # host escapes this service may use (SPEC: Safety)
    schedule: Schedule | None = None
    timeout_s: float | None = None
    retries: int = 0
    retry_delay_s: float = 10.0
    healthy_timeout_s: float | None = None


class Service(Frozen):
    name: str
    source_file: str = ""
    image: str | None = None
    build: Build | None = None
    provider: dict[str, Any] | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: dict[str, str | None] = Field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    hostname: str | None = None
    container_name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    ports: tuple[Port, ...] = ()
    expose: tuple[str, ...] = ()
    volumes: tuple[Mount, ...] = ()
    # ("service" | "container", name, "" | "ro" | "rw"): whose volumes this one mounts
    volumes_from: tuple[tuple[str, str, str], ...] = ()
    networks: dict[str, ServiceNetwork] = Field(default_factory=dict)
    network_mode: str | None = None
    healthcheck: Healthcheck | None = None
    depends_on: dict[str, Dependency] = Field(default_factory=dict)
    restart: str | None = None
    pre_start: tuple[Hook, ...] = ()
    stop_signal: str | None = None
    stop_grace_period_s: float = 10.0
    cpus: float | None = None
    mem_limit: int | None = None  # bytes
    profiles: tuple[str, ...] = ()
    platform: str | None = None
    pull_policy: str | None = None
    secrets: tuple[FileMount, ...] = ()
    configs: tuple[FileMount, ...] = ()
    init: bool | None = None
    tty: bool = False
    stdin_open: bool = False
    scale: int = 1
    # keys passed to the engine (cap_add, extra_hosts, tmpfs, ...); sizes as bytes, numbers
    # and booleans typed (model.options)
    engine_options: dict[str, Any] = Field(default_factory=dict)
    x_prefect: XPrefect = XPrefect()

    @property
    def is_provider(self) -> bool:
        return self.provider is not None


class IpamPool(Frozen):
    """One `ipam.config` entry; addresses checked by the model."""
    subnet: str | None = None
    ip_range: str | None = None
    gateway: str | None = None
    aux_addresses: dict[str, str] = Field(default_factory=dict)


class Ipam(Frozen):
    driver: str | None = None
    config: tuple[IpamPool, ...] = ()
    options: dict[str, str] = Field(default_factory=dict)


class Network(Frozen):
    name: str  # the engine name (PROJECT_key unless name: or external)
    external: bool = False
    driver: str | None = None
    internal: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    driver_opts: dict[str, str] = Field(default_factory=dict)
    attachable: bool = False
    enable_ipv6: bool = False
    ipam: Ipam | None = None


class Volume(Frozen):
    name: str
    external: bool = False
    driver: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    driver_opts: dict[str, str] = Field(default_factory=dict)


class ProjectXPrefect(Frozen):
    job_timeout_s: float | None = None
    concurrency: int | None = None
    rollback: bool = True  # put replaced services back when a deployment fails


class Project(Frozen):
    name: str
    working_dir: str
    files: tuple[str, ...]
    services: dict[str, Service]
    networks: dict[str, Network] = Field(default_factory=dict)
    volumes: dict[str, Volume] = Field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    x_prefect: ProjectXPrefect = ProjectXPrefect()
    warnings: tuple[str, ...] = ()
    # services switched off by profiles (Compose lists them with `config --profile`)
    disabled_services: tuple[str, ...] = ()
    # the values of the variables that `environment:` secrets and configs name, as the
    # project's environment set them: never dumped, never shown
    file_environment: dict[str, str] = Field(default_factory=dict, exclude=True, repr=False)
