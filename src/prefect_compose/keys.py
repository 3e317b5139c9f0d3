"""Every Compose key, and what prefect-compose does with it: the one table (SPEC: Safety,
"every key is honoured, refused or warned").

- **honoured**: passed to the engine (or, for keys of the loader's own such as ``extends``,
  done by the loader); ``how`` says where it lands.
- **warned**: accepted but not passed yet; the loader names it, with ``why``, once per key
  and file, on stderr and in the Prefect log.
- **refused**: the loader (or, with ``stage="up"``, ``up``) exits 2 naming file, service and
  key path.

A row may also carry ``partial``: a check of the value that returns why a value is *not*
honoured (``scale: 3``), so a key honoured for most values is
warned only for the others.

Paths drop service, network and list-item names: ``services.volumes.bind.propagation`` is
``services.*.volumes[*].bind.propagation``. The key lists are those of the compose-spec JSON
schema (compose-spec/compose-go ``schema/compose-spec.json``); tests/unit/test_keys.py checks
that every key ``load/schema.py`` accepts has a row and that the README's table is this one
(regenerate it with ``python -m prefect_compose.keys --write README.md``).

Imports nothing of the project's but ``errors``: the loader and the model both read it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prefect_compose.errors import InputError

HONOURED, WARNED, REFUSED = "honoured", "warned", "refused"


@dataclass(frozen=True)
class Key:
    status: str
    note: str  # honoured: how it reaches the engine; warned/refused: why
    partial: Callable[[Any], str | None] | None = None  # why this value is not honoured
    stage: str = "load"  # refused: where ("load": the loader; "up": up refuses, plan lists)


def H(how: str, partial: Callable[[Any], str | None] | None = None) -> Key:  # noqa: N802
    return Key(HONOURED, how, partial)


def W(why: str = "not supported yet") -> Key:  # noqa: N802
    return Key(WARNED, why)


def R(why: str, stage: str = "load") -> Key:  # noqa: N802
    return Key(REFUSED, why, stage=stage)


LOADER = "done by the loader"
NOT_YET = "not supported yet"
WINDOWS = "Windows containers only"
SWARM = "Swarm only: nothing to pass to a single engine"
NO_FIELD = "informational (Compose passes nothing either)"
COPIED = "the written-in file's (content/environment sources); a bind-mounted file keeps its own: warned"


def _not_one(value: Any) -> str | None:
    try:
        n = int(str(value))
    except ValueError:
        return None  # the model reports the bad value
    return None if n == 1 else (f"{n} replicas requested; prefect-compose runs one container "
                                "per service (scaling is not supported yet)")


def _cdi_devices(value: Any) -> str | None:
    names = [d if isinstance(d, str) else d.get("source") for d in value or []
             if isinstance(d, (str, dict))]
    cdi = [str(n).split(":")[0] for n in names if not str(n).startswith("/")]
    return f"CDI devices ({', '.join(cdi)}) are {NOT_YET}" if cdi else None


def _no_logs(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("driver") == "none":
        return ("driver none, ignored: prefect-compose reads every container's output to show "
                "it and keep it in Prefect")
    return None


# One row per key; keep one line each (several helpers edit this table).
KEYS: dict[str, Key] = {
    # -- services --
    "services.annotations": W(),
    "services.attach": W("every service's output is shown; attach: false is not honoured"),
    "services.blkio_config": W(),
    "services.build": H("built on the engine before the first container starts"),
    "services.build.additional_contexts": W("not passed to the build yet"),
    "services.build.args": H("build args"),
    "services.build.cache_from": W("not passed to the build yet"),
    "services.build.cache_to": W("BuildKit only"),
    "services.build.context": H("build context"),
    "services.build.dockerfile": H("build dockerfile"),
    "services.build.dockerfile_inline": H("the build's Dockerfile (added to the context under a random name)"),
    "services.build.entitlements": W("BuildKit only"),
    "services.build.extra_hosts": H("the RUN steps' /etc/hosts"),
    "services.build.isolation": W(WINDOWS),
    "services.build.labels": H("image labels"),
    "services.build.network": H("the RUN steps' network (host refused: a host escape)"),
    "services.build.no_cache": H("built without the layer cache"),
    "services.build.no_cache_filter": W("BuildKit only"),
    "services.build.platforms": W("multi-platform builds need BuildKit"),
    "services.build.privileged": W("BuildKit only"),
    "services.build.provenance": W("BuildKit only"),
    "services.build.pull": H("the base image pulled first"),
    "services.build.sbom": W("BuildKit only"),
    "services.build.secrets": R("build secrets need BuildKit; the engine API's classic builder (docker SDK) cannot pass them, so the image is not built without them"),
    "services.build.shm_size": H("the RUN steps' /dev/shm size"),
    "services.build.ssh": W("BuildKit only"),
    "services.build.tags": H("more tags of the built image"),
    "services.build.target": H("build target"),
    "services.build.ulimits": W("not passed to the build yet"),
    "services.cap_add": H("HostConfig.CapAdd (ALL and SYS_ADMIN are host escapes)"),
    "services.cap_drop": H("HostConfig.CapDrop"),
    "services.cgroup": H("HostConfig.CgroupnsMode"),
    "services.cgroup_parent": H("HostConfig.CgroupParent"),
    "services.command": H("Config.Cmd"),
    "services.configs": H("file sources bind-mounted read-only; content/environment written in before start"),
    "services.configs.gid": H(COPIED),
    "services.configs.mode": H(COPIED),
    "services.configs.source": H("the top-level config"),
    "services.configs.target": H("mount target"),
    "services.configs.uid": H(COPIED),
    "services.container_name": H("the container's name"),
    "services.cpu_count": W(WINDOWS),
    "services.cpu_percent": W(WINDOWS),
    "services.cpu_period": H("HostConfig.CpuPeriod"),
    "services.cpu_quota": H("HostConfig.CpuQuota"),
    "services.cpu_rt_period": H("HostConfig.CpuRealtimePeriod"),
    "services.cpu_rt_runtime": H("HostConfig.CpuRealtimeRuntime"),
    "services.cpu_shares": H("HostConfig.CpuShares"),
    "services.cpus": H("HostConfig.NanoCpus"),
    "services.cpuset": H("HostConfig.CpusetCpus"),
    "services.credential_spec": W(WINDOWS),
    "services.depends_on": H("the order of the plan's steps"),
    "services.depends_on.condition": H("what the step waits for"),
    "services.depends_on.required": H("a failed optional dependency is a warning"),
    "services.depends_on.restart": W("dependents are not restarted when a dependency is "
                                     "recreated"),
    "services.deploy": H("deploy.resources.limits cpus and memory; the rest is named below"),
    "services.deploy.endpoint_mode": W(SWARM),
    "services.deploy.labels": W(SWARM),
    "services.deploy.mode": W(SWARM),
    "services.deploy.placement": W(SWARM),
    "services.deploy.replicas": H("one container", _not_one),
    "services.deploy.resources": H("limits cpus and memory"),
    "services.deploy.resources.limits": H("cpus and memory"),
    "services.deploy.resources.limits.cpus": H("HostConfig.NanoCpus"),
    "services.deploy.resources.limits.memory": H("HostConfig.Memory"),
    "services.deploy.resources.limits.pids": W(),
    "services.deploy.resources.reservations": W(),
    "services.deploy.restart_policy": W("use restart:"),
    "services.deploy.rollback_config": W(SWARM),
    "services.deploy.update_config": W(SWARM),
    "services.develop": W("watch mode is not supported"),
    "services.device_cgroup_rules": H("HostConfig.DeviceCgroupRules"),
    "services.devices": H("HostConfig.Devices", _cdi_devices),
    "services.dns": H("HostConfig.Dns"),
    "services.dns_opt": H("HostConfig.DnsOptions"),
    "services.dns_search": H("HostConfig.DnsSearch"),
    "services.domainname": H("Config.Domainname"),
    "services.entrypoint": H("Config.Entrypoint"),
    "services.env_file": H("read into Config.Env"),
    "services.environment": H("Config.Env"),
    "services.expose": H("Config.ExposedPorts"),
    "services.extends": H(LOADER),
    "services.external_links": W(),
    "services.extra_hosts": H("HostConfig.ExtraHosts"),
    "services.gpus": W(),
    "services.group_add": H("HostConfig.GroupAdd"),
    "services.healthcheck": H("Config.Healthcheck"),
    "services.healthcheck.disable": H("Config.Healthcheck NONE"),
    "services.healthcheck.interval": H("Config.Healthcheck.Interval"),
    "services.healthcheck.retries": H("Config.Healthcheck.Retries"),
    "services.healthcheck.start_interval": W("engines before API 1.44 reject it"),
    "services.healthcheck.start_period": H("Config.Healthcheck.StartPeriod"),
    "services.healthcheck.test": H("Config.Healthcheck.Test"),
    "services.healthcheck.timeout": H("Config.Healthcheck.Timeout"),
    "services.hostname": H("Config.Hostname"),
    "services.image": H("Config.Image"),
    "services.init": H("HostConfig.Init"),
    "services.ipc": H("HostConfig.IpcMode (host is a host escape)"),
    "services.isolation": W(WINDOWS),
    "services.label_file": H("read into Config.Labels (labels: wins)"),
    "services.labels": H("Config.Labels"),
    "services.links": W("the dependency is honoured; the link alias is not added (services "
                        "reach each other by name)"),
    "services.logging": H("HostConfig.LogConfig", _no_logs),
    "services.mac_address": H("Config.MacAddress"),
    "services.mem_limit": H("HostConfig.Memory"),
    "services.mem_reservation": H("HostConfig.MemoryReservation"),
    "services.mem_swappiness": H("HostConfig.MemorySwappiness"),
    "services.memswap_limit": H("HostConfig.MemorySwap"),
    "services.models": W("model runners are not supported"),
    "services.network_mode": H("HostConfig.NetworkMode; service:X / container:X share that container's namespace (host is a host escape)"),
    "services.networks": H("attached with the service name and aliases"),
    "services.networks.aliases": H("EndpointsConfig.Aliases"),
    "services.networks.driver_opts": H("EndpointsConfig.DriverOpts"),
    "services.networks.gw_priority": W("needs Engine API 1.48; this engine speaks 1.41"),
    "services.networks.interface_name": W("needs Engine API 1.49; this engine speaks 1.41"),
    "services.networks.ipv4_address": H("EndpointsConfig.IPAMConfig.IPv4Address (checked against the network's subnets)"),
    "services.networks.ipv6_address": H("EndpointsConfig.IPAMConfig.IPv6Address (checked against the network's subnets)"),
    "services.networks.link_local_ips": H("EndpointsConfig.IPAMConfig.LinkLocalIPs"),
    "services.networks.mac_address": W("per-network MAC addresses need Engine API 1.44; this engine speaks 1.41 (use the service's mac_address)"),
    "services.networks.priority": H("the order networks are attached in"),
    "services.oom_kill_disable": H("HostConfig.OomKillDisable"),
    "services.oom_score_adj": H("HostConfig.OomScoreAdj"),
    "services.pid": H("HostConfig.PidMode (host is a host escape)"),
    "services.pids_limit": H("HostConfig.PidsLimit"),
    "services.platform": W("images are pulled and run for the engine's platform"),
    "services.ports": H("HostConfig.PortBindings"),
    "services.ports.app_protocol": H(NO_FIELD),
    "services.ports.host_ip": H("PortBindings HostIp"),
    "services.ports.mode": H(NO_FIELD),
    "services.ports.name": H(NO_FIELD),
    "services.ports.protocol": H("the port's protocol"),
    "services.ports.published": H("PortBindings HostPort"),
    "services.ports.target": H("the container port"),
    "services.post_start": W("post_start hooks are not run yet"),
    "services.pre_start": H("run to completion before the service starts"),
    "services.pre_start.command": H("Config.Cmd of the hook"),
    "services.pre_start.environment": H("Config.Env of the hook"),
    "services.pre_start.image": H("the hook's image"),
    "services.pre_start.per_replica": H("one replica: runs once"),
    "services.pre_start.privileged": H("HostConfig.Privileged (a host escape)"),
    "services.pre_start.user": H("Config.User of the hook"),
    "services.pre_start.working_dir": H("Config.WorkingDir of the hook"),
    "services.pre_stop": W("pre_stop hooks are not run yet"),
    "services.privileged": H("HostConfig.Privileged (a host escape)"),
    "services.profiles": H(LOADER),
    "services.provider": R("provider services cannot be deployed (plan lists them)",
                           stage="up"),
    "services.pull_policy": H("as Compose v2: always, never, missing, build, daily, weekly, every_<d>; pulled or found missing before anything is created"),
    "services.pull_refresh_after": W("Compose v2 ignores it too (compose-go reads refresh as missing); use pull_policy: every_<duration>"),
    "services.read_only": H("HostConfig.ReadonlyRootfs"),
    "services.restart": H("HostConfig.RestartPolicy; restart: no makes a job"),
    "services.runtime": H("HostConfig.Runtime"),
    "services.scale": H("one container", _not_one),
    "services.secrets": H("under /run/secrets: file sources bind-mounted read-only; environment written in before start"),
    "services.secrets.gid": H(COPIED),
    "services.secrets.mode": H(COPIED),
    "services.secrets.source": H("the top-level secret"),
    "services.secrets.target": H("mount target"),
    "services.secrets.uid": H(COPIED),
    "services.security_opt": H("HostConfig.SecurityOpt"),
    "services.shm_size": H("HostConfig.ShmSize"),
    "services.stdin_open": H("Config.OpenStdin"),
    "services.stop_grace_period": H("the stop timeout before SIGKILL"),
    "services.stop_signal": H("Config.StopSignal"),
    "services.storage_opt": H("HostConfig.StorageOpt"),
    "services.sysctls": H("HostConfig.Sysctls"),
    "services.tmpfs": H("HostConfig.Tmpfs"),
    "services.tty": H("Config.Tty"),
    "services.ulimits": H("HostConfig.Ulimits"),
    "services.use_api_socket": W("the Docker socket is not mounted"),
    "services.user": H("Config.User"),
    "services.userns_mode": H("HostConfig.UsernsMode"),
    "services.uts": H("HostConfig.UTSMode"),
    "services.volumes": H("HostConfig.Mounts and Binds"),
    "services.volumes.bind": H("bind options"),
    "services.volumes.bind.create_host_path": H("short syntax creates the host path"),
    "services.volumes.bind.propagation": H("the bind's propagation"),
    "services.volumes.bind.recursive": W("needs Engine API 1.44; this engine speaks 1.41"),
    "services.volumes.bind.selinux": H("relabelled z or Z (Binds mode)"),
    "services.volumes.consistency": W("macOS only"),
    "services.volumes.image": R("image mounts need Engine API 1.47; this engine speaks 1.41"),
    "services.volumes.image.subpath": R("image mounts need Engine API 1.47; this engine speaks 1.41"),
    "services.volumes.read_only": H("Mounts ReadOnly"),
    "services.volumes.source": H("Mounts Source"),
    "services.volumes.target": H("Mounts Target"),
    "services.volumes.tmpfs": H("tmpfs mount options"),
    "services.volumes.tmpfs.mode": H("TmpfsOptions.Mode"),
    "services.volumes.tmpfs.size": H("TmpfsOptions.SizeBytes"),
    "services.volumes.type": H("Mounts Type: volume, bind, tmpfs (image, npipe, cluster refused)"),
    "services.volumes.volume": H("volume mount options"),
    "services.volumes.volume.labels": H("VolumeOptions.Labels (of a volume the mount creates)"),
    "services.volumes.volume.nocopy": H("VolumeOptions.NoCopy"),
    "services.volumes.volume.subpath": W("needs Engine API 1.45; this engine speaks 1.41"),
    "services.volumes_from": H("HostConfig.VolumesFrom (a service's container, started first, or container:NAME)"),
    "services.working_dir": H("Config.WorkingDir"),
    "services.x-prefect": H("prefect-compose's own keys (SPEC: Extension keys)"),
    # -- networks --
    "networks.attachable": H("an attachable network"),
    "networks.driver": H("the network's driver"),
    "networks.driver_opts": H("the network's options"),
    "networks.enable_ipv4": H("IPv4 on; false (IPv6-only) needs API 1.47: refused"),
    "networks.enable_ipv6": H("IPv6 enabled"),
    "networks.external": H("used, never created or removed"),
    "networks.internal": H("an internal network"),
    "networks.ipam": H("the network's IPAM driver, pools and options"),
    "networks.labels": H("the network's labels"),
    "networks.name": H("the network's engine name"),
    # -- volumes --
    "volumes.driver": H("the volume's driver"),
    "volumes.driver_opts": H("the volume's driver options"),
    "volumes.external": H("used, never created or removed"),
    "volumes.labels": H("the volume's labels"),
    "volumes.name": H("the volume's engine name"),
    # -- secrets --
    "secrets.driver": W(SWARM),
    "secrets.driver_opts": W(SWARM),
    "secrets.environment": H("the variable's value, written in as a file (masked in all output)"),
    "secrets.external": W(SWARM),
    "secrets.file": H("bind-mounted read-only"),
    "secrets.labels": W(SWARM),
    "secrets.name": H(NO_FIELD),
    "secrets.template_driver": W(SWARM),
    # -- configs --
    "configs.content": H("written in as a file before start"),
    "configs.environment": H("the variable's value, written in as a file before start"),
    "configs.external": W(SWARM),
    "configs.file": H("bind-mounted read-only"),
    "configs.labels": W(SWARM),
    "configs.name": H(NO_FIELD),
    "configs.template_driver": W(SWARM),
}

# keys whose value maps user-chosen names (a network, a service) to the keyed options
NAMED = {"services.networks", "services.depends_on"}
SECTIONS = ("services", "networks", "volumes", "secrets", "configs")


_PARENTS: frozenset[str] | None = None  # every table path that has keys under it


def _has_children(path: str) -> bool:
    global _PARENTS
    if _PARENTS is None:  # a set once, not a scan of the table per key (1000 services: 2 s)
        _PARENTS = frozenset(k[:i] for k in KEYS for i, c in enumerate(k) if c == ".")
    return path in _PARENTS


def _walk(value: Any, path: str, where: str) -> Iterator[tuple[str, str, Any]]:
    """(table path, concrete path, value) of every keyed option under ``value``."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, path, f"{where}[{i}]")
        return
    if not isinstance(value, dict):
        return
    for key, sub in value.items():
        if not isinstance(key, str) or key.startswith(("x-", "__")) and key != "x-prefect":
            continue
        tpath, cpath = f"{path}.{key}", f"{where}.{key}"
        if tpath not in KEYS:
            continue  # not a Compose key: the schema has refused it already
        yield tpath, cpath, sub
        if sub is None or not _has_children(tpath) or KEYS[tpath].status != HONOURED:
            continue
        if tpath in NAMED:
            for name, opts in (sub.items() if isinstance(sub, dict) else ()):
                yield from _walk(opts, tpath, f"{cpath}.{name}")
        else:
            yield from _walk(sub, tpath, cpath)


