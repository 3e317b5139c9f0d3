"""``load_project``: the loader's stages in order, after compose-go's loader.

Every file is read, parsed, interpolated, checked and made canonical on its own (``reader``:
``yamlfile``, ``interpolate``, ``schema``, ``canonical``, with ``include`` and ``extends``);
then the files are merged in order (``merge``), the project named (``discover``), profiles
applied (``profiles``), each service's environment resolved (``environment``), and the model
built and validated (``prefect_compose.model``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from prefect_compose import masking
from prefect_compose.load.discover import compose_files, project_name as name_project, shown
from prefect_compose.load.envfile import project_environment
from prefect_compose.load.environment import resolve_environment
from prefect_compose.load.merge import merge_docs, settled
from prefect_compose.load.profiles import active_profiles, apply_profiles
from prefect_compose.load.reader import FileReader
from prefect_compose.model import Project, build_project


def load_project(files: Sequence[Path | str] | None = None, *,
                 project_dir: Path | str | None = None,
                 project_name: str | None = None,
                 env_files: Sequence[Path | str] | None = None,
                 profiles: Sequence[str] = (),
                 environ: Mapping[str, str] | None = None) -> Project:
    """Load, validate and canonicalise a project. Raises InputError on any invalid input."""
    environ = dict(os.environ if environ is None else environ)
    paths, pdir = compose_files(files, project_dir, environ)
    env = project_environment(env_files, pdir, environ)  # what ${VAR} reads
    masking.register_env(env)  # before any message can quote a value
    warnings: list[str] = []
    reader = FileReader(env, warnings, environ)
    doc: dict = {}
    for path in paths:
        part = reader.load_file(path, pdir)
        doc = merge_docs(doc, part) if doc else part
    if reader.tagged:
        doc = settled(doc)  # `!reset` and `!override` have done their work
    name = name_project(project_name, env, doc, pdir, shown(paths[0]),
                        reader.empty_name)
    doc, disabled = apply_profiles(doc, active_profiles(profiles, env))
    resolve_environment(doc, env, pdir, warnings)
    project = build_project(doc, name=name, working_dir=pdir,
                            files=[shown(p) for p in paths], disabled=disabled,
                            warnings=list(dict.fromkeys(warnings)))  # a file read twice
    masking.register_project(project, env)
    return _with_file_environment(project, env)


def _with_file_environment(project: Project, env: Mapping[str, str]) -> Project:
    """Keep the values `environment:` secrets and configs name (only those): written into
    their containers at create time."""
    names = {fm.environment for svc in project.services.values()
             for fm in (*svc.secrets, *svc.configs) if fm.environment}
    values = {n: env[n] for n in sorted(names) if n in env}
    return project.model_copy(update={"file_environment": values}) if values else project
