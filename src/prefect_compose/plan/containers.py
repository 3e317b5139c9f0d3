"""Service model -> the engine's ContainerSpec, for long-running containers, jobs, pre_start
hooks and throwaway `run` containers alike (one function, so they cannot drift apart)."""

from __future__ import annotations

import os
import secrets as _secrets
from collections.abc import Iterable, Mapping
from typing import Any

from prefect_compose.errors import InputError
from prefect_compose.model.types import Hook, Project, Service
from prefect_compose.plan.labels import LABEL_IMAGE, compose_labels
from prefect_compose.plan.specs import ContainerSpec, FileCopy, Mount as EngineMount, PortBinding

NS = 1_000_000_000


def container_name(project: Project, svc: Service, oneoff: bool) -> str:
    if oneoff:
        return f"{project.name}-{svc.name}-run-{_secrets.token_hex(6)}"
    return svc.container_name or f"{project.name}-{svc.name}-1"


def engine_network_mode(project: Project, svc: Service) -> str | None:
    """The engine's NetworkMode for a `network_mode`: `service:X` is the namespace of X's
    container (by its name: the engine resolves it to the id at create, after X started),
    `container:NAME` that container's."""
    mode = svc.network_mode
    if mode and mode.startswith("service:"):
        owner = project.services[mode.split(":", 1)[1]]
        return f"container:{container_name(project, owner, oneoff=False)}"
    return mode


def _healthcheck(svc: Service) -> dict[str, Any] | None:
    hc = svc.healthcheck
    if hc is None:
        return None
    if hc.disable:
        return {"test": ["NONE"]}
    out: dict[str, Any] = {
        "interval": int(hc.interval_s * NS), "timeout": int(hc.timeout_s * NS),
        "retries": hc.retries, "start_period": int(hc.start_period_s * NS),
    }
    if hc.test is not None:
        out["test"] = list(hc.test)
    return out


_HOST_KEYS = {  # compose key -> HostConfig field of the Engine API, value as the model has it
    "cap_add": "CapAdd", "cap_drop": "CapDrop", "privileged": "Privileged",
    "read_only": "ReadonlyRootfs", "security_opt": "SecurityOpt", "dns": "Dns",
    "dns_search": "DnsSearch", "dns_opt": "DnsOptions", "group_add": "GroupAdd",
    "pid": "PidMode", "ipc": "IpcMode", "userns_mode": "UsernsMode",
    "oom_score_adj": "OomScoreAdj", "pids_limit": "PidsLimit", "runtime": "Runtime",
    "cpu_shares": "CpuShares", "cpuset": "CpusetCpus", "oom_kill_disable": "OomKillDisable",
    "sysctls": "Sysctls", "shm_size": "ShmSize", "mem_reservation": "MemoryReservation",
    "memswap_limit": "MemorySwap", "cpu_period": "CpuPeriod", "cpu_quota": "CpuQuota",
    "cpu_rt_period": "CpuRealtimePeriod", "cpu_rt_runtime": "CpuRealtimeRuntime",
    "mem_swappiness": "MemorySwappiness", "device_cgroup_rules": "DeviceCgroupRules",
    "cgroup": "CgroupnsMode", "cgroup_parent": "CgroupParent", "uts": "UTSMode",
    "storage_opt": "StorageOpt", "extra_hosts": "ExtraHosts",
}
_CONFIG_KEYS = {"domainname": "Domainname", "mac_address": "MacAddress"}
_SHAPED = {  # keys whose value the engine wants in another shape
    "ulimits": ("Ulimits", lambda v: [{"Name": n, "Soft": s, "Hard": h}
                                      for n, (s, h) in sorted(v.items())]),
    "devices": ("Devices", lambda v: [{"PathOnHost": d["source"],
                                       "PathInContainer": d["target"],
                                       "CgroupPermissions": d["permissions"]} for d in v]),
    "tmpfs": ("Tmpfs", lambda v: {x.split(":", 1)[0]: x.split(":", 1)[1] if ":" in x else ""
                                  for x in v}),
    "logging": ("LogConfig", lambda v: {"Type": v["driver"] or "",
                                        "Config": dict(v["options"])}),
}


