"""Suppression rules by hand, as a property, and proven on public map HTML."""

from __future__ import annotations

import math
import re
from collections.abc import Hashable

import folium
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ortools.linear_solver import pywraplp
from test_maps import (
    ParsedMap,
    parse_map,
    plan_actions_for,
    random_allocation,
    settings_for,
    supply_for,
)

from geodata.rcc import default_lookup
from maps import (
    MapGeometry,
    MapInputs,
    Suppression,
    build_map,
    flows_map,
    out_of_area_map,
    plan_map,
    rcc_map,
    render_html,
    sufficiency_map,
)
from maps.bundle import council_disclosures, disclosures
from maps.sufficiency import sufficiency_counts
from maps.suppress import SUPPRESSED, Group, protect

OFF = Suppression(enabled=False)
ON = Suppression()


# ---------------------------------------------------------------- the rules, by hand
def test_primary_hides_one_to_five_only() -> None:
    d = protect({"a": 0, "b": 1, "c": 5, "d": 6, "e": 120}, suppression=ON)
    assert [d.count(k) for k in "abcde"] == ["0", "c", "c", "6", "120"]


def test_threshold_is_configurable() -> None:
    d = protect({"a": 8, "b": 11}, suppression=Suppression(threshold=10))
    assert (d.count("a"), d.count("b")) == ("c", "11")


def test_complement_of_a_part_is_protected() -> None:
    # 40 children, 37 outside the LA: the 3 inside would follow by subtraction
    d = protect({"n": 40, "out": 37}, suppression=ON, groups=[Group("n", ["out"])])
    assert (d.count("n"), d.count("out")) == ("40", "c")
    assert d.rate("out", "n") == SUPPRESSED


def test_one_suppressed_part_pulls_the_next_smallest() -> None:
    values = {"t": 60, "a": 3, "b": 9, "c": 48}
    d = protect(values, suppression=ON, groups=[Group("t", ["a", "b", "c"])])
    assert d.hidden == {"a", "b"}  # 3 alone would be 60 - 9 - 48


def test_hidden_parts_pinned_by_their_total_are_protected() -> None:
    """Seven flows of one child each under a shown total of 7: every "c" would be a 1; two
    fives under a shown 10 would each be a 5."""
    ones = {"out": 7, **{f"flow{i}": 1 for i in range(7)}}
    d = protect(ones, suppression=ON, groups=[Group("out", [f"flow{i}" for i in range(7)])])
    assert "out" in d.hidden
    fives = {"all": 16, "a": 5, "b": 5, "rest": 6}
    d = protect(fives, suppression=ON, groups=[Group("all", ["a", "b", "rest"])])
    assert d.hidden == {"a", "b", "rest"}


def test_total_first_hides_the_total_instead() -> None:
    values = {"t": 60, "placed": 58, "unplaced": 2}
    d = protect(values, suppression=ON, groups=[Group("t", ["placed", "unplaced"], True)])
    assert d.hidden == {"t", "unplaced"}


def test_small_difference_of_a_pair_is_hidden() -> None:
    d = protect({"places": 30, "children": 27}, suppression=ON, pairs=[("places", "children")])
    assert d.hidden == {"children"}
    assert d.difference("places", "children") == SUPPRESSED


def test_internal_maps_show_everything() -> None:
    d = protect({"a": 3}, suppression=OFF, groups=[Group("a", [])])
    assert d.count("a") == "3" and not d.hidden


def test_unknown_group_key_is_an_error() -> None:
    with pytest.raises(KeyError, match="nope"):
        protect({"a": 3}, suppression=ON, groups=[Group("a", ["nope"])])


@st.composite
def tables(draw: st.DrawFn) -> tuple[dict[Hashable, int], list[Group]]:
    """Random rows of parts with their totals (some parts unpublished) and column totals."""
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    cells = {(r, c): draw(st.integers(0, 12)) for r in range(rows) for c in range(cols)}
    published = [k for k in cells if draw(st.integers(0, 4)) > 0]  # the rest only in totals
    values: dict[Hashable, int] = {k: cells[k] for k in published}
    groups = []
    for r in range(rows):
        values[("row", r)] = sum(cells[(r, c)] for c in range(cols))
        groups.append(Group(("row", r), [k for k in published if k[0] == r]))
    for c in range(cols):
        values[("col", c)] = sum(cells[(r, c)] for r in range(rows))
        groups.append(Group(("col", c), [k for k in published if k[1] == c]))
    return values, groups


