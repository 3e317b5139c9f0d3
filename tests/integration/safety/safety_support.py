"""Helpers of the safety tests: a `prefect-compose` subprocess whose output is read while it
runs, and small Docker read-backs."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from helpers import deadline_poll

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
LOCK_LABEL = "org.prefect-compose.lock"


class Proc:
    """`prefect-compose COMMAND ...` in the background, stdout and stderr collected live."""

    def __init__(self, pc, command: str, scenario: str, project: str, *args: str,
                 env: dict[str, str] | None = None) -> None:
        self.pc = pc
        self.t0 = time.monotonic()
        self.popen: subprocess.Popen = pc.popen_cli(command, SCENARIOS / scenario, project,
                                                    *args, env=env)
        self.out: list[str] = []
        self.err: list[str] = []
        self._threads = [threading.Thread(target=self._read, args=(s, buf), daemon=True)
                         for s, buf in ((self.popen.stdout, self.out),
                                        (self.popen.stderr, self.err))]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream, buf: list[str]) -> None:
        for line in stream:
            buf.append(line)

    @staticmethod
    def scenario(name: str) -> Path:
        return SCENARIOS / name

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stderr(self) -> str:
        return "".join(self.err)

    def wait_for_stderr(self, text: str, timeout: float = 120) -> None:
        deadline_poll(lambda: text in self.stderr() or self.popen.poll() is not None,
                      timeout=timeout, interval=0.1, message=f"stderr line {text!r}")
        assert text in self.stderr(), self.result(timeout=30).show()

    def result(self, timeout: float = 180):
        try:
            self.popen.wait(timeout=timeout)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait(timeout=30)
        for t in self._threads:
            t.join(timeout=10)
        return self.pc.CliResult(self.popen.returncode, "".join(self.out), "".join(self.err),
                                 time.monotonic() - self.t0)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.result(timeout=30)


def running_job(docker_client, pc, project: str, service: str, timeout: float = 120) -> dict:
    """The running one-off container of ``service`` (polled with a deadline)."""
    def find():
        for c in pc.containers_of(docker_client, project):
            labels = c["Config"]["Labels"]
            if labels.get(pc.LABEL_SERVICE) == service and \
                    labels.get(pc.LABEL_ONEOFF) == "True" and c["State"]["Running"]:
                return c
        return None
    return deadline_poll(find, timeout=timeout, interval=0.1,
                         message=f"a running {service} job of {project}")


def exec_out(docker_client, cid: str, *cmd: str) -> tuple[int, str]:
    api = docker_client.api
    exec_id = api.exec_create(cid, list(cmd))["Id"]
    out = api.exec_start(exec_id).decode()
    return api.exec_inspect(exec_id)["ExitCode"], out


def lock_of(docker_client, project: str) -> dict | None:
    rows = docker_client.api.containers(all=True, filters={"label": f"{LOCK_LABEL}={project}"})
    return docker_client.api.inspect_container(rows[0]["Id"]) if rows else None


def run_ephemeral(pc, tmp_path: Path, command: str, scenario: str, project: str, *args: str,
                  env: dict[str, str] | None = None, timeout: float = 300):
    """`prefect-compose COMMAND` with no Prefect server in reach: its own ephemeral one."""
    full = pc.cli_env(env)
    full.pop("PREFECT_API_URL", None)
    home = tmp_path / "ephemeral-home"
    home.mkdir(exist_ok=True)
    full.update(PREFECT_HOME=str(home), PREFECT_COMPOSE_HOME=str(home / "pc"),
                PREFECT_COMPOSE_SERVER="ephemeral")
    t0 = time.monotonic()
    proc = subprocess.run(pc.cli_argv(command, project, *args), cwd=SCENARIOS / scenario,
                          env=full, capture_output=True, text=True, timeout=timeout)
    return pc.CliResult(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - t0)


def events_of(flow_run_id, name: str, timeout: float = 60) -> list:
    """The Prefect events ``name`` related to the flow run, read back through the Prefect
    client (polled with a deadline: the server stores events asynchronously)."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

    def read() -> list:
        with get_client(sync_client=True) as client:
            return client.read_events(filter=EventFilter(
                event=EventNameFilter(name=[name]),
                related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"])),
                limit=10).events
    return deadline_poll(read, timeout=timeout, interval=0.5,
                         message=f"event {name} of flow run {flow_run_id}")
