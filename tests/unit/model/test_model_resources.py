"""Top-level networks and volumes: every key the engine needs is modelled (and checked here,
so a bad address or a conflicting key is an input error before anything is created)."""

from __future__ import annotations

import pytest
from inline_project import load, load_error, write

from prefect_compose.engine.resources import ipam_config

NETWORKS = """\
services:
  web:
    image: busybox
    networks: [back]
networks:
  back:
    driver: bridge
    internal: true
    attachable: true
    enable_ipv6: true
    labels: [team=db]
    driver_opts: {com.docker.network.bridge.enable_icc: "true"}
    ipam:
      driver: default
      config:
        - subnet: 172.28.0.0/16
          ip_range: 172.28.5.0/24
          gateway: 172.28.5.254
          aux_addresses: {host1: 172.28.1.5}
        - subnet: "fd00:28::/64"
      options: {foo: bar}
"""


def test_network_keys_must_reach_the_model(proj):
    write(proj, {"compose.yaml": NETWORKS})
    project = load()
    net = project.networks["back"]
    assert net.name == "proj_back" and net.driver == "bridge"
    assert net.internal and net.attachable and net.enable_ipv6
    assert net.labels == {"team": "db"}
    assert net.driver_opts == {"com.docker.network.bridge.enable_icc": "true"}
    assert ipam_config(net) == {
        "Driver": "default", "Options": {"foo": "bar"},
        "Config": [{"Subnet": "172.28.0.0/16", "IPRange": "172.28.5.0/24",
                    "Gateway": "172.28.5.254", "AuxiliaryAddresses": {"host1": "172.28.1.5"}},
                   {"Subnet": "fd00:28::/64"}]}
    assert not project.warnings  # nothing "not supported yet" any more


def test_volume_keys_must_reach_the_model(proj):
    write(proj, {"compose.yaml": """\
        services:
          web: {image: busybox, volumes: ["data:/data", "ext:/ext"]}
        volumes:
          data:
            driver: local
            driver_opts: {type: tmpfs, device: tmpfs, o: "size=1m"}
            labels: {team: db}
          ext: {external: true, name: shared-data}
        """})
    project = load()
    assert project.volumes["data"].driver == "local"
    assert project.volumes["data"].driver_opts == {"type": "tmpfs", "device": "tmpfs",
                                                   "o": "size=1m"}
    assert project.volumes["data"].labels == {"team": "db"}
    assert project.volumes["ext"].external and project.volumes["ext"].name == "shared-data"


@pytest.mark.parametrize(("spec", "path", "words"), [
    ("{ipam: {config: [{subnet: notasubnet}]}}", "networks.n.ipam.config[0].subnet",
     "invalid subnet"),
    ("{ipam: {config: [{subnet: 10.1.0.0/16, gateway: 10.2.0.1}]}}",
     "networks.n.ipam.config[0].gateway", "not in the subnet"),
    ("{ipam: {config: [{subnet: 10.1.0.0/16, ip_range: 10.3.0.0/24}]}}",
     "networks.n.ipam.config[0].ip_range", "not inside the subnet"),
    ("{ipam: {config: [{subnet: 10.1.0.0/16, aux_addresses: {h: nope}}]}}",
     "networks.n.ipam.config[0].aux_addresses.h", "invalid IP address"),
    ("{external: true, driver: bridge}", "networks.n.driver", "conflicting parameters"),
    ("{external: true, internal: true}", "networks.n.internal", "conflicting parameters"),
    ("{enable_ipv4: false}", "networks.n.enable_ipv4", "1.47"),
    ("{internal: maybe}", "networks.n.internal", "true or false"),
])
def test_bad_network_values_must_be_input_errors(proj, spec, path, words):
    write(proj, {"compose.yaml": f"""\
        services:
          web: {{image: busybox, networks: [n]}}
        networks:
          n: {spec}
        """})
    err = load_error()
    assert err.path == path, str(err)
    assert words in str(err)


def test_external_volume_with_driver_options_must_be_refused(proj):
    write(proj, {"compose.yaml": """\
        services:
          web: {image: busybox, volumes: ["v:/v"]}
        volumes:
          v: {external: true, driver_opts: {type: tmpfs}}
        """})
    err = load_error()
    assert err.path == "volumes.v.driver_opts" and "conflicting" in str(err)