def _is_reset(value: Any) -> bool:
    return type(value).__name__ == "Reset"


def review(doc: dict, file: str, warn: Callable[[str], None]) -> None:
    """Apply the table to one file's document (after its shape was checked): raise an
    InputError for a refused key, warn once per warned key (naming where it was seen).
    The same walk as ``_walk``, with each concrete path spelled out only where it is used."""
    seen: dict[str, tuple[str, str, list[str]]] = {}  # table path -> (first place, why, more)

    def visit(value: Any, path: str, where: Any, name: Any) -> None:
        if isinstance(value, list):
            for i, item in enumerate(value):
                visit(item, path, (where, f"[{i}]"), name)
            return
        if not isinstance(value, dict):
            return
        for key, sub in value.items():
            if not isinstance(key, str):
                continue
            tpath = _TPATHS.get((path, key))
            if tpath is None:
                if len(_TPATHS) > 4096:  # the table's keys, and few others: never grows much
                    _TPATHS.clear()
                tpath = _TPATHS[(path, key)] = (
                    "" if key.startswith(("x-", "__")) and key != "x-prefect" else f"{path}.{key}")
            row = KEYS.get(tpath)  # looked up each time: a test may change the table
            if row is None:
                continue  # not a Compose key: the schema has refused it already
            acts = row.status != HONOURED or row.partial is not None
            if acts and sub is not None and not _is_reset(sub):
                why = f"{row.note}, ignored" if row.status == WARNED else (
                    row.partial(sub) if row.partial else None)
                if row.status == REFUSED and row.stage == "load":
                    raise InputError(row.note, file=file, path=_spell((where, f".{key}")))
                if why is not None:
                    if tpath in seen:
                        seen[tpath][2].append(str(name))
                    else:
                        seen[tpath] = (_spell((where, f".{key}")), why, [])
            if sub is None or row.status != HONOURED or not _has_children(tpath):
                continue
            if tpath in NAMED:
                for opt_name, opts in (sub.items() if isinstance(sub, dict) else ()):
                    visit(opts, tpath, ((where, f".{key}"), f".{opt_name}"), name)
            else:
                visit(sub, tpath, (where, f".{key}"), name)

    for section in SECTIONS:
        entries = doc.get(section)
        if not isinstance(entries, dict):
            continue
        for name, body in entries.items():
            visit(body, section, (None, f"{section}.{name}"), name)
    for cpath, why, more in seen.values():
        also = sorted(set(more) - {cpath.split(".")[1]})
        warn(f"{file}: {cpath}: {why}" + (f" (also in {', '.join(also)})" if also else ""))


