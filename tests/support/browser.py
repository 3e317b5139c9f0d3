"""Screenshots of Prefect UI pages with headless Chromium (Debian's `chromium` package;
`.ci/run` installs it).

    from support.browser import screenshot, artifact_url, artifacts_dir
    png = screenshot(artifact_url(api_url, artifact_id, ui="v2"), artifacts_dir() / "x.png")

The V1 UI lives at `/`, the V2 UI under `/v2/` on the same server. A page is given
``virtual_time_ms`` of virtual time to load and render (Chromium fast-forwards timers, so
this is a budget, not a sleep). Screenshots are kept under ``tests/artifacts/`` (gitignored),
or ``$PREFECT_COMPOSE_TEST_ARTIFACTS`` when set.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
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


def _args(binary: str, profile: str, width: int, height: int, virtual_time_ms: int) -> list:
    return [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--disable-dev-shm-usage", "--no-first-run", "--mute-audio",
            f"--user-data-dir={profile}", f"--window-size={width},{height}",
            f"--virtual-time-budget={virtual_time_ms}"]


def _run(argv: list, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": "disabled:"}
    return subprocess.run(argv, capture_output=True, timeout=timeout, env=env)


def screenshot(url: str, path: Path, *, width: int = 1400, height: int = 1000,
               virtual_time_ms: int = 15000, timeout: float = 120) -> Path:
    """A PNG of ``url`` as a ``width`` x ``height`` window shows it."""
    binary = chromium()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pc-chromium-") as profile:
        proc = _run(_args(binary, profile, width, height, virtual_time_ms)
                    + [f"--screenshot={path}", url], timeout)
    assert path.is_file() and path.stat().st_size > 0, \
        f"chromium wrote no screenshot of {url}: {proc.stderr.decode()[-2000:]}"
    return path


def dom(url: str, *, width: int = 1400, height: int = 1000, virtual_time_ms: int = 15000,
        timeout: float = 120) -> str:
    """The page's DOM after it rendered (what the screenshot shows, as HTML)."""
    binary = chromium()
    with tempfile.TemporaryDirectory(prefix="pc-chromium-") as profile:
        proc = _run(_args(binary, profile, width, height, virtual_time_ms)
                    + ["--dump-dom", url], timeout)
    return proc.stdout.decode(errors="replace")


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


def crop_png(src: Path, dest: Path, x: int, y: int, w: int, h: int) -> Path:
    """Cut the rectangle (x, y, w, h) out of ``src`` into ``dest`` (to look at a detail)."""
    data = Path(src).read_bytes()
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
    w, h = min(w, width - x), min(h, height - y)
    raw = b"".join(b"\x00" + bytes(r[x * bpp:(x + w) * bpp]) for r in rows[y:y + h])

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2 if bpp == 3 else 6, 0, 0, 0)
    Path(dest).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    return Path(dest)
