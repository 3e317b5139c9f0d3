"""Before its first step, a deployment lists the project's long-running containers once:
the reaper, the container-name check and converge read the same listing (three list calls
were ~25 ms each at 200 containers), taken while the deployment holds the lock. Counted on
the wire, through a proxy in front of the real engine."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from engine_proxy import EngineProxy

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(300)]

SERVICES = 20  # more names than the engine's name filter is asked for (NAME_FILTER_MAX)


def _lists(requests: list[tuple[str, str]]) -> list[list[str]]:
    """The label filters of every container list call (an empty list: no label filter)."""
    out = []
    for method, path in requests:
        parts = urlsplit(path)
        if method != "GET" or not parts.path.endswith("/containers/json"):
            continue
        filters = json.loads((parse_qs(parts.query).get("filters") or ["{}"])[0])
        out.append(sorted(filters.get("label") or []) + sorted(
            f"name={n}" for n in filters.get("name") or []))
    return out


def test_an_unchanged_redeploy_must_list_the_projects_services_once(
        pc, project, prefect_server, busybox_image, tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n" + "".join(
        f"  s{i}:\n    image: {busybox_image}\n    command: [sleep, '600']\n"
        f"    stop_signal: SIGKILL\n" for i in range(SERVICES)))
    first = pc.run_cli("up", tmp_path, project, timeout=180)
    assert first.rc == 0, first.show()
    with EngineProxy(tmp_path / "engine.sock", "/var/run/docker.sock") as proxy:
        again = pc.run_cli("up", tmp_path, project, env={"DOCKER_HOST": proxy.url},
                           timeout=180)
        requests = list(proxy.requests)
    assert again.rc == 0, again.show()
    assert again.stderr.count("unchanged, left running") == SERVICES, again.show()
    lists = _lists(requests)
    services = [f for f in lists if f == sorted([f"com.docker.compose.project={project}",
                                                 "com.docker.compose.oneoff=False"])]
    assert len(services) == 1, lists
    assert [] not in lists, lists  # no listing of every container for the name check
