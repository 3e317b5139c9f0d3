"""Secrets and configs from `file`, `environment` and `content`: where they land in the
container (Compose's targets), and what is refused before anything is created."""

from __future__ import annotations

import io
import tarfile

import pytest
from inline_project import load, load_error, write

from prefect_compose.engine.apiconfig import file_archive
from prefect_compose.errors import InputError
from prefect_compose.plan.containers import build_spec, check_file_sources

COMPOSE = """\
services:
  app:
    image: busybox
    secrets: [env_s, {source: file_s, target: renamed}]
    configs: [inline, {source: inline, target: etc/x.conf, mode: 0440, uid: "1000"}, env_c]
secrets:
  env_s: {environment: S_VALUE}
  file_s: {file: ./s.txt}
configs:
  inline: {content: "a=1\\n"}
  env_c: {environment: C_VALUE}
"""


def test_file_sources_are_bound_and_the_others_written_in(proj):
    write(proj, {"compose.yaml": COMPOSE, "s.txt": "from-file"})
    project = load(environ={"S_VALUE": "s3cret", "C_VALUE": "cv"})
    assert project.file_environment == {"C_VALUE": "cv", "S_VALUE": "s3cret"}
    assert "s3cret" not in repr(project) and "file_environment" not in project.model_dump()
    spec = build_spec(project, project.services["app"], image="busybox", config_hash="h",
                      oneoff=False)
    assert [(f.target, f.content, oct(f.mode), f.uid) for f in spec.files] == [
        ("/run/secrets/env_s", "s3cret", "0o444", None),
        ("/inline", "a=1\n", "0o444", None),
        ("/etc/x.conf", "a=1\n", "0o440", 1000),
        ("/env_c", "cv", "0o444", None)]
    assert "s3cret" not in repr(spec)
    [bind] = [m for m in spec.mounts if m.target == "/run/secrets/renamed"]
    assert bind.read_only and bind.source == str(proj / "s.txt")
    with tarfile.open(fileobj=io.BytesIO(file_archive(spec.files))) as tar:
        member = tar.getmember("etc/x.conf")
        assert member.mode == 0o440 and member.uid == 1000
        assert tar.extractfile(member).read() == b"a=1\n"


def test_an_unset_variable_or_a_missing_file_is_named_before_anything_is_created(proj):
    write(proj, {"compose.yaml": COMPOSE, "s.txt": "from-file"})
    project = load(environ={"C_VALUE": "cv"})  # plan/down/ps still load it
    with pytest.raises(InputError) as err:
        check_file_sources(project, ["app"])
    assert str(err.value) == ('compose.yaml: services.app.secrets[0]: environment variable '
                              '"S_VALUE" required by secret "env_s" is not set')
    (proj / "s.txt").unlink()
    project = load(environ={"C_VALUE": "cv", "S_VALUE": "x"})
    with pytest.raises(InputError) as err:
        check_file_sources(project, ["app"])
    assert err.value.path == "services.app.secrets[1]" and "not found" in str(err.value)


def test_written_in_files_need_a_writable_root_and_a_valid_mode(proj):
    write(proj, {"compose.yaml": COMPOSE.replace("image: busybox", "image: busybox\n"
                                                 "    read_only: true"), "s.txt": "x"})
    err = load_error()
    assert err.path == "services.app.secrets[0]" and "read_only" in str(err)
    write(proj, {"compose.yaml": COMPOSE.replace("mode: 0440", "mode: '0999'")})
    assert load_error().path == "services.app.configs[1].mode"


def test_mode_of_a_bind_mounted_file_is_warned(proj):
    write(proj, {"compose.yaml": COMPOSE.replace("{source: file_s, target: renamed}",
                                                 "{source: file_s, mode: 0400}"),
                 "s.txt": "x"})
    warnings = load(environ={"S_VALUE": "x", "C_VALUE": "y"}).warnings
    assert any("services.app.secrets[1].mode" in w and "host file's own" in w
               for w in warnings), warnings


def test_an_external_secret_must_be_refused_before_anything_is_created(proj):
    write(proj, {"compose.yaml": """\
        services:
          app: {image: busybox, secrets: [ext], configs: [cext]}
        secrets:
          ext: {external: true}
        configs:
          cext: {external: true}
        """})
    with pytest.raises(InputError) as err:
        check_file_sources(load(), ["app"])
    assert err.value.path == "services.app.secrets[0]"
    assert "unsupported external secret" in str(err.value)
