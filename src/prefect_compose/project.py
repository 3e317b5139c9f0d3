"""The one place that turns a user's options into a loaded project and its compiled plan.

The CLI (`-f`, `-p`, `--project-directory`, `--env-file`, `--profile`, `--job-timeout`), the
three Prefect flows (their parameters) and the `compose-project` block all name a project with
the same fields, gathered in ``ProjectOptions``; ``load_and_compile`` is the only caller of the
loader and the compiler outside tests, so no entry point can forget profiles or env files.

Neither Docker nor Prefect is imported here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from prefect_compose.errors import InputError
from prefect_compose.load import secrets as _secrets
from prefect_compose.run.secret_blocks import read_secret_block

_secrets.set_reader(read_secret_block)  # imports Prefect only when a block is read


@dataclass(frozen=True)
class ProjectOptions:
    """How a user names a project: the global options of `docker compose`, plus the default
    job timeout and the DockerHost block that reaches its engine."""

    files: tuple[str, ...] = ()
    project_dir: str | None = None
    project_name: str | None = None
    env_files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    job_timeout: str | None = None  # a Compose duration: "10m"
    docker_host_block: str | None = None
    allow: tuple[str, ...] = ()  # host escapes allowed for every service (--allow NAME)
    # "refuse": a host escape not allowed is exit 2 (up, run, deploy, the flows); "warn":
    # each is a warning (plan, exec: nothing new is created)
    escapes: str = "refuse"

    @classmethod
    def from_args(cls, args: Any) -> ProjectOptions:
        """From the CLI's argparse namespace (global options, and `--job-timeout` if any)."""
        return cls(files=tuple(getattr(args, "files", None) or ()),
                   project_dir=getattr(args, "project_directory", None),
                   project_name=getattr(args, "project_name", None),
                   env_files=tuple(getattr(args, "env_files", None) or ()),
                   profiles=tuple(getattr(args, "profiles", None) or ()),
                   job_timeout=getattr(args, "job_timeout", None),
                   docker_host_block=getattr(args, "docker_host_block", None),
                   allow=tuple(getattr(args, "allow", None) or ()))

    @classmethod
    def from_parameters(cls, *, project_dir: str | None = None,
                        files: Sequence[str] | None = None, project_name: str | None = None,
                        profiles: Sequence[str] | None = None,
                        env_files: Sequence[str] | None = None, job_timeout: str | None = None,
                        docker_host_block: str | None = None,
                        allow: Sequence[str] | None = None) -> ProjectOptions:
        """From a flow's parameters (None and empty lists mean "the default")."""
        return cls(files=tuple(files or ()), project_dir=project_dir or None,
                   project_name=project_name or None, env_files=tuple(env_files or ()),
                   profiles=tuple(profiles or ()), job_timeout=job_timeout or None,
                   docker_host_block=docker_host_block or None, allow=tuple(allow or ()))

    def absolute(self, cwd: str | None = None) -> ProjectOptions:
        """The same options with every path made absolute (against `cwd`, default the working
        directory): what a deployment stores, so a worker started anywhere finds the files."""
        base = cwd or os.getcwd()

        def ab(p: str) -> str:
            return os.path.normpath(os.path.join(base, os.path.expanduser(p)))

        return replace(self, files=tuple(ab(f) for f in self.files),
                       project_dir=ab(self.project_dir) if self.project_dir else None,
                       env_files=tuple(ab(e) for e in self.env_files))

    def parameters(self) -> dict[str, Any]:
        """The flow parameters naming this project: paths and names, never environment
        values (SPEC: Prefect)."""
        return {"project_dir": self.project_dir, "files": list(self.files) or None,
                "project_name": self.project_name, "profiles": list(self.profiles) or None,
                "env_files": list(self.env_files) or None,
                "docker_host_block": self.docker_host_block,
                "allow": list(self.allow) or None}

    def job_timeout_s(self) -> float | None:
        if not self.job_timeout:
            return None
        from prefect_compose.units import parse_duration

        try:
            return parse_duration(self.job_timeout)
        except ValueError as exc:
            raise InputError(str(exc), path="--job-timeout") from None


def load(options: ProjectOptions, environ: Mapping[str, str] | None = None):
    """Load and validate the project (no engine touched). Raises InputError (exit 2)."""
    from prefect_compose.load import load_project

    return load_project(list(options.files) or None, project_dir=options.project_dir,
                        project_name=options.project_name,
                        env_files=list(options.env_files) or None,
                        profiles=options.profiles, environ=environ)


def load_and_compile(options: ProjectOptions, environ: Mapping[str, str] | None = None):
    """Load the project the options name and compile its plan: `(project, plan)`."""
    from prefect_compose.plan.compile import compile_plan

    from prefect_compose.plan import escapes

    job_timeout = options.job_timeout_s()  # a bad --job-timeout fails before the files load
    escapes.check_names(options.allow, "--allow")
    project = load(options, environ)
    warnings = escapes.review(project, options.allow, refuse=options.escapes == "refuse",
                              environ=environ)
    if warnings:
        project = project.model_copy(update={"warnings": (*project.warnings, *warnings)})
    return project, compile_plan(project, job_timeout_s=job_timeout)


__all__ = ["ProjectOptions", "load", "load_and_compile"]
