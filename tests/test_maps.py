"""Map structure: layers, features, tooltips, legend, numbers, offline assets, size."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from geodata.england import ATTRIBUTION, load_england
from geodata.rcc import GREATER_MANCHESTER, default_lookup
from maps import (
    MapAssetsMissingError,
    MapGeometry,
    MapInputError,
    MapInputs,
    MapSettings,
    Suppression,
    build_map,
    flows_map,
    out_of_area_map,
    plan_map,
    rcc_map,
    render_html,
    sufficiency_map,
    write_maps,
)
from maps.assets import LEAFLET_DIR_ENV
from maps.flows import flow_table
from maps.inputs import clean_allocation

SETTINGS_BY_NEED = {
    "foster": ("foster_inhouse", "foster_ifa"),
    "residential": ("residential_la", "residential_private"),
    "secure": ("secure",),
    "supported": ("supported",),
}
NEED_SHARES = {"foster": 0.72, "residential": 0.16, "secure": 0.02, "supported": 0.10}


# ---------------------------------------------------------------- realistic seeded inputs
def random_allocation(*, seed: int = 1, scale: float = 0.1) -> pd.DataFrame:
    """A fresh copy of `_random_allocation` (made once per seed and scale)."""
    return _random_allocation(seed, scale).copy()


@functools.cache
def _random_allocation(seed: int, scale: float) -> pd.DataFrame:
    """An allocation over the 153 LAs shaped like `rcc solve`'s: children in proportion to
    each LA's CLA (a few LAs with only a handful), 45% placed out of LA at nearby LAs, 2%
    unplaced; DfE miles between LA points."""
    rng = np.random.default_rng(seed)
    eng = load_england().frame()
    lookup = default_lookup()
    codes = eng["code"].to_numpy()
    e, n = eng["easting"].to_numpy(), eng["northing"].to_numpy()
    miles = np.hypot(e[:, None] - e[None, :], n[:, None] - n[None, :]) / 1000 / 1.6093
    needs, shares = list(NEED_SHARES), list(NEED_SHARES.values())
    rows = []
    for i, code in enumerate(codes):
        count = int(eng["cla_31mar2024"].iloc[i] * scale)
        if i % 25 == 7:
            count = int(rng.integers(1, 6))  # a council with only a handful of children
        near = np.argsort(miles[i])[1:9]
        for j in range(max(count, 1)):
            need = needs[int(rng.choice(len(needs), p=shares))]
            setting = str(rng.choice(SETTINGS_BY_NEED[need]))
            row: dict[str, Any] = {
                "child_id": f"C{i:03d}{j:05d}",
                "home_la": code,
                "home_rcc": lookup[code],
                "need": need,
                "unplaced_reason": "",
            }
            draw = rng.random()
            if draw < 0.02:
                row |= {"placement_id": "", "setting": "", "placement_la": ""}
                row |= {"placement_rcc": "", "miles": np.nan, "unplaced_reason": "no_free_place"}
                row |= {"out_of_la": False, "out_of_rcc": False, "over_20_miles": False}
                row["weekly_cost"] = 0.0
            else:
                dest = i if draw < 0.55 else int(rng.choice(near))
                dist = float(miles[i, dest] + rng.uniform(0, 8))
                row |= {
                    "placement_id": f"P{dest:03d}{setting}",
                    "setting": setting,
                    "placement_la": codes[dest],
                    "placement_rcc": lookup[codes[dest]],
                    "miles": dist,
                    "out_of_la": dest != i,
                    "out_of_rcc": lookup[codes[dest]] != lookup[code],
                    "over_20_miles": dist > 20,
                    "weekly_cost": 900.0,
                }
            rows.append(row)
    return pd.DataFrame(rows)


def supply_for(allocation: pd.DataFrame, *, seed: int = 2) -> pd.DataFrame:
    """Supply rows matching the allocation's placements, with some spare places."""
    placed = allocation[allocation["placement_id"] != ""]
    used = placed.groupby(["placement_id", "setting", "placement_la"]).size().rename("used")
    supply = used.reset_index().rename(columns={"placement_la": "la"})
    spare = np.random.default_rng(seed).integers(0, 4, len(supply))
    return supply.assign(capacity=supply["used"] + spare, weekly_cost=900.0)


