"""The offline hex map: 153 non-overlapping cells over England, reproducible from OR-Tools."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from geodata.adjacency import land_borders
from geodata.boundaries import dissolve_rccs
from geodata.england import load_england
from geodata.hexmap import (
    cell_xy,
    hex_centres,
    hex_polygons,
    load_layout,
    neighbour_retention,
    touching_pairs,
    validate_layout,
)
from geodata.rcc import default_lookup
from optimiser.hexlayout import assign_cells, compute_layout, direction_kept


def test_shipped_layout_has_every_la_once_on_distinct_cells() -> None:
    layout = load_layout()
    assert list(layout.columns) == ["code", "col", "row"]
    assert list(layout["code"]) == list(load_england().codes)
    assert not layout[["col", "row"]].duplicated().any()
    # Shifted to the origin; rows only by an even number, which keeps odd-r parity.
    assert layout["row"].min() in (0, 1) and layout["col"].min() == 0


def test_hex_polygons_are_153_non_overlapping_cells_over_england() -> None:
    hexes = hex_polygons()
    assert list(hexes.columns) == ["code", "name", "geometry"]
    assert len(hexes) == 153 and hexes["code"].is_unique
    assert str(hexes.crs) == "EPSG:4326"
    assert hexes.is_valid.all() and (hexes.geom_type == "Polygon").all()
    assert hexes.loc[hexes["code"] == "E08000003", "name"].iloc[0] == "Manchester"
    bng = hexes.to_crs("EPSG:27700")
    # No overlap: the union has the summed area, and no pair overlaps (touching is allowed).
    assert bng.union_all().area == pytest.approx(bng.area.sum(), rel=1e-9)
    left, right = bng.sindex.query(bng.geometry, predicate="overlaps")
    assert len(left) == len(right) == 0
    areas = bng.area.to_numpy()
    assert areas.max() / areas.min() < 1.01  # one size of cell
    x0, y0, x1, y1 = hexes.total_bounds
    assert -6.6 < x0 < x1 < 1.9 and 49.8 < y0 < y1 < 55.9


def test_neighbouring_cells_share_vertices_so_rccs_dissolve_cleanly() -> None:
    hexes = hex_polygons()
    lookup = default_lookup()
    rccs = dissolve_rccs(hexes, lookup)
    assert len(rccs) == len(set(lookup.values()))
    assert rccs.is_valid.all()
    # Touching pairs of hexagons in the geometry are exactly the touching pairs of the layout.
    bng = hexes.to_crs("EPSG:27700")
    left, right = bng.sindex.query(bng.geometry, predicate="touches")
    codes = hexes["code"].to_numpy()
    edges = {
        tuple(sorted((str(codes[a]), str(codes[b]))))
        for a, b in zip(left, right, strict=True)
        if bng.geometry.iloc[a].intersection(bng.geometry.iloc[b]).length > 1.0
    }
    assert edges == touching_pairs(load_layout())


def test_hex_centres_sit_inside_their_hexagons() -> None:
    hexes = hex_polygons().to_crs("EPSG:27700")
    centres = hex_centres()
    assert list(centres["code"]) == list(hexes["code"])
    for geom, (east, north) in zip(
        hexes.geometry, centres[["easting", "northing"]].to_numpy(), strict=True
    ):
        assert geom.centroid.distance(Point(east, north)) < 1.0


def test_neighbour_retention_of_shipped_layout_is_at_least_70_percent() -> None:
    assert neighbour_retention() >= 0.70


def test_touching_pairs_on_a_hand_made_layout() -> None:
    # Odd-r: (0,1) sits half a cell east, so it touches (0,0) and (1,0); (0,2) touches (0,1) only.
    layout = pd.DataFrame({"code": ["A", "B", "C", "D"], "col": [0, 1, 0, 0], "row": [0, 0, 1, 2]})
    assert touching_pairs(layout) == {("A", "B"), ("A", "C"), ("B", "C"), ("C", "D")}
    assert neighbour_retention(layout, pairs=[("A", "D"), ("B", "C")]) == 0.5
    x, y = cell_xy([0, 0], [0, 1])
    assert np.hypot(x[1] - x[0], y[1] - y[0]) == pytest.approx(1.0)


def test_validate_layout_names_every_problem() -> None:
    layout = load_layout()
    bad = layout.copy()
    bad.loc[0, "code"] = "E06999999"
    bad.loc[2, ["col", "row"]] = bad.loc[1, ["col", "row"]].to_numpy()
    with pytest.raises(ValueError) as err:
        validate_layout(bad, source="my.csv")
    text = str(err.value)
    assert "my.csv row 2, column code" in text
    assert "E06000001" in text  # Hartlepool now has no cell
    assert "share cells" in text


def test_assign_cells_is_the_optimal_assignment_on_a_tiny_case() -> None:
    # Two points both nearest cell 0; cell 1 is close to the second: optimum sends it there.
    points = np.array([[0.0, 0.0], [0.6, 0.0]])
    centres = np.array([[0.1, 0.0], [1.0, 0.0], [5.0, 5.0]])
    assert list(assign_cells(points, centres, radius=2.0)) == [0, 1]


def test_regenerating_the_layout_reproduces_the_shipped_file() -> None:
    result = compute_layout()
    pd.testing.assert_frame_equal(result.layout, load_layout())
    assert result.retention == pytest.approx(neighbour_retention())
    assert result.retention >= result.retention_assignment
    assert result.direction_kept == direction_kept(load_layout()) >= 0.8
    assert result.pairs == len(land_borders())
    assert "land-border pairs touching" in result.summary()
