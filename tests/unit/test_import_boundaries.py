"""The compiler (load, model, plan) must import neither docker nor prefect: `plan` works with no
engine and no Prefect, and compiles in milliseconds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "release" / "compose.yaml"

_PROBE = """
import json, sys
from prefect_compose.project import ProjectOptions, load_and_compile
from prefect_compose.plan import compile, converge, containers, render
import prefect_compose.load, prefect_compose.model
project, plan = load_and_compile(ProjectOptions(files=[sys.argv[1]]))
render.plan_json(plan); render.plan_mermaid(plan); render.plan_text(plan)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("docker", "prefect"))))
"""


def test_compiler_must_import_neither_docker_nor_prefect():
    out = subprocess.run([sys.executable, "-c", _PROBE, str(EXAMPLE)], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_compiler_stages_must_not_name_docker_or_prefect_in_their_imports():
    root = Path(__file__).resolve().parents[2] / "src" / "prefect_compose"
    offenders = []
    for stage in ("load", "model", "plan"):
        for path in (root / stage).rglob("*.py"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                s = line.strip()
                if s.startswith(("import docker", "from docker", "import prefect ",
                                 "from prefect ", "from prefect.")) or s == "import prefect":
                    offenders.append(f"{path.relative_to(root)}:{n}: {s}")
    assert offenders == []


def test_the_openings_thread_must_import_neither_docker_nor_the_deployment():
    """run/opening.py creates `up`'s flow run on a thread while the main thread imports the
    docker SDK; it overlaps that import only if it shares none of it."""
    probe = ("import json, sys\n"
             "import prefect_compose.run.opening, prefect_compose.cli.server\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('docker', 'prefect', 'requests') or m in ('prefect_compose.run.deploy', "
             "'prefect_compose.run.direct', 'prefect_compose.engine'))))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
