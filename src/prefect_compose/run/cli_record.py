"""CLI `run` and `exec` leave a flow run in Prefect, so `ps --jobs` and the UI list them next to
the deployed `compose-run` / `compose-exec` runs.

`prefect-compose run/exec` talk to the engine only (they must feel like `docker compose
run/exec`: importing prefect alone costs 1.3-1.8 s here), so the record is written with plain
HTTP calls to the REST API of the server in use, when one is set or the kept server is up
(never started for this, never ephemeral):

    POST /flows/                      {"name": "compose-run"}            (upsert: its id)
    POST /flow_runs/                  name "run SERVICE (cli)", parameters, tags, Running
    POST /flow_runs/ID/set_state      Completed | Failed, "SERVICE: exit code N after Ds
                                      (S size-seconds)", force

Finding the server and the first two calls happen on a thread while the container starts, so
the command waits only for the last call, at its end (a few ms on loopback). The server
stamps the states, so the run's start and end times are the command's, to within those
calls. The parameters name the project (`project_name`, what `ps --jobs` matches), the
service and the command, masked; never an environment value. Any failure (no server, a
server that does not answer within `TIMEOUT_S`, an old server) drops the record silently:
the command's result never depends on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

TIMEOUT_S = 2.0
FLOW = {"run": "compose-run", "exec": "compose-exec"}


def _request(api: str, method: str, path: str, body: Any) -> Any:
    """One call to the server's REST API (run/rest.py), asked once more when it is busy."""
    from prefect_compose.run.rest import PrefectRest

    rest = PrefectRest(api, timeout=TIMEOUT_S, retries=1)
    try:
        return rest.call(method, path, body)
    finally:
        rest.close()


class CliRecord:
    """One CLI `run` or `exec` as a flow run; `start()` at once, `finish(...)` at the end."""

    def __init__(self, api: Callable[[], str | None], verb: str, project: str, service: str,
                 command: Sequence[str] | None, project_dir: str | None = None) -> None:
        """`api` finds the server's API URL (None: no record); it is called on the thread,
        so even finding the server costs the command nothing."""
        from prefect_compose import masking

        self._find_api, self.verb, self.service = api, verb, service
        self.api: str | None = None
        self.flow_run_id: str | None = None
        self._params = {"service": service, "project_name": project,
                        "command": [masking.mask(a) for a in command] if command else None}
        if project_dir:
            self._params["project_dir"] = project_dir
        self._tags = ["prefect-compose", f"project:{project}", f"service:{service}",
                      "kind:one-off", "cli"]  # run/milestones.py's scheme, plus "cli"
        self._thread: threading.Thread | None = None

    def start(self) -> CliRecord:
        self._thread = threading.Thread(target=self._create, daemon=True,
                                        name="prefect-compose-record")
        self._thread.start()
        return self

    def _create(self) -> None:
        try:
            self.api = self._find_api()
            if not self.api:
                return
            flow = _request(self.api, "POST", "/flows/", {"name": FLOW[self.verb]})
            run = _request(self.api, "POST", "/flow_runs/", {
                "flow_id": flow["id"], "name": f"{self.verb} {self.service} (cli)",
                "parameters": self._params, "tags": self._tags,
                "state": {"type": "RUNNING", "name": "Running"}})
            self.flow_run_id = run["id"]
        except Exception:  # noqa: BLE001 - no record, same command
            self.flow_run_id = None

    def finish(self, exit_code: int | None, *, duration_s: float | None = None,
               size_seconds: float | None = None, message: str | None = None) -> bool:
        """Set the run's final state (Completed for exit code 0, else Failed); True when it
        was recorded."""
        if self._thread is None:
            return False
        self._thread.join(timeout=TIMEOUT_S * 2)
        if not self.flow_run_id or not self.api:
            return False
        if message is None:
            message = f"{self.service}: exit code {exit_code}"
            if duration_s is not None:
                message += f" after {duration_s:.1f}s"
            if size_seconds is not None:
                message += f" ({size_seconds:.1f} size-seconds)"
        from prefect_compose import masking

        ok = exit_code == 0
        state = {"type": "COMPLETED" if ok else "FAILED", "name": "Completed" if ok else
                 "Failed", "message": masking.mask(message)}
        try:
            _request(self.api, "POST", f"/flow_runs/{self.flow_run_id}/set_state",
                     {"state": state, "force": True})
        except Exception:  # noqa: BLE001
            return False
        return True
