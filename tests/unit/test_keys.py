"""The key table (prefect_compose.keys): complete against the Compose specification and the
loader's schema, the same as the README's, and applied by the loader (warned once per key
and file, refused with exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefect_compose import keys
from prefect_compose.errors import InputError
from prefect_compose.load import schema
from inline_project import load, load_error, write

ROOT = Path(__file__).resolve().parents[2]

# the properties of compose-spec/compose-go schema/compose-spec.json
# (commit e70e961c3a3acebf0800b882f1afb3dbf1fb74a2), per section
SPEC = {
    "services": "annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent "
                "command configs container_name cpu_count cpu_percent cpu_period cpu_quota "
                "cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset credential_spec depends_on "
                "deploy develop device_cgroup_rules devices dns dns_opt dns_search domainname "
                "entrypoint env_file environment expose extends external_links extra_hosts gpus "
                "group_add healthcheck hostname image init ipc isolation label_file labels links "
                "logging mac_address mem_limit mem_reservation mem_swappiness memswap_limit "
                "models network_mode networks oom_kill_disable oom_score_adj pid pids_limit "
                "platform ports post_start pre_start pre_stop privileged profiles provider "
                "pull_policy pull_refresh_after read_only restart runtime scale secrets "
                "security_opt shm_size stdin_open stop_grace_period stop_signal storage_opt "
                "sysctls tmpfs tty ulimits use_api_socket user userns_mode uts volumes "
                "volumes_from working_dir",
    "networks": "attachable driver driver_opts enable_ipv4 enable_ipv6 external internal ipam "
                "labels name",
    "volumes": "driver driver_opts external labels name",
    "secrets": "driver driver_opts environment external file labels name template_driver",
    "configs": "content environment external file labels name template_driver",
    "services.build": "additional_contexts args cache_from cache_to context dockerfile "
                      "dockerfile_inline entitlements extra_hosts isolation labels network "
                      "no_cache no_cache_filter platforms privileged provenance pull sbom "
                      "secrets shm_size ssh tags target ulimits",
    "services.deploy": "endpoint_mode labels mode placement replicas resources restart_policy "
                       "rollback_config update_config",
    "services.healthcheck": "disable interval retries start_interval start_period test timeout",
    "services.ports": "app_protocol host_ip mode name protocol published target",
    "services.volumes": "bind consistency image read_only source target tmpfs type volume",
    "services.pre_start": "command environment image per_replica privileged user working_dir",
}


def _map_keys(spec) -> dict | None:
    """The fixed keys of the mapping a schema spec allows (through tuples and lists)."""
    for option in spec if isinstance(spec, tuple) else (spec,):
        if isinstance(option, schema.Seq):
            found = _map_keys(option.items)
            if found is not None:
                return found
        if isinstance(option, schema.Map):
            if option.keys is not None:
                return option.keys
            if option.values is not None:
                return _map_keys(option.values)
    return None


def _schema_paths() -> set[str]:
    """Every key path the loader's schema accepts, as the table writes them, down to the
    levels the table has rows for."""
    out: set[str] = set()

    def visit(path: str, fields: dict) -> None:
        for key, spec in fields.items():
            if key.startswith("__"):
                continue
            sub = f"{path}.{key}"
            out.add(sub)
            nested = _map_keys(spec)
            if nested and any(k.startswith(sub + ".") for k in keys.KEYS):
                visit(sub, nested)

    visit("services", schema.SERVICE)
    for section, spec in schema.TOP_LEVEL.items():
        visit(section, _map_keys(spec))
    return out


def test_every_key_the_specification_names_has_a_row():
    for section, names in SPEC.items():
        missing = [n for n in names.split() if f"{section}.{n}" not in keys.KEYS]
        assert not missing, f"{section}: no row for {missing}"


def test_the_table_and_the_schema_name_the_same_keys():
    accepted = _schema_paths()
    assert sorted(accepted - set(keys.KEYS)) == [], "accepted by the schema, no row"
    assert sorted(set(keys.KEYS) - accepted) == [], "a row for a key the schema refuses"


def test_every_row_is_a_known_status_with_a_note():
    for path, row in keys.KEYS.items():
        assert row.status in (keys.HONOURED, keys.WARNED, keys.REFUSED), path
        assert row.note.strip(), path


def test_the_readme_holds_the_table():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert keys.replace_section(text) == text, (
        "README.md's key table is stale: python -m prefect_compose.keys --write README.md")


def test_counts_add_up():
    c = keys.counts()
    assert sum(c.values()) == len(keys.KEYS)
    assert f"{c['honoured']} honoured, {c['warned']} warned" in keys.markdown()


# -- the loader applies it --------------------------------------------------------------------
def test_a_warned_key_is_named_once_per_file_with_the_services_that_use_it(proj):
    write(proj, {"compose.yaml": """\
        services:
          a: {image: x, blkio_config: {weight: 300}}
          b: {image: x, blkio_config: {weight: 300}}
          c: {image: x, develop: {watch: []}}
        """})
    warnings = load().warnings
    blkio = [w for w in warnings if "blkio_config" in w]
    assert blkio == ["compose.yaml: services.a.blkio_config: not supported yet, ignored "
                     "(also in b)"]
    assert any("services.c.develop" in w for w in warnings)


def test_a_warned_key_in_two_files_is_named_in_each(proj):
    write(proj, {"compose.yaml": "services:\n  a: {image: x, blkio_config: {weight: 300}}\n",
                 "over.yaml": "services:\n  a: {blkio_config: {weight: 400}}\n"})
    warnings = load("compose.yaml", "over.yaml").warnings
    assert [w.split(":")[0] for w in warnings if "blkio_config" in w] == ["compose.yaml",
                                                                      "over.yaml"]


def test_nested_keys_are_named_with_their_full_path(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: x
            deploy: {placement: {constraints: [node.role==manager]}}
            networks: {front: {gw_priority: 1}}
            volumes:
              - {type: bind, source: ., target: /d, bind: {recursive: enabled}}
        networks:
          front: {}
        """})
    warnings = load().warnings
    for where in ("services.web.deploy.placement", "services.web.networks.front.gw_priority",
                  "services.web.volumes[0].bind.recursive"):
        assert any(f": {where}: " in w for w in warnings), (where, warnings)


