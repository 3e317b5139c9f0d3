"""Prefixed output: every line a container prints, and every status line of a run, goes
through :class:`Output`, so masking applies to the terminal and the Prefect logs alike.
The masking itself is prefect_compose.masking's (the one masker of every channel)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import Any

from prefect_compose import masking
from prefect_compose.masking import MASK  # noqa: F401 - re-exported
from prefect_compose.model.types import Project


def secrets_of(project: Project) -> tuple[str, ...]:
    """The project's known secret values (masking.project_secrets), longest first."""
    values, _, _ = masking.project_secrets(project, {})
    return tuple(sorted(values, key=len, reverse=True))


class Output:
    """`service | line` on stdout for container output, `service * text` on stderr for
    status; both masked. ``echo=False`` prints nothing (a flow run under a worker)."""

    def __init__(self, services: Iterable[str], *, echo: bool,
                 secrets: tuple[str, ...] = ()) -> None:
        self.echo = echo
        self.secrets = secrets
        masking.register(secrets)  # the loader registered them already; a fake project may not
        self.width = max((len(s) for s in services), default=4)
        self._lock = threading.Lock()

    def mask(self, text: str) -> str:
        return masking.mask(text)

    def emit(self, service: str, line: str, logger: Any | None = None) -> None:
        line = self.mask(line)
        if self.echo:
            with self._lock:
                print(f"{service:<{self.width}} | {line}", flush=True)
        if logger is not None:
            logger.info(line)

    def status(self, service: str, text: str) -> None:
        if self.echo:
            with self._lock:
                print(f"{service:<{self.width}} * {self.mask(text)}", file=sys.stderr,
                      flush=True)

    def block(self, lines: Iterable[str]) -> None:
        """Lines printed together on stderr (the end-of-run summary)."""
        if self.echo:
            with self._lock:
                for line in lines:
                    print(self.mask(line), file=sys.stderr, flush=True)