def plan_actions_for(lookup: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "year": [2026, 2027, 2027],
            "opens": [2027, 2028, 2028],
            "rcc": [lookup["E08000025"], lookup["E06000001"], lookup["E06000001"]],
            "la_code": ["E08000025", "E06000001", "E06000001"],
            "action": ["open_home", "recruit_foster", "recruit_foster"],
            "setting": ["residential_la", "foster_inhouse", "foster_inhouse"],
            "units": [2, 30, 12],
            "places": [8, 30, 12],
            "capital": [1.5e6, 0.0, 0.0],
            "weekly_running": [20_000.0, 18_000.0, 7_000.0],
        }
    )


# ---------------------------------------------------------------- reading a map's HTML back
@dataclass
class Layer:
    name: str
    base: bool
    features: list[dict[str, Any]]
    tooltip: list[str] = field(default_factory=list)
    popup: list[str] = field(default_factory=list)
    styles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def shown(self) -> list[dict[str, str]]:
        """The properties a reader can see (tooltip and popup fields) of every feature."""
        fields = self.tooltip + self.popup
        return [{f: feat["properties"][f] for f in fields} for feat in self.features]


@dataclass
class ParsedMap:
    html: str
    layers: dict[str, Layer]
    panels: dict[str, str]

    def panel_text(self) -> str:
        return " ".join(self.panels.values())


def parse_map(html: str) -> ParsedMap:
    """Layers (name, base or overlay, GeoJSON, tooltip/popup fields, per-feature styles) and
    the HTML panels (title, legend, note, attribution) of a rendered map."""
    control = re.search(r"base_layers : \{(.*?)\},\s*overlays :\s*\{(.*?)\},", html, re.S)
    assert control, "no layer control"
    names: dict[str, tuple[str, bool]] = {}
    for part, base in ((control.group(1), True), (control.group(2), False)):
        for label, var in re.findall(r'("(?:[^"\\]|\\.)*")\s*:\s*(\w+),', part):
            names[var] = (json.loads(label), base)
    layers: dict[str, Layer] = {}
    for var, (label, base) in names.items():
        add = html.index(f"{var}_add({{") + len(f"{var}_add(")
        data, _ = json.JSONDecoder().raw_decode(html, add)
        layer = Layer(name=label, base=base, features=data["features"])
        for kind in ("Tooltip", "Popup"):
            bound = re.search(
                rf"{var}\.bind{kind}\(\s*function\(layer\)\{{.*?let fields = (\[.*?\]);", html, re.S
            )
            if bound:
                setattr(layer, kind.lower(), json.loads(bound.group(1)))
        styler = re.search(rf"function {var}_styler\(feature\) \{{(.*?)\n        \}}", html, re.S)
        if styler:
            # folium writes one `case` list per distinct style and the commonest as default
            body = styler.group(1)
            for ids, style in re.findall(r"((?:case \"[^\"]*\": )+)\s*return (\{.*?\});", body):
                for fid in re.findall(r'case ("[^"]*"):', ids):
                    layer.styles[json.loads(fid)] = json.loads(style)
            default = re.search(r"default:\s*return (\{.*?\});", body, re.S)
            assert default, f"{label}: styler without default"
            for feature in layer.features:
                layer.styles.setdefault(str(feature["id"]), json.loads(default.group(1)))
        layers[label] = layer
    reader = _PanelReader()
    reader.feed(html)
    return ParsedMap(html=html, layers=layers, panels=reader.panels)


class _PanelReader(HTMLParser):
    """The visible text of each `rcc-panel` div (title, legend, note, attribution), with the
    number of swatches (<i>) each holds."""

    def __init__(self) -> None:
        super().__init__()
        self.panels: dict[str, str] = {}
        self.swatches: dict[str, int] = {}
        self._current: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div" and self._current is None and "rcc-panel" in classes:
            self._current = next(c for c in classes if c != "rcc-panel")
            self.panels[self._current] = ""
            self.swatches[self._current] = 0
            self._depth = 1
        elif self._current is not None:
            self._depth += tag == "div"
            self.swatches[self._current] += tag == "i"
            if tag in ("div", "br"):
                self.panels[self._current] += " "

    def handle_endtag(self, tag: str) -> None:
        if self._current is not None and tag == "div":
            self._depth -= 1
            if self._depth == 0:
                self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self.panels[self._current] += data


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def allocation() -> pd.DataFrame:
    return random_allocation()


