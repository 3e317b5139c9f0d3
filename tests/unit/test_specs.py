"""Service model -> ContainerSpec (no engine): labels, names, aliases, mounts, healthcheck,
limits, restart policy, hooks and throwaway runs; and size-seconds accounting."""

from __future__ import annotations

import textwrap

import pytest

from prefect_compose.run.accounting import UNIT_MEMORY, size_seconds, size_units
from prefect_compose.engine.client import (
    LABEL_CONFIG_HASH,
    LABEL_FLOW_RUN,
    LABEL_NUMBER,
    LABEL_ONEOFF,
    LABEL_PROJECT,
    LABEL_SERVICE,
)
from prefect_compose.load import load_project
from prefect_compose.plan.compile import compile_plan
from prefect_compose.plan.containers import build_spec

COMPOSE = """\
    name: demo
    services:
      db:
        image: busybox:latest
        restart: unless-stopped
        environment: {DB_PASSWORD: hunter22, EMPTY: "", UNSET_ONE: null}
        healthcheck: {test: ["CMD", "true"], interval: 1s, timeout: 2s, retries: 4,
                      start_period: 500ms}
        volumes: [data:/var/lib/db, ./conf:/etc/db:ro]
        networks:
          back: {aliases: [database]}
        cpus: 0.5
        mem_limit: 256m
        stop_grace_period: 3s
        stop_signal: SIGINT
        ports: ["5432:5432"]
        cap_add: [NET_ADMIN]
        extra_hosts: ["host.internal:10.0.0.1"]
      migrate:
        image: busybox:latest
        restart: "no"
        command: sh -c 'echo migrate'
        networks: [back]
        pre_start:
          - command: ["echo", "hook"]
            environment: {HOOK: "1"}
            user: nobody
    networks:
      back: {}
    volumes:
      data: {}
    """


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yaml").write_text(textwrap.dedent(COMPOSE))
    p = load_project(["compose.yaml"], environ={})
    return p, compile_plan(p)


def test_long_running_spec_carries_compose_labels_name_and_aliases(project):
    p, plan = project
    spec = build_spec(p, p.services["db"], image="busybox:latest", config_hash="abc",
                      oneoff=False, flow_run_id="run-1")
    assert spec.name == "demo-db-1"
    assert spec.labels[LABEL_PROJECT] == "demo" and spec.labels[LABEL_SERVICE] == "db"
    assert spec.labels[LABEL_ONEOFF] == "False" and spec.labels[LABEL_CONFIG_HASH] == "abc"
    assert spec.labels[LABEL_NUMBER] == "1" and spec.labels[LABEL_FLOW_RUN] == "run-1"
    assert spec.network == "demo_back" and spec.aliases == ("db", "database")
    # unset variables are left out, empty ones kept
    assert spec.environment == {"DB_PASSWORD": "hunter22", "EMPTY": ""}


def test_mounts_ports_limits_and_engine_options(project):
    p, _ = project
    spec = build_spec(p, p.services["db"], image="busybox:latest", config_hash="h",
                      oneoff=False)
    by_target = {m.target: m for m in spec.mounts}
    assert by_target["/var/lib/db"].type == "volume"
    assert by_target["/var/lib/db"].source == "demo_data"  # the project-scoped volume name
    assert by_target["/etc/db"].type == "bind" and by_target["/etc/db"].read_only
    assert by_target["/etc/db"].source.endswith("/conf")
    assert [(pb.target, pb.published) for pb in spec.ports] == [(5432, "5432")]
    assert spec.nano_cpus == 500_000_000 and spec.mem_limit == 256 * 1024 * 1024
    assert spec.stop_grace_s == 3.0 and spec.stop_signal == "SIGINT"
    assert spec.extra["CapAdd"] == ["NET_ADMIN"]
    assert spec.extra["ExtraHosts"] == ["host.internal:10.0.0.1"]
    assert spec.extra["RestartPolicy"] == {"Name": "unless-stopped", "MaximumRetryCount": 0}


def test_healthcheck_is_converted_to_nanoseconds(project):
    p, _ = project
    hc = build_spec(p, p.services["db"], image="i", config_hash="h", oneoff=False).healthcheck
    assert hc == {"test": ["CMD", "true"], "interval": 1_000_000_000,
                  "timeout": 2_000_000_000, "retries": 4, "start_period": 500_000_000}


def test_job_container_is_oneoff_and_has_no_restart_policy(project):
    p, _ = project
    spec = build_spec(p, p.services["migrate"], image="busybox:latest", config_hash="h",
                      oneoff=True)
    assert spec.name.startswith("demo-migrate-run-")
    assert spec.labels[LABEL_ONEOFF] == "True"
    assert spec.command == ("sh", "-c", "echo migrate")
    assert "RestartPolicy" not in spec.extra
    assert spec.aliases == ("migrate",)  # jobs are reachable by name like any service


def test_pre_start_hook_uses_the_service_image_and_its_own_command(project):
    p, plan = project
    svc = p.services["migrate"]
    assert [s.id for s in plan.steps if s.service == "migrate"] == [
        "migrate: pre_start[0]", "migrate"]
    spec = build_spec(p, svc, image="busybox:latest", config_hash="h", oneoff=True,
                      hook=svc.pre_start[0])
    assert spec.image == "busybox:latest" and spec.command == ("echo", "hook")
    assert spec.user == "nobody" and spec.environment["HOOK"] == "1"
    assert spec.healthcheck == {"test": ["NONE"]}


def test_throwaway_run_overrides_the_command_and_publishes_nothing(project):
    p, _ = project
    spec = build_spec(p, p.services["db"], image="busybox:latest", config_hash="h",
                      oneoff=True, command=("env",), extra_env={"X": "1"},
                      use_aliases=False, publish_ports=False)
    assert spec.command == ("env",) and spec.environment["X"] == "1"
    assert spec.ports == () and spec.aliases == ()
    assert "RestartPolicy" not in spec.extra


@pytest.mark.parametrize("cpus, mem, expected", [
    (None, None, 1.0),             # no limits: one standard unit
    (2.0, None, 2.0),              # CPU-bound size
    (0.5, 2 * UNIT_MEMORY, 2.0),   # memory makes it larger
    (0.25, UNIT_MEMORY // 2, 0.5),  # smaller than a unit
])
def test_size_units(cpus, mem, expected):
    assert size_units(cpus, mem) == expected


def test_size_seconds_is_size_times_wall_seconds():
    assert size_seconds(2.0, None, 10.0) == 20.0
    assert size_seconds(None, None, 1.5) == 1.5
    assert size_seconds(None, None, -1) == 0.0
