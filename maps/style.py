"""Shared look: palettes, legend, title, notes, attribution, base map, offline HTML."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date as _date
from pathlib import Path
from typing import Any

import folium
from branca.element import Element

from geodata.england import ATTRIBUTION
from maps.assets import LEAFLET_CDN_CSS, LEAFLET_CDN_JS, leaflet_assets
from maps.geometry import MapGeometry
from maps.suppress import Suppression

__all__ = [
    "BACKGROUND",
    "DIVERGING",
    "HIDDEN_COLOUR",
    "SEQUENTIAL",
    "SETTING_COLOURS",
    "SETTING_LABELS",
    "LegendEntry",
    "MapSettings",
    "add_legend",
    "add_note",
    "add_title",
    "classify",
    "new_map",
    "render_html",
    "save_map",
]

# ColorBrewer YlGnBu (6 classes) and PuOr (7 classes): both colour-blind safe.
SEQUENTIAL = ("#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494")
DIVERGING = ("#b35806", "#f1a340", "#fee0b6", "#f7f7f7", "#d8daeb", "#998ec3", "#542788")
HIDDEN_COLOUR = "#bdbdbd"  # suppressed ("c") or no children: never a colour on a scale
BACKGROUND = "#e8eef2"
# Okabe-Ito, the colour-blind-safe categorical palette.
SETTING_COLOURS = {
    "foster_inhouse": "#0072B2",
    "foster_ifa": "#56B4E9",
    "residential_la": "#009E73",
    "residential_private": "#D55E00",
    "secure": "#CC79A7",
    "supported": "#E69F00",
}
SETTING_LABELS = {
    "foster_inhouse": "Fostering (in-house)",
    "foster_ifa": "Fostering (agency)",
    "residential_la": "Children's home (LA)",
    "residential_private": "Children's home (private)",
    "secure": "Secure children's home",
    "supported": "Supported accommodation",
}


@dataclass(frozen=True)
class MapSettings:
    """What every map shares: scenario name and date for the title, geometry (None: the
    offline hex layout), suppression (public maps) and base tiles (None: plain background)."""

    scenario: str = "Scenario"
    date: str = field(default_factory=lambda: _date.today().isoformat())
    geometry: MapGeometry | None = None
    suppression: Suppression = field(default_factory=Suppression)
    tiles: str | None = None

    def resolved_geometry(self) -> MapGeometry:
        return self.geometry if self.geometry is not None else MapGeometry.hex()


@dataclass(frozen=True)
class LegendEntry:
    colour: str
    label: str
    line: bool = False  # a line sample (flows) rather than a filled box


class _Raw(Element):
    """A piece of HTML inserted as it is (not run through Jinja)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs: Any) -> str:
        return self._text


_CSS = f"""
<style>
.leaflet-container {{ background: {BACKGROUND}; font-family: Arial, Helvetica, sans-serif; }}
.rcc-panel {{ position: fixed; z-index: 1000; background: rgba(255,255,255,0.94);
  border: 1px solid #777; border-radius: 4px; padding: 6px 9px; font-size: 12px;
  color: #222; max-width: 340px; box-shadow: 0 1px 4px rgba(0,0,0,0.3); }}
.rcc-title {{ top: 10px; left: 60px; font-size: 15px; max-width: 60%; }}
.rcc-title b {{ display: block; font-size: 16px; }}
.rcc-legend {{ bottom: 30px; left: 10px; }}
.rcc-legend i {{ display: inline-block; width: 16px; height: 12px; margin-right: 6px;
  vertical-align: middle; border: 1px solid #555; }}
.rcc-legend i.line {{ height: 4px; border: none; }}
.rcc-legend .h {{ font-weight: bold; margin-bottom: 3px; }}
.rcc-note {{ bottom: 30px; right: 10px; }}
.rcc-attribution {{ bottom: 0; left: 0; right: 70px; max-width: none; border-radius: 0;
  font-size: 10px; padding: 2px 6px; border: none; }}
.leaflet-tooltip td, .leaflet-popup-content td {{ white-space: normal; max-width: 320px; }}
.leaflet-tooltip table th {{ text-align: left; padding-right: 8px; font-weight: normal;
  color: #555; }}
</style>
"""