@pytest.fixture(scope="session")
def lookup() -> dict[str, str]:
    return default_lookup()


@pytest.fixture(scope="session")
def supply(allocation: pd.DataFrame) -> pd.DataFrame:
    return supply_for(allocation)


@pytest.fixture(scope="session")
def hex_geometry() -> MapGeometry:
    return MapGeometry.hex()


def settings_for(geometry: MapGeometry, *, public: bool = True) -> MapSettings:
    return MapSettings(
        scenario="Test scenario",
        date="2026-11-25",
        geometry=geometry,
        suppression=Suppression(enabled=public),
    )


def build_all_maps(folder: Path) -> dict[str, Path]:
    """Every map family (public, self-contained, hex layout) written into `folder`; used by
    the browser tests too."""
    alloc = random_allocation()
    lookup = default_lookup()
    inputs = MapInputs(
        allocation=alloc,
        supply=supply_for(alloc),
        rccs=lookup,
        plan_actions=plan_actions_for(lookup),
    )
    settings = settings_for(MapGeometry.hex())
    files = {k: v for k, v in write_maps(inputs, folder, settings=settings).items()}
    flows_la = build_map("flows", inputs, settings=settings, la="E08000025")
    files["flows-la"] = folder / "map-flows-la.html"
    files["flows-la"].write_text(render_html(flows_la), encoding="utf-8")
    files["hex"] = files["out-of-area"]
    return files


# ---------------------------------------------------------------- out-of-area
def test_out_of_area_layers_features_tooltips_legend(
    allocation: pd.DataFrame, lookup: dict[str, str], hex_geometry: MapGeometry
) -> None:
    html = render_html(out_of_area_map(allocation, lookup, settings=settings_for(hex_geometry)))
    parsed = parse_map(html)
    base = [layer for layer in parsed.layers.values() if layer.base]
    assert [layer.name for layer in base] == [
        "Placed outside their LA",
        "Placed over 20 miles from home",
        "Placed outside their RCC",
        "Outside their LA and over 20 miles",
    ]
    for layer in base:
        assert len(layer.features) == 153
        assert {"name", "children", "out_of_la", "out_of_la_pct", "over_20_miles"} <= set(
            layer.tooltip
        )
        assert len(layer.styles) >= 2, "the fill must vary with the measure"
    outlines = parsed.layers["RCC boundaries"]
    assert not outlines.base
    assert len(outlines.features) == len(set(lookup.values()))
    assert "Share of placed children" in parsed.panels["rcc-legend"]
    assert "60% or more" in parsed.panels["rcc-legend"]
    reader = _PanelReader()
    reader.feed(html)
    assert reader.swatches["rcc-legend"] == 7
    assert "Test scenario" in parsed.panels["rcc-title"]
    assert "2026-11-25" in parsed.panels["rcc-title"]
    assert "Office for National Statistics" in parsed.panels["rcc-attribution"]
    assert ATTRIBUTION.split(".")[0] in parsed.panels["rcc-attribution"]


def test_out_of_area_numbers_match_the_allocation(
    allocation: pd.DataFrame, lookup: dict[str, str], hex_geometry: MapGeometry
) -> None:
    html = render_html(
        out_of_area_map(allocation, lookup, settings=settings_for(hex_geometry, public=False))
    )
    layer = parse_map(html).layers["Placed outside their LA"]
    shown = {f["id"]: f["properties"] for f in layer.features}
    a = clean_allocation(allocation)
    for code in ("E08000025", "E10000030", "E06000001"):
        mine = a[a["home_la"] == code]
        placed = mine[mine["placed"]]
        assert shown[code]["children"] == f"{len(mine):,}"
        assert shown[code]["out_of_la"] == f"{int(placed['out_of_la'].sum()):,}"
        share = 100 * placed["out_of_la"].mean()
        assert shown[code]["out_of_la_pct"] == f"{share:.0f}%"
        both = int((placed["out_of_la"] & placed["over_20_miles"]).sum())
        assert shown[code]["out_of_la_over_20_miles"] == f"{both:,}"


