"""The one place that loads and compiles a project from user options (prefect_compose.project):
the CLI's namespace and the flows' parameters become the same ProjectOptions, and every option
(profiles, env files, job timeout) reaches the loader and compiler."""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

import pytest

from prefect_compose.errors import InputError
from prefect_compose.project import ProjectOptions, load_and_compile

COMPOSE = """
services:
  web:
    image: busybox:${TAG}
  debug:
    image: busybox
    profiles: [debug]
  migrate:
    image: busybox
    restart: "no"
"""


@pytest.fixture
def proj(tmp_path, monkeypatch):
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES", "TAG"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "compose.yaml").write_text(textwrap.dedent(COMPOSE))
    (tmp_path / "prod.env").write_text("TAG=prod\n")
    (tmp_path / ".env").write_text("TAG=dev\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_flow_parameters_must_honour_profiles_env_files_and_job_timeout(proj):
    options = ProjectOptions.from_parameters(
        project_dir=str(proj), files=None, project_name="demo", profiles=["debug"],
        env_files=[str(proj / "prod.env")], job_timeout="7m")
    project, plan = load_and_compile(options)
    assert project.name == "demo"
    assert project.services["web"].image == "busybox:prod"
    assert "debug" in project.services
    assert plan.service("migrate").timeout_s == 420


def test_cli_options_must_give_the_same_project_as_the_flow_parameters(proj):
    args = argparse.Namespace(files=["compose.yaml"], project_directory=None,
                              project_name="demo", env_files=["prod.env"],
                              profiles=["debug"], job_timeout=None)
    cli = ProjectOptions.from_args(args).absolute()
    flow = ProjectOptions.from_parameters(**ProjectOptions.from_args(args).absolute()
                                          .parameters())
    assert cli == flow
    assert cli.files == (str(proj / "compose.yaml"),) and cli.env_files == (
        str(proj / "prod.env"),)
    project, _ = load_and_compile(flow)
    assert project.services["web"].image == "busybox:prod" and "debug" in project.services


def test_defaults_must_read_dot_env_and_leave_profiled_services_out(proj):
    project, _ = load_and_compile(ProjectOptions())
    assert project.services["web"].image == "busybox:dev"
    assert "debug" not in project.services


def test_a_bad_job_timeout_must_be_an_input_error_naming_the_option(proj):
    with pytest.raises(InputError, match="--job-timeout"):
        load_and_compile(ProjectOptions(job_timeout="5x"))


def test_parameters_must_hold_paths_and_names_never_environment_values(proj, monkeypatch):
    monkeypatch.setenv("TAG", "s3cr3t")
    params = ProjectOptions(files=("compose.yaml",), profiles=("debug",)).absolute().parameters()
    assert "s3cr3t" not in repr(params)
    assert set(params) == {"project_dir", "files", "project_name", "profiles", "env_files",
                           "docker_host_block", "allow"}


def test_the_cli_modules_must_not_import_each_other_in_a_circle():
    code = ("import sys; import prefect_compose.cli.commands; "
            "print('prefect_compose.cli.main' in sys.modules, 'prefect' in sys.modules, "
            "'docker' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False", "False"]