def _engine_options(svc: Service) -> tuple[dict[str, Any], dict[str, Any]]:
    """Compose keys passed through to the engine: (HostConfig fields, Config fields). The
    model has checked and typed every value (model.options)."""
    host: dict[str, Any] = {}
    config: dict[str, Any] = {}
    for key, value in svc.engine_options.items():
        if value is None:
            continue
        if isinstance(value, tuple):
            value = list(value)
        if key in _HOST_KEYS:
            host[_HOST_KEYS[key]] = value
        elif key in _CONFIG_KEYS:
            config[_CONFIG_KEYS[key]] = value
        elif key in _SHAPED:
            field, shape = _SHAPED[key]
            host[field] = shape(value)
    if svc.stdin_open:
        config["OpenStdin"] = True
    return host, config


def build_spec(project: Project, svc: Service, *, image: str, config_hash: str,
               oneoff: bool, flow_run_id: str | None = None,
               command: tuple[str, ...] | None = None,
               extra_env: Mapping[str, str] | None = None,
               hook: Hook | None = None, name: str | None = None,
               use_aliases: bool = True, publish_ports: bool = True) -> ContainerSpec:
    """The container for a service (or for one of its pre_start hooks, or a `run`)."""
    env = {k: v for k, v in svc.environment.items() if v is not None}
    if hook is not None:
        env.update({k: v for k, v in hook.environment.items() if v is not None})
    env.update(extra_env or {})
    labels = {
        **svc.labels,
        **compose_labels(project.name, svc.name, config_hash=config_hash, oneoff=oneoff,
                         working_dir=project.working_dir, config_files=project.files,
                         flow_run_id=flow_run_id),
        LABEL_IMAGE: image,
    }
    primary, aliases, extra_networks = _networks(project, svc, use_aliases)
    ports = tuple(PortBinding(target=p.target, protocol=p.protocol, published=p.published,
                              host_ip=p.host_ip) for p in svc.ports) if publish_ports else ()
    host_options, config_options = _engine_options(svc)
    if svc.volumes_from:
        host_options["VolumesFrom"] = [
            (container_name(project, project.services[name], oneoff=False)
             if kind == "service" else name) + (f":{mode}" if mode else "")
            for kind, name, mode in svc.volumes_from]
    network_mode = engine_network_mode(project, svc)
    if network_mode:
        host_options["NetworkMode"] = network_mode
        primary, aliases, extra_networks = None, (), {}
    if hook is not None and hook.privileged:
        host_options["Privileged"] = True
    if not oneoff and svc.restart and svc.restart != "no":
        policy, _, count = svc.restart.partition(":")
        host_options["RestartPolicy"] = {"Name": policy,
                                         "MaximumRetryCount": int(count) if count else 0}
    return ContainerSpec(
        name=name or container_name(project, svc, oneoff),
        image=(hook.image if hook and hook.image else image),
        command=hook.command if hook else (command if command is not None else svc.command),
        entrypoint=None if hook else svc.entrypoint,
        environment=env,
        working_dir=(hook.working_dir if hook and hook.working_dir else svc.working_dir),
        user=(hook.user if hook and hook.user else svc.user),
        hostname=svc.hostname,
        labels=labels,
        ports=ports,
        expose=_expose(svc.expose),
        mounts=_mounts(project, svc),
        files=file_copies(project, svc),
        network=primary,
        aliases=aliases,
        extra_networks=extra_networks,
        addresses=_addresses(project, svc) if primary else {},
        endpoint_driver_opts=({project.networks[k].name: dict(n.driver_opts)
                               for k, n in svc.networks.items() if n.driver_opts}
                              if primary else {}),
        healthcheck=_healthcheck(svc) if not hook else {"test": ["NONE"]},
        stop_signal=svc.stop_signal,
        stop_grace_s=svc.stop_grace_period_s,
        nano_cpus=int(svc.cpus * NS) if svc.cpus else None,
        mem_limit=svc.mem_limit,
        init=svc.init,
        tty=svc.tty,
        extra=host_options,
        config_extra=config_options,
    )


def _expose(expose: tuple[str, ...]) -> tuple[str, ...]:
    """`expose: ["80", "8000-8002/udp"]` -> ("80/tcp", "8000/udp", "8001/udp", "8002/udp")."""
    out = []
    for item in expose:
        ports, _, proto = item.partition("/")
        first, _, last = ports.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            continue  # the model refused it already
        out += [f"{p}/{proto or 'tcp'}" for p in range(int(first), int(last or first) + 1)]
    return tuple(out)