def test_no_nan_none_or_undefined_is_shown(
    allocation: pd.DataFrame,
    lookup: dict[str, str],
    supply: pd.DataFrame,
    hex_geometry: MapGeometry,
) -> None:
    settings = settings_for(hex_geometry)
    maps = [
        out_of_area_map(allocation, lookup, settings=settings),
        flows_map(allocation, lookup, settings=settings),
        rcc_map(allocation, supply, lookup, settings=settings),
        plan_map(allocation, supply, lookup, plan_actions_for(lookup), settings=settings),
    ]
    for m in maps:
        parsed = parse_map(render_html(m))
        for layer in parsed.layers.values():
            for props in layer.shown():
                for value in props.values():
                    assert isinstance(value, str) and value.strip(), (layer.name, props)
                    assert not re.search(r"\b(nan|none|null|undefined|inf)\b", value, re.I), (
                        layer.name,
                        props,
                    )
        assert not re.search(r"\b(NaN|None|undefined)\b", parsed.panel_text())


def test_hex_map_under_one_megabyte_and_self_contained(
    allocation: pd.DataFrame, lookup: dict[str, str], hex_geometry: MapGeometry
) -> None:
    html = render_html(out_of_area_map(allocation, lookup, settings=settings_for(hex_geometry)))
    assert len(html.encode()) < 1_000_000
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=", html)
    assert "L.map(" in html and "leaflet-container" in html  # Leaflet inlined
    for dropped in ("jquery", "bootstrap", "awesome-markers", "fontawesome", "d3.min.js"):
        assert dropped not in html.lower()


def test_cdn_mode_links_only_leaflet(
    allocation: pd.DataFrame, lookup: dict[str, str], hex_geometry: MapGeometry
) -> None:
    m = out_of_area_map(allocation, lookup, settings=settings_for(hex_geometry))
    html = render_html(m, self_contained=False)
    sources = re.findall(r'<script[^>]+src="([^"]+)"', html)
    links = re.findall(r'<link[^>]+href="([^"]+)"', html)
    assert [s.rsplit("/", 1)[-1] for s in sources] == ["leaflet.js"]
    assert [s.rsplit("/", 1)[-1] for s in links] == ["leaflet.css"]


def test_missing_assets_give_a_clear_error(
    allocation: pd.DataFrame,
    lookup: dict[str, str],
    hex_geometry: MapGeometry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LEAFLET_DIR_ENV, str(tmp_path))
    m = out_of_area_map(allocation, lookup, settings=settings_for(hex_geometry))
    with pytest.raises(MapAssetsMissingError, match="make map-assets"):
        render_html(m)


def test_real_boundaries_national_map_under_three_megabytes(
    allocation: pd.DataFrame, lookup: dict[str, str], shared_file: Any
) -> None:
    import geopandas as gpd

    gdf = gpd.read_file(shared_file("geodata/england_utla.geojson"))
    geometry = MapGeometry.from_boundaries(gdf)
    assert geometry.kind == "boundaries" and len(geometry.polygons) == 153
    html = render_html(out_of_area_map(allocation, lookup, settings=settings_for(geometry)))
    assert len(html.encode()) < 3_000_000
    layer = parse_map(html).layers["Placed outside their LA"]
    assert len(layer.features) == 153


def test_tiles_only_on_request(
    allocation: pd.DataFrame, lookup: dict[str, str], hex_geometry: MapGeometry
) -> None:
    plain = render_html(out_of_area_map(allocation, lookup, settings=settings_for(hex_geometry)))
    assert "L.tileLayer" not in plain
    settings = MapSettings(geometry=hex_geometry, tiles="OpenStreetMap")
    tiled = render_html(out_of_area_map(allocation, lookup, settings=settings))
    assert "L.tileLayer" in tiled


