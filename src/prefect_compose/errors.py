"""The exception tree: input problems (exit 2) and run problems (exit 1).

    ComposeError
    ├── InputError              exit 2: the project files are invalid; nothing touched
    └── RunError                exit 1: something went wrong while deploying
        ├── EngineError         the engine refused or failed an operation
        │   ├── EngineUnavailable   the engine does not answer
        │   └── ResourceNotFound    the container, image, network or volume is gone
        └── StepFailed          a step failed (exit code and log tail attached)
            ├── JobTimedOut
            └── Unhealthy

Input errors name the file, the key path and the cause in plain words, e.g.
``compose.yaml: services.web.healthcheck.interval: invalid duration "5x"``.
"""

from __future__ import annotations


class ComposeError(Exception):
    """Base of every error prefect-compose raises on purpose."""

    exit_code = 1


class InputError(ComposeError):
    """The project files are invalid; nothing has touched the engine. Exit code 2."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None,
                 line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.path = path
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.path:
            where.append(self.path)
        text = ": ".join([*where, self.message])
        # one line, whatever a key or value quoted in it holds (a key "\n" is valid YAML)
        return text if text.isprintable() else "".join(
            c if c.isprintable() else repr(c)[1:-1] for c in text)


class RunError(ComposeError):
    """Something went wrong while deploying (engine, job, health). Exit code 1."""


class EngineError(RunError):
    """The engine refused or failed an operation."""


class EngineUnavailable(EngineError):
    """The Docker engine does not answer."""


class ResourceNotFound(EngineError):
    """The container, image, network or volume does not exist (any more)."""


class StepFailed(RunError):
    """A step of the deployment failed: a job exited non-zero, timed out, or a wait failed."""

    def __init__(self, step: str, message: str, *, exit_code: int | None = None,
                 tail: str = "") -> None:
        self.step = step
        self.exit_code = exit_code
        self.tail = tail
        self.message = message
        super().__init__(message)


class JobTimedOut(StepFailed):
    """A job ran past its timeout and was stopped."""


class Unhealthy(StepFailed):
    """A service's healthcheck gave up (or the wait for it ran out)."""
