"""Sufficiency map: places minus children by setting per LA or RCC, unplaced, plans."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any, Literal

import folium
import pandas as pd
import shapely

from maps.inputs import clean_allocation, clean_plan_actions, clean_supply
from maps.layers import (
    add_choropleth,
    add_layer_control,
    add_rcc_outlines,
    feature,
    feature_collection,
)
from maps.style import (
    DIVERGING,
    HIDDEN_COLOUR,
    LegendEntry,
    MapSettings,
    add_legend,
    add_note,
    add_title,
    classify,
    new_map,
)
from maps.suppress import SUPPRESSED, Counts, Disclosure, Group, protect

__all__ = [
    "ACTION_COLOURS",
    "FAMILIES",
    "GAP_BREAKS",
    "family_of",
    "plan_map",
    "sufficiency_counts",
    "sufficiency_map",
    "sufficiency_table",
    "unplaced_by_rcc",
]

# Setting families: a need and the settings that meet it without substitution.
FAMILIES: dict[str, tuple[str, ...]] = {
    "foster": ("foster_inhouse", "foster_ifa"),
    "residential": ("residential_la", "residential_private"),
    "secure": ("secure",),
    "supported": ("supported",),
}
_FAMILY_LABELS = {
    "all": "All settings",
    "foster": "Fostering",
    "residential": "Children's homes",
    "secure": "Secure",
    "supported": "Supported accommodation",
}
# (places - children) / children.
GAP_BREAKS = (-0.5, -0.2, -0.05, 0.05, 0.2, 0.5)
_GAP_LABELS = (
    "short by over half the need",
    "short by 20% to 50%",
    "short by 5% to 20%",
    "about right (within 5%)",
    "surplus of 5% to 20%",
    "surplus of 20% to 50%",
    "surplus over half the need",
)
_PLAN_FIELDS = (
    ("action", "Action"),
    ("la", "LA"),
    ("rcc", "RCC"),
    ("years", "Decided in"),
    ("opens", "Places open in"),
    ("units", "Units"),
    ("places", "Places"),
    ("capital", "Capital"),
    ("weekly_running", "Running cost a week"),
    ("weekly_saving", "Saving a week"),
)
# Okabe-Ito colours for plan actions, in order of first appearance.
ACTION_COLOURS = ("#D55E00", "#0072B2", "#CC79A7", "#009E73", "#E69F00", "#56B4E9", "#000000")


def family_of(setting: str) -> str:
    """The family a setting (or a need) belongs to; unknown ones are their own family."""
    if setting in FAMILIES:
        return setting
    for family, members in FAMILIES.items():
        if setting in members:
            return family
    return setting


def sufficiency_table(
    allocation: pd.DataFrame,
    supply: pd.DataFrame,
    rccs: Mapping[str, str],
    *,
    level: Literal["la", "rcc"] = "la",
) -> pd.DataFrame:
    """Per area and family: places (capacity) and children (demand, by need), incl. 'all'."""
    if level not in ("la", "rcc"):
        raise ValueError(f"level must be 'la' or 'rcc', got {level!r}")
    a = clean_allocation(allocation)
    s = clean_supply(supply)
    area_a = a["home_la"] if level == "la" else a["home_la"].map(rccs)
    area_s = s["la"] if level == "la" else s["la"].map(rccs)
    demand = (
        pd.DataFrame({"area": area_a, "family": a["need"].map(family_of)})
        .dropna()
        .value_counts()
        .rename("children")
    )
    places = (
        pd.DataFrame({"area": area_s, "family": s["setting"].map(family_of), "p": s["capacity"]})
        .dropna()
        .groupby(["area", "family"])["p"]
        .sum()
        .rename("places")
    )
    table = pd.concat([places, demand], axis=1).fillna(0).astype("int64")
    totals = table.groupby(level="area").sum()
    totals.index = pd.MultiIndex.from_product([totals.index, ["all"]], names=["area", "family"])
    return pd.concat([table, totals]).sort_index()


def sufficiency_counts(table: pd.DataFrame, unplaced: pd.Series, *, level: str) -> Counts:
    """What the sufficiency map publishes per area and family (`sufficiency_table`): places,
    children and the gap between them (places = children + gap), families adding up to the
    area's totals ("all"), gaps too; and unplaced children per RCC."""
    values: dict[Hashable, int] = {}
    groups: list[Group] = []
    for (area, family), row in table.iterrows():
        places, children = int(row["places"]), int(row["children"])
        values[("places", area, family)] = places
        values[("children", area, family)] = children
        values[("gap", area, family)] = places - children
        parts = [("children", area, family), ("gap", area, family)]
        groups.append(Group(("places", area, family), parts))
    for area in table.index.get_level_values("area").unique():
        families = [f for f in table.loc[area].index if f != "all"]
        for what in ("places", "children", "gap"):
            parts = [(what, area, f) for f in families]
            groups.append(Group((what, area, "all"), parts))
    for rcc, n in unplaced.items():
        values[("unplaced", rcc)] = int(n)
        if level == "rcc" and ("children", rcc, "all") in values:
            groups.append(Group(("children", rcc, "all"), [("unplaced", rcc)]))
    return Counts(values, groups)


