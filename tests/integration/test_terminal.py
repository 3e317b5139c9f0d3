"""What `prefect-compose up` shows on a terminal: under a pseudo-terminal the live view (a line
per service, redrawn in place with cursor-up and erase-down, ending with the summary); with
NO_COLOR or `--ansi never` not one escape code; with `--progress plain` (or a pipe) the
prefixed log. The bundled example (examples/release) is the project."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
import textwrap
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "release"
ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SGR = re.compile(r"\x1b\[[0-9;]*m")
STEPS = ("db", "db: healthy", "migrate", "web", "web: healthy", "warm-cache")


def run_in_pty(argv: list[str], cwd: Path, env: dict[str, str], *, cols: int = 110,
               rows: int = 32, timeout: float = 240) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as its stdin, stdout and stderr (``cols`` x
    ``rows``); returns its exit code and everything it wrote to the terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(timeout=60)
                pytest.fail(f"{argv} still running after {timeout}s:\n"
                            + b"".join(chunks).decode(errors="replace")[-3000:])
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None and not select.select([master], [], [], 0.2)[0]:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")


def _argv(pc, project: str, *args: str) -> list[str]:
    return pc.cli_argv("up", project, *args)


def _env(pc, **extra: str) -> dict[str, str]:
    env = pc.cli_env({"TERM": "xterm-256color", "COLUMNS": "", "LINES": "", **extra})
    for k in ("NO_COLOR", "COLUMNS", "LINES"):
        if not extra.get(k):
            env.pop(k, None)
    return env


def test_on_a_terminal_up_must_redraw_a_live_view_and_end_with_the_summary(
        prefect_server, busybox_image, project, pc):
    rc, out = run_in_pty(_argv(pc, project), EXAMPLE, _env(pc))
    assert rc == 0, out[-4000:]
    redraws = re.findall(r"\x1b\[(\d+)A\r\x1b\[J", out)
    assert len(redraws) >= 3, f"the view must redraw in place (cursor up, erase down):\n{out}"
    assert max(int(n) for n in redraws) >= 1 + 4, "the whole view (header + 4 services)"
    assert "\x1b[3" in out, "services in colour"
    last = out.rsplit("\x1b[J", 1)[1]
    final = ESC.sub("", last).replace("\r", "")
    frame, _, after = final.partition("\n\n")
    assert re.search(rf"✔ \[\+\] {project}: 4/4 ready", frame), final
    for service in ("db", "migrate", "web", "warm-cache"):
        assert re.search(rf"^ ✔ {re.escape(service)} .*\d+\.\ds$", frame, re.M), frame
    summary = [line.strip().split("  ")[0] for line in after.splitlines()
               if line.startswith("  ")]
    assert tuple(summary) == STEPS, f"the summary under the last frame:\n{final}"
    assert final.rstrip().splitlines()[-1].startswith(f"up: deployment {project}"), final
    assert "flow run" in ESC.sub("", out) and "/runs/flow-run/" in out, "where to watch it"
    assert "migrate |" not in ESC.sub("", final), "the job's output is under the services " \
                                                 "while it runs, not left in the last frame"


@pytest.mark.parametrize("how", ["NO_COLOR", "--ansi never"])
def test_without_colour_up_must_print_no_escape_code_even_on_a_terminal(
        prefect_server, busybox_image, project, pc, how):
    args, extra = ((), {"NO_COLOR": "1"}) if how == "NO_COLOR" else (("--ansi", "never"), {})
    rc, out = run_in_pty(_argv(pc, project, *args), EXAMPLE, _env(pc, **extra))
    assert rc == 0, out[-4000:]
    assert "\x1b" not in out, [line for line in out.splitlines() if "\x1b" in line][:5]
    assert re.search(r"^migrate +\| migrating", out, re.M), "the prefixed log instead"


def test_with_progress_plain_up_must_print_the_prefixed_log(
        prefect_server, busybox_image, project, pc):
    rc, out = run_in_pty(_argv(pc, project, "--progress", "plain"), EXAMPLE, _env(pc))
    assert rc == 0, out[-4000:]
    assert not re.search(r"\x1b\[\d*[AJ]", out), "no cursor movement"
    plain = SGR.sub("", out)
    assert re.search(r"^migrate +\| migrating", plain, re.M), plain
    assert re.search(r"^warm-cache +\| warmed 3", plain, re.M), plain
    assert re.search(r"^db +\* healthy", plain, re.M), plain
    assert SGR.search(out), "colours per service on a terminal"
    # a pipe: the same log, never a colour (the runs above already deployed: all unchanged)
    r = pc.run_cli("up", EXAMPLE, project, "--progress", "plain")
    assert r.rc == 0, r.show()
    assert "\x1b" not in r.stdout + r.stderr
    assert re.search(r"^web +\* up to date", r.stderr, re.M), r.stderr


def test_prefect_log_lines_must_show_only_with_verbose(prefect_server, busybox_image,
                                                       project, pc):
    quiet = pc.run_cli("up", EXAMPLE, project)
    assert quiet.rc == 0, quiet.show()
    verbose = pc.run_cli("up", EXAMPLE, project, "--verbose")
    assert verbose.rc == 0, verbose.show()
    assert "Finished in state" not in quiet.stderr and "Beginning flow run" not in quiet.stderr
    assert "Finished in state Completed" in verbose.stderr, verbose.stderr


def test_a_tty_services_output_must_reach_the_prefixed_log(prefect_server, busybox_image,
                                                           project, pc, tmp_path):
    """A `tty: true` container's logs are raw bytes, not the engine's multiplexed frames: the
    step says which it created (no inspect on the way), and its lines come out whole."""
    (tmp_path / "compose.yaml").write_text(textwrap.dedent(f"""\
        services:
          t:
            image: {busybox_image}
            tty: true
            command: ["sh", "-c", "echo tty-line-1; echo tty-line-2; touch /tmp/ok; sleep 600"]
            stop_grace_period: 1s
            healthcheck: {{test: ["CMD", "test", "-f", "/tmp/ok"], interval: 1s, retries: 30}}
          plain:
            image: {busybox_image}
            command: ["sh", "-c", "echo plain-line; sleep 600"]
            stop_grace_period: 1s
          after:
            image: {busybox_image}
            restart: "no"
            command: ["sleep", "2"]
            depends_on: {{t: {{condition: service_healthy}}, plain: {{condition: service_started}}}}
        """))
    try:
        r = pc.run_cli("up", tmp_path, project, "--progress", "plain", timeout=240)
        assert r.rc == 0, r.show()
        out = r.stdout + r.stderr
        assert re.search(r"^t +\| tty-line-1\r?$", out, re.M), out
        assert re.search(r"^t +\| tty-line-2\r?$", out, re.M), out
        assert re.search(r"^plain +\| plain-line$", out, re.M), out
    finally:
        pc.run_cli("down", tmp_path, project)
