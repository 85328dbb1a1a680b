"""RCC map: members, children by need, places by setting, self-sufficiency, pathfinders."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import folium
import geopandas as gpd
import pandas as pd

from geodata.rcc import PRESETS, preset_groups
from maps.inputs import clean_allocation, clean_supply
from maps.layers import (
    OUTLINE_PANE,
    add_choropleth,
    add_layer_control,
    add_rcc_outlines,
    ensure_outline_pane,
    feature,
    feature_collection,
)
from maps.style import (
    HIDDEN_COLOUR,
    SEQUENTIAL,
    SETTING_LABELS,
    LegendEntry,
    MapSettings,
    add_legend,
    add_note,
    add_title,
    classify,
    new_map,
)
from maps.suppress import Counts, Disclosure, Group

__all__ = ["NEEDS", "SELF_SUFFICIENCY_BREAKS", "rcc_counts", "rcc_map"]

NEEDS = ("foster", "residential", "secure", "supported")
SELF_SUFFICIENCY_BREAKS = (0.5, 0.6, 0.7, 0.8, 0.9)
_LABELS = ("under 50%", "50% to 60%", "60% to 70%", "70% to 80%", "80% to 90%", "90% or more")
PATHFINDER_COLOUR = "#000000"


def _pathfinders() -> dict[str, frozenset[str]]:
    named = dict(preset_groups(p) for p in PRESETS)
    return {name: frozenset(members) for name, members in named.items()}


def _pathfinder_label(members: frozenset[str], pathfinders: Mapping[str, frozenset[str]]) -> str:
    for name, group in pathfinders.items():
        if members == group:
            return f"yes: {name} (since 2025)"
    partial = [name for name, group in pathfinders.items() if members & group]
    return f"partly: includes LAs of {', '.join(partial)}" if partial else "no"


def _present(supply: pd.DataFrame) -> list[str]:
    """The settings of the supply, in the usual order, then any others."""
    present = [c for c in SETTING_LABELS if c in set(supply["setting"])]
    return present + sorted(set(supply["setting"]) - set(SETTING_LABELS))


def rcc_counts(
    allocation: pd.DataFrame, supply: pd.DataFrame, rccs: Mapping[str, str], drawn: list[str]
) -> Counts:
    """What the RCC map publishes for each RCC drawn, keyed (rcc, count): children, placed
    inside the RCC, children by need; places, used, places by setting."""
    a = clean_allocation(allocation)
    s = clean_supply(supply)
    a = a.assign(rcc=a["home_la"].map(rccs))
    a = a.assign(inside=a["placed"] & (a["placement_la"].map(rccs) == a["rcc"]))
    s = s.assign(rcc=s["la"].map(rccs))
    values: dict[Hashable, int] = {}
    groups: list[Group] = []
    present = _present(s)
    for rcc in drawn:
        mine = a[a["rcc"] == rcc]
        stock = s[s["rcc"] == rcc]
        values[(rcc, "children")] = len(mine)
        values[(rcc, "inside")] = int(mine["inside"].sum())
        for need in NEEDS:
            values[(rcc, need)] = int((mine["need"] == need).sum())
        values[(rcc, "places")] = int(stock["capacity"].sum())
        values[(rcc, "used")] = int(stock["used"].sum())
        for setting in present:
            places = int(stock.loc[stock["setting"] == setting, "capacity"].sum())
            values[(rcc, "places", setting)] = places
        need_keys = [(rcc, n) for n in NEEDS]  # any other need is in the remainder
        groups += [
            Group((rcc, "children"), need_keys),
            Group((rcc, "children"), [(rcc, "inside")]),
            Group((rcc, "places"), [(rcc, "places", x) for x in present]),
            Group((rcc, "places"), [(rcc, "used")]),
        ]
    return Counts(values, groups)


def rcc_map(
    allocation: pd.DataFrame,
    supply: pd.DataFrame,
    rccs: Mapping[str, str],
    *,
    settings: MapSettings | None = None,
    disclosure: Disclosure | None = None,
) -> folium.Map:
    """RCCs coloured by self-sufficiency (share of their children placed inside the RCC),
    tooltips with members, children by need and places by setting; pathfinders outlined.
    `disclosure`: what may be shown, decided with the result's other maps (`maps.bundle`);
    by default this map's own."""
    settings = settings or MapSettings()
    geometry = settings.resolved_geometry()
    a = clean_allocation(allocation)
    s = clean_supply(supply)
    lookup = {c: r for c, r in rccs.items() if c in geometry.codes}
    if not lookup:
        raise ValueError("the RCC lookup names none of the LAs on this map")
    unknown = sorted(set(a.loc[a["home_la"].map(rccs).isna(), "home_la"]))
    settings_present = _present(s)

    outlines = geometry.rcc_outlines(lookup)
    if disclosure is None:
        counts = rcc_counts(allocation, supply, rccs, list(outlines["rcc"]))
        disclosure = counts.protect(settings.suppression)

    names = dict(zip(geometry.polygons["code"], geometry.polygons["name"], strict=True))
    pathfinders = _pathfinders()
    props: dict[str, dict[str, str]] = {}
    shares: dict[str, float] = {}
    for rcc in outlines["rcc"]:
        members = sorted(c for c, r in lookup.items() if r == rcc)
        p = {
            "rcc": rcc,
            "pathfinder": _pathfinder_label(frozenset(members), pathfinders),
            "members": ", ".join(names[c] for c in members),
            "children": disclosure.count((rcc, "children")),
        }
        p |= {f"need_{need}": disclosure.count((rcc, need)) for need in NEEDS}
        p["inside"] = disclosure.count((rcc, "inside"))
        p["self_sufficiency"] = disclosure.rate((rcc, "inside"), (rcc, "children"))
        p["places"] = disclosure.count((rcc, "places"))
        p |= {f"places_{x}": disclosure.count((rcc, "places", x)) for x in settings_present}
        p["used"] = disclosure.count((rcc, "used"))
        props[rcc] = p
        shares[rcc] = disclosure.ratio((rcc, "inside"), (rcc, "children"))

    m = new_map(geometry, tiles=settings.tiles)
    colour = classify(SELF_SUFFICIENCY_BREAKS, SEQUENTIAL)
    fields = [("rcc", "RCC"), ("pathfinder", "Pathfinder"), ("members", "Member LAs")]
    fields += [("children", "Children")]
    fields += [(f"need_{n}", f"  needing {n}") for n in NEEDS]
    fields += [("inside", "Placed inside the RCC"), ("self_sufficiency", "Self-sufficiency")]
    fields += [("places", "Places")]
    fields += [(f"places_{x}", f"  {SETTING_LABELS.get(x, x)}") for x in settings_present]
    fields += [("used", "Places used")]
    add_choropleth(
        m,
        feature_collection(outlines, props, key="rcc"),
        name="RCCs: self-sufficiency",
        fill=lambda rcc: colour(shares.get(rcc, float("nan"))),
        fields=fields,
        base=False,
        line_colour="#222222",
    )
    ensure_outline_pane(m)
    la_lines = feature_collection(
        geometry.polygons, {c: {"name": names[c]} for c in geometry.polygons["code"]}
    )
    folium.GeoJson(
        la_lines,
        name="LA boundaries",
        style_function=lambda _f: {"fill": False, "color": "#ffffff", "weight": 0.7},
        pane=OUTLINE_PANE,
        interactive=False,
    ).add_to(m)
    # the RCCs' own borders above the LAs' white lines, or only the pathfinders show
    add_rcc_outlines(m, geometry, rccs, name="RCC boundaries")
    _add_pathfinders(m, geometry.polygons, pathfinders)
    add_layer_control(m)
    add_title(
        m,
        "Regional Care Cooperatives",
        settings,
        subtitle="Self-sufficiency: share of each RCC's children placed inside the RCC.",
    )
    entries = [LegendEntry(c, lbl) for c, lbl in zip(SEQUENTIAL, _LABELS, strict=True)]
    entries += [
        LegendEntry(HIDDEN_COLOUR, "c (suppressed) or no children"),
        LegendEntry(PATHFINDER_COLOUR, "Pathfinder RCC (dashed outline)", line=True),
    ]
    add_legend(m, "Self-sufficiency", entries, footnotes=[settings.suppression.note])
    notes = []
    if unknown:
        notes.append(f"Children's home LAs missing from the RCC lookup: {', '.join(unknown)}")
    off_map = sorted(set(rccs) - geometry.codes)
    if off_map:
        notes.append(f"LAs in the lookup with no shape on this map: {', '.join(off_map)}")
    add_note(m, notes)
    return m


def _add_pathfinders(
    m: folium.Map, polygons: gpd.GeoDataFrame, pathfinders: Mapping[str, frozenset[str]]
) -> None:
    features = []
    for name, members in pathfinders.items():
        chosen = polygons[polygons["code"].isin(list(members))]
        if chosen.empty:
            continue
        shape = chosen.geometry.union_all()
        features.append(
            feature(name, {"pathfinder": f"{name} (since 2025)"}, shape.__geo_interface__)
        )
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Pathfinders",
        style_function=lambda _f: {
            "fill": False,
            "color": PATHFINDER_COLOUR,
            "weight": 4,
            "dashArray": "8 6",
        },
        pane=OUTLINE_PANE,
        interactive=False,
    ).add_to(m)