def _interval(
    values: dict[Hashable, int], groups: list[Group], hidden: frozenset[Hashable], key: Hashable
) -> tuple[float, float]:
    """What a reader can tell of a hidden count: its least and greatest value consistent with
    every shown count and every group's sum (hidden counts at least 1, counts published
    nowhere at least 0), by an independent LP (GLOP)."""
    lp = pywraplp.Solver.CreateSolver("GLOP")
    x = {k: lp.NumVar(1, lp.infinity(), str(k)) for k in hidden}
    for g in groups:
        slack = lp.NumVar(0, lp.infinity(), "")  # the group's counts published nowhere
        terms = [x[p] if p in x else values[p] for p in g.parts]
        total = x[g.total] if g.total in x else values[g.total]
        lp.Add(sum(terms, slack) == total)
    ends = []
    for sense in (lp.Minimize, lp.Maximize):
        sense(x[key])
        status = lp.Solve()
        ends.append(x[key].solution_value() if status == lp.OPTIMAL else math.inf)
    return ends[0], ends[1]


@settings(max_examples=150, deadline=None)
@given(tables())
def test_nothing_small_is_shown_or_recoverable(table: tuple[dict[Hashable, int], list]) -> None:
    values, groups = table
    d = protect(values, suppression=ON, groups=groups)
    for key, value in values.items():
        if 1 <= value <= 5:
            assert key in d.hidden
    for key in d.hidden:
        low, high = _interval(values, groups, d.hidden, key)
        assert low < high - 1e-6, f"{key} = {values[key]} is recoverable ({low}..{high})"


# ---------------------------------------------------------------- the proof on map HTML
SMALL = re.compile(r"(?<![\w.,£])[+-]?[1-5](?![\w.,%])")


def _count(value: str) -> int | None:
    """A shown count as a number, None when suppressed."""
    if value == SUPPRESSED:
        return None
    return int(value.replace(",", "").replace("+", ""))


def _displayed_text(parsed: ParsedMap) -> list[str]:
    texts = [parsed.panel_text(), *parsed.layers]
    for layer in parsed.layers.values():
        for props in layer.shown():
            texts += props.values()
    return texts


@pytest.fixture(scope="module")
def inputs() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    allocation = random_allocation(seed=7, scale=0.05)
    return allocation, supply_for(allocation), default_lookup()


def _maps(
    inputs: tuple[pd.DataFrame, pd.DataFrame, dict[str, str]], *, public: bool
) -> dict[str, folium.Map]:
    allocation, supply, lookup = inputs
    s = settings_for(MapGeometry.hex(), public=public)
    return {
        "out-of-area": out_of_area_map(allocation, lookup, settings=s),
        "flows": flows_map(allocation, lookup, settings=s, top=150),
        "flows-la": flows_map(allocation, lookup, settings=s, la="E10000030"),
        "rccs": rcc_map(allocation, supply, lookup, settings=s),
        "sufficiency-rcc": sufficiency_map(allocation, supply, lookup, settings=s, level="rcc"),
        "plan": plan_map(allocation, supply, lookup, plan_actions_for(lookup), settings=s),
    }


@pytest.fixture(scope="module")
def public_maps(inputs: tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]) -> dict[str, ParsedMap]:
    return {k: parse_map(render_html(m)) for k, m in _maps(inputs, public=True).items()}


def test_no_count_from_one_to_five_anywhere_in_a_public_map(
    public_maps: dict[str, ParsedMap],
) -> None:
    for kind, parsed in public_maps.items():
        shown = _displayed_text(parsed)
        assert len(shown) > 100, kind
        offenders = [t for t in shown if SMALL.search(t)]
        assert offenders == [], (kind, offenders[:5])
        assert any(t == SUPPRESSED for t in shown), f"{kind}: nothing was suppressed at all"