def test_an_honoured_key_warns_only_for_the_values_it_cannot_honour(proj):
    write(proj, {"compose.yaml": """\
        services:
          one: {image: x, scale: 1}
          three: {image: x, scale: 3}
          vpn: {image: x}
          app: {image: x, network_mode: "service:vpn"}
          host: {image: x, network_mode: none}
        """})
    warnings = load().warnings
    assert [w for w in warnings if "scale" in w] == [
        "compose.yaml: services.three.scale: 3 replicas requested; prefect-compose runs one "
        "container per service (scaling is not supported yet)"]
    assert not any("services.host.network_mode" in w for w in warnings)


def test_a_refused_key_exits_2_naming_file_service_and_key(proj, monkeypatch):
    monkeypatch.setitem(keys.KEYS, "services.stdin_open", keys.R("not allowed in this test"))
    write(proj, {"compose.yaml": "services:\n  web: {image: x, stdin_open: true}\n"})
    err = load_error()
    assert isinstance(err, InputError)
    assert str(err) == "compose.yaml: services.web.stdin_open: not allowed in this test"


def test_keys_reset_by_an_override_are_not_named(proj):
    write(proj, {"compose.yaml": "services:\n  a: {image: x, blkio_config: {weight: 300}}\n",
                 "over.yaml": "services:\n  a: {blkio_config: !reset null}\n"})
    warnings = load("compose.yaml", "over.yaml").warnings
    assert [w.split(":")[0] for w in warnings if "blkio_config" in w] == ["compose.yaml"]


@pytest.mark.parametrize("path", sorted(p for p, r in keys.KEYS.items()
                                        if r.status == keys.REFUSED))
def test_refused_rows_say_where(path):
    assert keys.KEYS[path].stage in ("load", "up")
