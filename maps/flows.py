"""Flows map: home LA to placement LA lines by setting, largest first, and LA balance."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any

import folium
import pandas as pd

from geodata.england import load_england
from maps.geometry import MapGeometry
from maps.inputs import clean_allocation
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
    SETTING_COLOURS,
    SETTING_LABELS,
    LegendEntry,
    MapSettings,
    add_legend,
    add_note,
    add_title,
    classify,
    new_map,
)
from maps.suppress import Counts, Disclosure, Group, Suppression

__all__ = [
    "BALANCE_BREAKS",
    "DEFAULT_TOP",
    "council_counts",
    "flow_counts",
    "flow_table",
    "flows_map",
]

DEFAULT_TOP = 250
# (in - out) / (in + out): -1 only places out, +1 only takes others' children.
BALANCE_BREAKS = (-0.6, -0.3, -0.1, 0.1, 0.3, 0.6)
_BALANCE_LABELS = (
    "places out far more than it takes in",
    "places out more",
    "places out a little more",
    "balanced",
    "takes in a little more",
    "takes in more",
    "takes in far more than it places out",
)
_MIN_WEIGHT, _MAX_EXTRA = 1.5, 9.0
# one council's map: its own LA, LAs where its children are placed, and the rest
_HOME_FILL, _PLACED_HERE_FILL, _NONE_HERE_FILL = "#fdb863", "#d8daeb", "#f7f7f7"


def flow_table(allocation: pd.DataFrame, *, la: str | None = None) -> pd.DataFrame:
    """Children placed outside their home LA by (home_la, placement_la, setting), largest
    first (ties in code order); only one home LA's children when `la` is given."""
    a = clean_allocation(allocation)
    moved = a[a["placed"] & (a["placement_la"] != a["home_la"])]
    if la is not None:
        moved = moved[moved["home_la"] == la]
    table = (
        moved.groupby(["home_la", "placement_la", "setting"], sort=True)
        .size()
        .rename("children")
        .reset_index()
    )
    return table.sort_values(
        ["children", "home_la", "placement_la", "setting"],
        ascending=[False, True, True, True],
        kind="stable",
    ).reset_index(drop=True)


def _weight(children: float, biggest: float) -> float:
    return round(_MIN_WEIGHT + _MAX_EXTRA * math.sqrt(children / max(biggest, 1.0)), 2)


def flow_counts(
    allocation: pd.DataFrame, geometry: MapGeometry, *, la: str | None, top: int
) -> tuple[Counts, pd.DataFrame, pd.DataFrame]:
    """What the flows map publishes, its flows, and those it draws (the `top` largest it can):
    each drawn flow ("flow", home, placement LA, setting); nationally each LA's children placed
    out ("out", code) and taken in ("in", code), their difference shown; for one council
    (`la`) its children, own, out and unplaced, and its children in each other LA ("to")."""
    a = clean_allocation(allocation)
    table = flow_table(a, la=la)
    on_map = set(geometry.point_lookup())
    drawn = _drawn(table, on_map, top)
    if la is not None:
        own = _own_children(a[a["home_la"] == la]).get(la, (0, 0, 0))
        return _council_counts(la, own, table, drawn, geometry), table, drawn
    values, flow_keys = _flow_values(table, drawn)
    groups: list[Group] = []
    pairs: list[tuple[Hashable, Hashable]] = []
    out_totals = table.groupby("home_la")["children"].sum()
    in_totals = table.groupby("placement_la")["children"].sum()
    for code in geometry.polygons["code"]:
        values[("out", code)] = int(out_totals.get(code, 0))
        values[("in", code)] = int(in_totals.get(code, 0))
        groups.append(Group(("out", code), [k for k in flow_keys if k[1] == code]))
        groups.append(Group(("in", code), [k for k in flow_keys if k[2] == code]))
        pairs.append((("in", code), ("out", code)))
    return Counts(values, groups, pairs), table, drawn


