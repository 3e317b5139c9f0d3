"""A second Docker engine owned by a test: its own `dockerd` with everything of its own.

    with second_dockerd() as engine:      # SecondEngine: .base_url, .client, .root, .log
        ...

- data root, exec root (its managed containerd's state too), pid file and unix socket under a
  fresh directory in /tmp (short: a unix socket path has at most 107 bytes);
- its own empty daemon config (`--config-file`: the host's /etc/docker/daemon.json names the
  main engine's data root, and dockerd refuses a flag and a file that both set it);
- its own default bridge, `pcbr<hex>`, created here and deleted on exit (NOT `--bridge=none`:
  a dockerd started with it deletes the host's docker0 at start-up, which broke the main
  engine's default network; measured 2026-12-02, coordinator), no iptables, masquerading or forwarding changes, no userland proxy; the user-defined networks a
  project creates take /24s from a private /16 that no route of the host uses.

On exit, in a finally: every container of that engine is removed (everything there is the
test's), dockerd gets SIGTERM then SIGKILL after bounded waits (its process group too: the
managed containerd), leftover mounts under the directory are lazily unmounted, the directory
is removed. `NestedDockerdUnavailable` carries dockerd's own words when it cannot run here.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
START_WAIT_S = 90.0
STOP_WAIT_S = 30.0


class NestedDockerdUnavailable(RuntimeError):
    pass


@dataclass
class SecondEngine:
    root: Path
    base_url: str  # unix:///tmp/pc-dockerd-XXXX/docker.sock
    client: object  # docker.DockerClient
    pid: int
    log: Path
    address_pool: str


def _ip(le_hex: str) -> str:
    v = int(le_hex, 16)  # /proc/net/route: little-endian hex
    return ".".join(str((v >> s) & 255) for s in (0, 8, 16, 24))


def _routes() -> list[IPv4Network]:
    """The host's IPv4 routes, default route excepted."""
    nets = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            f = line.split()
            if _ip(f[7]) != "0.0.0.0":
                nets.append(IPv4Network(f"{_ip(f[1])}/{_ip(f[7])}", strict=False))
    return nets


def free_private_range() -> str:
    """A 10.X.0.0/16 (X in 200..249) that overlaps no route of this host."""
    used = _routes()
    candidates = [IPv4Network(f"10.{x}.0.0/16") for x in range(200, 250)]
    random.shuffle(candidates)
    for net in candidates:
        if not any(net.overlaps(u) for u in used):
            return str(net)
    raise NestedDockerdUnavailable("no free 10.200-249.0.0/16 range for its networks")


def _tail(path: Path, lines: int = 25) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


@contextlib.contextmanager
def second_dockerd() -> Iterator[SecondEngine]:
    import docker

    if not os.path.exists(DOCKERD):
        raise NestedDockerdUnavailable(f"no dockerd binary ({DOCKERD})")
    root = Path(tempfile.mkdtemp(prefix="pc-dockerd-", dir="/tmp"))
    sock = root / "docker.sock"
    log = root / "dockerd.log"
    (root / "daemon.json").write_text("{}\n")
    pool = free_private_range()
    bridge = _make_bridge(root, pool)
    argv = [DOCKERD, "--config-file", str(root / "daemon.json"),
            "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
            "--pidfile", str(root / "docker.pid"), "--host", f"unix://{sock}",
            "--bridge", bridge, "--iptables=false", "--ip-masq=false", "--ip-forward=false",
            "--userland-proxy=false", "--default-address-pool", f"base={pool},size=24",
            "--log-level=warn"]
    proc = None
    client = None
    try:
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        base_url = f"unix://{sock}"
        deadline = time.monotonic() + START_WAIT_S
        while True:
            if proc.poll() is not None:
                raise NestedDockerdUnavailable(
                    f"dockerd exited with code {proc.returncode}: {' '.join(argv)}\n"
                    f"{_tail(log)}")
            if sock.exists():
                try:
                    client = docker.DockerClient(base_url=base_url, timeout=60)
                    client.ping()
                    break
                except Exception:  # noqa: BLE001 - not answering yet
                    if client is not None:
                        client.close()
                    client = None
            if time.monotonic() > deadline:
                raise NestedDockerdUnavailable(
                    f"dockerd did not answer on {base_url} within {START_WAIT_S:.0f}s\n"
                    f"{_tail(log)}")
            time.sleep(0.2)
        yield SecondEngine(root=root, base_url=base_url, client=client, pid=proc.pid, log=log,
                           address_pool=pool)
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                for c in client.api.containers(all=True):
                    with contextlib.suppress(Exception):
                        client.api.remove_container(c["Id"], force=True, v=True)
            with contextlib.suppress(Exception):
                client.api.prune_networks()  # this engine's own, all the test's
            with contextlib.suppress(Exception):
                client.close()
        if proc is not None:
            _stop(proc)
        _unmount_under(root)
        _delete_bridge(bridge)
        shutil.rmtree(root, ignore_errors=True)


def _make_bridge(root: Path, pool: str) -> str:
    """A bridge of the second engine's own (never docker0), with the pool's last /24."""
    name = "pcbr" + root.name[-8:].replace("_", "0")[:8]
    net = IPv4Network(pool)
    gateway = f"{str(net.network_address).rsplit('.', 2)[0]}.255.1/24"
    for cmd in (["ip", "link", "add", name, "type", "bridge"],
                ["ip", "addr", "add", gateway, "dev", name],
                ["ip", "link", "set", name, "up"]):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            _delete_bridge(name)
            raise NestedDockerdUnavailable(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return name


def _delete_bridge(name: str) -> None:
    if name.startswith("pcbr"):  # only ever the bridge made above
        subprocess.run(["ip", "link", "delete", name], capture_output=True, timeout=30)


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, STOP_WAIT_S), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # its managed containerd, if it outlived it


def _unmount_under(root: Path) -> None:
    prefix = str(root) + "/"
    with contextlib.suppress(OSError):
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for m in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True, timeout=30)
