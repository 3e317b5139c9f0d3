"""Register prefect-compose's block types with the Prefect server in PREFECT_API_URL (or the
one `prefect-compose` uses): `python blocks/register.py`. `prefect-compose deploy` does it
too."""

from __future__ import annotations

from prefect_compose.blocks.compose_project import ComposeProject
from prefect_docker.host import DockerHost

if __name__ == "__main__":
    DockerHost.register_type_and_schema()
    ComposeProject.register_type_and_schema()
    print("registered block types docker-host and compose-project")