def test_the_same_maps_internal_do_show_small_counts(
    inputs: tuple[pd.DataFrame, pd.DataFrame, dict[str, str]],
) -> None:
    """The sweep above can see small numbers: without suppression they are there."""
    for kind, m in _maps(inputs, public=False).items():
        shown = _displayed_text(parse_map(render_html(m)))
        assert any(SMALL.search(t) for t in shown), kind
        assert SUPPRESSED not in shown, kind


def _pairs_ok(values: dict[str, int | None], relations: list[tuple[str, str]]) -> list[str]:
    bad = []
    for whole, part in relations:
        a, b = values.get(whole), values.get(part)
        if a is not None and b is not None and 1 <= abs(a - b) <= 5:
            bad.append(f"{whole}-{part}={a - b}")
    return bad


def test_out_of_area_totals_do_not_reveal_a_suppressed_cell(
    public_maps: dict[str, ParsedMap],
) -> None:
    layer = public_maps["out-of-area"].layers["Placed outside their LA"]
    relations = [
        ("children", "placed"),
        ("placed", "out_of_la"),
        ("placed", "over_20_miles"),
        ("placed", "out_of_rcc"),
        ("placed", "out_of_la_over_20_miles"),
        ("out_of_la", "out_of_la_over_20_miles"),
        ("over_20_miles", "out_of_la_over_20_miles"),
        ("out_of_la", "out_of_rcc"),
    ]
    for feature in layer.features:
        p = feature["properties"]
        counts = {k: _count(p[k]) for k in ("children", "placed", "unplaced")}
        counts |= {k: _count(p[k]) for k, _ in relations if k in p}
        counts |= {k: _count(p[k]) for _, k in relations}
        assert _pairs_ok(counts, relations) == [], (p["name"], p)
        if counts["children"] is not None and counts["unplaced"] is None:
            assert counts["placed"] is None, p
        for metric in ("out_of_la", "over_20_miles", "out_of_rcc"):
            if counts[metric] is None:
                assert p[f"{metric}_pct"] == SUPPRESSED, p
    hidden = [f["id"] for f in layer.features if f["properties"]["out_of_la"] == SUPPRESSED]
    assert hidden
    for fid in hidden:
        assert layer.styles[fid]["fillColor"] == "#bdbdbd", "a suppressed share has no colour"


def test_flow_totals_do_not_reveal_a_suppressed_flow(public_maps: dict[str, ParsedMap]) -> None:
    parsed = public_maps["flows"]
    balance = {
        f["id"]: f["properties"]
        for f in parsed.layers["Balance: placed in by others minus placed out"].features
    }
    lines = [
        f
        for name, layer in parsed.layers.items()
        if name.startswith("Flows: ")
        for f in layer.features
    ]
    for code, p in balance.items():
        for side, pos in (("out", 0), ("in", 1)):
            total = _count(p[side])
            if total is None:
                continue
            mine = [f for f in lines if f["id"].split(">")[pos] == code]
            shown = sum(_count(f["properties"]["children"]) or 0 for f in mine)
            assert not 1 <= total - shown <= 5, (code, side, total, shown)
            n = sum(f["properties"]["children"] == SUPPRESSED for f in mine)
            assert not (n and total - shown in (n, 5 * n)), "each hidden line is pinned"
        inn, out = _count(p["in"]), _count(p["out"])
        if p["net"] != SUPPRESSED:
            assert inn is not None and out is not None and not 1 <= abs(inn - out) <= 5
    weights = {
        layer.styles[f["id"]]["weight"]
        for layer in parsed.layers.values()
        for f in layer.features
        if f["id"].count(">") == 2 and f["properties"]["children"] == SUPPRESSED
    }
    assert len(weights) == 1, "every suppressed flow is drawn at the same width"


def test_rcc_and_sufficiency_totals_do_not_reveal_a_cell(
    public_maps: dict[str, ParsedMap],
) -> None:
    rccs = public_maps["rccs"].layers["RCCs: self-sufficiency"]
    for f in rccs.features:
        p = f["properties"]
        needs = [_count(p[k]) for k in p if k.startswith("need_")]
        children = _count(p["children"])
        if children is not None:
            assert not 1 <= children - sum(n or 0 for n in needs) <= 5, p
            inside = _count(p["inside"])
            assert inside is None or not 1 <= children - inside <= 5, p
        places = _count(p["places"])
        settings_shown = [_count(p[k]) for k in p if k.startswith("places_")]
        if places is not None:
            rest = places - sum(n or 0 for n in settings_shown)
            assert not 1 <= rest <= 5, p
    suff = public_maps["sufficiency-rcc"].layers["Sufficiency: All settings"]
    for f in suff.features:
        p = f["properties"]
        for family in ("all", "foster", "residential", "secure", "supported"):
            places, children = _count(p[f"{family}_places"]), _count(p[f"{family}_children"])
            gap = p[f"{family}_gap"]
            if gap != SUPPRESSED:
                assert places is not None and children is not None
                assert not 1 <= abs(places - children) <= 5, p
            elif places is not None and children is not None:
                pytest.fail(f"gap hidden but both sides shown: {p}")


