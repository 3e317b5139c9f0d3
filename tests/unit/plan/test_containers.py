"""Service model -> ContainerSpec (no engine): labels, names, aliases, mounts, healthcheck,
limits, restart policy, hooks and throwaway runs."""

from __future__ import annotations

import textwrap

import pytest

from prefect_compose.plan.labels import (
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


def _spec_of(tmp_path, monkeypatch, compose: str, service: str, **kwargs):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yaml").write_text(textwrap.dedent(compose))
    p = load_project(["compose.yaml"], environ={})
    kwargs = {"image": "busybox:latest", "config_hash": "h", "oneoff": False, **kwargs}
    return p, build_spec(p, p.services[service], **kwargs)


def test_container_name_key_must_name_the_container(tmp_path, monkeypatch):
    _, spec = _spec_of(tmp_path, monkeypatch, """\
        services:
          web: {image: busybox:latest, container_name: my-web}
        """, "web")
    assert spec.name == "my-web"


def test_extra_networks_must_be_ordered_by_priority_then_name(tmp_path, monkeypatch):
    _, spec = _spec_of(tmp_path, monkeypatch, """\
        name: demo
        services:
          web:
            image: busybox:latest
            networks: {a: {}, b: {priority: 10}, c: {aliases: [see]}}
        networks: {a: {}, b: {}, c: {}}
        """, "web")
    assert spec.network == "demo_b" and spec.aliases == ("web",)
    assert spec.extra_networks == {"demo_a": ("web",), "demo_c": ("web", "see")}


def test_network_mode_host_must_replace_every_network(tmp_path, monkeypatch):
    _, spec = _spec_of(tmp_path, monkeypatch, """\
        services:
          web: {image: busybox:latest, network_mode: host}
        """, "web")
    assert spec.extra["NetworkMode"] == "host"
    assert spec.network is None and spec.aliases == () and spec.extra_networks == {}


def test_on_failure_restart_count_must_reach_the_restart_policy(tmp_path, monkeypatch):
    _, spec = _spec_of(tmp_path, monkeypatch, """\
        services:
          web: {image: busybox:latest, restart: "on-failure:3"}
        """, "web")
    assert spec.extra["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}


def test_a_privileged_hook_must_run_privileged_and_the_service_must_not(tmp_path, monkeypatch):
    p, spec = _spec_of(tmp_path, monkeypatch, """\
        services:
          web:
            image: busybox:latest
            pre_start: [{command: ["true"], privileged: true, image: other:1}]
        """, "web")
    assert "Privileged" not in spec.extra
    hook = build_spec(p, p.services["web"], image="busybox:latest", config_hash="h",
                      oneoff=True, hook=p.services["web"].pre_start[0])
    assert hook.extra["Privileged"] is True and hook.image == "other:1"
    assert hook.entrypoint is None


def test_file_secrets_and_configs_must_be_read_only_binds(tmp_path, monkeypatch):
    (tmp_path / "pw.txt").write_text("s3cret")
    (tmp_path / "app.conf").write_text("x=1")
    _, spec = _spec_of(tmp_path, monkeypatch, """\
        services:
          web: {image: busybox:latest, secrets: [pw], configs: [app]}
        secrets: {pw: {file: ./pw.txt}}
        configs: {app: {file: ./app.conf}}
        """, "web")
    by_target = {m.target: m for m in spec.mounts}
    assert by_target["/run/secrets/pw"].type == "bind" and by_target["/run/secrets/pw"].read_only
    assert by_target["/run/secrets/pw"].source.endswith("pw.txt")
    assert by_target["/app"].source.endswith("app.conf") and by_target["/app"].read_only
    assert not by_target["/app"].create_host_path  # a missing secret file is not created


def test_passthrough_options_must_map_to_their_engine_fields(tmp_path, monkeypatch):
    _, spec = _spec_of(tmp_path, monkeypatch, """\
        services:
          web:
            image: busybox:latest
            tmpfs: ["/run:size=64k", /cache]
            devices: ["/dev/null:/dev/nothing:r"]
            dns: 8.8.8.8
            shm_size: 1m
            domainname: example.org
            read_only: true
        """, "web")
    assert spec.extra["Tmpfs"] == {"/run": "size=64k", "/cache": ""}
    assert spec.extra["Devices"] == [{"PathOnHost": "/dev/null",
                                      "PathInContainer": "/dev/nothing",
                                      "CgroupPermissions": "r"}]
    assert spec.extra["Dns"] == ["8.8.8.8"] and spec.extra["ShmSize"] == 1024 * 1024
    assert spec.extra["ReadonlyRootfs"] is True
    assert spec.config_extra["Domainname"] == "example.org"
