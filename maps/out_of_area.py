"""Out-of-area map: per home LA, shares placed outside the LA, 20 miles, the RCC."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import folium
import pandas as pd

from maps.inputs import clean_allocation
from maps.layers import add_choropleth, add_layer_control, add_rcc_outlines, feature_collection
from maps.style import (
    HIDDEN_COLOUR,
    SEQUENTIAL,
    LegendEntry,
    MapSettings,
    add_legend,
    add_note,
    add_title,
    classify,
    new_map,
)
from maps.suppress import Counts, Disclosure, Group

__all__ = ["METRICS", "SHARE_BREAKS", "la_counts", "out_of_area_counts", "out_of_area_map"]

# (count column, layer name) of the four switchable layers, each a share of placed children.
METRICS: tuple[tuple[str, str], ...] = (
    ("out_of_la", "Placed outside their LA"),
    ("over_20_miles", "Placed over 20 miles from home"),
    ("out_of_rcc", "Placed outside their RCC"),
    ("out_of_la_over_20_miles", "Outside their LA and over 20 miles"),
)
SHARE_BREAKS = (0.10, 0.20, 0.30, 0.45, 0.60)
_SHARE_LABELS = ("under 10%", "10% to 20%", "20% to 30%", "30% to 45%", "45% to 60%", "60% or more")
_COUNTS = ("children", "placed", "unplaced", *(c for c, _ in METRICS))


def la_counts(allocation: pd.DataFrame) -> pd.DataFrame:
    """Per home LA: children, placed, unplaced and the four out-of-area counts (of placed)."""
    a = clean_allocation(allocation)
    placed = a["placed"]
    frame = pd.DataFrame(
        {
            "home_la": a["home_la"],
            "children": 1,
            "placed": placed.astype(int),
            "unplaced": (~placed).astype(int),
            "out_of_la": (placed & a["out_of_la"]).astype(int),
            "over_20_miles": (placed & a["over_20_miles"]).astype(int),
            "out_of_rcc": (placed & a["out_of_rcc"]).astype(int),
            "out_of_la_over_20_miles": (placed & a["out_of_la"] & a["over_20_miles"]).astype(int),
        }
    )
    return frame.groupby("home_la", sort=True).sum()


def out_of_area_counts(counts: pd.DataFrame) -> Counts:
    """What the map publishes per LA, keyed (code, count), and how the counts add up:
    children = placed + unplaced; each out-of-area count is part of placed; the cross
    (outside LA and over 20 miles) is part of both; outside the RCC is part of outside the LA."""
    values: dict[Hashable, int] = {}
    groups: list[Group] = []
    for code, row in counts.iterrows():
        for c in _COUNTS:
            values[(code, c)] = int(row[c])
        k = {c: (code, c) for c in _COUNTS}
        groups += [
            Group(k["children"], (k["placed"], k["unplaced"]), total_first=True),
            Group(k["placed"], (k["out_of_la"],)),
            Group(k["placed"], (k["over_20_miles"],)),
            Group(k["placed"], (k["out_of_rcc"],)),
            Group(k["placed"], (k["out_of_la_over_20_miles"],)),
            Group(k["out_of_la"], (k["out_of_la_over_20_miles"],)),
            Group(k["over_20_miles"], (k["out_of_la_over_20_miles"],)),
            Group(k["out_of_la"], (k["out_of_rcc"],)),
        ]
    return Counts(values, groups)


def out_of_area_map(
    allocation: pd.DataFrame,
    rccs: Mapping[str, str],
    *,
    settings: MapSettings | None = None,
    disclosure: Disclosure | None = None,
) -> folium.Map:
    """Choropleth of out-of-area shares per home LA, four switchable layers, RCC boundaries
    on top, tooltips with names, counts and rates, a sequential legend and a titled scenario.
    `disclosure`: what may be shown, decided with the result's other maps (`maps.bundle`);
    by default this map's own."""
    settings = settings or MapSettings()
    geometry = settings.resolved_geometry()
    counts = la_counts(allocation)
    if disclosure is None:
        disclosure = out_of_area_counts(counts).protect(settings.suppression)
    names = dict(zip(geometry.polygons["code"], geometry.polygons["name"], strict=True))

    props: dict[str, dict[str, str]] = {}
    for code in geometry.polygons["code"]:
        p = {"name": names[code], "rcc": rccs.get(code, "not in the RCC lookup")}
        if code in counts.index:
            for c in _COUNTS:
                p[c] = disclosure.count((code, c))
            for c, _ in METRICS:
                p[f"{c}_pct"] = disclosure.rate((code, c), (code, "placed"))
        else:
            p |= {c: "0" for c in _COUNTS} | {f"{c}_pct": "n/a" for c, _ in METRICS}
        props[code] = p
    data = feature_collection(geometry.polygons, props)
    fields = [("name", "LA"), ("rcc", "RCC"), ("children", "Children"), ("placed", "Placed")]
    fields += [("unplaced", "Unplaced")]
    for c, label in METRICS:
        fields += [(c, label), (f"{c}_pct", "  share of placed")]

    m = new_map(geometry, tiles=settings.tiles)
    colour = classify(SHARE_BREAKS, SEQUENTIAL)
    for i, (metric, label) in enumerate(METRICS):
        shares = {code: disclosure.ratio((code, metric), (code, "placed")) for code in counts.index}
        add_choropleth(
            m,
            data,
            name=label,
            fill=lambda code, s=shares: colour(s.get(code, float("nan"))),  # type: ignore[misc]
            fields=fields,
            base=True,
            show=i == 0,
        )
    add_rcc_outlines(m, geometry, rccs, name="RCC boundaries")
    add_layer_control(m)
    add_title(
        m,
        "Children placed out of area, by home LA",
        settings,
        subtitle="Share of each LA's placed children; choose the measure top right.",
    )
    entries = [LegendEntry(c, lbl) for c, lbl in zip(SEQUENTIAL, _SHARE_LABELS, strict=True)]
    entries.append(LegendEntry(HIDDEN_COLOUR, "c (suppressed) or no children"))
    add_legend(m, "Share of placed children", entries, footnotes=[settings.suppression.note])
    missing = sorted(set(counts.index) - geometry.codes)
    if missing:
        add_note(m, [f"Not drawn (no shape on this map): {', '.join(missing)}"])
    return m
