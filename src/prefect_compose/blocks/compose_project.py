"""The `compose-project` block: how a team names a compose project in the Prefect UI.

It holds what the CLI's global options hold (files, project name, profiles, env files) and a
nested prefect-docker `DockerHost` block for the engine, so `compose-up`, `compose-run` and
`compose-exec` take a block name (`block=...`) instead of paths, and several Docker hosts can
be driven from one server. `prefect-compose deploy --block NAME` saves one; the repository's
`blocks/register.py` registers the type so the UI offers it before any is saved.
"""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from prefect_docker.host import DockerHost
from pydantic import Field

from prefect_compose.project import ProjectOptions


class ComposeProject(Block):
    """A Docker Compose project that prefect-compose deploys, and the engine it runs on."""

    _block_type_name = "Compose Project"
    _block_type_slug = "compose-project"
    _description = ("A Docker Compose project deployed by prefect-compose: its files, name, "
                    "profiles and env files on the Docker host, and the DockerHost block of "
                    "that host's engine.")

    project_dir: str | None = Field(
        default=None, description="Absolute directory of the compose files on the Docker "
                                  "host (default: the first file's directory).",
        examples=["/srv/app"])
    files: list[str] = Field(
        default_factory=list, description="Compose files, in override order (absolute, or "
                                          "relative to project_dir; default: compose.yaml).",
        examples=[["/srv/app/compose.yaml", "/srv/app/compose.prod.yaml"]])
    project_name: str | None = Field(default=None, description="Project name (-p).",
                                     examples=["shop"])
    profiles: list[str] = Field(default_factory=list, description="Profiles to enable.",
                                examples=[["debug"]])
    env_files: list[str] = Field(default_factory=list,
                                 description="Env files for interpolation (default: .env "
                                             "beside the first file).")
    job_timeout: str | None = Field(default=None, description="Default job timeout, e.g. 10m.")
    docker_host: DockerHost | None = Field(
        default=None, description="The engine this project runs on (a saved DockerHost "
                                  "block); default: DOCKER_HOST or the local socket.")

    def options(self) -> ProjectOptions:
        files = [f if f.startswith("/") or not self.project_dir else f"{self.project_dir}/{f}"
                 for f in self.files]
        return ProjectOptions.from_parameters(
            project_dir=self.project_dir, files=files, project_name=self.project_name,
            profiles=self.profiles, env_files=self.env_files, job_timeout=self.job_timeout,
            docker_host_block=_block_name(self.docker_host))

    @classmethod
    def from_options(cls, options: ProjectOptions,
                     docker_host: DockerHost | None = None) -> ComposeProject:
        return cls(project_dir=options.project_dir, files=list(options.files),
                   project_name=options.project_name, profiles=list(options.profiles),
                   env_files=list(options.env_files), job_timeout=options.job_timeout,
                   docker_host=docker_host)


def _block_name(block: Any) -> str | None:
    """The saved name of a nested block (what `DockerHost.load` takes), or None."""
    if block is None:
        return None
    name = getattr(block, "_block_document_name", None)
    if not name or getattr(block, "_is_anonymous", False):
        raise ValueError("the compose-project block's docker_host must be a saved DockerHost "
                         "block (pick one by name)")
    return name


def project_options(block: str | None, **parameters: Any) -> ProjectOptions:
    """The options a flow run names: the `compose-project` block `block` when given (its
    fields, with the run's explicit parameters on top), else the parameters alone."""
    base = ProjectOptions.from_parameters(**parameters)
    if not block:
        return base
    from prefect_compose.errors import InputError

    try:
        saved = ComposeProject.load(block).options()
    except ValueError as exc:
        raise InputError(f"compose-project block {block!r}: {exc}") from None
    overrides = {k: v for k, v in vars(base).items() if v not in (None, ())}
    from dataclasses import replace

    return replace(saved, **overrides)
