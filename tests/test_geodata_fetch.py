"""Downloading boundaries from a local HTTP server: success, retries, truncation, bad files."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from geodata.fetch import (
    CACHE_ENV,
    CACHE_FILENAME,
    DEFAULT_URL,
    URL_ENV,
    BoundaryDownloadError,
    OfflineError,
    cached_boundaries,
    default_cache_dir,
    fetch_boundaries,
    resolve_url,
)


class Server:
    """Serves the shared GeoJSON in several ways, counting requests per path."""

    def __init__(self, good: bytes) -> None:
        self.good = good
        doc = json.loads(good)
        for feature in doc["features"]:
            feature["properties"]["code"] = "W" + feature["properties"]["code"][1:]
        self.welsh = json.dumps(doc).encode()
        doc = json.loads(good)
        for feature in doc["features"]:
            if feature["properties"]["code"] == "E06000063":  # Cumberland -> Cumbria
                feature["properties"]["code"] = "E10000006"
        self.old = json.dumps(doc).encode()
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                hit = server.hits[path]
                if path == "/ok" or (path == "/flaky" and hit > 1):
                    self.send_body(server.good)
                elif path == "/flaky" or path == "/down":
                    self.send_error(500, "boom")
                elif path == "/truncated" or (path == "/truncated-once" and hit == 1):
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(server.good)))
                    self.end_headers()
                    self.wfile.write(server.good[: len(server.good) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                elif path == "/truncated-once":
                    self.send_body(server.good)
                elif path == "/welsh":
                    self.send_body(server.welsh)
                elif path == "/old":
                    self.send_body(server.old)
                elif path == "/array":
                    self.send_body(b"[1, 2]")
                elif path == "/arcgis-error":
                    self.send_body(b'{"error": {"code": 400, "message": "Invalid query"}}')
                else:
                    self.send_error(404, "no such thing")

            def send_body(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/geo+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"{self.base}{path}?f=geojson"


@pytest.fixture(scope="module")
def server(shared_file) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    srv = Server(shared_file("geodata/england_utla.geojson").read_bytes())
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def fetch(server: Server, path: str, cache: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    return fetch_boundaries(
        url=server.url(path), cache_dir=cache, timeout=10, retries=2, backoff=0, **kwargs
    )


def test_success_caches_a_validated_file_with_checksum(server: Server, tmp_path: Path) -> None:
    result = fetch(server, "/ok", tmp_path)
    assert result.path == tmp_path / CACHE_FILENAME
    assert result.path.read_bytes() == server.good
    assert result.sha256 == hashlib.sha256(server.good).hexdigest()
    assert result.size_bytes == len(server.good) and result.attempts == 1
    assert result.report.complete and len(result.report.matched) == 153
    meta = json.loads((tmp_path / f"{CACHE_FILENAME}.json").read_text())
    assert meta["sha256"] == result.sha256 and meta["url"] == server.url("/ok")
    assert cached_boundaries(tmp_path) == result.path
    assert sorted(p.name for p in tmp_path.iterdir()) == [CACHE_FILENAME, f"{CACHE_FILENAME}.json"]
    assert "153 LAs matched" in result.summary()


def test_server_error_is_retried(server: Server, tmp_path: Path) -> None:
    result = fetch(server, "/flaky", tmp_path)
    assert result.attempts == 2
    assert result.report.complete


def test_truncated_download_is_retried_then_succeeds(server: Server, tmp_path: Path) -> None:
    result = fetch(server, "/truncated-once", tmp_path)
    assert result.attempts == 2
    assert result.path.read_bytes() == server.good


def cache_with_good_file(server: Server, cache: Path) -> bytes:
    fetch(server, "/ok", cache)
    return (cache / CACHE_FILENAME).read_bytes()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/truncated", "incomplete download"),
        ("/down", "HTTP 500"),
        ("/welsh", "no column holds English upper-tier LA codes"),
        ("/old", "OLDER VINTAGE"),
        ("/arcgis-error", "Invalid query"),
        ("/array", "not usable: it is JSON but a list"),  # crashed with AttributeError
        ("/missing", "HTTP 404"),
    ],
)
def test_failures_leave_the_cache_untouched(
    server: Server, tmp_path: Path, path: str, message: str
) -> None:
    before = cache_with_good_file(server, tmp_path)
    with pytest.raises(BoundaryDownloadError, match=message) as err:
        fetch(server, path, tmp_path)
    assert "cache is unchanged" in str(err.value) or "not cached" in str(err.value)
    assert (tmp_path / CACHE_FILENAME).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [CACHE_FILENAME, f"{CACHE_FILENAME}.json"]


def test_a_cache_that_is_a_file_or_negative_retries_are_refused(
    server: Server, tmp_path: Path
) -> None:
    """--cache FILE gave a FileExistsError traceback; --retries -1 said "download failed after
    0 attempt(s); last error: ."."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(BoundaryDownloadError, match=r"cache folder .*afile is a file"):
        fetch(server, "/ok", afile)
    with pytest.raises(BoundaryDownloadError, match="retries must be 0 or more, not -1"):
        fetch_boundaries(url=server.url("/ok"), cache_dir=tmp_path, retries=-1)
    assert afile.read_text() == "x"


def test_offline_says_so_plainly(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OfflineError, match="You seem to be offline") as err:
        fetch_boundaries(url=f"http://127.0.0.1:{port}/x", cache_dir=tmp_path, retries=1, backoff=0)
    assert "hex layout" in str(err.value)
    assert cached_boundaries(tmp_path) is None


def test_url_and_cache_come_from_arguments_then_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert resolve_url() == DEFAULT_URL
    assert "Counties_and_Unitary_Authorities" in DEFAULT_URL and "f=geojson" in DEFAULT_URL
    assert default_cache_dir() == Path.home() / ".cache" / "rcc-planner"
    monkeypatch.setenv(URL_ENV, "http://example.invalid/b.geojson")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert resolve_url() == "http://example.invalid/b.geojson"
    assert resolve_url("http://other/") == "http://other/"
    assert default_cache_dir() == tmp_path


def test_cli_fetch_downloads_and_reports(server: Server, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    runner = CliRunner()
    ok = runner.invoke(
        app, ["geodata", "fetch", "--url", server.url("/ok"), "--cache", str(tmp_path)]
    )
    assert ok.exit_code == 0, ok.output
    assert "matched 153 of 153 LAs" in ok.output and "sha256" in ok.output
    bad = runner.invoke(
        app,
        [
            "geodata",
            "fetch",
            "--url",
            server.url("/welsh"),
            "--cache",
            str(tmp_path),
            "--retries",
            "0",
        ],
    )
    assert bad.exit_code == 1
    said = " ".join(bad.output.split())
    assert "cache is unchanged" in said and ".download-" not in said and "--code-column" not in said
    assert (tmp_path / CACHE_FILENAME).read_bytes() == server.good
