"""Every map in headless Chromium, network off: no JS errors, drawn, no requests."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Debian chromium is not installed (apt-get install chromium; .ci/run does it)",
    ),
]


@dataclass
class PageReport:
    """What happened while a page loaded."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    png: bytes = b""
    value: Any = None  # of the expression evaluated once it loaded

    @property
    def drawn_paths(self) -> int:
        return int(self.value or 0)


_PATHS = "document.querySelectorAll('path.leaflet-interactive, path').length"


class Chromium:
    """Chromium driven over the DevTools protocol on a pipe (fds 3 and 4), no extra packages."""

    def __init__(self, path: str, *, loopback: bool = False) -> None:
        """`loopback`: this machine's addresses are reached directly (a page of a local
        server); every other request, and by default those too, goes to a closed port."""
        self._profile = tempfile.mkdtemp(prefix="rcc-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = [
            path,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--proxy-server=127.0.0.1:9",  # any request that escapes goes to a closed port
            *([] if loopback else ["--proxy-bypass-list=<-loopback>"]),
            "--window-size=1200,900",
            "--remote-debugging-pipe",
            f"--user-data-dir={self._profile}",
            "about:blank",
        ]

        def wire_fds() -> None:
            # Move both ends above 4 first: dup2 onto the same number would keep close-on-exec.
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self._proc = subprocess.Popen(
            args,
            close_fds=False,  # pipe ends are non-inheritable; dup2 makes fds 3 and 4 inherited
            preexec_fn=wire_fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read(self, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)  # type: ignore[no-any-return]

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str = ""
    ) -> dict[str, Any]:
        wanted = self._send(method, params, session)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = self._read(deadline - time.monotonic())
            if msg is None:
                break
            if msg.get("id") == wanted:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})  # type: ignore[no-any-return]
            self.events.append(msg)
        raise TimeoutError(f"chromium did not answer {method}")

    def wait_for(self, method: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if any(e.get("method") == method for e in self.events):
            return True
        while time.monotonic() < deadline:
            msg = self._read(deadline - time.monotonic())
            if msg is None:
                return False
            self.events.append(msg)
            if msg.get("method") == method:
                return True
        return False

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (msg := self._read(max(0.0, deadline - time.monotonic()))) is not None:
            self.events.append(msg)

    def load(self, path: Path | str, *, expression: str = _PATHS) -> PageReport:
        """Open the file (or, as text, a URL of this machine) in a fresh tab with the network
        emulated offline (for a URL, any address but this machine's goes to a closed port);
        collect errors, outgoing requests, a screenshot and the value of `expression`."""
        url = path if isinstance(path, str) else path.resolve().as_uri()
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        if isinstance(path, Path):
            conditions = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
            self.call(
                "Network.emulateNetworkConditions", {"offline": True, **conditions}, session=session
            )
        self.call("Page.navigate", {"url": url}, session=session)
        assert self.wait_for("Page.loadEventFired", 30), f"{url} never finished loading"
        self.drain(0.8)  # let Leaflet draw
        value = self.call(  # (an expression may be a promise: its value, once settled)
            "Runtime.evaluate", {"expression": expression, "awaitPromise": True}, session=session
        )
        # a quarter-scale shot of the whole viewport: enough to see a map, quick to decode
        clip = {"x": 0, "y": 0, "width": 1200, "height": 900, "scale": 0.25}
        shot = self.call("Page.captureScreenshot", {"format": "png", "clip": clip}, session=session)
        self.drain(0.2)
        self.call("Target.closeTarget", {"targetId": target})
        report = PageReport(png=base64.b64decode(shot["data"]))
        report.value = value.get("result", {}).get("value")
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                report.errors.append(f"exception: {text}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                report.errors.append(f"console.{params['type']}: {args}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                report.errors.append(f"log: {entry.get('text')} {entry.get('url', '')}")
            elif method == "Network.requestWillBeSent":
                asked = params["request"]["url"]
                if not asked.startswith(("file:", "data:", "about:", "http://127.0.0.1:")):
                    report.requests.append(asked)
        return report

    def close(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self._profile, ignore_errors=True)


def png_pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) into rows of raw pixel bytes."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), f"unexpected PNG format {depth}/{colour}"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * channels, [], bytes(width * channels)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = bytes(line)
    return width, channels, rows


def distinct_colours(png: bytes, *, step: int = 2) -> int:
    """How many distinct colours a sample of the screenshot's pixels has."""
    width, channels, rows = png_pixels(png)
    seen = set()
    for row in rows[::step]:
        for x in range(0, width, step):
            seen.add(row[x * channels : x * channels + 3])
    return len(seen)


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    assert CHROMIUM is not None
    chrome = Chromium(CHROMIUM)
    try:
        yield chrome
    finally:
        chrome.close()


@pytest.fixture(scope="module")
def map_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every map family written self-contained from one seeded random allocation."""
    from test_maps import build_all_maps

    return build_all_maps(tmp_path_factory.mktemp("browser-maps"))


def test_png_decoder_reads_what_chromium_writes(browser: Chromium, tmp_path: Path) -> None:
    page = tmp_path / "two.html"
    page.write_text(
        "<html><body style='margin:0'><div style='width:50%;height:100vh;background:#ff0000;"
        "float:left'></div><div style='width:50%;height:100vh;background:#0000ff;float:left'>"
        "</div></body></html>"
    )
    report = browser.load(page)
    width, channels, rows = png_pixels(report.png)
    middle = rows[len(rows) // 2]
    assert middle[:3] == b"\xff\x00\x00"
    assert middle[(width - 1) * channels : (width - 1) * channels + 3] == b"\x00\x00\xff"


def test_blank_page_counts_as_blank(browser: Chromium, tmp_path: Path) -> None:
    page = tmp_path / "blank.html"
    page.write_text("<html><body></body></html>")
    assert distinct_colours(browser.load(page).png) == 1


def test_a_page_that_calls_out_is_caught(browser: Chromium, tmp_path: Path) -> None:
    page = tmp_path / "online.html"
    page.write_text(
        '<html><head><script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js">'
        "</script></head><body><script>L.map('x')</script></body></html>"
    )
    report = browser.load(page)
    assert any("cdn.jsdelivr.net" in u for u in report.requests)
    assert report.errors, "the failed script and the ReferenceError must be reported"


@pytest.mark.parametrize(
    "kind", ["out-of-area", "flows", "flows-la", "rccs", "sufficiency", "plan"]
)
def test_map_loads_offline_without_errors(
    browser: Chromium, map_files: dict[str, Path], kind: str
) -> None:
    report = browser.load(map_files[kind])
    assert report.errors == [], report.errors
    assert report.requests == [], f"the map asked the network for {report.requests}"
    assert report.drawn_paths > 10, "Leaflet drew no shapes"
    assert distinct_colours(report.png) > 8, "the screenshot is (nearly) blank"


def test_hex_map_makes_no_network_request(browser: Chromium, map_files: dict[str, Path]) -> None:
    report = browser.load(map_files["hex"])
    assert report.requests == []
    assert report.errors == []
    assert distinct_colours(report.png) > 8


def test_real_boundaries_map_loads_offline(
    browser: Chromium, shared_file: Callable[[str], Path], tmp_path: Path
) -> None:
    import geopandas as gpd
    from test_maps import random_allocation, settings_for

    from geodata.rcc import default_lookup
    from maps import MapGeometry, out_of_area_map, save_map

    geometry = MapGeometry.from_boundaries(
        gpd.read_file(shared_file("geodata/england_utla.geojson"))
    )
    m = out_of_area_map(random_allocation(), default_lookup(), settings=settings_for(geometry))
    report = browser.load(save_map(m, tmp_path / "real.html"))
    assert report.errors == [] and report.requests == []
    assert report.drawn_paths > 153
    assert distinct_colours(report.png) > 8


def test_the_api_docs_page_renders_offline(tmp_path: Path) -> None:
    """Swagger UI came from cdn.jsdelivr.net: offline, /docs was a blank page."""
    from service.app import SWAGGER_UI

    if not (SWAGGER_UI / "swagger-ui-bundle.js").is_file():
        pytest.skip("Swagger UI is not installed: make api-assets")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RCC_DATA_DIR": str(tmp_path / "data")}
    cli = [sys.executable, "-c", "from service.cli import main; main()"]
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    browser = Chromium(CHROMIUM or "chromium", loopback=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        # the title Swagger UI draws once it has read /openapi.json (within 20 s)
        title = """new Promise(done => {
            const start = Date.now();
            (function look() {
                const shown = document.querySelector('.swagger-ui .info .title');
                if (shown || Date.now() - start > 20000) done(shown ? shown.textContent : '');
                else setTimeout(look, 100);
            })();
        })"""
        report = browser.load(f"{url}/docs", expression=title)
        assert report.errors == [], report.errors
        assert report.requests == [], f"the page asked the internet for {report.requests}"
        assert "RCC placement sufficiency service" in report.value
    finally:
        browser.close()
        server.terminate()
        server.wait(timeout=20)
