"""Prefect entry point for `prefect deployment run 'compose-up/NAME'` (see prefect.yaml).

The flow loads and compiles the compose project named by its parameters, then deploys it:
the same code path as `prefect-compose up`.
"""

from prefect_compose.run.flow import compose_up

__all__ = ["compose_up"]

if __name__ == "__main__":  # pragma: no cover - `python flows/up.py` serves it locally
    compose_up.serve(name="local")
