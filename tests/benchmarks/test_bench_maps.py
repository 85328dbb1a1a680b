"""Benchmark: national maps, real boundaries and hex, against folium's plain recipe.

84,000 seeded children over the 153 LAs; build time and HTML size of every kind, with ratios
against four folium.Choropleth layers of the raw boundaries with CDN assets, measured in the same
run. Targets (issue 7): national out-of-area map with real boundaries under 3 MB and built in
under 5 s; hex map under 1 MB. Run with `make bench`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pytest
from test_maps import plan_actions_for, random_allocation, supply_for

from geodata.boundaries import read_boundaries
from geodata.rcc import default_lookup
from maps import (
    MapGeometry,
    MapSettings,
    flows_map,
    out_of_area_map,
    plan_map,
    rcc_map,
    render_html,
    sufficiency_map,
)
from maps.out_of_area import METRICS, la_counts


def _timed(build: Callable[[], str]) -> tuple[float, int]:
    start = time.perf_counter()
    html = build()
    return time.perf_counter() - start, len(html.encode())


def _folium_recipe(allocation: Any, boundaries: gpd.GeoDataFrame) -> str:
    """What a first attempt looks like: four folium choropleths of the raw boundaries."""
    counts = la_counts(allocation)
    m = folium.Map(location=[52.8, -1.6], zoom_start=6, tiles=None)
    for metric, label in METRICS:
        share = (counts[metric] / counts["placed"]).rename("share").reset_index()
        data = boundaries.merge(share, left_on="code", right_on="home_la", how="left")
        folium.Choropleth(
            geo_data=data.__geo_interface__,
            data=share,
            columns=["home_la", "share"],
            key_on="feature.properties.code",
            fill_color="YlGnBu",
            name=label,
            overlay=False,
        ).add_to(m)
    folium.LayerControl().add_to(m)
    return str(m.get_root().render())


@pytest.mark.slow
def test_bench_national_maps(shared_file: Callable[[str], Path]) -> None:
    path = shared_file("geodata/england_utla.geojson")
    start = time.perf_counter()
    allocation = random_allocation(seed=1, scale=1.0)
    print(f"\n{len(allocation):,} children generated in {time.perf_counter() - start:.1f} s")
    lookup = default_lookup()
    supply = supply_for(allocation)
    plan = plan_actions_for(lookup)

    start = time.perf_counter()
    raw = read_boundaries(path).gdf
    real = MapGeometry.from_boundaries(raw)
    geometry_seconds = time.perf_counter() - start
    hexes = MapGeometry.hex()
    print(f"real boundaries read and simplified in {geometry_seconds:.2f} s")

    naive_seconds, naive_bytes = _timed(lambda: _folium_recipe(allocation, raw))
    rows = []
    for name, geometry in (("real", real), ("hex", hexes)):
        s = MapSettings(scenario="bench", date="2026-11-25", geometry=geometry)
        kinds: dict[str, Callable[[], folium.Map]] = {
            "out-of-area": lambda s=s: out_of_area_map(allocation, lookup, settings=s),
            "flows": lambda s=s: flows_map(allocation, lookup, settings=s),
            "flows --la": lambda s=s: flows_map(allocation, lookup, settings=s, la="E08000025"),
            "rccs": lambda s=s: rcc_map(allocation, supply, lookup, settings=s),
            "sufficiency": lambda s=s: sufficiency_map(allocation, supply, lookup, settings=s),
            "plan": lambda s=s: plan_map(allocation, supply, lookup, plan, settings=s),
        }
        for kind, build in kinds.items():
            seconds, size = _timed(lambda b=build: render_html(b()))  # type: ignore[misc]
            rows.append((kind, name, seconds, size))

    print(
        f"{'map':<14}{'geometry':<10}{'build s':>9}{'MB':>8}"
        f"{'x recipe time':>15}{'x recipe size':>15}"
    )
    print(
        f"{'out-of-area':<14}{'recipe':<10}{naive_seconds:>9.2f}{naive_bytes / 1e6:>8.2f}"
        f"{1.0:>15.2f}{1.0:>15.2f}   (folium.Choropleth x4, raw boundaries, CDN)"
    )
    for kind, name, seconds, size in rows:
        print(
            f"{kind:<14}{name:<10}{seconds:>9.2f}{size / 1e6:>8.2f}"
            f"{seconds / naive_seconds:>15.2f}{size / naive_bytes:>15.2f}"
        )
    national = next(r for r in rows if r[0] == "out-of-area" and r[1] == "real")
    hex_map = next(r for r in rows if r[0] == "out-of-area" and r[1] == "hex")
    print(
        f"targets: real out-of-area {national[3] / 1e6:.2f} MB (< 3), "
        f"{national[2] + geometry_seconds:.2f} s incl. boundaries (< 5); "
        f"hex {hex_map[3] / 1e6:.2f} MB (< 1)"
    )
    assert national[3] < 3_000_000
    assert hex_map[3] < 1_000_000
