"""The loader: compose files (+ .env, -f overrides, include, extends, profiles) -> the model.

``load_project`` runs the stages in order; see ``load/project.py``."""

from prefect_compose.load.discover import normalize_project_name
from prefect_compose.load.project import load_project

__all__ = ["load_project", "normalize_project_name"]
