"""The secret-grep test: a secret from each source (the environment, a URL password, a
`secrets:` file, a Prefect Secret block) is printed by a service and a job of
scenarios/secrets, and none of them may appear on any channel: the terminal of `up`, `run`,
`exec` and `logs`, `plan` in every format, error messages, the flow run's logs, artifacts,
state messages and parameters read back through the Prefect client, and the run/exec flows'
parameters and logs. Each channel must show the masked stand-in where the secret was.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field

import pytest
from prefect_fixtures import logs_of, read_flow_run, task_runs_of

from prefect_compose.masking import MASK

pytestmark = [pytest.mark.docker, pytest.mark.prefect, pytest.mark.timeout(300)]

BLOCK = "pc-test-secret"  # named in scenarios/secrets/compose.yaml; this session's server only


@dataclass
class Secrets:
    env: str
    url: str
    file: str
    block: str
    extra: str  # given on the command line: `run -e EXTRA_TOKEN=...`

    def all(self) -> tuple[str, ...]:
        return (self.env, self.url, self.file, self.block, self.extra)


@dataclass
class Deployed:
    project: str
    dir: str
    secrets: Secrets
    env: dict[str, str]
    outputs: dict[str, str] = field(default_factory=dict)


def _token(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:12]}"


def assert_clean(text: str, secrets: Secrets, where: str) -> None:
    for value in secrets.all():
        assert value not in text, f"{where} shows the secret {value!r}:\n{text}"


@pytest.fixture(scope="module")
def deployed(request, pc, docker_client, busybox_image, prefect_server, tmp_path_factory):
    from prefect.blocks.system import Secret

    secrets = Secrets(env=_token("env-pw"), url=_token("url-pw"), file=_token("file-secret"),
                      block=_token("block-secret"), extra=_token("extra-token"))
    Secret(value=secrets.block).save(BLOCK, overwrite=True)
    src = pc.scenario_dir("secrets")
    dest = tmp_path_factory.mktemp("secrets") / "secrets"
    import shutil

    shutil.copytree(src, dest)
    (dest / "api_key.txt").write_text(secrets.file + "\n")
    project = f"pc-test-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: pc.cleanup_project(docker_client, project))
    env = {"DB_PASSWORD": secrets.env, "URL_PW": secrets.url}
    d = Deployed(project, str(dest), secrets, env)
    r = pc.run_cli("up", dest, project, env=env)
    assert r.rc == 0, r.show()
    d.outputs["up"] = r.stdout + r.stderr
    return d


def cli(pc, d: Deployed, command: str, *args: str, env: dict | None = None):
    return pc.run_cli(command, d.dir, d.project, *args, env={**d.env, **(env or {})})


def test_up_must_not_print_any_secret(deployed):
    out = deployed.outputs["up"]
    assert "leak-ran" in out and "app-start" in out  # the lines that held them are there
    assert f"a={MASK}" in out and f"c={MASK}" in out and f"d={MASK}" in out
    assert f"b={MASK}" in out  # the URL password printed bare
    assert f"postgres://app:{MASK}@db" in out
    assert_clean(out, deployed.secrets, "up")


def test_the_flow_runs_logs_artifacts_state_and_parameters_must_not_hold_any_secret(
        deployed, pc):
    run = pc.flow_run_of(deployed.project)
    logs = "\n".join(logs_of(run.id, contains="leak-ran"))
    assert "leak-ran" in logs and MASK in logs
    assert_clean(logs, deployed.secrets, "the flow run's logs")
    artifacts = pc.artifacts_of(run.id)
    assert artifacts
    assert_clean(json.dumps([a.data for a in artifacts], default=str), deployed.secrets,
                 "the artifacts")
    assert_clean(json.dumps(run.parameters, default=str), deployed.secrets,
                 "the flow run's parameters")
    states = [run.state.message or ""] + [(t.state.message or "") for t in
                                          task_runs_of(run.id) if t.state]
    assert_clean("\n".join(states), deployed.secrets, "the state messages")


def test_logs_must_not_print_any_secret(deployed, pc):
    r = cli(pc, deployed, "logs")
    assert r.rc == 0, r.show()
    assert "app-start" in r.stdout and f"a={MASK}" in r.stdout
    assert_clean(r.stdout + r.stderr, deployed.secrets, "logs")


def test_exec_must_not_print_any_secret(deployed, pc):
    r = cli(pc, deployed, "exec", "app", "sh", "-c",
            "echo exec-ran $DB_PASSWORD $FROM_BLOCK $(cat /run/secrets/api_key) $DATABASE_URL")
    assert r.rc == 0, r.show()
    assert "exec-ran" in r.stdout and r.stdout.count(MASK) >= 4
    assert_clean(r.stdout + r.stderr, deployed.secrets, "exec")


def test_run_must_not_print_any_secret_nor_a_value_given_with_e(deployed, pc):
    r = cli(pc, deployed, "run", "-e", f"EXTRA_TOKEN={deployed.secrets.extra}", "app",
            "sh", "-c", "echo run-ran $DB_PASSWORD $FROM_BLOCK $EXTRA_TOKEN "
                        "$(cat /run/secrets/api_key) >&2; echo out $DATABASE_URL")
    assert r.rc == 0, r.show()
    assert "run-ran" in r.stderr and r.stderr.count(MASK) >= 4
    assert_clean(r.stdout + r.stderr, deployed.secrets, "run")


@pytest.mark.parametrize("fmt", ["text", "json", "mermaid"])
def test_plan_must_not_print_any_secret_in_any_format(deployed, pc, fmt):
    r = cli(pc, deployed, "plan", "--profile", "plan", "--format", fmt)
    assert r.rc == 0, r.show()
    assert "built" in r.stdout
    assert_clean(r.stdout + r.stderr, deployed.secrets, f"plan --format {fmt}")
    if fmt == "json":  # build args are in the JSON plan: masked, names kept
        builds = json.loads(r.stdout)["builds"]
        args = next(b for b in builds if "built" in b["services"])["args"]
        assert args["NPM_TOKEN"] == MASK and args["PLAIN_ARG"] == MASK
        assert args["REPO"] == f"https://ci:{MASK}@git.example/x.git"


def test_an_error_message_must_not_quote_a_secret(deployed, pc):
    r = cli(pc, deployed, "plan", "-f", "bad.yaml")
    assert r.rc == 2, r.show()
    assert "ports" in r.stderr and MASK in r.stderr
    assert_clean(r.stdout + r.stderr, deployed.secrets, "the error message")


def test_a_failed_job_must_not_show_a_secret_in_its_output_tail_or_state(deployed, pc):
    r = cli(pc, deployed, "up", env={"LEAK_EXIT": "3"})
    assert r.rc == 1, r.show()
    assert "exit code 3" in r.stderr
    assert_clean(r.stdout + r.stderr, deployed.secrets, "up of a failing job")
    run = pc.flow_run_of(deployed.project)
    assert run.state.is_failed() and "leak" in run.state.message
    assert MASK in run.state.message  # the tail it quotes
    assert_clean(run.state.message, deployed.secrets, "the failed run's state message")


def _oneoff_flow(name: str):
    from prefect_compose.run import oneoff_flows

    return getattr(oneoff_flows, name)


@pytest.mark.parametrize("name", ["compose_run", "compose_exec"])
def test_the_run_and_exec_flows_must_take_env_names_and_keep_values_out_of_params_and_logs(
        deployed, monkeypatch, name):
    monkeypatch.setenv("DB_PASSWORD", deployed.secrets.env)
    monkeypatch.setenv("URL_PW", deployed.secrets.url)
    monkeypatch.setenv("EXTRA_TOKEN", deployed.secrets.extra)
    service = "leak" if name == "compose_run" else "app"
    state = _oneoff_flow(name)(
        service=service, project_dir=deployed.dir, project_name=deployed.project,
        command=["sh", "-c", "echo flow-ran $EXTRA_TOKEN $DB_PASSWORD $FROM_BLOCK "
                             "$(cat /run/secrets/api_key)"],
        env=["EXTRA_TOKEN"], return_state=True)
    assert state.is_completed(), state.message
    run_id = state.state_details.flow_run_id
    logs = "\n".join(logs_of(run_id, contains="flow-ran"))
    assert "flow-ran" in logs and logs.count(MASK) >= 4  # the value reached the container
    assert_clean(logs, deployed.secrets, f"the {name} flow's logs")
    params = read_flow_run(run_id).parameters
    assert params["env"] == ["EXTRA_TOKEN"]
    assert_clean(json.dumps(params, default=str), deployed.secrets, f"{name}'s parameters")


def test_the_run_flow_must_refuse_a_name_value_pair_without_running_anything(deployed):
    state = _oneoff_flow("compose_run")(
        service="leak", project_dir=deployed.dir, project_name=deployed.project,
        command=["true"], env=[f"EXTRA_TOKEN={deployed.secrets.extra}"], return_state=True)
    assert state.is_failed() and "names only" in state.message
    assert deployed.secrets.extra not in state.message


def test_a_missing_secret_block_must_be_an_input_error_naming_the_key(deployed, pc, tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "x-prefect:\n  secrets: {NOPE: pc-test-no-such-block}\n"
        "services:\n  a:\n    image: busybox:latest\n    environment: {X: '${NOPE}'}\n")
    r = pc.run_cli("plan", tmp_path, deployed.project)
    assert r.rc == 2, r.show()
    assert "x-prefect.secrets.NOPE" in r.stderr and "pc-test-no-such-block" in r.stderr
    assert "Traceback" not in r.stderr
    assert os.environ.get("PREFECT_API_URL")  # read from the session's server