def _networks(project: Project, svc: Service, use_aliases: bool,
              ) -> tuple[str | None, tuple[str, ...], dict[str, tuple[str, ...]]]:
    """(primary network, its aliases, {other network: aliases}), by priority then name."""
    nets = sorted(svc.networks.items(), key=lambda kv: (-kv[1].priority, kv[0]))
    primary = None
    aliases: tuple[str, ...] = ()
    extra_networks: dict[str, tuple[str, ...]] = {}
    for i, (key, net) in enumerate(nets):
        engine_name = project.networks[key].name
        names = (svc.name, *net.aliases) if use_aliases else ()
        if i == 0:
            primary, aliases = engine_name, tuple(names)
        else:
            extra_networks[engine_name] = tuple(names)
    return primary, aliases, extra_networks


def _addresses(project: Project, svc: Service) -> dict[str, dict[str, Any]]:
    """Static and link-local addresses by engine network name, as the API's IPAMConfig."""
    out: dict[str, dict[str, Any]] = {}
    for key, net in svc.networks.items():
        ipam: dict[str, Any] = {k: v for k, v in (("IPv4Address", net.ipv4_address),
                                                  ("IPv6Address", net.ipv6_address)) if v}
        if net.link_local_ips:
            ipam["LinkLocalIPs"] = list(net.link_local_ips)
        if ipam:
            out[project.networks[key].name] = ipam
    return out


def file_copies(project: Project, svc: Service) -> tuple[FileCopy, ...]:
    """The secrets and configs from `content` or `environment`, as files to write into the
    container (empty content is skipped, as in Compose). InputError naming an unset
    variable: :func:`check_file_sources` says so before anything is created."""
    out = []
    for key, mounts in (("secrets", svc.secrets), ("configs", svc.configs)):
        for i, fm in enumerate(mounts):
            if not fm.copied:
                continue
            if fm.content is not None:
                content = fm.content
            elif fm.environment in project.file_environment:
                content = project.file_environment[fm.environment]
            else:
                raise InputError(f'environment variable "{fm.environment}" required by '
                                 f'{key[:-1]} "{fm.source}" is not set', file=svc.source_file,
                                 path=f"services.{svc.name}.{key}[{i}]")
            if content:
                out.append(FileCopy(target=fm.target, content=content,
                                    mode=0o444 if fm.mode is None else fm.mode,
                                    uid=None if fm.uid is None else int(fm.uid),
                                    gid=None if fm.gid is None else int(fm.gid)))
    return tuple(out)


def check_file_sources(project: Project, services: Iterable[str]) -> None:
    """Before anything is created: every `environment:` secret or config these services use
    is set, every `file:` one exists."""
    for name in services:
        svc = project.services[name]
        file_copies(project, svc)
        for key, mounts in (("secrets", svc.secrets), ("configs", svc.configs)):
            for i, fm in enumerate(mounts):
                if fm.file is None and not fm.copied:
                    spec = (project.secrets if key == "secrets" else project.configs).get(
                        fm.source) or {}
                    why = ("external (Swarm only; Compose refuses it too: \"unsupported "
                           f'external {key[:-1]}")' if spec.get("external")
                           else "without file, environment or content")
                    raise InputError(f'{key[:-1]} "{fm.source}" is {why}: nothing to mount on '
                                     "a single engine", file=svc.source_file,
                                     path=f"services.{name}.{key}[{i}]")
                if fm.file is not None and not os.path.exists(fm.file):
                    raise InputError(f'{key[:-1]} "{fm.source}": file {fm.file} not found',
                                     file=svc.source_file,
                                     path=f"services.{name}.{key}[{i}]")


def _mounts(project: Project, svc: Service) -> tuple[EngineMount, ...]:
    """Volumes (named ones by their engine name), binds, and file-backed secrets/configs."""
    mounts = []
    for m in svc.volumes:
        source = m.source
        if m.type == "volume" and source:
            source = project.volumes[source].name
        mounts.append(EngineMount(type=m.type, source=source, target=m.target,
                                  read_only=m.read_only, create_host_path=m.type == "bind",
                                  propagation=m.propagation, selinux=m.selinux,
                                  nocopy=m.nocopy, labels=dict(m.volume_labels),
                                  tmpfs_size=m.tmpfs_size, tmpfs_mode=m.tmpfs_mode))
    for fm in (*svc.secrets, *svc.configs):
        if fm.file:
            mounts.append(EngineMount(type="bind", source=fm.file, target=fm.target,
                                      read_only=True))
    return tuple(mounts)
