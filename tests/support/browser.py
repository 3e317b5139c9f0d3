"""Screenshots of Prefect UI pages with headless Chromium (Debian's `chromium` package;
`.ci/run` installs it).

    from support.browser import screenshot, artifact_url, artifacts_dir
    png = screenshot(artifact_url(api_url, artifact_id, ui="v2"), artifacts_dir() / "x.png")

The V1 UI lives at `/`, the V2 UI under `/v2/` on the same server. A page is given
``virtual_time_ms`` of virtual time to load and render (Chromium fast-forwards timers, so
this is a budget, not a sleep). Screenshots are kept under ``tests/artifacts/`` (gitignored),
or ``$PREFECT_COMPOSE_TEST_ARTIFACTS`` when set. On a loaded machine prefer :func:`open_page`
(the DevTools protocol: wait until the page shows what you expect, then screenshot it) to the
one-shot ``screenshot``/``dom``, whose virtual time budget can run out before the V2 UI's
scripts have even loaded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

_IN_CI = os.environ.get("CI", "").lower() in ("true", "1")


def chromium() -> str:
    """The Chromium binary; fails under CI when missing (elsewhere: skips)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    message = "chromium is not installed (apt-get install chromium; .ci/run does)"
    if _IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
    raise AssertionError  # unreachable


def artifacts_dir() -> Path:
    root = os.environ.get("PREFECT_COMPOSE_TEST_ARTIFACTS")
    path = Path(root) if root else Path(__file__).resolve().parents[1] / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def ui_base(api_url: str, ui: str) -> str:
    base = api_url.rstrip("/").removesuffix("/api")
    return base + ("/v2" if ui == "v2" else "")


def artifact_url(api_url: str, artifact_id: object, ui: str) -> str:
    return f"{ui_base(api_url, ui)}/artifacts/artifact/{artifact_id}"


def flow_run_url(api_url: str, flow_run_id: object, ui: str) -> str:
    return f"{ui_base(api_url, ui)}/runs/flow-run/{flow_run_id}"


@contextlib.contextmanager
def _profile() -> Iterator[str]:
    """A throwaway Chromium profile directory. Chromium's helper processes (crashpad, the
    renderer) can still write into it for a moment after the browser exited, and a plain
    TemporaryDirectory then fails its cleanup ("Directory not empty": a flaky test seen in
    CI): its removal is retried, and a leftover in /tmp is not a test failure."""
    path = tempfile.mkdtemp(prefix="pc-chromium-")
    try:
        yield path
    finally:
        for _ in range(10):  # bounded: 10 x 0.2 s
            shutil.rmtree(path, ignore_errors=True)
            if not os.path.exists(path):
                break
            time.sleep(0.2)


def _args(binary: str, profile: str, width: int, height: int, virtual_time_ms: int) -> list:
    return [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--disable-dev-shm-usage", "--no-first-run", "--mute-audio",
            # without it the V2 UI's screenshot is taken before its first paint (blank grey)
            "--run-all-compositor-stages-before-draw",
            f"--user-data-dir={profile}", f"--window-size={width},{height}",
            f"--virtual-time-budget={virtual_time_ms}"]


def _run(argv: list, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": "disabled:"}
    return subprocess.run(argv, capture_output=True, timeout=timeout, env=env)


def screenshot(url: str, path: Path, *, width: int = 1400, height: int = 1000,
               virtual_time_ms: int = 30000, timeout: float = 180, min_colours: int = 0,
               attempts: int = 3) -> Path:
    """A PNG of ``url`` as a ``width`` x ``height`` window shows it. With ``min_colours``,
    up to ``attempts`` shots until one holds that many colours (see :func:`png_colours`: on a
    loaded machine a page may not have painted within the virtual time budget)."""
    binary = chromium()
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(attempts if min_colours else 1):
        with _profile() as profile:
            proc = _run(_args(binary, profile, width, height, virtual_time_ms)
                        + [f"--screenshot={path}", url], timeout)
        assert path.is_file() and path.stat().st_size > 0, \
            f"chromium wrote no screenshot of {url}: {proc.stderr.decode()[-2000:]}"
        if not min_colours or png_colours(path) >= min_colours:
            break
    return path


def dom(url: str, *, width: int = 1400, height: int = 1000, virtual_time_ms: int = 30000,
        timeout: float = 180, until: str | None = None, attempts: int = 3) -> str:
    """The page's DOM after it rendered (what the screenshot shows, as HTML). With ``until``,
    up to ``attempts`` loads until the DOM holds that text (on a loaded machine the app may
    not have rendered within the virtual time budget)."""
    binary = chromium()
    page = ""
    for _ in range(attempts if until else 1):
        with _profile() as profile:
            proc = _run(_args(binary, profile, width, height, virtual_time_ms)
                        + ["--dump-dom", url], timeout)
        page = proc.stdout.decode(errors="replace")
        if until is None or until in page:
            break
    return page


# -- PNG cropping (8-bit RGB/RGBA, as Chromium writes them), no imaging library needed ------
def png_size(path: Path) -> tuple[int, int]:
    data = Path(path).read_bytes()
    return struct.unpack(">II", data[16:24])


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> list[bytearray]:
    stride, rows, prev, i = width * bpp, [], bytearray(width * bpp), 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return rows


def _decode_png(path: Path) -> tuple[list, int, int, int]:
    """(rows of unfiltered pixel bytes, width, height, bytes per pixel) of an 8-bit RGB(A) PNG."""
    data = Path(path).read_bytes()
    pos, idat = 8, b""
    width = height = bpp = 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), "8-bit RGB or RGBA PNGs only"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    rows = _unfilter(zlib.decompress(idat), width, height, bpp)
    return rows, width, height, bpp


