"""The model of a service: secrets, configs, accepted keys, builds, healthchecks, warnings.
Expected values follow Docker Compose v2 (`docker-compose config --format json`), run by hand
on the same inputs."""

from __future__ import annotations

import textwrap

import pytest

from prefect_compose.model.types import Healthcheck, Mount

from inline_project import write, load, load_error, SIMPLE


# -- secrets, configs and accepted keys -----------------------------------------------------
def test_secrets_and_configs_with_file_sources(proj):
    write(proj, {"pw.txt": "s3cret\n", "app.conf": "x=1\n", "compose.yaml": """\
        services:
          web:
            image: x
            secrets:
              - pw
              - source: pw
                target: pw2
            configs:
              - source: conf
                target: /etc/app.conf
                mode: 0440
        secrets:
          pw:
            file: ./pw.txt
        configs:
          conf:
            file: ./app.conf
        """})
    p = load()
    web = p.services["web"]
    assert [(s.target, s.file) for s in web.secrets] == [
        ("/run/secrets/pw", str(proj / "pw.txt")), ("/run/secrets/pw2", str(proj / "pw.txt"))]
    assert [(c.target, c.file, c.mode) for c in web.configs] == [
        ("/etc/app.conf", str(proj / "app.conf"), 0o440)]
    assert p.secrets["pw"]["file"] == str(proj / "pw.txt")


def test_undefined_secret(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    secrets: [pw]\n"})
    assert str(load_error()) == ('compose.yaml: services.web.secrets[0]: undefined secret "pw": '
                                 "declare it under top-level secrets")


def test_container_name_expose_platform_command_and_resources(proj):
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: x
            container_name: my-web
            expose: ["80", 8080]
            platform: linux/amd64
            command: sh -c 'echo "hello world" && sleep 1'
            entrypoint: ["/bin/tini", "--"]
            cpus: 0.5
            mem_limit: 512m
          w2:
            image: x
            deploy:
              resources:
                limits:
                  cpus: "1.5"
                  memory: 1g
        """})
    p = load()
    web, w2 = p.services["web"], p.services["w2"]
    assert web.container_name == "my-web"
    assert web.expose == ("80", "8080")
    assert web.platform == "linux/amd64"
    assert web.command == ("sh", "-c", 'echo "hello world" && sleep 1')
    assert web.entrypoint == ("/bin/tini", "--")
    assert (web.cpus, web.mem_limit) == (0.5, 512 * 1024**2)
    assert (w2.cpus, w2.mem_limit) == (1.5, 1024**3)
    assert p.warnings == ("compose.yaml: services.web.platform: images are pulled and run for "
                          "the engine's platform, ignored",)


def test_provider_service_needs_no_image(proj):
    write(proj, {"compose.yaml": """\
        services:
          ai:
            provider:
              type: model
              options:
                model: ai/smollm2
          web:
            image: x
            depends_on: [ai]
        """})
    ai = load().services["ai"]
    assert ai.is_provider and ai.image is None and ai.provider["type"] == "model"


def test_neither_image_nor_build(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    command: echo\n"})
    assert str(load_error()) == ("compose.yaml: services.web: has neither an image nor a build "
                                 "context specified")


def test_build_short_and_long_forms(proj):
    write(proj, {"compose.yaml": """\
        services:
          a:
            build: .
          b:
            build:
              context: ./b
              dockerfile: Dockerfile.dev
              args: [VERSION=1, FLAG]
              target: dev
        """})
    p = load()
    assert p.services["a"].build.context == str(proj)
    b = p.services["b"].build
    assert (b.context, b.dockerfile, b.target) == (str(proj / "b"), "Dockerfile.dev", "dev")
    assert b.args == {"VERSION": "1", "FLAG": None}


# -- healthcheck forms ---------------------------------------------------------------------------
@pytest.mark.parametrize("block, expected", [
    ("test: curl -f http://localhost || exit 1",
     Healthcheck(test=("CMD-SHELL", "curl -f http://localhost || exit 1"))),
    ('test: ["CMD", "pg_isready", "-U", "postgres"]',
     Healthcheck(test=("CMD", "pg_isready", "-U", "postgres"))),
    ('test: ["CMD-SHELL", "true"]\ninterval: 1m30s\ntimeout: 500ms\nretries: 5\n'
     "start_period: 2s\nstart_interval: 1s",
     Healthcheck(test=("CMD-SHELL", "true"), interval_s=90.0, timeout_s=0.5, retries=5,
                 start_period_s=2.0, start_interval_s=1.0)),
    ("disable: true", Healthcheck(test=None, disable=True)),
    ('test: ["NONE"]', Healthcheck(test=("NONE",), disable=True)),
    ("interval: 5s", Healthcheck(test=None, interval_s=5.0)),
])
def test_healthcheck_forms(proj, block, expected):
    body = textwrap.indent(block, " " * 6)
    write(proj, {"compose.yaml": f"services:\n  web:\n    image: x\n    healthcheck:\n{body}\n"})
    assert load().services["web"].healthcheck == expected


# -- warnings: accepted but not honoured, or outside the project --------------------------
def test_unsupported_compose_key_is_a_warning(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    blkio_config:\n"
                                 "      weight: 300\n"})
    assert load().warnings == (
        "compose.yaml: services.web.blkio_config: not supported yet, ignored",)


def test_unknown_service_key_is_an_error(proj):
    write(proj, {"compose.yaml": "services:\n  web:\n    image: x\n    imagee: y\n"})
    assert str(load_error()) == 'compose.yaml: services.web.imagee: unknown key "imagee"'


def test_paths_outside_the_project_are_warnings(proj):
    write(proj.parent, {"secret.env": "S=1\n"})
    write(proj, {"compose.yaml": """\
        services:
          web:
            image: x
            env_file: ../secret.env
            volumes:
              - /etc:/host-etc:ro
              - ./inside:/inside
        """})
    p = load()
    assert p.services["web"].environment == {"S": "1"}
    assert p.services["web"].volumes[0] == Mount(type="bind", source="/etc", target="/host-etc",
                                                 read_only=True)
    joined = "\n".join(p.warnings)
    assert len(p.warnings) == 2
    assert "services.web.env_file[0]" in joined and "secret.env" in joined
    assert "services.web.volumes[0]" in joined and "/etc" in joined
    assert "outside the project directory" in joined


def test_no_outside_warning_through_a_symlinked_project_dir(tmp_path, monkeypatch):
    real = tmp_path / "real"
    write(real, {"compose.yaml": "services:\n  web:\n    image: x\n    env_file: ./a.env\n"
                                 "    volumes: ['./data:/data']\n", "a.env": "A=1\n"})
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path)
    assert load(str(tmp_path / "link" / "compose.yaml")).warnings == ()


def test_version_is_obsolete_warning(proj):
    write(proj, {"compose.yaml": "version: '3.8'\n" + SIMPLE})
    assert load().warnings == ("compose.yaml: the top-level `version` is obsolete and ignored",)
