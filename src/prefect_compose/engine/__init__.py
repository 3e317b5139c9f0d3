"""The Docker adapter: the only package that imports ``docker``. Entry point: ``Engine``."""

from prefect_compose.engine.client import Engine

__all__ = ["Engine"]
