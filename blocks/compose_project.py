"""The `compose-project` block type (defined in the package: prefect_compose.blocks), here
so `prefect block register -f blocks/compose_project.py` registers it with the server."""

from prefect_compose.blocks.compose_project import ComposeProject

__all__ = ["ComposeProject"]