def council_counts(
    allocation: pd.DataFrame, geometry: MapGeometry, *, top: int
) -> dict[str, Counts]:
    """`flow_counts` of every council's own flows map (each home LA of the allocation's)."""
    a = clean_allocation(allocation)
    table = flow_table(a)
    on_map = set(geometry.point_lookup())
    flows = dict(list(table.groupby("home_la", sort=False)))
    counts = {}
    for la, own in sorted(_own_children(a).items()):
        mine = flows.get(la, table.iloc[:0])
        counts[la] = _council_counts(la, own, mine, _drawn(mine, on_map, top), geometry)
    return counts


def _own_children(a: pd.DataFrame) -> dict[str, tuple[int, int, int]]:
    """Per home LA: its children, those unplaced and those placed in the LA itself."""
    home = a["home_la"]
    parts = pd.DataFrame(
        {"children": 1, "unplaced": ~a["placed"], "own": a["placed"] & (a["placement_la"] == home)}
    ).groupby(home, sort=False)
    return {la: (int(c), int(u), int(o)) for la, (c, u, o) in parts.sum().iterrows()}


def _drawn(table: pd.DataFrame, on_map: set[str], top: int) -> pd.DataFrame:
    """The `top` largest flows both of whose LAs are on the map."""
    codes = list(on_map)
    return table[table["home_la"].isin(codes) & table["placement_la"].isin(codes)].head(top)


def _flow_values(
    table: pd.DataFrame, drawn: pd.DataFrame
) -> tuple[dict[Hashable, int], list[tuple[str, str, str, str]]]:
    """Each drawn flow's children, and those of the flows not drawn ("not_drawn",)."""
    flow_keys = [
        ("flow", h, d, s) for h, d, s in drawn[["home_la", "placement_la", "setting"]].values
    ]
    values: dict[Hashable, int] = dict(zip(flow_keys, drawn["children"].astype(int), strict=True))
    values[("not_drawn",)] = int(table["children"].sum() - drawn["children"].sum())
    return values, flow_keys


def _council_counts(
    la: str,
    own: tuple[int, int, int],
    table: pd.DataFrame,
    drawn: pd.DataFrame,
    geometry: MapGeometry,
) -> Counts:
    """One council's flows map: its children, unplaced and placed at home (`own`), and their
    flows out (`table`), of which `drawn` are drawn."""
    values, flow_keys = _flow_values(table, drawn)
    groups: list[Group] = []
    values[("children", la)], values[("unplaced", la)], values[("own", la)] = own
    values[("out", la)] = int(table["children"].sum())
    parts = [("own", la), ("out", la), ("unplaced", la)]
    groups.append(Group(("children", la), parts, total_first=True))
    to_totals = table.groupby("placement_la")["children"].sum().to_dict()
    lines: dict[str, list[Hashable]] = {}
    for key in flow_keys:
        lines.setdefault(key[2], []).append(key)
    for code in geometry.polygons["code"]:
        if code != la:
            values[("to", code)] = int(to_totals.get(code, 0))
            groups.append(Group(("to", code), lines.get(code, [])))
    groups.append(Group(("out", la), [("to", c) for c in to_totals]))
    # and of the flows drawn: each line is at least one child, so lines as many as the
    # total would each be known
    groups.append(Group(("out", la), flow_keys))
    return Counts(values, groups)


