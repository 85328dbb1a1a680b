"""Adjacency from supplied boundaries (rook, shared border length) and from the shipped facts."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from geodata.adjacency import (
    adjacency_graph,
    borders_from_boundaries,
    components,
    graph_from_boundaries,
    is_contiguous,
    land_borders,
)
from geodata.boundaries import read_boundaries


def squares() -> gpd.GeoDataFrame:
    # A B in a row sharing a 10 km edge; C touches B only at a corner; D far away.
    return gpd.GeoDataFrame(
        {"code": ["A", "B", "C", "D"]},
        geometry=[
            box(400_000, 300_000, 410_000, 310_000),
            box(410_000, 300_000, 420_000, 310_000),
            box(420_000, 310_000, 430_000, 320_000),
            box(500_000, 300_000, 510_000, 310_000),
        ],
        crs="EPSG:27700",
    )


def test_rook_borders_with_lengths_on_hand_made_squares() -> None:
    borders = borders_from_boundaries(squares())
    assert borders.to_dict("records") == [{"code_a": "A", "code_b": "B", "shared_border_km": 10.0}]
    assert borders_from_boundaries(squares(), min_km=10.0).empty
    # The same squares in lon/lat give the same answer: lengths are measured in BNG.
    assert borders_from_boundaries(squares().to_crs("EPSG:4326"))["shared_border_km"].iloc[
        0
    ] == pytest.approx(10.0, rel=1e-6)


def test_graph_from_boundaries_keeps_isolated_las() -> None:
    graph = graph_from_boundaries(squares(), water=False, islands=False)
    assert graph == {
        "A": frozenset({"B"}),
        "B": frozenset({"A"}),
        "C": frozenset(),
        "D": frozenset(),
    }
    assert components(["A", "B", "C"], graph) == [["A", "B"], ["C"]]


def test_borders_need_codes_and_crs() -> None:
    with pytest.raises(ValueError, match="'code' column"):
        borders_from_boundaries(squares().rename(columns={"code": "x"}))
    with pytest.raises(ValueError, match="no CRS"):
        borders_from_boundaries(squares().set_crs(None, allow_override=True))


def test_borders_from_the_real_file_equal_the_shipped_facts(shared_file) -> None:  # type: ignore[no-untyped-def]
    path: Path = shared_file("geodata/england_utla.geojson")
    computed = borders_from_boundaries(read_boundaries(path).gdf)
    shipped = land_borders()
    merged = computed.merge(shipped, on=["code_a", "code_b"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all() and len(merged) == 362
    diff = (merged["shared_border_km_x"] - merged["shared_border_km_y"]).abs()
    assert diff.max() <= 0.002


def test_shipped_graph_links_islands_only_when_asked() -> None:
    wight, hampshire = "E06000046", "E10000014"
    assert wight not in adjacency_graph(water=False, islands=False)
    assert hampshire in adjacency_graph()[wight]  # across the Solent
    assert is_contiguous(["E06000052", "E06000053"], adjacency_graph())
    assert not is_contiguous(["E06000052", "E06000053"], adjacency_graph(islands=False))
    assert not is_contiguous([], adjacency_graph())
