"""The model: frozen types of the Compose subset (``types``) and ``build_project``, which
builds them from the loader's canonical document, validating every value."""

from prefect_compose.model.build import build_project
from prefect_compose.model.types import Project, Service

__all__ = ["Project", "Service", "build_project"]