def png_colours(path: Path, *, step: int = 7) -> int:
    """How many distinct colours a sample of the PNG's pixels (every ``step``-th of every
    ``step``-th row) holds: a page that never painted is one or two, a rendered one hundreds."""
    rows, width, height, bpp = _decode_png(path)
    return len({bytes(r[x * bpp:x * bpp + 3]) for r in rows[::step]
                for x in range(0, width, step)})


# -- a page driven over the DevTools protocol: wait until it rendered, then look ------------
class Page:
    """A headless Chromium tab, driven over the DevTools protocol (the `websockets` that
    Prefect installs): unlike ``--dump-dom``/``--screenshot`` with a virtual time budget,
    it waits (up to a deadline) until the page shows what the test expects, however loaded
    the machine is.

        with open_page(url, height=1500) as page:
            page.wait_for("document.body.innerText.includes('Plan for')")
            page.screenshot(artifacts_dir() / "x.png")
            html = page.html()
    """

    def __init__(self, ws) -> None:
        self._ws = ws
        self._id = 0
        self.reloads = 0

    def send(self, method: str, **params) -> dict:
        import json

        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv(timeout=120))
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 180.0, reload_after: float = 15.0):
        """Poll ``expression`` until it is truthy (fails the test after ``timeout`` s). A
        page still not there after ``reload_after`` s is reloaded: on a host where Docker
        keeps adding bridges and veths, Chromium aborts in-flight loads with
        ``net::ERR_NETWORK_CHANGED`` and a single-page app whose scripts failed never
        renders (measured here: about 1 V2 load in 2 under the test suite)."""
        import time

        start = time.monotonic()
        deadline, reload_at = start + timeout, start + reload_after
        while True:
            value = self.eval(expression)
            if value:
                return value
            now = time.monotonic()
            if now > deadline:
                pytest.fail(f"the page never satisfied {expression!r} within {timeout}s; it "
                            f"shows: {str(self.eval('document.body.innerText'))[:1500]!r}")
            if now > reload_at:
                self.reloads += 1
                self.send("Page.reload")
                reload_at = now + reload_after
            time.sleep(0.25)

    def html(self) -> str:
        return self.eval("document.documentElement.outerHTML") or ""

    def screenshot(self, path: Path) -> Path:
        import base64

        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)


def _devtools_port(profile: Path, proc: subprocess.Popen, timeout: float) -> int:
    import time

    deadline = time.monotonic() + timeout
    marker = profile / "DevToolsActivePort"
    while True:
        if marker.is_file():
            first = marker.read_text().splitlines()[:1]
            if first and first[0].strip().isdigit():
                return int(first[0])
        if proc.poll() is not None:
            raise AssertionError(f"chromium exited {proc.returncode} before it listened")
        if time.monotonic() > deadline:
            raise AssertionError(f"chromium did not open its DevTools port in {timeout}s")
        time.sleep(0.1)



@contextlib.contextmanager
def open_page(url: str, *, width: int = 1400, height: int = 1000, timeout: float = 120.0):
    """A :class:`Page` showing ``url`` in a ``width`` x ``height`` viewport."""
    import json
    import urllib.request

    from websockets.sync.client import connect

    binary = chromium()
    with _profile() as profile:
        argv = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--disable-dev-shm-usage", "--no-first-run", "--mute-audio",
                f"--user-data-dir={profile}", f"--window-size={width},{height}",
                "--remote-debugging-port=0", "--remote-allow-origins=*", "about:blank"]
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": "disabled:"}
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env)
        try:
            port = _devtools_port(Path(profile), proc, timeout)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list",
                                        timeout=30) as r:
                targets = [t for t in json.load(r) if t.get("type") == "page"]
            with connect(targets[0]["webSocketDebuggerUrl"], max_size=None,
                         open_timeout=30) as ws:
                page = Page(ws)
                page.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                          deviceScaleFactor=1, mobile=False)
                page.send("Page.enable")
                page.send("Page.navigate", url=url)
                yield page
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
