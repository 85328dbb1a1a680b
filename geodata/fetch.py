"""Download the ONS Counties and Unitary Authorities boundaries (BUC) into a local cache."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

from geodata.boundaries import CODE_COLUMN_HINT, BoundaryError, MatchReport, read_boundaries

__all__ = [
    "CACHE_ENV",
    "CACHE_FILENAME",
    "DEFAULT_URL",
    "URL_ENV",
    "BoundaryDownloadError",
    "FetchResult",
    "OfflineError",
    "cached_boundaries",
    "default_cache_dir",
    "fetch_boundaries",
    "resolve_url",
]

# ONS Open Geography Portal, ArcGIS REST query endpoint: Counties and Unitary Authorities
# (December 2024) Boundaries UK BUC (ultra generalised, 500 m, clipped to the coastline),
# England only (codes starting E), code and name fields, lon/lat GeoJSON.
DEFAULT_URL = (
    "https://services1.arcgis.com/ESMARspQHYMw9BZ9/arcgis/rest/services/"
    "Counties_and_Unitary_Authorities_December_2024_Boundaries_UK_BUC/FeatureServer/0/query"
    "?where=CTYUA24CD%20LIKE%20%27E%25%27&outFields=CTYUA24CD,CTYUA24NM&outSR=4326&f=geojson"
)
URL_ENV = "RCC_BOUNDARIES_URL"
CACHE_ENV = "RCC_CACHE_DIR"
CACHE_FILENAME = "ctyua_boundaries.geojson"
_META_SUFFIX = ".json"
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class BoundaryDownloadError(RuntimeError):
    """The download failed or gave an unusable file; the cache was left as it was."""


class OfflineError(BoundaryDownloadError):
    """The server could not be reached at all (no network, DNS failure, refused connection)."""


@dataclass(frozen=True)
class FetchResult:
    """A validated boundary file now in the cache, with its checksum and match report."""

    path: Path
    url: str
    sha256: str
    size_bytes: int
    attempts: int
    report: MatchReport

    def summary(self) -> str:
        return (
            f"Saved {self.path} ({self.size_bytes:,} bytes, sha256 {self.sha256}) "
            f"after {self.attempts} attempt(s); {len(self.report.matched)} LAs matched."
        )


def default_cache_dir() -> Path:
    """`$RCC_CACHE_DIR`, else `~/.cache/rcc-planner`."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rcc-planner"


def resolve_url(url: str | None = None) -> str:
    """The given URL, else `$RCC_BOUNDARIES_URL`, else the ONS default."""
    return url or os.environ.get(URL_ENV) or DEFAULT_URL


def cached_boundaries(cache_dir: str | Path | None = None) -> Path | None:
    """The cached boundary file if a download has succeeded before, else None."""
    path = Path(cache_dir or default_cache_dir()) / CACHE_FILENAME
    return path if path.is_file() else None


class _Transient(Exception):
    """A failure worth retrying (server error, dropped or truncated transfer)."""


@contextlib.contextmanager
def _progress_bar(enabled: bool, total: int | None, label: str) -> Iterator[object | None]:
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _download_once(
    client: httpx.Client, url: str, target: Path, *, progress: bool
) -> tuple[str, int]:
    """Stream `url` into `target`; return (sha256, bytes). Raises _Transient for retries."""
    digest = hashlib.sha256()
    received = 0
    try:
        with client.stream("GET", url) as response:
            if response.status_code in _RETRY_STATUS:
                raise _Transient(f"server answered HTTP {response.status_code}")
            if response.status_code >= 400:
                raise BoundaryDownloadError(
                    f"{url}: server answered HTTP {response.status_code}; check the URL. "
                    "The cache is unchanged."
                )
            header = response.headers.get("content-length")
            expected = int(header) if header and header.isdigit() else None
            with (
                target.open("wb") as out,
                _progress_bar(progress, expected, "Downloading boundaries") as advance,
            ):
                for block in response.iter_bytes(chunk_size=1 << 16):
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    if callable(advance):
                        advance(len(block))
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout) as exc:
        raise _Transient(
            f"incomplete download: transfer interrupted after {received:,} bytes ({exc})"
        ) from exc
    if expected is not None and received != expected:
        raise _Transient(f"incomplete download: {received:,} of {expected:,} bytes")
    return digest.hexdigest(), received


