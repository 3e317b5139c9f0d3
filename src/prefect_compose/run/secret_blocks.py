"""Reading Prefect ``Secret`` blocks for interpolation (``x-prefect.secrets``): the reader
that load/secrets.py is given, so the compiler stage itself never imports Prefect."""

from __future__ import annotations

import json


def read_secret_block(name: str) -> str:
    """The value of the Prefect Secret block ``name`` (JSON values as JSON text), from the
    server in use: ``PREFECT_API_URL``, else the kept local server when it is up."""
    from prefect_compose.cli.server import configure_environment

    configure_environment()
    from prefect.blocks.system import Secret  # lazy: only when a declared ${VAR} is used

    value = Secret.load(name).get()
    return value if isinstance(value, str) else json.dumps(value)
