"""Prefect entry point for `prefect deployment run 'compose-run/NAME'`: a one-off command in a
throwaway container of a service (prefect_compose.run.oneoff_flows)."""

from prefect_compose.run.oneoff_flows import compose_run

__all__ = ["compose_run"]

if __name__ == "__main__":  # pragma: no cover - `python flows/run.py` serves it locally
    compose_run.serve(name="local")
