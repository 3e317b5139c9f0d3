"""Prefect entry point for `prefect deployment run 'compose-up/NAME'`: deploy the project as
one flow run, the same code path as `prefect-compose up` (prefect_compose.run.flow)."""

from prefect_compose.run.flow import compose_up

__all__ = ["compose_up"]

if __name__ == "__main__":  # pragma: no cover - `python flows/up.py` serves it locally
    compose_up.serve(name="local")