def test_suppressed_circles_share_one_size(public_maps: dict[str, ParsedMap]) -> None:
    circles = public_maps["sufficiency-rcc"].layers["Unplaced children by RCC"]
    hidden = [f["id"] for f in circles.features if f["properties"]["unplaced"] == SUPPRESSED]
    assert hidden, "the seeded data has RCCs with a handful of unplaced children"
    assert len({circles.styles[i]["radius"] for i in hidden}) == 1


def test_a_councils_lines_do_not_pin_its_hidden_flows() -> None:
    """Manchester: 30 children at home and 7 placed out, one in each of 7 LAs. Each line is
    "c", and each is at least one child: a shown total of 7 would make every one a 1."""
    lookup = default_lookup()
    away = ["E08000001", "E08000002", "E08000004", "E08000005", "E08000006", "E08000007"]
    rows = [("E08000003", "E08000003")] * 30 + [("E08000003", la) for la in away]
    rows += [("E08000003", "E08000008")]
    alloc = pd.DataFrame(rows, columns=["home_la", "placement_la"]).assign(
        child_id=[f"C{i}" for i in range(len(rows))],
        need="foster",
        setting="foster_ifa",
        placement_id="P",
        home_rcc=lookup["E08000003"],
        placement_rcc=lookup["E08000003"],
        out_of_rcc=False,
        over_20_miles=False,
    )
    alloc["out_of_la"] = alloc["home_la"] != alloc["placement_la"]
    m = flows_map(alloc, lookup, settings=settings_for(MapGeometry.hex()), la="E08000003")
    home = parse_map(render_html(m)).layers["Manchester: its children"].features[0]
    assert home["properties"]["out"] == SUPPRESSED
    assert home["properties"]["children"] == "37"  # 30 own and a hidden 7: nothing pinned


def test_a_hidden_gap_is_not_the_areas_gap_less_the_others() -> None:
    """West Northamptonshire: all settings +20 = fostering +17 + residential + 0 + 0, so a
    hidden residential gap of +3 was the shown total less the shown gaps."""
    rows = [("foster", 57, 40), ("residential", 13, 10), ("secure", 0, 0), ("supported", 0, 0)]
    rows.append(("all", 70, 50))
    table = pd.DataFrame(
        [(p, c) for _, p, c in rows],
        columns=["places", "children"],
        index=pd.MultiIndex.from_tuples([("W", f) for f, _, _ in rows], names=["area", "family"]),
    )
    d = sufficiency_counts(table, pd.Series(dtype=int), level="la").protect(ON)
    gaps = {f: d.difference(("places", "W", f), ("children", "W", f)) for f, _, _ in rows}
    assert gaps["residential"] == SUPPRESSED
    shown = [int(g) for f, g in gaps.items() if f != "all" and g != SUPPRESSED]
    assert gaps["all"] == SUPPRESSED or not 1 <= int(gaps["all"]) - sum(shown) <= 5, gaps