def flows_map(
    allocation: pd.DataFrame,
    rccs: Mapping[str, str],
    *,
    settings: MapSettings | None = None,
    la: str | None = None,
    top: int = DEFAULT_TOP,
    disclosure: Disclosure | None = None,
) -> folium.Map:
    """Where children are placed: the `top` largest flows as lines (per-setting layers),
    the LA balance underneath (national view) or one council's own children (`la`).
    `disclosure`: what may be shown, decided with the result's other maps (`maps.bundle`);
    by default this map's own."""
    settings = settings or MapSettings()
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    if la is not None:
        la = load_england().check_code(la)
    geometry = settings.resolved_geometry()
    points = geometry.point_lookup()
    counts, table, drawn = flow_counts(allocation, geometry, la=la, top=top)
    not_drawn = table.drop(drawn.index)
    values = counts.values
    flow_keys = [k for k in values if isinstance(k, tuple) and k[0] == "flow"]
    if disclosure is None:
        disclosure = counts.protect(settings.suppression)

    m = new_map(geometry, tiles=settings.tiles)
    names = dict(zip(geometry.polygons["code"], geometry.polygons["name"], strict=True))
    if la is None:
        _add_balance(m, geometry.polygons, names, disclosure)
    else:
        _add_council(m, geometry.polygons, names, la, disclosure)
    shown_sizes = [values[k] for k in flow_keys if disclosure.shown(k)]
    biggest = float(max(shown_sizes, default=0))
    # every suppressed flow gets one width: that of a flow at the threshold, or thin when
    # nothing is shown to scale against
    threshold = settings.suppression.threshold
    hidden_weight = _weight(threshold, biggest) if biggest > threshold else _MIN_WEIGHT + 1.0
    present = [s for s in SETTING_COLOURS if s in set(drawn["setting"])]
    present += sorted(set(drawn["setting"]) - set(SETTING_COLOURS))
    weights: dict[str, float] = {}
    for setting in present:
        rows = drawn[drawn["setting"] == setting]
        features = []
        for h, d, s, n in rows[["home_la", "placement_la", "setting", "children"]].values:
            key = ("flow", h, d, s)
            weights[f"{h}>{d}>{s}"] = (
                _weight(n, biggest) if disclosure.shown(key) else hidden_weight
            )
            props = {
                "from": names.get(h, h),
                "to": names.get(d, d),
                "setting": SETTING_LABELS.get(s, s),
                "children": disclosure.count(key),
            }
            line = [[points[h][1], points[h][0]], [points[d][1], points[d][0]]]
            features.append(
                feature(f"{h}>{d}>{s}", props, {"type": "LineString", "coordinates": line})
            )
        colour = SETTING_COLOURS.get(setting, "#555555")
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=f"Flows: {SETTING_LABELS.get(setting, setting)}",
            style_function=lambda f, c=colour: {
                "color": c,
                "weight": weights[f["id"]],
                "opacity": 0.75,
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["from", "to", "setting", "children"],
                aliases=["Home LA", "Placed in", "Setting", "Children"],
                sticky=True,
            ),
        ).add_to(m)
    if la is None:
        add_rcc_outlines(m, geometry, rccs, name="RCC boundaries")
    add_layer_control(m)

    whose = f"{names.get(la, la)}'s children" if la else "Children"
    add_title(
        m,
        f"{whose} placed outside their home LA",
        settings,
        subtitle="Lines run from home LA to placement LA; width shows the number of children.",
    )
    entries = [
        LegendEntry(SETTING_COLOURS.get(s, "#555555"), SETTING_LABELS.get(s, s), line=True)
        for s in present
    ]
    footnotes = [settings.suppression.note]
    if settings.suppression.enabled:
        footnotes.append("Lines for suppressed flows are all drawn at one width.")
    if la is None:
        entries += [LegendEntry(c, lbl) for c, lbl in zip(DIVERGING, _BALANCE_LABELS, strict=True)]
        entries.append(LegendEntry(HIDDEN_COLOUR, "c (suppressed) or no flows"))
    else:
        entries += [
            LegendEntry(_HOME_FILL, f"{names.get(la, la)} (home LA)"),
            LegendEntry(_PLACED_HERE_FILL, "Has children of this LA placed here"),
            LegendEntry(_NONE_HERE_FILL, "Has none of them"),
        ]
    heading = "Setting (lines) and LA balance (fill)" if la is None else "Setting (lines), LAs"
    add_legend(m, heading, entries, footnotes=footnotes)
    add_note(
        m,
        _hidden_note(
            table, drawn, not_drawn, disclosure, top=top, suppression=settings.suppression
        ),
    )
    return m


