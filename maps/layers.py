"""Shared layers: LA choropleths with tooltips, RCC outlines on top, layer switcher."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd

from maps.geometry import MapGeometry

__all__ = [
    "OUTLINE_PANE",
    "add_choropleth",
    "add_layer_control",
    "add_rcc_outlines",
    "ensure_outline_pane",
    "feature",
    "feature_collection",
]

OUTLINE_PANE = "rcc-outlines"


def feature(fid: str, properties: Mapping[str, Any], geometry: Mapping[str, Any]) -> dict[str, Any]:
    """A GeoJSON feature whose properties are HTML-escaped text: folium's tooltips and popups
    put them into the page as HTML, and names come from users' files (an RCC called
    `<img onerror=...>` must show as text, not run)."""
    props = {k: html.escape(str(v), quote=False) for k, v in properties.items()}
    return {"type": "Feature", "id": fid, "properties": props, "geometry": dict(geometry)}


def feature_collection(
    gdf: gpd.GeoDataFrame, properties: Mapping[str, Mapping[str, str]], *, key: str = "code"
) -> dict[str, Any]:
    """GeoJSON of the rows of `gdf` that have properties, each feature carrying only the
    given (already formatted, already suppressed) strings and its key as `id`."""
    features = []
    for row_key, geom in zip(gdf[key], gdf.geometry, strict=True):
        props = properties.get(row_key)
        if props is None or geom is None:
            continue
        features.append(feature(str(row_key), props, geom.__geo_interface__))
    return {"type": "FeatureCollection", "features": features}


def add_choropleth(
    m: folium.Map,
    data: dict[str, Any],
    *,
    name: str,
    fill: Callable[[str], str],
    fields: Sequence[tuple[str, str]],
    base: bool,
    show: bool = True,
    line_colour: str = "#ffffff",
) -> folium.GeoJson:
    """One polygon layer: fill by feature id, tooltip of (property, label) rows. `base` makes
    it one of a set of exclusive layers (radio buttons) rather than an overlay (checkbox)."""

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        return {
            "fillColor": fill(str(feature["id"])),
            "fillOpacity": 0.85,
            "color": line_colour,
            "weight": 0.6,
        }

    tooltip = folium.GeoJsonTooltip(
        fields=[f for f, _ in fields], aliases=[a for _, a in fields], sticky=True
    )
    layer = folium.GeoJson(
        data,
        name=name,
        style_function=style,
        tooltip=tooltip,
        overlay=not base,
        show=show,
    )
    layer.add_to(m)
    return layer


def add_rcc_outlines(
    m: folium.Map, geometry: MapGeometry, lookup: Mapping[str, str], *, name: str
) -> folium.GeoJson | None:
    """RCC boundaries drawn above every other layer (own pane, not clickable)."""
    known = {c: r for c, r in lookup.items() if c in geometry.codes}
    if not known:
        return None
    outlines = geometry.rcc_outlines(known)
    ensure_outline_pane(m)
    data = feature_collection(outlines, {r: {"rcc": r} for r in outlines["rcc"]}, key="rcc")
    layer = folium.GeoJson(
        data,
        name=name,
        style_function=lambda _f: {"fill": False, "color": "#222222", "weight": 2.2},
        pane=OUTLINE_PANE,
        interactive=False,
        overlay=True,
    )
    layer.add_to(m)
    return layer


def ensure_outline_pane(m: folium.Map) -> None:
    """A pane above the filled layers for outlines that must stay on top and not catch the
    mouse (created once per map)."""
    for child in m._children.values():
        if isinstance(child, folium.map.CustomPane) and child.name == OUTLINE_PANE:
            return
    folium.map.CustomPane(OUTLINE_PANE, z_index=450, pointer_events=False).add_to(m)


def add_layer_control(m: folium.Map) -> None:
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