# ---------------------------------------------------------------- flows
def test_flows_largest_first_per_setting_with_hidden_note(
    allocation: pd.DataFrame, lookup: dict[str, str], hex_geometry: MapGeometry
) -> None:
    settings = settings_for(hex_geometry, public=False)
    parsed = parse_map(render_html(flows_map(allocation, lookup, settings=settings, top=40)))
    line_layers = [layer for n, layer in parsed.layers.items() if n.startswith("Flows: ")]
    assert len(line_layers) >= 2
    drawn = [f for layer in line_layers for f in layer.features]
    assert len(drawn) == 40
    table = flow_table(allocation)
    smallest_drawn = min(int(f["properties"]["children"]) for f in drawn)
    assert smallest_drawn == int(table["children"].iloc[39])
    note = parsed.panels["rcc-note"]
    assert "Showing the 40 largest flows (limit 40)" in note
    hidden = int(table["children"].iloc[40:].sum())
    assert f"{len(table) - 40:,} smaller flows with {hidden:,} children" in note
    for layer in line_layers:
        assert layer.tooltip == ["from", "to", "setting", "children"]
        colours = {s["color"] for s in layer.styles.values()}
        assert len(colours) == 1, "one colour per setting"
        # wider lines for more children
        pairs = sorted(
            (int(f["properties"]["children"]), layer.styles[f["id"]]["weight"])
            for f in layer.features
        )
        assert [w for _, w in pairs] == sorted(w for _, w in pairs)
    balance = parsed.layers["Balance: placed in by others minus placed out"]
    assert len(balance.features) == 153
    assert balance.tooltip == ["name", "in", "out", "net"]


def test_flows_for_one_council_show_only_its_children(
    allocation: pd.DataFrame, lookup: dict[str, str], hex_geometry: MapGeometry
) -> None:
    settings = settings_for(hex_geometry, public=False)
    html = render_html(flows_map(allocation, lookup, settings=settings, la="E08000025"))
    parsed = parse_map(html)
    drawn = [
        f for n, layer in parsed.layers.items() if n.startswith("Flows: ") for f in layer.features
    ]
    assert drawn and all(f["id"].startswith("E08000025>") for f in drawn)
    a = clean_allocation(allocation)
    moved = a[(a["home_la"] == "E08000025") & a["out_of_la"] & a["placed"]]
    assert sum(int(f["properties"]["children"]) for f in drawn) == len(moved)
    assert "Birmingham's children" in parsed.panels["rcc-title"]
    home = parsed.layers["Birmingham: its children"].features
    assert [f["id"] for f in home] == ["E08000025"]
    assert home[0]["properties"]["out"] == f"{len(moved):,}"
    # the legend explains the areas' colours too, not only the lines'
    legend = " ".join(parsed.panels["rcc-legend"].split())
    assert "Birmingham (home LA)" in legend and "Has children of this LA placed here" in legend


def test_flows_reject_an_unknown_council(
    allocation: pd.DataFrame, lookup: dict[str, str], hex_geometry: MapGeometry
) -> None:
    with pytest.raises(ValueError, match="not one of the 153"):
        flows_map(allocation, lookup, settings=settings_for(hex_geometry), la="E99999999")


# ---------------------------------------------------------------- RCCs
def test_rcc_map_members_demand_supply_and_pathfinders(
    allocation: pd.DataFrame,
    lookup: dict[str, str],
    supply: pd.DataFrame,
    hex_geometry: MapGeometry,
) -> None:
    settings = settings_for(hex_geometry, public=False)
    parsed = parse_map(render_html(rcc_map(allocation, supply, lookup, settings=settings)))
    rccs = parsed.layers["RCCs: self-sufficiency"]
    assert len(rccs.features) == len(set(lookup.values()))
    by_id = {f["id"]: f["properties"] for f in rccs.features}
    gm = by_id["North West: Greater Manchester"]
    assert gm["pathfinder"].startswith("yes: North West: Greater Manchester")
    assert by_id["South East"]["pathfinder"].startswith("yes: South East")
    assert by_id["London"]["pathfinder"] == "no"
    assert "Manchester" in gm["members"] and "Wigan" in gm["members"]
    a = clean_allocation(allocation)
    mine = a[a["home_la"].isin(GREATER_MANCHESTER)]
    assert gm["children"] == f"{len(mine):,}"
    assert gm["need_residential"] == f"{int((mine['need'] == 'residential').sum()):,}"
    inside = mine["placed"] & mine["placement_la"].isin(GREATER_MANCHESTER)
    assert gm["self_sufficiency"] == f"{100 * inside.sum() / len(mine):.0f}%"
    gm_places = supply[supply["la"].isin(GREATER_MANCHESTER)]
    assert gm["places"] == f"{int(gm_places['capacity'].sum()):,}"
    assert gm["need_secure"] == f"{int((mine['need'] == 'secure').sum()):,}"
    secure_places = int(gm_places.loc[gm_places["setting"] == "secure", "capacity"].sum())
    assert gm["places_secure"] == f"{secure_places:,}"
    assert {"places_foster_ifa", "places_residential_private", "used"} <= set(rccs.tooltip)
    assert len(parsed.layers["Pathfinders"].features) == 2
    # every RCC's border, above the LAs' white lines (it was hidden under them)
    assert len(parsed.layers["RCC boundaries"].features) == len(set(lookup.values()))


