"""Prefixed output: every line a container prints, and every status line of a run, goes
through :class:`Output`, so masking applies to the terminal and the Prefect logs alike."""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterable
from typing import Any

from prefect_compose.model.types import Project

_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)",
                          re.I)
MASK = "********"


def secrets_of(project: Project) -> tuple[str, ...]:
    """The values of the environment variables whose names look secret, longest first."""
    return tuple(sorted({v for s in project.services.values()
                         for k, v in s.environment.items()
                         if v and len(v) >= 4 and _SECRET_NAME.search(k)},
                        key=len, reverse=True))


class Output:
    """`service | line` on stdout for container output, `service * text` on stderr for
    status; both masked. ``echo=False`` prints nothing (a flow run under a worker)."""

    def __init__(self, services: Iterable[str], *, echo: bool,
                 secrets: tuple[str, ...] = ()) -> None:
        self.echo = echo
        self.secrets = secrets
        self.width = max((len(s) for s in services), default=4)
        self._lock = threading.Lock()

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

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
