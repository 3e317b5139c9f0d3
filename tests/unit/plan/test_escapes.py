"""Host escapes (plan/escapes.py): found in every form, refused unless allowed (by the
service's x-prefect.allow or --allow), listed as warnings by `plan`."""

from __future__ import annotations

import pytest

from inline_project import load, write
from prefect_compose.cli.main import main
from prefect_compose.errors import InputError
from prefect_compose.plan import escapes
from prefect_compose.project import ProjectOptions, load_and_compile

CASES = [
    ("privileged: true", "privileged", "services.web.privileged"),
    ("network_mode: host", "host_network", "services.web.network_mode"),
    ("pid: host", "host_pid", "services.web.pid"),
    ("ipc: host", "host_ipc", "services.web.ipc"),
    ("cap_add: [NET_ADMIN, ALL]", "cap_all", "services.web.cap_add[1]"),
    ("cap_add: [CAP_SYS_ADMIN]", "cap_sys_admin", "services.web.cap_add[0]"),
    ("volumes: [/var/run/docker.sock:/var/run/docker.sock]", "docker_socket",
     "services.web.volumes[0]"),
    ("volumes: [/run:/host-run:ro]", "docker_socket", "services.web.volumes[0]"),
    ("volumes: [/:/host:ro]", "host_root", "services.web.volumes[0]"),
    ("pre_start: [{command: [id], privileged: true}]", "privileged",
     "services.web.pre_start[0].privileged"),
]


def project_with(proj, line: str, extra: str = ""):
    write(proj, {"compose.yaml": f"services:\n  web:\n    image: x\n    {line}\n{extra}"})
    return load(environ={})


@pytest.mark.parametrize("line, name, path", CASES)
def test_each_escape_is_found_with_its_key_path(proj, line, name, path):
    found = escapes.find(project_with(proj, line), environ={})
    assert [(e.name, e.path) for e in found] == [(name, path)]


@pytest.mark.parametrize("line, name, path", CASES)
def test_each_escape_is_refused_naming_the_key_and_the_opt_in(proj, line, name, path):
    with pytest.raises(InputError) as err:
        escapes.review(project_with(proj, line), environ={})
    message = str(err.value)
    assert message.startswith(f"compose.yaml: {path}: a host escape (")
    assert f"x-prefect: {{allow: [{name}]}} on service web" in message
    assert f"--allow {name}" in message and "\n" not in message


@pytest.mark.parametrize("line, name, path", CASES)
def test_allowed_by_the_service_or_the_command_line(proj, line, name, path):
    assert escapes.review(project_with(proj, line), [name], environ={}) == []
    write(proj, {"compose.yaml": f"services:\n  web:\n    image: x\n    {line}\n"
                                 f"    x-prefect: {{allow: [{name}]}}\n"})
    assert escapes.review(load(environ={}), environ={}) == []


def test_allowing_one_escape_does_not_allow_another(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    privileged: true\n"
                                 "    pid: host\n    x-prefect: {allow: [privileged]}\n"})
    with pytest.raises(InputError, match="services.web.pid"):
        escapes.review(load(environ={}), environ={})


def test_ordinary_settings_are_no_escape(proj):
    write(proj, {"compose.yaml": """\
services:
  web:
    image: x
    cap_add: [NET_ADMIN]
    privileged: false
    network_mode: none
    volumes: [./data:/data, /var/lib/app:/app, /var/run/other.sock:/s]
"""})
    assert escapes.find(load(environ={}), environ={}) == []


def test_a_local_volume_binding_the_host_root_is_an_escape(proj):
    write(proj, {"compose.yaml": """\
services:
  web: {image: x, volumes: ["hostfs:/host"]}
volumes:
  hostfs:
    driver: local
    driver_opts: {type: none, o: bind, device: /}
"""})
    assert [(e.name, e.path) for e in escapes.find(load(environ={}), environ={})] == [
        ("host_root", "services.web.volumes[0]")]


def test_docker_host_socket_path_counts(proj, tmp_path):
    sock = tmp_path / "d.sock"
    write(proj, {"compose.yaml": f"services:\n  web:\n    image: x\n"
                                 f"    volumes: [{sock}:/d.sock]\n"})
    assert escapes.find(load(environ={}), environ={"DOCKER_HOST": f"unix://{sock}"})[0].name \
        == "docker_socket"


def test_an_unknown_opt_in_name_is_an_input_error(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n"
                                 "    x-prefect: {allow: [root]}\n"})
    with pytest.raises(InputError, match=r'services.web.x-prefect.allow\[0\]: unknown host '
                                         r'escape "root"'):
        load(environ={})
    with pytest.raises(InputError, match='--allow: unknown host escape "everything"'):
        load_and_compile(ProjectOptions(allow=("everything",)))


def test_load_and_compile_refuses_and_plan_warns(proj, capsys):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    privileged: true\n"})
    with pytest.raises(InputError, match="services.web.privileged"):
        load_and_compile(ProjectOptions())
    project, plan = load_and_compile(ProjectOptions(allow=("privileged",)))
    assert not any("host escape" in w for w in plan.warnings)
    assert main(["plan"]) == 0
    err = capsys.readouterr().err
    assert ("warning: compose.yaml: services.web.privileged: a host escape (every capability "
            "and device of the host): up refuses it unless allowed: x-prefect: "
            "{allow: [privileged]} on service web, or --allow privileged") in err


def test_up_refuses_with_exit_2_before_the_engine(proj, capsys, monkeypatch):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    network_mode: host\n"})
    import prefect_compose.cli.commands as commands

    monkeypatch.setattr(commands, "_engine", lambda: pytest.fail("the engine was asked"))
    assert main(["up"]) == 2
    err = capsys.readouterr().err
    assert "services.web.network_mode: a host escape" in err and "--allow host_network" in err
    assert main(["run", "web", "true"]) == 2