def sufficiency_map(
    allocation: pd.DataFrame,
    supply: pd.DataFrame,
    rccs: Mapping[str, str],
    *,
    settings: MapSettings | None = None,
    level: Literal["la", "rcc"] = "la",
    plan_actions: pd.DataFrame | None = None,
    disclosure: Disclosure | None = None,
) -> folium.Map:
    """Places minus children by family (one switchable layer each) per LA or RCC, unplaced
    children by RCC, and plan actions as markers when given. `disclosure`: what may be shown,
    decided with the result's other maps (`maps.bundle`); by default this map's own."""
    settings = settings or MapSettings()
    geometry = settings.resolved_geometry()
    table = sufficiency_table(allocation, supply, rccs, level=level)
    a = clean_allocation(allocation)
    unplaced = unplaced_by_rcc(a, rccs)
    if disclosure is None:
        counts = sufficiency_counts(table, unplaced, level=level)
        disclosure = counts.protect(settings.suppression)

    lookup = {c: r for c, r in rccs.items() if c in geometry.codes}
    if level == "la":
        shapes = geometry.polygons
        key = "code"
        label = dict(zip(shapes["code"], shapes["name"], strict=True))
    else:
        shapes = geometry.rcc_outlines(lookup)
        key = "rcc"
        label = {r: r for r in shapes["rcc"]}
    families = ["all"] + [f for f in FAMILIES if f in set(table.index.get_level_values("family"))]
    families += sorted(set(table.index.get_level_values("family")) - set(families))

    props: dict[str, dict[str, str]] = {}
    for area in shapes[key]:
        p = {"name": label[area]}
        for f in families:
            if (area, f) in table.index:
                kp, kc = ("places", area, f), ("children", area, f)
                p[f"{f}_places"] = disclosure.count(kp)
                p[f"{f}_children"] = disclosure.count(kc)
                # shown with both sides (a hidden gap of two shown counts is no secret)
                p[f"{f}_gap"] = disclosure.difference(kp, kc)
            else:
                p |= {f"{f}_places": "0", f"{f}_children": "0", f"{f}_gap": "0"}
        props[area] = p
    data = feature_collection(shapes, props, key=key)
    fields = [("name", "LA" if level == "la" else "RCC")]
    for f in families:
        fam = _FAMILY_LABELS.get(f, f)
        fields += [
            (f"{f}_places", f"{fam}: places"),
            (f"{f}_children", "  children needing them"),
            (f"{f}_gap", "  places minus children"),
        ]

    m = new_map(geometry, tiles=settings.tiles)
    colour = classify(GAP_BREAKS, DIVERGING)
    for i, f in enumerate(families):
        fills = {area: colour(_relative_gap(disclosure, area, f)) for area in shapes[key]}
        add_choropleth(
            m,
            data,
            name=f"Sufficiency: {_FAMILY_LABELS.get(f, f)}",
            fill=lambda area, fl=fills: fl.get(area, HIDDEN_COLOUR),  # type: ignore[misc]
            fields=fields,
            base=True,
            show=i == 0,
        )
    add_rcc_outlines(m, geometry, rccs, name="RCC boundaries")
    has_unplaced = _add_unplaced(m, geometry.rcc_outlines(lookup), unplaced, disclosure)
    notes: list[str] = []
    no_rcc = sorted(set(a["home_la"]) - set(rccs))
    if no_rcc:
        notes.append(f"Children of LAs missing from the RCC lookup: {', '.join(no_rcc)}")
    off_map = sorted(set(a["home_la"]) - set(shapes["code"])) if level == "la" else []
    if off_map:
        notes.append(f"Not drawn (no shape on this map): {', '.join(off_map)}")
    legend_extra: list[LegendEntry] = []
    if plan_actions is not None:
        names = dict(zip(geometry.polygons["code"], geometry.polygons["name"], strict=True))
        legend_extra, plan_notes = _add_plan(
            m, plan_actions, geometry.point_lookup(), names, settings
        )
        notes += plan_notes
    add_layer_control(m)
    per = "LA" if level == "la" else "RCC"
    title = "Sufficiency plan" if plan_actions is not None else "Sufficiency"
    add_title(
        m,
        f"{title}: places minus children needing them, by {per}",
        settings,
        subtitle="Choose the setting top right"
        + ("; circles show unplaced children by RCC." if has_unplaced else "."),
    )
    entries = [LegendEntry(c, lbl) for c, lbl in zip(DIVERGING, _GAP_LABELS, strict=True)]
    entries.append(LegendEntry(HIDDEN_COLOUR, "c (suppressed)"))
    entries += legend_extra
    add_legend(
        m,
        "Places minus children, relative to need",
        entries,
        footnotes=[settings.suppression.note]
        + (["Red circles: unplaced children in the RCC."] if has_unplaced else []),
    )
    add_note(m, notes)
    return m


