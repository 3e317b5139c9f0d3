"""Block types for prefect-compose.

`ComposeProject` names a compose project on a Docker host (its directory, files, profiles and
the DockerHost block to reach the engine), so deployments and schedules can refer to it by
name. Register with `python blocks/register.py` (or `prefect block register -f
blocks/compose_project.py`).
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field


class ComposeProject(Block):
    """A Docker Compose project that prefect-compose deploys."""

    _block_type_name = "Compose Project"
    _block_type_slug = "compose-project"
    _description = "A Docker Compose project deployed by prefect-compose."

    project_dir: str = Field(default=".", description="Directory of the compose files.",
                             examples=["/srv/app"])
    files: list[str] = Field(default_factory=list,
                             description="Compose files, in override order (default: "
                                         "compose.yaml in project_dir).",
                             examples=[["compose.yaml", "compose.prod.yaml"]])
    project_name: str | None = Field(default=None, description="Project name (-p).")
    profiles: list[str] = Field(default_factory=list, description="Profiles to enable.")
    docker_host_block: str | None = Field(
        default=None, description="Name of a prefect-docker DockerHost block; default: "
                                  "DOCKER_HOST or the local socket.")

    def up_parameters(self) -> dict:
        """Parameters for the compose-up flow."""
        return {"project_dir": self.project_dir, "files": self.files or None,
                "project_name": self.project_name, "profiles": self.profiles or None,
                "docker_host_block": self.docker_host_block}
