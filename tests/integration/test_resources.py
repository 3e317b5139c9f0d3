"""Networks and volumes reach the engine as the compose file describes them: `up` of
scenarios/resources, then the docker SDK's inspect of each network and volume (no mocks).

One deployment is shared by the module (module fixture); the last test takes it down, so it
runs last (pytest keeps the file's order).
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from dataclasses import dataclass

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(300)]


def free_subnet(client, taken: tuple = ()) -> ipaddress.IPv4Network:
    """A 10.x.y.0/24 that no network of the engine uses (other tests run alongside)."""
    used = list(taken)
    for n in client.api.networks():
        for pool in ((n.get("IPAM") or {}).get("Config") or []):
            if pool.get("Subnet") and ":" not in pool["Subnet"]:
                used.append(ipaddress.ip_network(pool["Subnet"], strict=False))
    rng = random.Random()
    for _ in range(1000):
        net = ipaddress.ip_network(f"10.{rng.randint(64, 250)}.{rng.randint(0, 255)}.0/24")
        if not any(net.overlaps(u) for u in used):
            return net
    raise AssertionError("no free 10.x.y.0/24 subnet")


@dataclass
class Deployed:
    project: str
    env: dict[str, str]
    subnet: ipaddress.IPv4Network
    up_output: str


def resource_env(client, ext_net: str, ext_vol: str,
                 ext_ctr: str) -> tuple[dict[str, str], ipaddress.IPv4Network]:
    net = free_subnet(client)
    side = free_subnet(client, (net,))
    six = ipaddress.ip_network(
        f"fd{random.randint(0, 255):02x}:{random.randint(0, 0xffff):x}::/64")
    return {"SUBNET4": str(net), "RANGE4": f"{net[128]}/25", "GW4": str(net[1]),
            "AUX4": str(net[2]), "SUBNET6": str(six), "VPN4": str(net[10]),
            "VPN6": str(six[10]), "SIDE4": str(side), "SIDE_IP": str(side[20]),
            "EXT_NET": ext_net, "EXT_VOL": ext_vol, "EXT_CTR": ext_ctr,
            "FILE_SECRET": f"env-secret-{uuid.uuid4().hex[:12]}",
            "CFG_VALUE": f"cfg-{uuid.uuid4().hex[:8]}"}, net


@pytest.fixture(scope="module")
def external(request, docker_client, busybox_image):
    """An external network and volume that the test (not the project) owns."""
    tag = uuid.uuid4().hex[:8]
    net, vol, ctr = f"pc-test-ext-{tag}", f"pc-test-extvol-{tag}", f"pc-test-extctr-{tag}"
    api = docker_client.api
    api.create_network(net, driver="bridge")
    api.create_volume(vol)
    cid = api.create_container(busybox_image, ["sleep", "3600"], name=ctr, host_config=
                               api.create_host_config(network_mode=net))["Id"]
    api.start(cid)
    yield net, vol, ctr
    api.remove_container(cid, force=True)
    api.remove_network(net)
    api.remove_volume(vol, force=True)


@pytest.fixture(scope="module")
def deployed(request, pc, docker_client, busybox_image, prefect_server, external) -> Deployed:
    project = f"pc-test-res-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, project))
    env, subnet = resource_env(docker_client, *external)
    r = pc.run_cli("up", "resources", project, env=env)
    assert r.rc == 0, r.show()
    return Deployed(project, env, subnet, r.stdout + r.stderr)


def test_an_internal_network_must_be_created_internal_with_all_its_options(
        deployed, docker_client):
    net = docker_client.api.inspect_network(f"{deployed.project}_back")
    assert net["Internal"] is True
    assert net["Driver"] == "bridge"
    assert net["Attachable"] is True
    assert net["EnableIPv6"] is True
    assert net["Options"]["com.docker.network.bridge.enable_icc"] == "true"
    assert net["Labels"]["team"] == "back"
    assert net["Labels"]["com.docker.compose.network"] == "back"
    pools = {p["Subnet"]: p for p in net["IPAM"]["Config"]}
    v4 = pools[deployed.env["SUBNET4"]]
    assert v4["Gateway"] == deployed.env["GW4"]
    assert v4["IPRange"] == deployed.env["RANGE4"]
    assert v4["AuxiliaryAddresses"] == {"reserved": deployed.env["AUX4"]}
    assert deployed.env["SUBNET6"] in pools
    assert net["IPAM"]["Driver"] == "default"
    assert "not supported" not in deployed.up_output


def service(pc, client, project: str, name: str) -> dict:
    [c] = pc.by_service(pc.containers_of(client, project))[name]
    return c


def test_the_container_must_get_an_address_of_the_ip_range(deployed, docker_client, pc):
    app = service(pc, docker_client, deployed.project, "app")
    nets = app["NetworkSettings"]["Networks"]
    assert set(nets) == {f"{deployed.project}_back", f"{deployed.project}_front",
                         deployed.env["EXT_NET"]}
    addr = ipaddress.ip_address(nets[f"{deployed.project}_back"]["IPAddress"])
    assert addr in ipaddress.ip_network(deployed.env["RANGE4"])


def test_a_plain_network_must_stay_routable_and_keep_its_labels(deployed, docker_client):
    net = docker_client.api.inspect_network(f"{deployed.project}_front")
    assert net["Internal"] is False
    assert net["Labels"]["team"] == "front"


def test_a_volume_must_keep_its_driver_options_and_labels(deployed, docker_client, pc):
    vol = docker_client.api.inspect_volume(f"{deployed.project}_data")
    assert vol["Driver"] == "local"
    assert vol["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=2m"}
    assert vol["Labels"]["team"] == "data"
    app = service(pc, docker_client, deployed.project, "app")
    mounts = {m["Destination"]: m for m in app["Mounts"]}
    assert mounts["/data"]["Name"] == f"{deployed.project}_data"
    assert mounts["/shared"]["Name"] == deployed.env["EXT_VOL"]


def test_external_resources_must_be_used_not_created(deployed, docker_client):
    net = docker_client.api.inspect_network(deployed.env["EXT_NET"])
    assert "com.docker.compose.project" not in (net.get("Labels") or {})
    vol = docker_client.api.inspect_volume(deployed.env["EXT_VOL"])
    assert "com.docker.compose.project" not in (vol.get("Labels") or {})


def test_a_missing_external_network_must_be_named_before_anything_starts(
        pc, docker_client, busybox_image, prefect_server, external, request):
    project = f"pc-test-res-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, project))
    env, _ = resource_env(docker_client, f"pc-test-missing-{uuid.uuid4().hex[:8]}",
                          *external[1:])
    r = pc.run_cli("up", "resources", project, env=env)
    assert r.rc == 1, r.show()
    assert f'external network "{env["EXT_NET"]}"' in r.stdout + r.stderr, r.show()
    assert pc.on_engine(docker_client, project) == []  # containers, networks, volumes


def test_static_addresses_aliases_and_extra_hosts_must_reach_the_container(
        deployed, docker_client, pc):
    vpn = service(pc, docker_client, deployed.project, "vpn")
    nets = vpn["NetworkSettings"]["Networks"]
    back, side = nets[f"{deployed.project}_back"], nets[f"{deployed.project}_side"]
    assert back["IPAddress"] == deployed.env["VPN4"]  # the primary network, set at create
    assert back["GlobalIPv6Address"] == deployed.env["VPN6"]
    assert back["IPAMConfig"]["IPv4Address"] == deployed.env["VPN4"]
    assert "tunnel" in back["Aliases"] and "vpn" in back["Aliases"]
    assert side["IPAddress"] == deployed.env["SIDE_IP"]  # connected after create
    assert back["IPAMConfig"]["LinkLocalIPs"] == ["169.254.10.10"]
    assert side["IPAMConfig"]["LinkLocalIPs"] == ["169.254.10.11"]
    assert back["DriverOpts"] == {"org.example.primary": "yes"}
    assert side["DriverOpts"] == {"org.example.side": "yes"}
    assert sorted(vpn["HostConfig"]["ExtraHosts"]) == ["db.local:10.9.9.9", "v6.local:::1"]


def test_network_mode_service_must_share_the_owners_namespace_and_start_after_it(
        deployed, docker_client, pc):
    vpn = service(pc, docker_client, deployed.project, "vpn")
    app = service(pc, docker_client, deployed.project, "app_in_vpn")
    assert app["HostConfig"]["NetworkMode"] == f"container:{vpn['Id']}"
    assert app["NetworkSettings"]["Networks"] == {}
    assert pc.engine_time(app["State"]["StartedAt"]) >= pc.engine_time(vpn["State"]["StartedAt"])
    r = pc.run_cli("exec", "resources", deployed.project, "app_in_vpn", "cat", "/etc/hosts",
                   env=deployed.env)
    assert r.rc == 0, r.show()
    assert "db.local" in r.stdout  # the vpn's /etc/hosts: its namespace, not a copy


def test_network_mode_container_must_join_that_container(deployed, docker_client, pc):
    joiner = service(pc, docker_client, deployed.project, "joiner")
    ext = docker_client.api.inspect_container(deployed.env["EXT_CTR"])
    assert joiner["HostConfig"]["NetworkMode"] == f"container:{ext['Id']}"
    assert joiner["State"]["Running"] is True


def test_a_missing_network_mode_container_must_be_named_before_anything_starts(
        pc, docker_client, busybox_image, prefect_server, external, request):
    project = f"pc-test-res-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, project))
    missing = f"pc-test-nosuch-{uuid.uuid4().hex[:8]}"
    env, _ = resource_env(docker_client, external[0], external[1], missing)
    r = pc.run_cli("up", "resources", project, env=env)
    assert r.rc == 1, r.show()
    assert f'container "{missing}"' in r.stdout + r.stderr, r.show()
    assert pc.on_engine(docker_client, project) == []


def read_in(client, container: dict, *cmd: str) -> str:
    """Run ``cmd`` in the container through the SDK (not our CLI: its output is masked)."""
    code, out = client.containers.get(container["Id"]).exec_run(list(cmd))
    assert code == 0, out
    return out.decode()


def test_secrets_and_configs_must_be_files_from_each_source(deployed, docker_client, pc):
    files = service(pc, docker_client, deployed.project, "files")
    env = deployed.env
    assert read_in(docker_client, files, "cat", "/run/secrets/from_env") == env["FILE_SECRET"]
    assert read_in(docker_client, files, "cat", "/run/secrets/custom_name") == \
        "file-secret-of-scenario-resources\n"
    assert read_in(docker_client, files, "cat", "/inline") == "key=value\nport=8080\n"
    assert read_in(docker_client, files, "cat", "/from_env_cfg") == env["CFG_VALUE"]
    stat = "stat -c '%a %u %g' /run/secrets/from_env /etc/app/app.conf"
    assert read_in(docker_client, files, "sh", "-c", stat).split("\n")[:2] == \
        ["444 0 0", "440 1000 1001"]
    binds = {m["Destination"]: m for m in files["Mounts"]}
    assert binds["/run/secrets/custom_name"]["RW"] is False  # a file source: bind, read-only


def test_mount_options_must_reach_the_container(deployed, docker_client, pc):
    c = service(pc, docker_client, deployed.project, "mounts")
    binds = c["HostConfig"]["Binds"]
    assert any(b.endswith("/mnt:/short-z:ro,z") for b in binds), binds
    assert any(b.endswith("/mnt:/long-private:private") for b in binds), binds
    seen = {m["Destination"]: m for m in c["Mounts"]}
    assert seen["/long-private"]["Propagation"] == "private"
    assert seen["/short-z"]["RW"] is False and "z" in seen["/short-z"]["Mode"]
    asked = {m["Target"]: m for m in c["HostConfig"]["Mounts"]}
    assert asked["/anon"]["VolumeOptions"] == {"NoCopy": True, "Labels": {"team": "anon"}}
    anon = docker_client.api.inspect_volume(seen["/anon"]["Name"])
    assert anon["Labels"]["team"] == "anon"
    assert asked["/scratch"]["TmpfsOptions"] == {"SizeBytes": 2 * 1024**2, "Mode": 0o1777}
    df = read_in(docker_client, c, "sh", "-c", "df -k /scratch | tail -1; stat -c %a /scratch")
    assert " 2048 " in df and df.split()[-1] == "1777", df


def test_volumes_from_must_mount_the_other_containers_volumes(deployed, docker_client, pc):
    c = service(pc, docker_client, deployed.project, "borrower")
    lender = service(pc, docker_client, deployed.project, "lender")
    assert c["HostConfig"]["VolumesFrom"] == [f"{deployed.project}-lender-1:ro",
                                              deployed.env["EXT_CTR"]]
    seen = {m["Destination"]: m for m in c["Mounts"]}
    theirs = {m["Destination"]: m for m in lender["Mounts"]}
    for path in ("/lent-anon", "/lent-data"):
        assert seen[path]["Name"] == theirs[path]["Name"] and seen[path]["RW"] is False
    assert pc.engine_time(c["State"]["StartedAt"]) >= pc.engine_time(
        lender["State"]["StartedAt"])


def test_an_environment_secret_must_be_masked_in_output(deployed, pc):
    # up may return before it has streamed the line; `logs` reads it from the engine
    assert deployed.env["FILE_SECRET"] not in deployed.up_output
    r = pc.run_cli("logs", "resources", deployed.project, "files", env=deployed.env)
    assert r.rc == 0, r.show()
    assert "files-up ********" in r.stdout, r.show()
    assert deployed.env["FILE_SECRET"] not in r.stdout + r.stderr


def test_an_unset_secret_variable_must_be_an_input_error_before_anything_is_created(
        pc, docker_client, busybox_image, prefect_server, external, request):
    project = f"pc-test-res-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, project))
    env, _ = resource_env(docker_client, *external)
    del env["FILE_SECRET"]
    r = pc.run_cli("up", "resources", project, env=env)
    assert r.rc == 2, r.show()
    assert 'environment variable "FILE_SECRET" required by secret "from_env" is not set' in \
        r.stderr, r.show()
    assert pc.on_engine(docker_client, project) == []


def test_an_existing_routable_network_must_not_be_used_when_internal_is_asked(
        docker_client, busybox_image, pc, request):
    from prefect_compose.engine import Engine
    from prefect_compose.errors import EngineError

    project = f"pc-test-res-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, project))
    name = f"{project}_back"
    with Engine.connect() as engine:
        engine.ensure_network(name, project, "back")  # an older deployment: routable
        with pytest.raises(EngineError, match="internal=false but the compose file asks for "
                                              "internal=true"):
            engine.ensure_network(name, project, "back", internal=True)
        engine.ensure_network(name, project, "back")  # as it is: fine
    assert docker_client.api.inspect_network(name)["Internal"] is False



def test_a_network_mismatch_must_be_found_before_any_network_is_created(
        docker_client, busybox_image, pc, request, tmp_path):
    from prefect_compose.engine import Engine
    from prefect_compose.engine.resources import ensure_networks_and_volumes
    from prefect_compose.errors import EngineError
    from prefect_compose.load import load_project

    project = f"pc-test-res-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, project))
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app: {image: busybox:latest, networks: [a_first, back]}\n"
        "networks:\n  a_first: {}\n  back: {internal: true}\n")
    loaded = load_project([str(tmp_path / "compose.yaml")], project_name=project, environ={})
    with Engine.connect() as engine:
        engine.ensure_network(f"{project}_back", project, "back")  # routable, from before
        with pytest.raises(EngineError, match="internal=false"):
            ensure_networks_and_volumes(engine, loaded, ["app"])
    names = [n["Name"] for n in docker_client.api.networks(
        filters={"label": f"com.docker.compose.project={project}"})]
    assert names == [f"{project}_back"]  # a_first (sorted first) was not created


def test_down_must_leave_external_resources_and_remove_the_projects(
        deployed, pc, docker_client):
    import docker.errors

    mounts = service(pc, docker_client, deployed.project, "mounts")
    anon = {m["Destination"]: m for m in mounts["Mounts"]}["/anon"]["Name"]
    r = pc.run_cli("down", "resources", deployed.project, "-v", env=deployed.env)
    assert r.rc == 0, r.show()
    with pytest.raises(docker.errors.NotFound):  # -v: anonymous volumes go too, as in Compose
        docker_client.api.inspect_volume(anon)
    label = {"label": f"com.docker.compose.project={deployed.project}"}
    assert docker_client.api.networks(filters=label) == []
    assert (docker_client.api.volumes(filters=label).get("Volumes") or []) == []
    docker_client.api.inspect_network(deployed.env["EXT_NET"])  # still there
    docker_client.api.inspect_volume(deployed.env["EXT_VOL"])
