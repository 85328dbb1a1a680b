"""Offline map assets: find the locally installed Leaflet and inline it into a map's HTML."""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "LEAFLET_CDN_CSS",
    "LEAFLET_CDN_JS",
    "LEAFLET_DIR_ENV",
    "MapAssetsMissingError",
    "find_leaflet",
    "leaflet_assets",
]

LEAFLET_DIR_ENV = "RCC_LEAFLET_DIR"
LEAFLET_CDN_JS = "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js"
LEAFLET_CDN_CSS = "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.css"

# Where a Leaflet build may live, in order: `make map-assets` (npm package) and Debian's
# libjs-leaflet. The environment variable, when set, is the only place looked at.
_VENDOR = Path(__file__).resolve().parent / "assets" / "vendor" / "leaflet"
_DEBIAN = Path("/usr/share/javascript/leaflet")


class MapAssetsMissingError(FileNotFoundError):
    """No local Leaflet to inline: a self-contained map cannot be written."""


@dataclass(frozen=True)
class LeafletAssets:
    """Leaflet's JavaScript and CSS (images inlined as data URIs), ready to embed."""

    source: Path
    js: str
    css: str

    def html(self) -> str:
        """`<style>` and `<script>` elements carrying the whole of Leaflet."""
        return f"<style>\n{self.css}\n</style>\n<script>\n{self.js}\n</script>\n"


def _candidates() -> list[Path]:
    override = os.environ.get(LEAFLET_DIR_ENV)
    if override:
        return [Path(override)]
    return [_VENDOR, _DEBIAN]


def find_leaflet() -> Path:
    """The folder holding leaflet.js and leaflet.css; `MapAssetsMissingError` saying how to
    install one when there is none."""
    tried = _candidates()
    for folder in tried:
        if (folder / "leaflet.js").is_file() and (folder / "leaflet.css").is_file():
            return folder
    raise MapAssetsMissingError(
        "Leaflet is not installed locally, so a self-contained (offline) map cannot be written. "
        f"Looked in: {', '.join(str(p) for p in tried)}. Run `make map-assets` (fetches the "
        "leaflet npm package), or `apt-get install libjs-leaflet`, or set "
        f"{LEAFLET_DIR_ENV} to a folder with leaflet.js and leaflet.css, or write the map "
        "with --cdn (needs internet to view)."
    )


def _inline_images(css: str, folder: Path) -> str:
    """Replace url(images/x.png) in Leaflet's CSS by data URIs so no file is fetched."""

    def encode(match: re.Match[str]) -> str:
        path = folder / match.group(1)
        if not path.is_file():
            return "none"
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return re.sub(r"url\((images/[\w.\-]+\.png)\)", encode, css)


_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)


@cache
def _load(folder: Path) -> LeafletAssets:
    js = _SOURCE_MAP.sub("", (folder / "leaflet.js").read_text(encoding="utf-8"))
    css = _inline_images((folder / "leaflet.css").read_text(encoding="utf-8"), folder)
    if "</script" in js.lower() or "</style" in css.lower():
        raise MapAssetsMissingError(f"{folder}: leaflet files cannot be inlined safely")
    return LeafletAssets(source=folder, js=js, css=css)


def leaflet_assets() -> LeafletAssets:
    """The local Leaflet, read once per process."""
    return _load(find_leaflet())
