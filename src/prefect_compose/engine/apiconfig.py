"""ContainerSpec -> the body of POST /containers/create (Docker Engine API 1.41), and an
inspect result -> ContainerInfo."""

from __future__ import annotations

import io
import math
import tarfile
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prefect_compose.plan.labels import LABEL_NUMBER, LABEL_SERVICE
from prefect_compose.plan.specs import ContainerInfo, ContainerSpec, FileCopy


def container_config(spec: ContainerSpec) -> dict[str, Any]:
    """The body of POST /containers/create for ``spec``."""
    exposed, bindings = _ports(spec)
    config: dict[str, Any] = {
        "Image": spec.image,
        "Env": [f"{k}={v}" for k, v in spec.environment.items()],
        "Labels": dict(spec.labels),
        "ExposedPorts": exposed,
        "Tty": spec.tty,
        "AttachStdout": True,
        "AttachStderr": True,
        "StopTimeout": max(0, math.ceil(spec.stop_grace_s)),
        "HostConfig": _host_config(spec, bindings),
    }
    optional = {"Cmd": None if spec.command is None else list(spec.command),
                # [""] resets the entrypoint, as the CLI does
                "Entrypoint": None if spec.entrypoint is None else list(spec.entrypoint) or [""],
                "WorkingDir": spec.working_dir, "User": spec.user, "Hostname": spec.hostname,
                "StopSignal": spec.stop_signal,
                "Healthcheck": None if spec.healthcheck is None else _healthcheck(
                    spec.healthcheck)}
    config.update({k: v for k, v in optional.items() if v is not None and v != ""})
    if spec.network:
        endpoint: dict[str, Any] = {"Aliases": list(spec.aliases)} if spec.aliases else {}
        if spec.addresses.get(spec.network):
            endpoint["IPAMConfig"] = dict(spec.addresses[spec.network])
        if spec.endpoint_driver_opts.get(spec.network):
            endpoint["DriverOpts"] = dict(spec.endpoint_driver_opts[spec.network])
        config["NetworkingConfig"] = {"EndpointsConfig": {spec.network: endpoint}}
    config.update(spec.config_extra)
    return config


def _ports(spec: ContainerSpec) -> tuple[dict[str, dict], dict[str, list[dict[str, str]]]]:
    exposed: dict[str, dict] = {port: {} for port in spec.expose}
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in spec.ports:
        key = f"{port.target}/{port.protocol or 'tcp'}"
        exposed[key] = {}
        bindings.setdefault(key, []).append(
            {"HostIp": port.host_ip or "", "HostPort": str(port.published or "")})
    return exposed, bindings


def _host_config(spec: ContainerSpec, bindings: dict) -> dict[str, Any]:
    mounts, binds = [], []
    for m in spec.mounts:
        if m.type == "bind" and (m.create_host_path or m.selinux):
            # the Binds form: it creates a missing host path, and relabels (z, Z)
            modes = [x for x in ("ro" if m.read_only else None, m.selinux, m.propagation) if x]
            binds.append(f"{m.source}:{m.target}" + (f":{','.join(modes)}" if modes else ""))
            continue
        mounts.append(_mount(m))
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
    return host


def _mount(m: Any) -> dict[str, Any]:
    """One entry of HostConfig.Mounts, with its bind, volume or tmpfs options."""
    entry: dict[str, Any] = {"Type": m.type, "Target": m.target, "ReadOnly": m.read_only}
    if m.source:
        entry["Source"] = m.source
    if m.type == "bind" and m.propagation:
        entry["BindOptions"] = {"Propagation": m.propagation}
    if m.type == "volume" and (m.nocopy or m.labels):
        entry["VolumeOptions"] = {k: v for k, v in (("NoCopy", m.nocopy),
                                                    ("Labels", dict(m.labels))) if v}
    if m.type == "tmpfs" and (m.tmpfs_size or m.tmpfs_mode is not None):
        entry["TmpfsOptions"] = {k: v for k, v in (("SizeBytes", m.tmpfs_size),
                                                   ("Mode", m.tmpfs_mode)) if v is not None}
    return entry


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


def file_archive(files: Sequence[FileCopy]) -> bytes:
    """A tar of ``files`` for PUT /containers/{id}/archive at "/" (Compose's createTar)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for f in files:
            data = f.content.encode()
            info = tarfile.TarInfo(f.target.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), f.mode, int(time.time())
            info.uid, info.gid = f.uid or 0, f.gid or 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def in_order(infos: Iterable[ContainerInfo]) -> list[ContainerInfo]:
    """Containers sorted by service, number and name (how listings are returned)."""
    return sorted(infos, key=lambda c: (c.service or "", c.number or 0, c.name))


def row_info(row: Mapping[str, Any]) -> ContainerInfo:
    """A container list row as the runtime reads it: what the list call reports (no health,
    exit code or creation time: those need an inspect)."""
    labels = row.get("Labels") or {}
    number = labels.get(LABEL_NUMBER)
    names = row.get("Names") or [""]
    return ContainerInfo(
        id=row["Id"], name=names[0].lstrip("/"), service=labels.get(LABEL_SERVICE),
        state=row.get("State", ""), health=None, exit_code=None, labels=dict(labels),
        created="", number=int(number) if number and number.isdigit() else None,
        image=row.get("Image", ""))


def container_info(data: Mapping[str, Any]) -> ContainerInfo:
    """An inspect result as the runtime reads it."""
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