_TPATHS: dict[tuple[str, str], str] = {}  # (table path, key) -> its table path ("": none)


def _spell(where: Any) -> str:
    parts = []
    while where is not None:
        where, part = where
        parts.append(part)
    return "".join(reversed(parts))


def rows() -> list[tuple[str, str, str]]:
    """(key, status, note) in the table's order, for the README."""
    out = []
    for path, row in sorted(KEYS.items()):
        note = row.note
        if row.partial is not None:
            note += "; some values are warned (see the warning)"
        if row.status == REFUSED and row.stage == "up":
            note += " (refused by `up`)"
        out.append((path, row.status, note))
    return out


def counts() -> dict[str, int]:
    out = {HONOURED: 0, WARNED: 0, REFUSED: 0}
    for row in KEYS.values():
        out[row.status] += 1
    return out


BEGIN, END = "<!-- keys:begin -->", "<!-- keys:end -->"


def markdown() -> str:
    c = counts()
    lines = [BEGIN,
             f"{len(KEYS)} keys: {c[HONOURED]} honoured, {c[WARNED]} warned, "
             f"{c[REFUSED]} refused. Generated from `src/prefect_compose/keys.py` "
             "(`python -m prefect_compose.keys --write README.md`).", "",
             "| key | status | how / why |", "| --- | --- | --- |"]
    lines += [f"| `{p}` | {s} | {n.replace('|', '/')} |" for p, s, n in rows()]
    lines.append(END)
    return "\n".join(lines)


def replace_section(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + markdown() + text[end:]


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:2] == ["--write"]:
        path = sys.argv[2]
        with open(path, encoding="utf-8") as f:
            text = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(replace_section(text))
    else:
        print(markdown())