def _arcgis_problem(path: Path) -> str | None:
    """ArcGIS reports query errors as HTTP 200 JSON; name them instead of 'no code column'.
    JSON that is not an object (a list, a string) cannot be GeoJSON: say so."""
    try:
        with path.open("rb") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return (
            f"the downloaded file is not usable: it is JSON but a {type(doc).__name__}, "
            "not a GeoJSON object"
        )
    if isinstance(doc.get("error"), dict):
        err = doc["error"]
        return f"the server returned an error: {err.get('code', '')} {err.get('message', '')}"
    props = doc.get("properties")
    if doc.get("exceededTransferLimit") or (
        isinstance(props, dict) and props.get("exceededTransferLimit")
    ):
        return "the server returned only part of the features (exceededTransferLimit)"
    return None


def fetch_boundaries(
    *,
    url: str | None = None,
    cache_dir: str | Path | None = None,
    timeout: float = 60.0,
    retries: int = 3,
    backoff: float = 1.0,
    progress: bool = False,
) -> FetchResult:
    """Download, validate (all 153 LAs must match) and atomically place the boundary file.

    Retries server errors and interrupted transfers `retries` times with exponential backoff.
    The file is written to a temporary name in the cache folder, checked with
    `read_boundaries`, and only then renamed over the cached file, with a sidecar JSON of the
    URL, checksum, size and time. On any failure the cache is untouched.
    """
    if retries < 0:
        raise BoundaryDownloadError(f"retries must be 0 or more, not {retries}")
    url = resolve_url(url)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if folder.exists() and not folder.is_dir():
        raise BoundaryDownloadError(f"the cache folder {folder} is a file; give a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BoundaryDownloadError(
            f"cannot make the cache folder {folder}: {exc.strerror or exc}"
        ) from exc
    final = folder / CACHE_FILENAME
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".download-", suffix=".geojson")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        sha, size, attempts = _download_with_retries(
            url, tmp, timeout=timeout, retries=retries, backoff=backoff, progress=progress
        )
        report = _validate(tmp, url)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    meta = {
        "url": url,
        "sha256": sha,
        "size_bytes": size,
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "matched": len(report.matched),
    }
    meta_tmp = folder / f".{CACHE_FILENAME}{_META_SUFFIX}.tmp"
    meta_tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(meta_tmp, folder / f"{CACHE_FILENAME}{_META_SUFFIX}")
    return FetchResult(
        path=final, url=url, sha256=sha, size_bytes=size, attempts=attempts, report=report
    )


def _download_with_retries(
    url: str, target: Path, *, timeout: float, retries: int, backoff: float, progress: bool
) -> tuple[str, int, int]:
    host = httpx.URL(url).host or url
    last = ""
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        for attempt in range(1, retries + 2):
            try:
                sha, size = _download_once(client, url, target, progress=progress)
                return sha, size, attempt
            except _Transient as exc:
                last = str(exc)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt > retries:
                    raise OfflineError(
                        f"cannot reach {host} ({exc}). You seem to be offline: nothing was "
                        "downloaded and the cache is unchanged. Maps keep working on the "
                        "built-in hex layout, or pass --boundaries FILE with a file you have."
                    ) from exc
                last = f"cannot connect ({exc})"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if attempt <= retries:
                time.sleep(backoff * 2 ** (attempt - 1))
    raise BoundaryDownloadError(
        f"{url}: download failed after {retries + 1} attempt(s); last error: {last}. "
        "The cache is unchanged."
    )


def _validate(path: Path, url: str) -> MatchReport:
    problem = _arcgis_problem(path)
    if problem:
        raise BoundaryDownloadError(f"{url}: {problem}. The cache is unchanged.")
    try:
        match = read_boundaries(path)
    except BoundaryError as exc:  # named by the URL, not the temporary file; no --code-column
        why = str(exc).removeprefix(f"{path}: ").replace(CODE_COLUMN_HINT, "").rstrip(".")
        raise BoundaryDownloadError(
            f"the downloaded file is not usable: {why}. The cache is unchanged."
        ) from exc
    if not match.report.complete:
        raise BoundaryDownloadError(
            f"the downloaded file does not match all LAs, so it was not cached:\n{match.report}"
        )
    return replace(match.report, source=url)
