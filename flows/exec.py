"""Prefect entry point for `prefect deployment run 'compose-exec/NAME'`: a command inside a
service's running container (prefect_compose.run.oneoff_flows)."""

from prefect_compose.run.oneoff_flows import compose_exec

__all__ = ["compose_exec"]

if __name__ == "__main__":  # pragma: no cover - `python flows/exec.py` serves it locally
    compose_exec.serve(name="local")