def test_names_from_users_files_are_text_not_html(
    allocation: pd.DataFrame, supply: pd.DataFrame, hex_geometry: MapGeometry
) -> None:
    """Tooltips put properties into the page as HTML: an RCC named like markup must reach them
    escaped, in every layer that shows it (it ran as a script on hover before)."""
    evil = '<img src=x onerror="alert(1)">'
    lookup = {code: evil for code in default_lookup()}
    alloc = allocation.assign(home_rcc=evil, placement_rcc=evil)
    settings = settings_for(hex_geometry, public=False)
    maps = [
        rcc_map(alloc, supply, lookup, settings=settings),
        sufficiency_map(alloc, supply, lookup, settings=settings, level="rcc"),
    ]
    for m in maps:
        shown = [
            value
            for layer in parse_map(render_html(m)).layers.values()
            for f in layer.features
            for value in f["properties"].values()
        ]
        assert '&lt;img src=x onerror="alert(1)"&gt;' in shown
        assert not any("<img" in str(v) for v in shown)


# ---------------------------------------------------------------- sufficiency and plans
def _tiny() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Two LAs by hand: Hartlepool 8 foster + 2 secure children; Middlesbrough 20 foster."""
    rows = [("E06000001", "foster", "foster_ifa", "E06000001")] * 8
    rows += [("E06000001", "secure", "secure", "E06000002")] * 2
    rows += [("E06000002", "foster", "foster_inhouse", "E06000002")] * 20
    alloc = pd.DataFrame(rows, columns=["home_la", "need", "setting", "placement_la"])
    alloc = alloc.assign(
        child_id=[f"C{i}" for i in range(len(alloc))],
        home_rcc="North East",
        placement_id="P",
        placement_rcc="North East",
        out_of_la=alloc["home_la"] != alloc["placement_la"],
        out_of_rcc=False,
        over_20_miles=False,
    )
    supply = pd.DataFrame(
        {
            "placement_id": ["A", "B", "C"],
            "setting": ["foster_ifa", "foster_inhouse", "secure"],
            "la": ["E06000001", "E06000002", "E06000002"],
            "capacity": [30, 12, 9],
            "used": [8, 20, 2],
        }
    )
    return alloc, supply, {c: "North East" for c in ("E06000001", "E06000002")}


def test_sufficiency_places_minus_children_by_hand(hex_geometry: MapGeometry) -> None:
    alloc, supply, rccs = _tiny()
    settings = settings_for(hex_geometry, public=False)
    parsed = parse_map(render_html(sufficiency_map(alloc, supply, rccs, settings=settings)))
    names = [layer.name for layer in parsed.layers.values() if layer.base]
    assert names[0] == "Sufficiency: All settings" and "Sufficiency: Secure" in names
    layer = parsed.layers["Sufficiency: All settings"]
    hart = next(f["properties"] for f in layer.features if f["id"] == "E06000001")
    boro = next(f["properties"] for f in layer.features if f["id"] == "E06000002")
    assert (hart["foster_places"], hart["foster_children"], hart["foster_gap"]) == (
        "30",
        "8",
        "+22",
    )
    assert (hart["secure_places"], hart["secure_gap"]) == ("0", "-2")
    assert (boro["foster_gap"], boro["secure_gap"], boro["all_gap"]) == ("-8", "+9", "+1")
    # a shortfall and a surplus land on opposite ends of the diverging scale
    secure = parsed.layers["Sufficiency: Secure"].styles
    assert secure["E06000001"]["fillColor"] == "#b35806"
    assert secure["E06000002"]["fillColor"] == "#542788"


def test_sufficiency_suppresses_small_gaps_in_public(hex_geometry: MapGeometry) -> None:
    alloc, supply, rccs = _tiny()
    parsed = parse_map(
        render_html(sufficiency_map(alloc, supply, rccs, settings=settings_for(hex_geometry)))
    )
    layer = parsed.layers["Sufficiency: All settings"]
    boro = next(f["properties"] for f in layer.features if f["id"] == "E06000002")
    assert boro["all_gap"] == "c"  # +1 would be a small number
    assert "c" in (boro["all_places"], boro["all_children"])  # else the gap is recoverable
    hart = next(f["properties"] for f in layer.features if f["id"] == "E06000001")
    assert hart["secure_children"] == "c" and hart["secure_gap"] == "c"


def test_sufficiency_per_rcc_and_unplaced_circles(
    allocation: pd.DataFrame,
    lookup: dict[str, str],
    supply: pd.DataFrame,
    hex_geometry: MapGeometry,
) -> None:
    settings = settings_for(hex_geometry, public=False)
    m = sufficiency_map(allocation, supply, lookup, settings=settings, level="rcc")
    parsed = parse_map(render_html(m))
    layer = parsed.layers["Sufficiency: All settings"]
    assert len(layer.features) == len(set(lookup.values()))
    circles = parsed.layers["Unplaced children by RCC"].features
    a = clean_allocation(allocation)
    expected = a.loc[~a["placed"], "home_la"].map(lookup).value_counts()
    assert {f["id"]: int(f["properties"]["unplaced"]) for f in circles} == expected.to_dict()
    styles = parsed.layers["Unplaced children by RCC"].styles.values()
    assert all(s["fill"] for s in styles), "folium's circle markers are hollow by default"


def test_plan_markers_with_popups(
    allocation: pd.DataFrame,
    lookup: dict[str, str],
    supply: pd.DataFrame,
    hex_geometry: MapGeometry,
) -> None:
    settings = settings_for(hex_geometry, public=False)
    m = plan_map(allocation, supply, lookup, plan_actions_for(lookup), settings=settings)
    parsed = parse_map(render_html(m))
    homes = parsed.layers["Plan: open home"]
    foster = parsed.layers["Plan: recruit foster"]
    assert [f["geometry"]["type"] for f in homes.features] == ["Point"]
    assert homes.popup[:2] == ["action", "la"] and "places" in homes.popup
    props = foster.features[0]["properties"]
    assert props["units"] == "42" and props["years"] == "2027" and props["opens"] == "2028"
    assert props["la"] == "Hartlepool (E06000001)" and props["capital"] == "£0"
    assert homes.features[0]["properties"]["capital"] == "£1,500,000"
    assert all(s["fill"] for s in homes.styles.values())  # the legend's colour, not a ring
    assert "Sufficiency plan" in parsed.panels["rcc-title"]


# ---------------------------------------------------------------- inputs
def test_missing_column_is_named(lookup: dict[str, str], hex_geometry: MapGeometry) -> None:
    alloc = random_allocation(scale=0.01).drop(columns=["over_20_miles"])
    with pytest.raises(MapInputError, match=r"missing column.*over_20_miles"):
        out_of_area_map(alloc, lookup, settings=settings_for(hex_geometry))


def test_bad_flag_names_row_and_column(lookup: dict[str, str], hex_geometry: MapGeometry) -> None:
    alloc = random_allocation(scale=0.01).astype({"out_of_la": object})
    alloc.loc[3, "out_of_la"] = "maybe"
    with pytest.raises(MapInputError, match="row 5, column out_of_la: 'maybe'"):
        out_of_area_map(alloc, lookup, settings=settings_for(hex_geometry))


def test_plan_kind_needs_plan_actions(
    allocation: pd.DataFrame, lookup: dict[str, str], supply: pd.DataFrame
) -> None:
    inputs = MapInputs(allocation=allocation, supply=supply, rccs=lookup)
    with pytest.raises(MapInputError, match="plan_actions"):
        build_map("plan", inputs, settings=MapSettings())


def test_children_outside_the_lookup_are_noted_not_dropped(hex_geometry: MapGeometry) -> None:
    alloc, supply, _ = _tiny()
    partial = {"E06000001": "North East"}
    m = sufficiency_map(alloc, supply, partial, settings=settings_for(hex_geometry), level="rcc")
    note = parse_map(render_html(m)).panels["rcc-note"]
    assert "missing from the RCC lookup: E06000002" in note
