"""Prefixed output: every line a container prints, and every status line of a run, goes
through :class:`Output`, so masking applies to the terminal and the Prefect logs alike.
The masking itself is prefect_compose.masking's (the one masker of every channel)."""

from __future__ import annotations

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
    """Every line and status of a run, masked, to its console (run/liveview.py: the plain
    prefixed log, or the live view on a terminal) and, for container output, to the
    Prefect logs. ``echo=False`` shows nothing (a flow run under a worker). The step events
    (:meth:`step_started`, :meth:`step_finished`) feed the live view."""

    def __init__(self, services: Iterable[str], *, echo: bool,
                 secrets: tuple[str, ...] = (), project: str = "",
                 steps: Iterable[tuple[str, str]] = (), flow_run_id: str | None = None) -> None:
        from prefect_compose.run import liveview

        services = list(services)
        self.echo = echo
        self.secrets = secrets
        masking.register(secrets)  # the loader registered them already; a fake project may not
        self.width = max((len(s) for s in services), default=4)
        self.console = liveview.console_for(
            project, services, list(steps), flow_run_id=flow_run_id) if echo else None

    def mask(self, text: str) -> str:
        return masking.mask(text)

    def emit(self, service: str, line: str, logger: Any | None = None) -> None:
        line = self.mask(line)
        if self.console is not None:
            self.console.line(service, line)
        if logger is not None:
            logger.info(line)

    def status(self, service: str, text: str) -> None:
        if self.console is not None:
            self.console.status(service, self.mask(text))

    def step_started(self, step: str, service: str) -> None:
        if self.console is not None:
            self.console.step_started(step, service)

    def step_finished(self, step: str, service: str, outcome: str, failed: bool) -> None:
        if self.console is not None:
            self.console.step_finished(step, service, outcome, failed)

    def block(self, lines: Iterable[str]) -> None:
        """Lines printed together on stderr (the end-of-run summary; a live view stops and
        keeps its last frame above them)."""
        if self.console is not None:
            self.console.block([self.mask(line) for line in lines])

    def close(self) -> None:
        if self.console is not None:
            self.console.close()