def _hidden_note(
    table: pd.DataFrame,
    drawn: pd.DataFrame,
    not_drawn: pd.DataFrame,
    disclosure: Disclosure,
    *,
    top: int,
    suppression: Suppression,
) -> list[str]:
    """What is drawn and what is not; numbers of flows are suppressed like counts (a flow
    is at least one child)."""
    if table.empty:
        return ["No child is placed outside their home LA."]
    if not len(not_drawn):
        if suppression.is_small(len(drawn)):
            return ["Showing all flows."]
        return [f"Showing all {len(drawn):,} flows."]
    return [
        f"Showing the {suppression.format(len(drawn))} largest flows (limit {top:,}).",
        f"Not drawn: {suppression.format(len(not_drawn))} smaller flows with "
        f"{disclosure.count(('not_drawn',))} children in all.",
    ]


def _add_balance(
    m: folium.Map, polygons: Any, names: Mapping[str, str], disclosure: Disclosure
) -> None:
    colour = classify(BALANCE_BREAKS, DIVERGING)
    props: dict[str, dict[str, str]] = {}
    fills: dict[str, str] = {}
    for code in polygons["code"]:
        kin, kout = ("in", code), ("out", code)
        props[code] = {
            "name": names[code],
            "in": disclosure.count(kin),
            "out": disclosure.count(kout),
            "net": disclosure.difference(kin, kout),
        }
        total = disclosure.values[kin] + disclosure.values[kout]
        if disclosure.shown(kin) and disclosure.shown(kout) and total > 0:
            fills[code] = colour((disclosure.values[kin] - disclosure.values[kout]) / total)
        else:
            fills[code] = HIDDEN_COLOUR
    add_choropleth(
        m,
        feature_collection(polygons, props),
        name="Balance: placed in by others minus placed out",
        fill=lambda code: fills.get(code, HIDDEN_COLOUR),
        fields=[
            ("name", "LA"),
            ("in", "Children placed here by other LAs"),
            ("out", "Children this LA places elsewhere"),
            ("net", "Balance (in minus out)"),
        ],
        base=False,
    )


def _add_council(
    m: folium.Map, polygons: Any, names: Mapping[str, str], la: str, disclosure: Disclosure
) -> None:
    props: dict[str, dict[str, str]] = {}
    for code in polygons["code"]:
        if code == la:
            props[code] = {
                "name": names[code],
                "to": "(home LA)",
                "children": disclosure.count(("children", la)),
                "own": disclosure.count(("own", la)),
                "out": disclosure.count(("out", la)),
                "unplaced": disclosure.count(("unplaced", la)),
            }
        else:
            props[code] = {"name": names[code], "to": disclosure.count(("to", code))}
    add_choropleth(
        m,
        feature_collection(polygons, props),
        name="LAs",
        fill=lambda code: (
            _NONE_HERE_FILL if disclosure.values.get(("to", code), 0) == 0 else _PLACED_HERE_FILL
        ),
        fields=[("name", "LA"), ("to", f"Children of {names.get(la, la)} placed here")],
        base=False,
        line_colour="#999999",
    )
    home = {code: p for code, p in props.items() if code == la}
    add_choropleth(
        m,
        feature_collection(polygons, home),
        name=f"{names.get(la, la)}: its children",
        fill=lambda _code: _HOME_FILL,
        fields=[
            ("name", "LA"),
            ("children", "Children of this LA"),
            ("own", "Placed in own LA"),
            ("out", "Placed in other LAs"),
            ("unplaced", "Unplaced"),
        ],
        base=False,
        line_colour="#333333",
    )