def plan_map(
    allocation: pd.DataFrame,
    supply: pd.DataFrame,
    rccs: Mapping[str, str],
    plan_actions: pd.DataFrame,
    *,
    settings: MapSettings | None = None,
    level: Literal["la", "rcc"] = "la",
    disclosure: Disclosure | None = None,
) -> folium.Map:
    """The sufficiency map with a plan's actions (new homes, foster recruitment, secure beds)
    as markers with popups."""
    return sufficiency_map(
        allocation,
        supply,
        rccs,
        settings=settings,
        level=level,
        plan_actions=plan_actions,
        disclosure=disclosure,
    )


def unplaced_by_rcc(allocation: pd.DataFrame, rccs: Mapping[str, str]) -> pd.Series:
    """Unplaced children per RCC (of a cleaned allocation)."""
    return allocation.loc[~allocation["placed"], "home_la"].map(rccs).dropna().value_counts()


def _relative_gap(disclosure: Disclosure, area: str, family: str) -> float:
    kp, kc = ("places", area, family), ("children", area, family)
    if kp not in disclosure.values or not (disclosure.shown(kp) and disclosure.shown(kc)):
        return math.nan
    places, children = disclosure.values[kp], disclosure.values[kc]
    if children == 0:
        return math.inf if places > 0 else 0.0
    return (places - children) / children


def _point_feature(fid: str, lat: float, lon: float, props: dict[str, str]) -> dict[str, Any]:
    return feature(fid, props, {"type": "Point", "coordinates": [round(lon, 5), round(lat, 5)]})


def _add_unplaced(
    m: folium.Map, outlines: pd.DataFrame, unplaced: pd.Series, disclosure: Disclosure
) -> bool:
    """Circles sized by unplaced children at each RCC's centre; False when none is unplaced."""
    centres = shapely.point_on_surface(outlines.geometry.to_numpy())
    # scaled to the largest shown count only: a hidden one must not set the scale
    shown = [int(n) for r, n in unplaced.items() if disclosure.shown(("unplaced", r))]
    biggest = max([*shown, 1])
    threshold_radius = 6.0
    features, radii = [], {}
    for rcc, centre in zip(outlines["rcc"], centres, strict=True):
        n = int(unplaced.get(rcc, 0))
        if n == 0:
            continue
        key = ("unplaced", rcc)
        radii[rcc] = (
            6.0 + 20.0 * math.sqrt(n / biggest) if disclosure.shown(key) else threshold_radius
        )
        features.append(
            _point_feature(rcc, centre.y, centre.x, {"rcc": rcc, "unplaced": disclosure.count(key)})
        )
    if not features:
        return False
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Unplaced children by RCC",
        marker=folium.CircleMarker(),
        style_function=lambda f: {
            "radius": radii[f["id"]],
            "color": "#a50f15",
            "fill": True,
            "fillColor": "#de2d26",
            "fillOpacity": 0.6,
            "weight": 1.5,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["rcc", "unplaced"], aliases=["RCC", "Unplaced children"]
        ),
    ).add_to(m)
    return True


