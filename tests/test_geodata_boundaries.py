"""Reading and matching LA boundary files: the real 2024 file and damaged or older variants."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Polygon, box

from geodata.boundaries import (
    BoundaryError,
    detect_code_column,
    dissolve_rccs,
    read_boundaries,
)
from geodata.england import load_england
from geodata.rcc import default_lookup

HARTLEPOOL = "E06000001"


@pytest.fixture(scope="module")
def utla(shared_file) -> Path:
    return shared_file("geodata/england_utla.geojson")


@pytest.fixture()
def frame(utla: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(utla)


def write(gdf: gpd.GeoDataFrame, path: Path, **kwargs: object) -> Path:
    gdf.to_file(path, **kwargs)
    return path


def test_shared_file_matches_all_153(utla: Path) -> None:
    match = read_boundaries(utla)
    report = match.report
    assert report.complete
    assert report.code_column == "code"
    assert report.crs == "EPSG:4326"
    assert len(match.gdf) == 153
    assert list(match.gdf.columns) == ["code", "name", "geometry"]
    assert list(match.gdf["code"]) == list(load_england().codes)
    assert match.gdf.is_valid.all()
    assert str(match.gdf.crs) == "EPSG:4326"
    # Areas in British National Grid: England is 130,481 km2 in this clipped file.
    assert match.bng.area.sum() / 1e6 == pytest.approx(130_481, rel=1e-3)
    assert "matched 153 of 153 LAs" in str(match)
    assert "OK: all LAs matched" in str(match)


def test_dissolve_default_rccs_is_valid_and_keeps_area(utla: Path) -> None:
    match = read_boundaries(utla)
    lookup = default_lookup()
    rccs = dissolve_rccs(match.gdf, lookup)
    assert list(rccs.columns) == ["rcc", "geometry"]
    assert sorted(rccs["rcc"]) == sorted(set(lookup.values()))
    assert rccs.is_valid.all()
    assert set(rccs.geom_type) <= {"Polygon", "MultiPolygon"}
    total = rccs.to_crs("EPSG:27700").area.sum()
    assert total == pytest.approx(match.bng.area.sum(), rel=1e-6)
    # Greater Manchester is a single piece of land.
    gm = rccs.loc[rccs["rcc"] == "North West: Greater Manchester", "geometry"].iloc[0]
    assert gm.geom_type == "Polygon"


def test_dissolve_names_las_without_an_rcc(utla: Path) -> None:
    gdf = read_boundaries(utla).gdf
    lookup = default_lookup()
    del lookup[HARTLEPOOL]
    with pytest.raises(ValueError, match=HARTLEPOOL):
        dissolve_rccs(gdf, lookup)


def test_older_vintage_is_reported(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    # A 2022 file: Cumbria instead of Cumberland + Westmorland and Furness, old Somerset.
    old = frame[~frame["code"].isin(["E06000063", "E06000064"])].copy()
    cumbria = frame[frame["code"].isin(["E06000063", "E06000064"])].union_all()
    old = gpd.GeoDataFrame(
        [*old.to_dict("records"), {"code": "E10000006", "name": "Cumbria", "geometry": cumbria}],
        crs=frame.crs,
    )
    old.loc[old["code"] == "E06000066", "code"] = "E10000027"
    path = write(old.rename(columns={"code": "CTYUA22CD"}), tmp_path / "ctyua22.geojson")
    match = read_boundaries(path)
    report = match.report
    assert report.code_column == "CTYUA22CD"
    assert not report.complete
    assert report.old_vintage == ("E10000006", "E10000027")
    assert set(report.missing) == {"E06000063", "E06000064", "E06000066"}
    assert len(match.gdf) == 150
    text = str(report)
    assert "OLDER VINTAGE" in text
    assert "Cumbria" in text and "Cumberland (E06000063)" in text
    assert "predates April 2023" in text
    assert "INCOMPLETE" in text


def test_damaged_file_is_repaired_and_reported(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    damaged = frame.copy()
    x0, y0, x1, y1 = damaged.loc[damaged["code"] == HARTLEPOOL].total_bounds
    # A bow-tie: self-intersecting, so invalid; make_valid turns it into two triangles.
    bowtie = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    damaged.loc[damaged["code"] == HARTLEPOOL, "geometry"] = bowtie
    extras = gpd.GeoDataFrame(
        {
            "code": ["E06000002", "E06999999", "W06000001", "E07000008"],
            "name": ["Middlesbrough again", "Nowhere", "Isle of Anglesey", "Cambridge"],
        },
        geometry=[box(-1.25, 54.55, -1.2, 54.56)] * 4,
        crs=frame.crs,
    )
    damaged = gpd.GeoDataFrame(
        [*damaged.to_dict("records"), *extras.to_dict("records")], crs=frame.crs
    )
    damaged.loc[damaged["code"] == "E09000001", "geometry"] = None  # City of London
    path = write(damaged, tmp_path / "damaged.geojson")
    match = read_boundaries(path)
    report = match.report
    assert report.repaired == (HARTLEPOOL,)
    assert report.duplicates == ("E06000002",)
    assert report.unknown == ("E06999999",)
    assert report.outside_england == 1
    assert report.district_codes == 1
    assert report.empty == ("E09000001",)
    assert report.missing == ("E09000001",)
    assert len(match.gdf) == 152
    assert match.gdf.is_valid.all()
    assert match.gdf["code"].is_unique
    text = str(report)
    for phrase in ("repaired invalid geometry", "merged into one", "E06999999", "lower-tier"):
        assert phrase in text


def test_recoded_2025_codes_map_to_2024(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    recoded = frame.copy()
    recoded["code"] = recoded["code"].replace({"E08000016": "E08000038", "E08000019": "E08000039"})
    match = read_boundaries(write(recoded, tmp_path / "ctyua25.geojson"))
    assert match.report.complete
    assert match.report.recoded == ("E08000038", "E08000039")


def test_geopackage_in_bng_is_reprojected(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    bng = frame.to_crs("EPSG:27700").rename(columns={"code": "CTYUA24CD", "name": "CTYUA24NM"})
    path = write(bng, tmp_path / "b.gpkg", layer="ctyua", driver="GPKG")
    match = read_boundaries(path)
    assert match.report.complete
    assert match.report.crs == "EPSG:27700"
    assert match.report.code_column == "CTYUA24CD"
    assert str(match.gdf.crs) == "EPSG:4326"
    x0, y0, x1, y1 = match.gdf.total_bounds
    assert -6.5 < x0 < x1 < 1.9 and 49.8 < y0 < y1 < 55.9


def test_zipped_shapefile_without_crs_is_placed_by_its_coordinates(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    bng = frame.to_crs("EPSG:27700").rename(columns={"code": "LA_GSS"})
    write(bng, shp_dir / "utla.shp")
    (shp_dir / "utla.prj").unlink()  # no CRS in the file
    archive = tmp_path / "utla.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in shp_dir.iterdir():
            zf.write(part, part.name)
    match = read_boundaries(archive)
    assert match.report.complete
    assert match.report.code_column == "LA_GSS"  # found by its values, not its name
    assert match.report.crs_assumed and match.report.crs == "EPSG:27700"
    assert "assumed" in str(match.report)
    assert match.bng.area.sum() / 1e6 == pytest.approx(130_481, rel=1e-3)


def test_explicit_code_column(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    two = frame.assign(other=frame["code"])
    path = write(two, tmp_path / "two.geojson")
    assert read_boundaries(path, code_column="other").report.code_column == "other"
    with pytest.raises(BoundaryError, match="no column 'nope'"):
        read_boundaries(path, code_column="nope")


def test_unusable_files_raise_clear_errors(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    with pytest.raises(BoundaryError, match="no such file"):
        read_boundaries(tmp_path / "absent.geojson")
    garbage = tmp_path / "garbage.geojson"
    garbage.write_text("this is not geojson")
    with pytest.raises(BoundaryError, match="cannot read it"):
        read_boundaries(garbage)
    no_codes = write(frame.assign(code="x"), tmp_path / "nocodes.geojson")
    with pytest.raises(BoundaryError, match="no column holds English upper-tier LA codes"):
        read_boundaries(no_codes)
    all_old = frame.head(2).assign(code=["E10000006", "E99999999"])
    with pytest.raises(BoundaryError, match="older vintage"):
        read_boundaries(write(all_old, tmp_path / "old.geojson"))


def test_bng_metres_said_to_be_lon_lat_are_refused(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    """A GeoJSON in British National Grid metres without a `crs` member (read as EPSG:4326)
    was reported "OK" and drawn off the map."""
    path = tmp_path / "bng.geojson"
    data = json.loads(frame.to_crs("EPSG:27700").to_json())
    data.pop("crs", None)
    path.write_text(json.dumps(data))
    with pytest.raises(BoundaryError, match=r"bng.geojson: the file looks like British National"):
        read_boundaries(path)


def test_swapped_longitude_and_latitude_are_refused(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    """A file with latitude and longitude swapped was reported "OK: all LAs matched"."""
    swapped = frame.assign(geometry=shapely.transform(frame.geometry, lambda xy: xy[:, ::-1]))
    with pytest.raises(BoundaryError, match=r"153 of 153 LA polygons .* look swapped") as info:
        read_boundaries(write(swapped, tmp_path / "swapped.geojson"))
    assert "swapped.geojson" in str(info.value)


def test_an_la_in_the_wrong_place_is_named_and_counted_missing(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    """Hartlepool moved into France, or replaced by an invalid bow-tie at (0, 0), passed as
    matched; now each is named as not where the LA is (and the bow-tie also as repaired)."""
    is_hartlepool = frame["code"] == HARTLEPOOL
    moved = frame.copy()
    moved.loc[is_hartlepool, "geometry"] = moved.loc[is_hartlepool].translate(5, -5)
    bowtie = frame.copy()
    bowtie.loc[is_hartlepool, "geometry"] = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    for name, damaged, repaired in (("moved", moved, ()), ("bowtie", bowtie, (HARTLEPOOL,))):
        match = read_boundaries(write(damaged, tmp_path / f"{name}.geojson"))
        assert match.report.misplaced == (HARTLEPOOL,)
        assert match.report.repaired == repaired
        assert match.report.missing == (HARTLEPOOL,) and not match.report.complete
        assert HARTLEPOOL not in set(match.gdf["code"])
        assert "not where the LA is" in str(match.report)


def test_files_without_usable_features_say_what_is_wrong(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    """An empty FeatureCollection said "columns are ." without the file's name; point or null
    geometries were blamed on the codes ("none of the 153 feature(s) ... is one of")."""
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(BoundaryError, match=r"empty.geojson: the file has no features"):
        read_boundaries(empty)
    points = frame.assign(geometry=frame.geometry.representative_point())
    with pytest.raises(BoundaryError, match=r"points.geojson: .*153 Point.* must be polygons"):
        read_boundaries(write(points, tmp_path / "points.geojson"))
    nulls = frame.assign(geometry=None)
    with pytest.raises(BoundaryError, match=r"nulls.geojson: none of its 153 feature.s. has a ge"):
        read_boundaries(write(nulls, tmp_path / "nulls.geojson"))
    no_codes = write(frame.assign(code="x"), tmp_path / "nocodes.geojson")
    with pytest.raises(BoundaryError, match=r"nocodes.geojson: no column holds"):
        read_boundaries(no_codes)


def test_detect_code_column_prefers_known_names() -> None:
    frame = gpd.GeoDataFrame(
        {"OBJECTID": [1, 2], "UTLA23CD": ["E06000001", "E06000002"], "x": ["E06000001", "a"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
    )
    assert detect_code_column(frame) == "UTLA23CD"


def test_cli_check_prints_the_report(utla: Path, frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["geodata", "check", str(utla)])
    assert ok.exit_code == 0
    assert "matched 153 of 153 LAs" in ok.output
    old = frame.assign(code=frame["code"].replace({"E06000066": "E10000027"}))
    old = old.rename(columns={"code": "UTLA22CD"})
    path = write(old, tmp_path / "old.geojson")
    bad = runner.invoke(app, ["geodata", "check", str(path), "--code-column", "UTLA22CD"])
    assert bad.exit_code == 1
    assert "OLDER VINTAGE" in bad.output and "Somerset County Council" in bad.output
    garbage = tmp_path / "x.geojson"
    garbage.write_text("nope")
    failed = runner.invoke(app, ["geodata", "check", str(garbage)])
    assert failed.exit_code == 1 and "cannot read it" in failed.output


def test_a_table_without_geometry_is_not_a_boundary_file(tmp_path: Path) -> None:
    """A CSV (or a folder of them) reads as a plain DataFrame: AttributeError on .geometry
    from rcc geodata check, rcc map --boundaries and rcc demo --boundaries."""
    from typer.testing import CliRunner

    from service.cli import app

    (tmp_path / "children.csv").write_text("child_id,home_la\nC1,E06000001\n")
    for path in (tmp_path / "children.csv", tmp_path):
        with pytest.raises(BoundaryError, match=r"has no geometry: not a boundary file"):
            read_boundaries(path)
    said = CliRunner().invoke(app, ["geodata", "check", str(tmp_path / "children.csv")])
    assert said.exit_code == 1 and isinstance(said.exception, SystemExit), said.output
    assert "children.csv has no geometry: not a boundary file" in " ".join(said.output.split())