def test_the_maps_of_a_result_are_suppressed_together() -> None:
    """A reader lays the maps side by side: an LA's children hidden on one map are not shown
    on another, an unplaced count is not the sufficiency map's children less the out-of-area
    map's placed, and an RCC's children less its shown LAs is not a hidden LA."""
    allocation = random_allocation(seed=11, scale=0.03)
    inputs = MapInputs(allocation, supply_for(allocation), default_lookup())
    s = settings_for(MapGeometry.hex())
    shared = disclosures(inputs, s, la="E06000001")
    maps = {k: build_map(k, inputs, settings=s, shared=shared) for k in ("out-of-area", "rccs")}
    maps["sufficiency"] = build_map("sufficiency", inputs, settings=s, shared=shared)
    maps["flows"] = build_map("flows", inputs, settings=s, shared=shared)
    maps["flows-la"] = build_map("flows", inputs, settings=s, la="E06000001", shared=shared)
    parsed = {k: parse_map(render_html(m)) for k, m in maps.items()}
    ooa = {
        f["id"]: f["properties"]
        for f in parsed["out-of-area"].layers["Placed outside their LA"].features
    }
    suff = {
        f["id"]: f["properties"]
        for f in parsed["sufficiency"].layers["Sufficiency: All settings"].features
    }
    balance = parsed["flows"].layers["Balance: placed in by others minus placed out"].features
    out = {f["id"]: f["properties"]["out"] for f in balance}
    checked = 0
    for code, p in ooa.items():
        if code not in suff or p["children"] == "0":
            continue
        checked += 1
        children, placed = _count(suff[code]["all_children"]), _count(p["placed"])
        if p["unplaced"] == SUPPRESSED and children is not None and placed is not None:
            pytest.fail(f"{code}: unplaced = {children} - {placed}")
        assert (p["children"] == SUPPRESSED) == (children is None), code
        assert (p["out_of_la"] == SUPPRESSED) == (out[code] == SUPPRESSED), code
    assert checked > 100 and any(p["unplaced"] == SUPPRESSED for p in ooa.values())
    lookup = default_lookup()
    for f in parsed["rccs"].layers["RCCs: self-sufficiency"].features:
        total = _count(f["properties"]["children"])
        members = [_count(ooa[c]["children"]) for c in lookup if lookup[c] == f["id"] and c in ooa]
        if total is not None and members.count(None) == 1:
            assert not 1 <= total - sum(m or 0 for m in members) <= 5, f["id"]
    home = parsed["flows-la"].layers["Hartlepool: its children"].features[0]["properties"]
    if home["out"] == SUPPRESSED and home["own"] != SUPPRESSED:
        assert ooa["E06000001"]["placed"] == SUPPRESSED, "placed - own would be the hidden out"


def test_the_councils_flows_maps_are_suppressed_together() -> None:
    """Each council's flows map was protected alone: where the national map shows an LA's
    children taken in, and every council's map but one shows how many of its children are
    there, the hidden one was the difference; or six councils' hidden counts added up to the
    6 shown, so each was 1 (3 LAs here; 10 in a result at scale 0.3)."""
    allocation = random_allocation(seed=11, scale=0.03)
    inputs = MapInputs(allocation, supply_for(allocation), default_lookup())
    s = settings_for(MapGeometry.hex())
    national = disclosures(inputs, s)["flows"]
    councils = council_disclosures(inputs, s)
    assert len(councils) == len(set(allocation["home_la"]))
    taken_in = 0
    for code in MapGeometry.hex().polygons["code"]:
        key = ("to", code)
        if not national.shown(("in", code)):
            continue
        to = [d for h, d in councils.items() if h != code]
        hidden = [d.values[key] for d in to if not d.shown(key)]
        rest = national.values[("in", code)] - sum(d.values[key] for d in to if d.shown(key))
        if hidden:  # neither one hidden count, nor several pinned down by their sum
            assert len(hidden) > 1 and rest not in (len(hidden), 5 * len(hidden)), code
            taken_in += 1
    assert taken_in > 10  # LAs whose children taken in are shown, from councils' hidden counts
    la = "E06000001"
    assert disclosures(inputs, s, la=la)["flows-la"].hidden == councils[la].hidden


def test_plan_money_is_hidden_beside_a_hidden_count(public_maps: dict[str, ParsedMap]) -> None:
    """Bristol's popup showed units 'c' beside capital GBP 1,000,000: one home at GBP 1m."""
    homes = public_maps["plan"].layers["Plan: open home"].features
    (home,) = [f["properties"] for f in homes]
    assert home["units"] == SUPPRESSED  # 2 homes
    assert home["capital"] == SUPPRESSED and home["weekly_running"] == SUPPRESSED
    foster = public_maps["plan"].layers["Plan: recruit foster"].features[0]["properties"]
    assert foster["units"] == "42" and foster["capital"] == "£0"
