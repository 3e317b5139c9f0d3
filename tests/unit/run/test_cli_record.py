"""run/cli_record.py against a stand-in of Prefect's REST API (a loopback http.server): the
calls it makes, in order, and that a missing or failing server changes nothing."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prefect_compose.run.cli_record import CliRecord


@pytest.fixture
def api():
    calls: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append((self.path, body))
            if self.server.fail:  # type: ignore[attr-defined]
                self.send_response(500)
                self.end_headers()
                return
            reply = {"id": "flow-1"} if self.path.endswith("/flows/") else {"id": "run-1"}
            data = json.dumps(reply).encode()
            self.send_response(201)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.fail = False  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}/api", calls
    server.shutdown()
    server.server_close()


def test_a_run_is_created_running_then_set_to_its_final_state(api):
    _, url, calls = api
    rec = CliRecord(lambda: url, "run", "shop", "migrate", ["sh", "-c", "exit 3"], "/srv/shop")
    assert rec.start().finish(3, duration_s=1.25, size_seconds=2.5)
    assert [p for p, _ in calls] == ["/api/flows/", "/api/flow_runs/",
                                     "/api/flow_runs/run-1/set_state"]
    assert calls[0][1] == {"name": "compose-run"}
    run = calls[1][1]
    assert run["flow_id"] == "flow-1" and run["name"] == "run migrate (cli)"
    assert run["state"]["type"] == "RUNNING"
    assert run["parameters"] == {"service": "migrate", "project_name": "shop",
                                 "command": ["sh", "-c", "exit 3"], "project_dir": "/srv/shop"}
    assert "project:shop" in run["tags"] and "cli" in run["tags"]
    assert {"service:" + run["parameters"]["service"], "kind:one-off"} <= set(run["tags"])
    final = calls[2][1]
    assert final["force"] is True and final["state"]["type"] == "FAILED"
    assert final["state"]["message"] == "migrate: exit code 3 after 1.2s (2.5 size-seconds)"


def test_exit_code_zero_completes_and_exec_uses_compose_exec(api):
    _, url, calls = api
    assert CliRecord(lambda: url, "exec", "shop", "web", ["true"]).start().finish(0)
    assert calls[0][1] == {"name": "compose-exec"}
    assert calls[2][1]["state"] == {"type": "COMPLETED", "name": "Completed",
                                    "message": "web: exit code 0"}


def test_no_server_in_use_means_no_record():
    assert CliRecord(lambda: None, "run", "shop", "web", None).start().finish(0) is False


def test_a_server_that_fails_or_is_gone_changes_nothing(api):
    server, url, calls = api
    server.fail = True
    assert CliRecord(lambda: url, "run", "shop", "web", None).start().finish(1) is False
    assert [p for p, _ in calls] == ["/api/flows/"]  # gave up at the first error
    assert CliRecord(lambda: "http://127.0.0.1:9/api", "run", "shop", "web",
                     None).start().finish(0) is False  # nothing listens on port 9


def test_the_api_finder_runs_off_the_main_thread_and_its_errors_are_dropped():
    seen = []

    def boom():
        seen.append(threading.current_thread().name)
        raise RuntimeError("no")

    assert CliRecord(boom, "run", "shop", "web", None).start().finish(0) is False
    assert seen == ["prefect-compose-record"]