def _money(value: float) -> str:
    return f"-£{-value:,.0f}" if value < 0 else f"£{value:,.0f}"


def _add_plan(
    m: folium.Map,
    plan_actions: pd.DataFrame,
    points: Mapping[str, tuple[float, float]],
    names: Mapping[str, str],
    settings: MapSettings,
) -> tuple[list[LegendEntry], list[str]]:
    """One marker per (LA, action) with a popup of years, units, places and costs."""
    plan = clean_plan_actions(plan_actions)
    for c in ("capital", "weekly_running", "weekly_saving"):
        if c not in plan.columns:
            plan[c] = 0.0
    plan["opens"] = plan["opens"] if "opens" in plan.columns else plan["year"]
    grouped = (
        plan.groupby(["la_code", "action"], sort=True)
        .agg(
            rcc=("rcc", "first"),
            years=("year", lambda y: ", ".join(sorted(set(y)))),
            opens=("opens", lambda y: ", ".join(sorted(set(y)))),
            units=("units", "sum"),
            places=("places", "sum"),
            capital=("capital", "sum"),
            weekly_running=("weekly_running", "sum"),
            weekly_saving=("weekly_saving", "sum"),
        )
        .reset_index()
    )
    values: dict[Hashable, int] = {}
    for r in grouped.itertuples(index=False):
        values[(r.la_code, r.action, "units")] = int(r.units)
        values[(r.la_code, r.action, "places")] = int(r.places)
    disclosure = protect(values, suppression=settings.suppression)
    actions = list(dict.fromkeys(grouped["action"]))
    colours = {a: ACTION_COLOURS[i % len(ACTION_COLOURS)] for i, a in enumerate(actions)}
    missing = sorted(set(grouped["la_code"]) - set(points))
    for action in actions:
        rows = grouped[(grouped["action"] == action) & grouped["la_code"].isin(list(points))]
        features = []
        for r in rows.itertuples(index=False):
            lat, lon = points[r.la_code]
            props = {
                "la": f"{names.get(r.la_code, r.la_code)} ({r.la_code})",
                "rcc": r.rcc,
                "action": action.replace("_", " "),
                "years": r.years,
                "opens": r.opens,
                "units": disclosure.count((r.la_code, action, "units")),
                "places": disclosure.count((r.la_code, action, "places")),
            }
            # money is units times a unit's cost: shown only beside the counts it reveals
            small = {props["units"], props["places"]} & {SUPPRESSED}
            props["capital"] = SUPPRESSED if small else _money(r.capital)
            props["weekly_running"] = SUPPRESSED if small else _money(r.weekly_running)
            props["weekly_saving"] = SUPPRESSED if small else _money(r.weekly_saving)
            features.append(_point_feature(f"{r.la_code}:{action}", lat, lon, props))
        colour = colours[action]
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=f"Plan: {action.replace('_', ' ')}",
            marker=folium.CircleMarker(),
            style_function=lambda _f, c=colour: {
                "radius": 9,
                "fill": True,
                "color": "#000000",
                "weight": 1.5,
                "fillColor": c,
                "fillOpacity": 0.95,
            },
            popup=folium.GeoJsonPopup(
                fields=[f for f, _ in _PLAN_FIELDS], aliases=[a for _, a in _PLAN_FIELDS]
            ),
        ).add_to(m)
    entries = [LegendEntry(colours[a], f"Plan: {a.replace('_', ' ')}") for a in actions]
    notes = [f"Plan actions in LAs not on this map: {', '.join(missing)}"] if missing else []
    return entries, notes