def new_map(geometry: MapGeometry, *, tiles: str | None = None) -> folium.Map:
    """A Leaflet map on a plain background fitted to the LAs; tiles only when asked for."""
    bounds = geometry.bounds()
    centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    m = folium.Map(location=centre, zoom_start=6, tiles=None, zoom_snap=0.25)
    if tiles:
        folium.TileLayer(tiles, control=False).add_to(m)
    m.fit_bounds(bounds, padding_top_left=(10, 80), padding_bottom_right=(10, 25))
    root = m.get_root()
    root.header.add_child(_Raw(_CSS), name="rcc_css")  # type: ignore[attr-defined]
    _add_panel(m, "rcc-attribution", html.escape(ATTRIBUTION))
    return m


def _add_panel(m: folium.Map, css_class: str, inner_html: str) -> None:
    panel = f'<div class="rcc-panel {css_class}">{inner_html}</div>'
    m.get_root().html.add_child(_Raw(panel))  # type: ignore[attr-defined]


def add_title(m: folium.Map, title: str, settings: MapSettings, *, subtitle: str = "") -> None:
    """Title panel: what the map shows, for which scenario, as at which date."""
    extra = f"<br>{html.escape(subtitle)}" if subtitle else ""
    text = (
        f"<b>{html.escape(title)}</b>Scenario: {html.escape(settings.scenario)} "
        f"&middot; {html.escape(settings.date)}{extra}"
    )
    _add_panel(m, "rcc-title", text)


def add_legend(
    m: folium.Map, heading: str, entries: Sequence[LegendEntry], *, footnotes: Sequence[str] = ()
) -> None:
    """Legend panel: one swatch per class, then footnotes (suppression, what is hidden)."""
    rows = [f'<div class="h">{html.escape(heading)}</div>']
    for e in entries:
        cls = ' class="line"' if e.line else ""
        rows.append(f'<div><i{cls} style="background:{e.colour}"></i>{html.escape(e.label)}</div>')
    rows += [f"<div><small>{html.escape(f)}</small></div>" for f in footnotes]
    _add_panel(m, "rcc-legend", "".join(rows))


def add_note(m: folium.Map, lines: Sequence[str]) -> None:
    """A note panel (bottom right), one line each."""
    if lines:
        _add_panel(m, "rcc-note", "<br>".join(html.escape(x) for x in lines))


def classify(breaks: Sequence[float], colours: Sequence[str]) -> Callable[[float], str]:
    """value -> colour of the class it falls in (len(colours) == len(breaks) + 1); NaN ->
    the hidden grey."""
    if len(colours) != len(breaks) + 1:
        raise ValueError("need one more colour than breaks")

    def colour(value: float) -> str:
        if value is None or math.isnan(value):
            return HIDDEN_COLOUR
        for b, c in zip(breaks, colours, strict=False):
            if value < b:
                return c
        return colours[-1]

    return colour


def _strip_cdn_links(m: folium.Map, *, self_contained: bool) -> None:
    """Keep only Leaflet (no jQuery, Bootstrap, fonts, awesome-markers): inline or from CDN."""
    m.default_js = [] if self_contained else [("leaflet", LEAFLET_CDN_JS)]
    m.default_css = [] if self_contained else [("leaflet_css", LEAFLET_CDN_CSS)]
    if self_contained:
        m.get_root().header.add_child(  # type: ignore[attr-defined]
            _Raw(leaflet_assets().html()), name="leaflet_inline", index=0
        )


def render_html(m: folium.Map, *, self_contained: bool = True) -> str:
    """The map as one HTML document; self-contained inlines the local Leaflet (no network)."""
    _strip_cdn_links(m, self_contained=self_contained)
    return str(m.get_root().render())


def save_map(m: folium.Map, path: str | Path, *, self_contained: bool = True) -> Path:
    """Write the map's HTML to `path` (folders created) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(m, self_contained=self_contained), encoding="utf-8")
    return out
