"""The `plan` command through `prefect_compose.cli.main([...])`, plus one run of the installed
console script (the only subprocess in the unit suite)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from prefect_compose.cli.main import main


APP = """\
services:
  migrate:
    image: busybox
    restart: "no"
  web:
    image: nginx
    depends_on: [migrate]
  debug:
    image: busybox
    profiles: [debug]
"""


@pytest.fixture
def proj(tmp_path, monkeypatch):
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES",
                "COMPOSE_PATH_SEPARATOR", "TAG"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "cliproj"
    root.mkdir()
    monkeypatch.chdir(root)
    (root / "compose.yaml").write_text(APP)
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_text(proj, capsys):
    code, out, err = run(capsys, "plan")
    assert code == 0
    assert err == ""
    assert out.splitlines() == [
        "project cliproj (compose.yaml)",
        "step    migrate  job       timeout 5m     after -",
        "step    web      start     timeout -      after migrate (completed)",
    ]


def test_plan_json(proj, capsys):
    code, out, err = run(capsys, "plan", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["project"] == "cliproj"
    assert [(s["name"], s["kind"], s["depends_on"], s["timeout_s"]) for s in data["services"]] == [
        ("migrate", "job", {}, 300.0),
        ("web", "service", {"migrate": "service_completed_successfully"}, None)]


def test_plan_mermaid(proj, capsys):
    code, out, _ = run(capsys, "plan", "--format", "mermaid")
    assert code == 0
    assert out.startswith("flowchart LR\n")
    assert "    migrate --> web" in out


def test_plan_output_is_the_same_twice(proj, capsys):
    first = run(capsys, "plan", "--format", "json")
    assert run(capsys, "plan", "--format", "json") == first


@pytest.mark.parametrize("argv", [
    ["-f", "other.yaml", "-p", "demo", "--profile", "debug", "plan"],
    ["plan", "-f", "other.yaml", "-p", "demo", "--profile", "debug"],
    ["-f", "other.yaml", "plan", "-p", "demo", "--profile", "debug"],
])
def test_global_options_before_or_after_the_command(proj, capsys, argv):
    (proj / "other.yaml").write_text(APP)
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert out.startswith("project demo (other.yaml)\n")
    assert "step    debug" in out


def test_several_files(proj, capsys):
    (proj / "o.yaml").write_text("services:\n  web:\n    restart: 'no'\n")
    code, out, _ = run(capsys, "plan", "-f", "compose.yaml", "-f", "o.yaml", "--format", "json")
    assert code == 0
    assert {s["name"]: s["kind"] for s in json.loads(out)["services"]}["web"] == "job"


def test_env_file_option(proj, capsys):
    (proj / "compose.yaml").write_text('services:\n  web:\n    image: "nginx:${TAG}"\n')
    (proj / ".env").write_text("TAG=dotenv\n")
    (proj / "prod.env").write_text("TAG=prod\n")
    _, out, _ = run(capsys, "plan", "--format", "json")
    assert json.loads(out)["services"][0]["image"] == "nginx:dotenv"
    _, out, _ = run(capsys, "plan", "--env-file", "prod.env", "--format", "json")
    assert json.loads(out)["services"][0]["image"] == "nginx:prod"


def test_os_environment_wins_over_dotenv(proj, capsys, monkeypatch):
    (proj / "compose.yaml").write_text('services:\n  web:\n    image: "nginx:${TAG}"\n')
    (proj / ".env").write_text("TAG=dotenv\n")
    monkeypatch.setenv("TAG", "os")
    _, out, _ = run(capsys, "plan", "--format", "json")
    assert json.loads(out)["services"][0]["image"] == "nginx:os"


def test_job_timeout_option(proj, capsys):
    code, out, _ = run(capsys, "plan", "--job-timeout", "1m30s")
    assert code == 0
    assert "step    migrate  job       timeout 1m30s  after -" in out


def test_job_timeout_option_invalid(proj, capsys):
    code, out, err = run(capsys, "plan", "--job-timeout", "5x")
    assert code == 2
    assert out == ""
    assert err.strip() == '--job-timeout: invalid duration "5x"'


def test_job_timeout_bare_number(proj, capsys):
    code, _, err = run(capsys, "plan", "--job-timeout", "30")
    assert code == 2
    assert '--job-timeout: invalid duration "30": a number needs a unit' in err


def test_job_timeout_zero_names_the_option(proj, capsys):
    code, _, err = run(capsys, "plan", "--job-timeout", "0s")
    assert code == 2
    assert err.startswith("--job-timeout: ")


def test_unvalidated_wrong_type_prints_no_traceback(proj, capsys):
    (proj / "compose.yaml").write_text("services:\n  web:\n    image: x\n    volumes: 1\n")
    code, out, err = run(capsys, "plan")
    assert code != 0
    assert "Traceback" not in err and out == ""


def test_unvalidated_wrong_type_is_invalid_input(proj, capsys):
    (proj / "compose.yaml").write_text("services:\n  web:\n    image: x\n    volumes: 1\n")
    code, _, err = run(capsys, "plan")
    assert code == 2
    assert err.startswith("compose.yaml: services.web.volumes")


def test_invalid_input_exits_2_with_message_on_stderr(proj, capsys):
    (proj / "compose.yaml").write_text("services:\n  web:\n    image: x\n    depends_on: [db]\n")
    code, out, err = run(capsys, "plan")
    assert code == 2
    assert out == ""
    assert err == 'compose.yaml: services.web.depends_on.db: unknown service "db"\n'


def test_warnings_go_to_stderr_and_exit_0(proj, capsys):
    (proj / "compose.yaml").write_text("services:\n  web:\n    image: x\n    blkio_config:\n"
                                       "      weight: 300\n")
    code, out, err = run(capsys, "plan")
    assert code == 0
    assert err == ("warning: compose.yaml: services.web.blkio_config: not supported yet, "
                   "ignored\n")
    assert "warning" not in out


def test_warnings_stay_inside_json(proj, capsys):
    (proj / "compose.yaml").write_text("services:\n  web:\n    image: x\n    blkio_config: {}\n")
    code, out, err = run(capsys, "plan", "--format", "json")
    assert code == 0
    assert json.loads(out)["warnings"] == [
        "compose.yaml: services.web.blkio_config: not supported yet, ignored"]


def test_no_compose_file(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "plan")
    assert code == 2
    assert "no configuration file provided" in err


def test_usage_errors_exit_2(proj, capsys):
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "plan", "--format", "yaml")[0] == 2
    assert run(capsys)[0] == 2


def test_help_exits_0(proj, capsys):
    code, out, _ = run(capsys, "plan", "--help")
    assert code == 0
    assert "--format" in out


def _console_script() -> Path:
    bindir = Path(sys.executable).parent
    for name in ("prefect-compose", "prefect-compose.exe"):
        if (bindir / name).exists():
            return bindir / name
    pytest.fail(f"console script prefect-compose not found beside {sys.executable}")


def test_console_script_exits_2_without_traceback_and_without_prefect(tmp_path):
    """The one subprocess: the installed entry point, on bad input, with Python's import
    profile on, to show `plan` neither imports Prefect nor Docker."""
    bad = tmp_path / "compose.yaml"
    bad.write_text(textwrap.dedent("""\
        services:
          a: {image: x, depends_on: [b]}
          b: {image: x, depends_on: [a]}
        """))
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    proc = subprocess.run([str(_console_script()), "plan", "-f", str(bad)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    message = [ln for ln in proc.stderr.splitlines() if not ln.startswith("import time:")]
    assert message == ["compose.yaml: services.b.depends_on.a: dependency cycle detected: "
                       "a -> b -> a"]
    imported = {ln.rsplit("|", 1)[-1].strip() for ln in proc.stderr.splitlines()
                if ln.startswith("import time:")}
    assert "yaml" in imported  # the profile is really there
    assert not {m for m in imported if m.split(".")[0] in ("prefect", "docker")}
