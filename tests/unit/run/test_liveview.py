"""The terminal side of `up` without a terminal: which console the flags choose, what a live
view frame holds, how it redraws, and that the plain log keeps its prefixes."""

from __future__ import annotations

import io
import re

import pytest

from prefect_compose import masking
from prefect_compose.run import liveview
from prefect_compose.run.liveview import LiveView, PlainConsole, Settings, resolve

ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("progress", "ansi", "env", "tty", "want"), [
    ("auto", "auto", {}, True, Settings(live=True, color=True)),
    ("auto", "auto", {}, False, Settings(live=False, color=False)),
    ("plain", "auto", {}, True, Settings(live=False, color=True)),
    ("tty", "auto", {}, False, Settings(live=True, color=False)),
    ("auto", "never", {}, True, Settings(live=False, color=False)),
    ("tty", "never", {}, True, Settings(live=False, color=False)),
    ("auto", "auto", {"NO_COLOR": "1"}, True, Settings(live=False, color=False)),
    ("auto", "always", {"NO_COLOR": "1"}, True, Settings(live=True, color=True)),
    ("plain", "always", {}, False, Settings(live=False, color=True)),
    ("auto", "auto", {"TERM": "dumb"}, True, Settings(live=False, color=False)),
])
def test_the_flags_must_choose_the_console_as_compose_does(progress, ansi, env, tty, want):
    stream = Tty() if tty else io.StringIO()
    got = resolve(progress, ansi, False, env={"TERM": "xterm", **env}, stdout=stream,
                  stderr=stream)
    assert got == want


def _view(**kw) -> tuple[LiveView, Tty]:
    out = Tty()
    view = LiveView("demo", ["db", "migrate", "web"],
                    [("db", "db"), ("db: healthy", "db"), ("migrate", "migrate"),
                     ("web", "web")], stream=out, tick_s=3600, size=(80, 24), **kw)
    return view, out


def test_a_frame_must_show_a_line_per_service_with_its_state_and_elapsed_time():
    view, _ = _view(color=False)
    try:
        view.step_started("db", "db")
        view.status("db", "created (demo-db-1)")
        view.step_finished("db", "db", "created", False)
        view.step_started("db: healthy", "db")
        view.step_finished("db: healthy", "db", "ok", False)
        view.step_started("migrate", "migrate")
        view.status("migrate", "job started (demo-migrate-run-1)")
        view.line("migrate", "migrating \x1b[32mnow\x1b[0m\r")
        frame = view.frame(cols=80, rows=24)
    finally:
        view.close()
    assert frame[0].startswith(tuple(liveview.SPINNER)) and "demo: 1/3 ready" in frame[0]
    db, migrate, web = frame[1:4]
    assert re.match(r" ✔ db +created \(demo-db-1\) +\d+\.\ds$", db), db
    assert "job started" in migrate and re.search(r"\d+\.\ds$", migrate)
    assert web.split() == ["web", "waiting"]
    assert frame[4].split() == ["migrate", "|", "migrating", "now"], "job output below"
    assert all(len(line) < 80 for line in frame)
    assert not any(ESC.search(line) for line in frame), "no colour asked for"


def test_the_view_must_redraw_in_place_and_keep_its_last_frame_above_the_summary():
    view, out = _view(color=True)
    view.step_started("migrate", "migrate")
    view._draw()  # what the ticking thread does
    view.status("up", "waiting for the deployment in progress")  # a line that stays
    view.step_finished("migrate", "migrate", "failed", True)
    view._draw()
    view.block(["", "  migrate  failed  exit 3"])
    text = out.getvalue()
    frames = text.count("\x1b[J")
    assert frames >= 3, "a first frame, a redraw, the last frame"
    assert re.search(r"\x1b\[\d+A\r\x1b\[J", text), "cursor up, then erase down"
    last = text.rsplit("\x1b[J", 1)[1]
    plain = ESC.sub("", last)
    assert "✘ migrate" in plain and "- db" in plain and "not started" in plain
    assert plain.rstrip().endswith("migrate  failed  exit 3"), "the summary comes last"
    assert "waiting for the deployment in progress" in ESC.sub("", text)
    assert text.startswith("\x1b[?25l") and "\x1b[?25h" in text, "cursor hidden, then shown"


def test_many_services_must_fold_into_a_count_rather_than_scroll():
    names = [f"svc-{i}" for i in range(50)]
    view = LiveView("big", names, [(n, n) for n in names], stream=Tty(), tick_s=3600,
                    size=(100, 20), color=False)
    try:
        view.step_started("svc-40", "svc-40")
        view.step_finished("svc-3", "svc-3", "failed", True)
        frame = view.frame(cols=100, rows=20)
    finally:
        view.close()
    assert len(frame) <= 19
    text = "\n".join(frame)
    assert "svc-40" in text and "svc-3 " in text, "running and failed ones stay visible"
    assert re.search(r"… \d+ more: \d+ done, \d+ waiting", text)


def test_the_plain_console_must_prefix_and_colour_each_service(capsys):
    console = PlainConsole(["db", "migrate"], color=True)
    console.line("migrate", "migrating")
    console.status("db", "healthy")
    out, err = capsys.readouterr()
    assert ESC.sub("", out) == "migrate | migrating\n"
    assert ESC.sub("", err) == "db      * healthy\n"
    assert "\x1b[33m" in out, "the second service gets Compose's second colour (yellow)"
    PlainConsole(["db"], color=False).line("db", "x")
    assert "\x1b" not in capsys.readouterr().out


def test_what_the_view_prints_must_be_masked():
    masking.register(["s3cr3t-value-for-view"])
    view, out = _view(color=False)
    view.above("token s3cr3t-value-for-view")
    view.close()
    assert "s3cr3t-value-for-view" not in out.getvalue()
