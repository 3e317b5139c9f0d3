"""A service's networking keys are checked at load time: network_mode and what it excludes,
static addresses, extra_hosts; and they reach the container spec."""

from __future__ import annotations

import pytest
from inline_project import load, load_error, write

from prefect_compose.engine.apiconfig import container_config
from prefect_compose.plan.containers import build_spec

NET = """\
networks:
  n:
    ipam:
      config: [{subnet: 10.77.0.0/24}, {subnet: "fd00:77::/64"}]
"""


def spec(project, name):
    return build_spec(project, project.services[name], image="busybox", config_hash="h",
                      oneoff=False)


def test_network_mode_service_must_join_the_owners_container_after_it(proj):
    write(proj, {"compose.yaml": """\
        services:
          vpn: {image: busybox}
          app: {image: busybox, network_mode: "service:vpn"}
          other: {image: busybox, network_mode: "container:some-ctr"}
        """})
    project = load()
    app = spec(project, "app")
    assert app.extra["NetworkMode"] == "container:proj-vpn-1"
    assert app.network is None and app.aliases == ()
    assert container_config(app)["HostConfig"]["NetworkMode"] == "container:proj-vpn-1"
    assert "NetworkingConfig" not in container_config(app)
    assert project.services["app"].depends_on["vpn"].restart is True  # vpn starts first
    assert spec(project, "other").extra["NetworkMode"] == "container:some-ctr"


@pytest.mark.parametrize(("svc", "path", "words"), [
    ('network_mode: "service:nope"', "services.app.network_mode", 'unknown service "nope"'),
    ('network_mode: "service:"', "services.app.network_mode", "needs a service name"),
    ('{network_mode: "service:vpn", networks: [default]}', "services.app.network_mode",
     "mutually exclusive"),
    ('{network_mode: "service:vpn", ports: ["80:80"]}', "services.app.ports",
     "conflicting options"),
    ('{network_mode: "container:x", hostname: h}', "services.app.hostname",
     "conflicting options"),
    ('{networks: {default: {ipv4_address: 10.0.0.5}}}', "services.app.networks.default."
     "ipv4_address", "needs an IPv4 subnet"),
    ('{networks: {n: {ipv4_address: 10.78.0.5}}}', "services.app.networks.n.ipv4_address",
     "not in any subnet"),
    ('{networks: {n: {ipv4_address: "fd00:77::5"}}}', "services.app.networks.n.ipv4_address",
     "not an IPv4"),
    ('{networks: {n: {ipv6_address: nope}}}', "services.app.networks.n.ipv6_address",
     "invalid IP address"),
    ('{extra_hosts: ["h=not-an-ip"]}', "services.app.extra_hosts", "invalid IP address"),
])
def test_bad_networking_must_be_input_errors(proj, svc, path, words):
    body = svc if svc.startswith("{") else "{" + svc + "}"
    write(proj, {"compose.yaml": "services:\n  vpn: {image: busybox}\n"
                                 f"  app: {{image: busybox, <<: {body}}}\n" + NET})
    err = load_error()
    assert err.path == path, str(err)
    assert words in str(err)


def test_static_addresses_and_extra_hosts_must_reach_the_spec(proj):
    write(proj, {"compose.yaml": """\
        services:
          app:
            image: busybox
            networks:
              n: {ipv4_address: 10.77.0.5, ipv6_address: "fd00:77::5"}
              default: {}
            extra_hosts:
              - "a=1.2.3.4"
              - "b:5.6.7.8"
              - "c=::1"
              - "d=host-gateway"
              - "e:[fd00::1]"
        """ + NET.replace("\n", "\n        ")})
    s = spec(load(), "app")
    # n sorts after default: connected after create, with its addresses
    assert s.network == "proj_default" and "proj_n" in s.extra_networks
    assert s.addresses == {"proj_n": {"IPv4Address": "10.77.0.5", "IPv6Address": "fd00:77::5"}}
    assert s.extra["ExtraHosts"] == ["a:1.2.3.4", "b:5.6.7.8", "c:::1", "d:host-gateway",
                                     "e:fd00::1"]
