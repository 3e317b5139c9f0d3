"""Host escapes (SPEC: Safety): keys that give a container the Docker host. `up`, `run`,
`deploy` and the flows refuse them (exit 2, before the engine is touched) unless allowed,
by `x-prefect: {allow: [NAME, ...]}` on the service or `--allow NAME` on the command line;
`plan` lists them as warnings so a file can be inspected.

Pure: the project model in, the escapes out. No engine, no Prefect.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prefect_compose.errors import InputError
from prefect_compose.model.types import ESCAPE_NAMES, Project, Service

# name -> what it gives the container
ESCAPES: dict[str, str] = {
    "privileged": "every capability and device of the host",
    "host_network": "the host's network stack",
    "host_pid": "the host's processes",
    "host_ipc": "the host's shared memory",
    "cap_all": "every capability",
    "cap_sys_admin": "CAP_SYS_ADMIN (mount, namespaces: root on the host in practice)",
    "docker_socket": "the Docker engine's socket (control of the host)",
    "host_root": "the host's root filesystem",
}
assert tuple(ESCAPES) == ESCAPE_NAMES
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


@dataclass(frozen=True)
class Escape:
    service: str
    file: str
    path: str  # key path, e.g. services.web.privileged
    name: str  # an ESCAPES key: what allows it

    def describe(self) -> str:
        return f"{self.file}: {self.path}: a host escape ({ESCAPES[self.name]})"

    def opt_in(self) -> str:
        return (f"x-prefect: {{allow: [{self.name}]}} on service {self.service}, "
                f"or --allow {self.name}")


def check_names(names: Iterable[str], where: str, file: str | None = None) -> tuple[str, ...]:
    """Validate opt-in names (x-prefect.allow, --allow)."""
    out = []
    for name in names:
        if name not in ESCAPES:
            raise InputError(f'unknown host escape "{name}" (expected one of: '
                             f'{", ".join(ESCAPES)})', file=file, path=where)
        out.append(name)
    return tuple(out)


def _sockets(environ: Mapping[str, str]) -> list[str]:
    socks = list(DOCKER_SOCKETS)
    host = environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        socks.append(host[len("unix://"):])
    return [os.path.realpath(s) for s in socks]


def _host_path(source: str, socks: list[str]) -> str | None:
    """The escape a bind of host path ``source`` is, if any."""
    real = os.path.realpath(source)
    if real == "/":
        return "host_root"
    if any(s == real or s.startswith(real.rstrip("/") + "/") for s in socks):
        return "docker_socket"
    return None


def _caps(svc: Service) -> list[tuple[int, str]]:
    out = []
    for i, cap in enumerate(svc.engine_options.get("cap_add") or ()):
        c = str(cap).upper().removeprefix("CAP_")
        if c == "ALL":
            out.append((i, "cap_all"))
        elif c == "SYS_ADMIN":
            out.append((i, "cap_sys_admin"))
    return out


def service_escapes(project: Project, svc: Service,
                    environ: Mapping[str, str] | None = None, *,
                    socks: list[str] | None = None) -> list[Escape]:
    """``socks``: the engine sockets' real paths (``_sockets``), when the caller has them."""
    if socks is None:
        socks = _sockets(os.environ if environ is None else environ)
    base = f"services.{svc.name}"
    found: list[tuple[str, str]] = []  # (path, name)
    o = svc.engine_options
    if o.get("privileged"):
        found.append((f"{base}.privileged", "privileged"))
    for i, hook in enumerate(svc.pre_start):
        if hook.privileged:
            found.append((f"{base}.pre_start[{i}].privileged", "privileged"))
    if svc.network_mode == "host":
        found.append((f"{base}.network_mode", "host_network"))
    if o.get("pid") == "host":
        found.append((f"{base}.pid", "host_pid"))
    if o.get("ipc") == "host":
        found.append((f"{base}.ipc", "host_ipc"))
    found += [(f"{base}.cap_add[{i}]", name) for i, name in _caps(svc)]
    for i, m in enumerate(svc.volumes):
        name = None
        if m.type == "bind" and m.source:
            name = _host_path(m.source, socks)
        elif m.type == "volume" and m.source in project.volumes:
            vol = project.volumes[m.source]
            opts = vol.driver_opts
            if (vol.driver in (None, "local") and "bind" in opts.get("o", "").split(",")
                    and opts.get("device")):
                name = _host_path(opts["device"], socks)  # a bind mount in disguise
        if name:
            found.append((f"{base}.volumes[{i}]", name))
    for key, grants in (("secrets", svc.secrets), ("configs", svc.configs)):
        for i, fm in enumerate(grants):
            name = _host_path(fm.file, socks) if fm.file else None
            if name:
                found.append((f"{base}.{key}[{i}]", name))
    return [Escape(svc.name, svc.source_file or project.files[0], path, name)
            for path, name in found]


def find(project: Project, environ: Mapping[str, str] | None = None) -> list[Escape]:
    """Every host escape of the project's services, sorted by service."""
    socks = _sockets(os.environ if environ is None else environ)  # once, not per service
    return [e for name in sorted(project.services)
            for e in service_escapes(project, project.services[name], socks=socks)]


def review(project: Project, allow: Iterable[str] = (), *, refuse: bool = True,
           environ: Mapping[str, str] | None = None) -> list[str]:
    """Refuse (InputError, exit 2) the first escape that neither the service's
    ``x-prefect.allow`` nor ``allow`` (the command line's) allows; with ``refuse=False``
    (`plan`), return a warning for each escape instead (allowed ones say so)."""
    allowed_globally = set(allow)
    warnings = []
    for e in find(project, environ):
        ok = e.name in allowed_globally or e.name in project.services[e.service].x_prefect.allow
        if not refuse:
            warnings.append(f"{e.describe()}: " + (
                "allowed" if ok else f"up refuses it unless allowed: {e.opt_in()}"))
        elif not ok:
            raise InputError(f"a host escape ({ESCAPES[e.name]}), refused: allow it with "
                             f"{e.opt_in()}", file=e.file, path=e.path)
    return warnings
