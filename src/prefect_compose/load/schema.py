"""The shapes Compose accepts, checked before the model is built, so a wrong type is an input
error naming the file and key path (exit 2), never a crash.

A small table of our own, after the Compose specification: each key maps to the kinds of
value it takes. Unknown keys inside structured values are errors, as in Compose; what is done
with each accepted key (honoured, warned or refused) is the table in ``prefect_compose.keys``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect_compose.errors import InputError
from prefect_compose.load.yamlfile import Override, Reset

# value kinds
S, B, I, N, NULL = "string", "boolean", "integer", "number", "null"


class Seq:
    def __init__(self, *items: Any) -> None:
        self.items = items  # allowed kinds of each item


class Map:
    def __init__(self, keys: dict[str, Any] | None = None, values: Any = None) -> None:
        self.keys = keys  # fixed keys (None: any key), x- keys always allowed
        self.values = values  # the kind of every value when keys is None


STRS = Seq(S)
SCALARS = (S, N, B, NULL)
LIST_OR_DICT = (Seq(S, N), Map(values=SCALARS))
COMMAND = (S, STRS, NULL)

class Duration:
    """A Compose duration ("1m30s"); checked here so the error names the file that set it."""


DURATION = Duration()
HEALTHCHECK = Map({"test": (S, STRS), "interval": DURATION, "timeout": DURATION,
                   "retries": (N, S), "start_period": DURATION, "start_interval": DURATION,
                   "disable": (B, S)})
BUILD = Map({"context": S, "dockerfile": S, "dockerfile_inline": S, "args": LIST_OR_DICT,
             "target": S, "labels": LIST_OR_DICT, "additional_contexts": LIST_OR_DICT,
             "cache_from": STRS, "cache_to": STRS, "entitlements": STRS,
             "extra_hosts": (STRS, Map(values=(S, STRS))), "isolation": S, "network": S,
             "no_cache": (B, S), "no_cache_filter": (S, STRS), "platforms": STRS, "privileged": (B, S),
             "provenance": (B, S), "pull": (B, S), "sbom": (B, S),
             "secrets": Seq(S, Map()), "shm_size": (I, S), "ssh": (STRS, Map()),
             "tags": STRS, "ulimits": Map()})
DEPENDENCY = Map({"condition": S, "required": (B, S), "restart": (B, S), "__short__": B})
PORT = Map({"name": S, "mode": S, "host_ip": S, "target": (I, S), "published": (S, I),
            "protocol": S, "app_protocol": S})
VOLUME_MOUNT = Map({"type": S, "source": S, "target": S, "read_only": (B, S),
                    "consistency": S, "bind": Map({"propagation": S, "create_host_path": (B, S),
                                                   "recursive": S, "selinux": S}),
                    "volume": Map({"nocopy": (B, S), "subpath": S, "labels": LIST_OR_DICT}),
                    "tmpfs": Map({"size": (I, S), "mode": (N, S)}),
                    "image": Map({"subpath": S})})
FILE_GRANT = Map({"source": S, "target": S, "uid": S, "gid": S, "mode": (N, S)})
SERVICE_NETWORK = (NULL, Map({"aliases": STRS, "ipv4_address": S, "ipv6_address": S,
                              "link_local_ips": STRS, "mac_address": S, "driver_opts": Map(),
                              "priority": N, "gw_priority": N, "interface_name": S}))
HOOK = Map({"command": COMMAND, "image": S, "environment": LIST_OR_DICT, "user": S,
            "working_dir": S, "privileged": (B, S), "per_replica": (B, S)})
DEPLOY = Map({"mode": S, "replicas": (I, S), "labels": LIST_OR_DICT, "endpoint_mode": S,
              "resources": Map({"limits": Map({"cpus": (N, S), "memory": (S, I), "pids": (I, S)}),
                                "reservations": Map()}),
              "restart_policy": Map(), "rollback_config": Map(), "update_config": Map(),
              "placement": Map()})

SERVICE: dict[str, Any] = {
    "annotations": LIST_OR_DICT, "attach": (B, S), "blkio_config": Map(), "build": (S, BUILD),
    "cap_add": STRS, "cap_drop": STRS, "cgroup": S, "cgroup_parent": S, "command": COMMAND,
    "configs": Seq(S, FILE_GRANT), "container_name": S, "cpu_count": (S, I),
    "cpu_percent": (S, I), "cpu_period": (N, S), "cpu_quota": (N, S), "cpu_rt_period": (N, S),
    "cpu_rt_runtime": (N, S), "cpu_shares": (N, S), "cpus": (N, S), "cpuset": S,
    "credential_spec": Map(), "depends_on": (STRS, Map(values=DEPENDENCY)), "deploy": DEPLOY,
    "develop": Map(), "device_cgroup_rules": STRS, "devices": Seq(S, Map()),
    "dns": (S, STRS), "dns_opt": STRS, "dns_search": (S, STRS), "domainname": S,
    "entrypoint": COMMAND, "env_file": (S, Seq(S, Map({"path": S, "required": (B, S),
                                                        "format": S}))),
    "environment": LIST_OR_DICT, "expose": Seq(S, N), "extends": (S, Map({"service": S,
                                                                         "file": S})),
    "external_links": STRS, "extra_hosts": (STRS, Map(values=(S, STRS))), "gpus": (S, Seq(Map())),
    "group_add": Seq(S, N), "healthcheck": HEALTHCHECK, "hostname": S, "image": S,
    "init": (B, S), "ipc": S, "isolation": S, "label_file": (S, STRS), "labels": LIST_OR_DICT,
    "links": STRS, "logging": Map({"driver": S, "options": Map()}), "mac_address": S,
    "mem_limit": (N, S), "mem_reservation": (S, I), "mem_swappiness": (I, S),
    "memswap_limit": (N, S), "models": (STRS, Map()), "network_mode": S,
    "networks": (STRS, Map(values=SERVICE_NETWORK)), "oom_kill_disable": (B, S),
    "oom_score_adj": (S, I), "pid": (S, NULL), "pids_limit": (N, S), "platform": S,
    "ports": Seq(N, S, PORT), "post_start": Seq(HOOK), "pre_stop": Seq(HOOK),
    "pre_start": Seq(HOOK), "privileged": (B, S), "profiles": STRS, "provider": Map(),
    "pull_policy": S, "pull_refresh_after": S, "read_only": (B, S), "restart": (S, B),
    "runtime": S, "scale": (I, S), "secrets": Seq(S, FILE_GRANT), "security_opt": STRS,
    "shm_size": (N, S), "stdin_open": (B, S), "stop_grace_period": DURATION, "stop_signal": S,
    "storage_opt": Map(), "sysctls": LIST_OR_DICT, "tmpfs": (S, STRS), "tty": (B, S),
    "ulimits": Map(), "use_api_socket": B, "user": S, "userns_mode": S, "uts": S,
    "volumes": Seq(S, VOLUME_MOUNT), "volumes_from": STRS, "working_dir": S,
    "x-prefect": Map(), "__file__": S,
}
TOP_NETWORK = (NULL, Map({"name": S, "driver": S, "driver_opts": Map(), "external": (B, Map()),
                          "internal": (B, S), "attachable": (B, S), "enable_ipv4": (B, S),
                          "enable_ipv6": (B, S), "ipam": Map(), "labels": LIST_OR_DICT}))
TOP_VOLUME = (NULL, Map({"name": S, "driver": S, "driver_opts": Map(), "external": (B, Map()),
                         "labels": LIST_OR_DICT}))
TOP_SECRET = Map({"name": S, "file": S, "environment": S, "external": (B, Map()),
                  "labels": LIST_OR_DICT, "driver": S, "driver_opts": Map(),
                  "template_driver": S})
TOP_CONFIG = Map({"name": S, "file": S, "content": S, "environment": S,
                  "external": (B, Map()), "labels": LIST_OR_DICT, "template_driver": S})
TOP_LEVEL: dict[str, Any] = {
    "networks": Map(values=TOP_NETWORK), "volumes": Map(values=TOP_VOLUME),
    "secrets": Map(values=TOP_SECRET), "configs": Map(values=TOP_CONFIG),
}

def _kind(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return B
    if isinstance(value, int):
        return I
    if isinstance(value, float):
        return N
    if isinstance(value, str):
        return S
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


_ARTICLE = {S: "a string", N: "a number", I: "a whole number", B: "a boolean", NULL: "null"}


def _describe(spec: Any) -> str:
    options = spec if isinstance(spec, tuple) else (spec,)
    names = list(dict.fromkeys(
        "a list" if isinstance(o, Seq) else "a mapping" if isinstance(o, Map)
        else _ARTICLE.get(o, o) for o in options))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _matches(value: Any, kind: str) -> bool:
    k = _kind(value)
    return k == kind or (kind == N and k == I)


def check(value: Any, spec: Any, path: str, fail: Callable[[str, str], None],
          warn: Callable[[str, str], None] | None = None, top: str = "") -> None:
    """Check ``value`` against ``spec``; ``fail(path, message)`` raises."""
    if spec is S and type(value) is str:  # the common case, first
        return
    if isinstance(value, Reset):
        return
    if isinstance(value, Override):
        value = value.value
    if isinstance(spec, Duration):
        from prefect_compose.units import parse_duration

        try:
            parse_duration(value)
        except ValueError as exc:
            fail(path, str(exc))
        return
    options = spec if isinstance(spec, tuple) else (spec,)
    for option in options:
        if isinstance(option, Seq) and isinstance(value, list):
            for i, item in enumerate(value):
                check(item, option.items if len(option.items) > 1 else option.items[0],
                      f"{path}[{i}]", fail, warn, top)
            return
        if isinstance(option, Map) and isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str) and k.startswith("x-"):
                    continue
                sub = f"{path}.{k}"
                if option.keys is not None:
                    if k not in option.keys:
                        fail(sub, f'unknown key "{k}"')
                    check(v, option.keys[k], sub, fail, warn, top)
                elif option.values is not None:
                    check(v, option.values, sub, fail, warn, top)
            return
        if isinstance(option, str) and _matches(value, option):
            return
    got = {"list": "a list", "mapping": "a mapping", NULL: "empty"}.get(
        _kind(value), _ARTICLE.get(_kind(value), _kind(value)))
    fail(path, f"must be {_describe(spec)}, not {got}"
               + (f" ({value!r})" if isinstance(value, (str, int, float)) and
                  not isinstance(value, bool) else ""))


# -- the same check, compiled once into predicates ---------------------------------------
# ``_valid(spec)(value)`` is True only where ``check`` passes; when it is False, ``check`` runs
# and says what is wrong (so every message stays the one above). No spec is walked per value.

_TYPES = {S: (str,), B: (bool,), I: (int,), N: (int, float), NULL: (type(None),)}


def _duration_ok(value: Any) -> bool:
    from prefect_compose.units import parse_duration

    try:
        parse_duration(value)
    except ValueError:
        return False
    return True


_COMPILED: dict[int, Callable[[Any], bool]] = {}


def _valid(spec: Any) -> Callable[[Any], bool]:
    """The predicate of ``spec``, built once per spec object."""
    key = id(spec)
    if key not in _COMPILED:
        _COMPILED[key] = _compile(spec)
    return _COMPILED[key]


def _compile(spec: Any) -> Callable[[Any], bool]:
    """Exact types only (``type(v) is bool`` is never an int here): anything else, a
    subclass included, is "invalid", and the full check decides."""
    if isinstance(spec, Duration):
        def duration(v: Any) -> bool:
            t = type(v)
            if t is Reset:
                return True
            if t is Override:
                v = v.value
            return _duration_ok(v)

        return duration
    options = spec if isinstance(spec, tuple) else (spec,)
    # `check` commits to the first list option for a list and the first mapping option for
    # a mapping; scalar kinds never match either
    seq = next((o for o in options if isinstance(o, Seq)), None)
    mapping = next((o for o in options if isinstance(o, Map)), None)
    scalars = frozenset(t for o in options if isinstance(o, str) for t in _TYPES.get(o, ()))
    seq_ok = _seq_test(seq) if seq is not None else None
    map_ok = _map_test(mapping) if mapping is not None else None

    def plain(v: Any) -> bool:
        t = type(v)
        if t in scalars:
            return True
        if t is list:
            return seq_ok is not None and seq_ok(v)
        if t is dict:
            return map_ok is not None and map_ok(v)
        return False

    def test(v: Any) -> bool:
        t = type(v)
        if t is Reset:
            return True
        if t is Override:  # unwrapped once, as `check` does
            return plain(v.value)
        return plain(v)

    return test


def _seq_test(seq: Seq) -> Callable[[list], bool]:
    items = seq.items if len(seq.items) > 1 else seq.items[0]
    cell: list[Callable[[Any], bool]] = []

    def test(v: list) -> bool:
        if not cell:
            cell.append(_valid(items))
        item_ok = cell[0]
        for x in v:
            if not item_ok(x):
                return False
        return True

    return test


def _map_test(m: Map) -> Callable[[dict], bool]:
    cell: list[Any] = []

    def test(v: dict) -> bool:
        if not cell:  # compiled on first use: the specs nest (and are shared)
            cell.append({k: _valid(sub) for k, sub in m.keys.items()} if m.keys is not None
                        else None)
            cell.append(_valid(m.values) if m.values is not None else None)
        keys, values = cell
        for k, sub in v.items():
            if type(k) is not str:
                return False
            if k.startswith("x-"):
                continue
            if keys is not None:
                ok = keys.get(k)
                if ok is None or not ok(sub):
                    return False
            elif values is not None and not values(sub):
                return False
        return True

    return test


_SERVICE_TESTS: dict[str, Callable[[Any], bool]] = {}


def _service_ok(svc: dict) -> bool:
    if not _SERVICE_TESTS:
        _SERVICE_TESTS.update({k: _valid(spec) for k, spec in SERVICE.items()})
    tests = _SERVICE_TESTS
    for key, value in svc.items():
        if type(key) is not str:
            return False
        ok = tests.get(key)
        if ok is None:
            if not key.startswith("x-"):
                return False
        elif not ok(value):
            return False
    return True


def check_service(svc: dict, file: str, path: str, warn: Callable[[str], None]) -> None:
    if _service_ok(svc):
        return

    def fail(p: str, message: str) -> None:
        raise InputError(message, file=file, path=p)

    for key, value in svc.items():
        if key in SERVICE:
            check(value, SERVICE[key], f"{path}.{key}", fail,
                  lambda p, m: warn(f"{file}: {p}: {m}"), top=key)
        elif not (isinstance(key, str) and key.startswith("x-")):
            fail(f"{path}.{key}", f'unknown key "{key}"')


def check_top_level(doc: dict, file: str, warn: Callable[[str], None]) -> None:
    def fail(p: str, message: str) -> None:
        raise InputError(message, file=file, path=p)

    for key, spec in TOP_LEVEL.items():
        if key in doc and doc[key] is not None and not _valid(spec)(doc[key]):
            check(doc[key], spec, key, fail, lambda p, m: warn(f"{file}: {p}: {m}"), top=key)
