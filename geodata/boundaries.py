"""LA boundary files: read GeoJSON/GeoPackage/zipped Shapefile, match to the 153 LAs, dissolve."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geodata.england import OLD_CODES, RECODED_2025, load_england

__all__ = [
    "BNG",
    "CODE_COLUMNS",
    "CODE_COLUMN_HINT",
    "OLD_CODES",
    "PLACE_TOLERANCE_M",
    "RECODED_2025",
    "WGS84",
    "BoundaryError",
    "BoundaryMatch",
    "MatchReport",
    "detect_code_column",
    "dissolve_rccs",
    "read_boundaries",
]

WGS84 = "EPSG:4326"  # for maps
BNG = "EPSG:27700"  # British National Grid, for lengths and areas

# Column names ONS and others use for the upper-tier LA code, most specific first.
CODE_COLUMNS: tuple[str, ...] = (
    "CTYUA24CD",
    "CTYUA23CD",
    "CTYUA22CD",
    "CTYUA21CD",
    "CTYUA20CD",
    "CTYUA19CD",
    "UTLA24CD",
    "UTLA23CD",
    "UTLA22CD",
    "UTLA21CD",
    "UTLA20CD",
    "UTLA19CD",
    "code",
    "areacd",
    "la_code",
    "gss_code",
    "GSS_CODE",
)

CODE_COLUMN_HINT = " Name it with --code-column."  # rcc geodata check, rcc map, rcc demo

# Upper-tier codes retired by the 2019-2023 reorganisations: code -> (old name, what replaced it).

_GSS = re.compile(r"^[ENSWK]\d{8}$")
_UPPER_TIER = re.compile(r"^E(06|08|09|10)\d{6}$")
# Longitude/latitude and British National Grid bounds that contain England.
_LONLAT_BOX = (-9.0, 49.0, 3.0, 61.0)
_BNG_BOX = (-1.0e5, -1.0e5, 8.0e5, 1.3e6)
# England itself (with the Isles of Scilly), longitude/latitude, with a small margin.
_ENGLAND_BOX = (-6.7, 49.7, 2.0, 56.0)
# An LA's polygon must contain its known point (embedded LA table) or lie this close to it.
PLACE_TOLERANCE_M = 5_000.0


class BoundaryError(ValueError):
    """A boundary file that cannot be used at all (unreadable, no code column, no LA in it)."""


@dataclass(frozen=True)
class MatchReport:
    """What matching a boundary file to the 153 LAs found, readable with `str()`."""

    source: str
    code_column: str
    crs: str
    crs_assumed: bool
    features: int
    matched: tuple[str, ...]
    missing: tuple[str, ...]
    unknown: tuple[str, ...]
    duplicates: tuple[str, ...]
    old_vintage: tuple[str, ...]
    recoded: tuple[str, ...]
    outside_england: int
    district_codes: int
    repaired: tuple[str, ...]
    empty: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    misplaced: tuple[str, ...] = field(default=())  # polygon away from the LA's known point

    @property
    def complete(self) -> bool:
        """All 153 LAs matched, each with a usable geometry."""
        return not self.missing and len(self.matched) == len(load_england())

    def __str__(self) -> str:
        england = load_england()

        def named(codes: tuple[str, ...]) -> str:
            return ", ".join(
                f"{c} ({england.by_code(c).name})" if c in england else c for c in codes
            )

        lines = [
            f"Boundary file: {self.source}",
            f"  {self.features} feature(s); LA code column '{self.code_column}'; "
            f"CRS {self.crs}{' (assumed: the file has none)' if self.crs_assumed else ''}",
            f"  matched {len(self.matched)} of {len(england)} LAs",
        ]
        if self.old_vintage:
            lines.append(
                "  OLDER VINTAGE: the file has codes retired by the 2019-2023 reorganisations; "
                "use a 2023 or later file (e.g. `rcc geodata fetch`):"
            )
            lines += [
                f"    - {c} {OLD_CODES[c][0]}, replaced in {OLD_CODES[c][1]}"
                for c in self.old_vintage
            ]
        if self.missing:
            lines.append(f"  missing {len(self.missing)} LA(s): {named(self.missing)}")
        if self.unknown:
            lines.append(
                f"  {len(self.unknown)} unknown English upper-tier code(s) ignored: "
                f"{', '.join(self.unknown)}"
            )
        if self.duplicates:
            lines.append(
                f"  {len(self.duplicates)} code(s) had several features, merged into one: "
                f"{named(self.duplicates)}"
            )
        if self.recoded:
            lines.append(
                "  2025 codes mapped to the 2024 codes used here: "
                + ", ".join(f"{c} -> {RECODED_2025[c]}" for c in self.recoded)
            )
        if self.repaired:
            lines.append(f"  repaired invalid geometry: {named(self.repaired)}")
        if self.empty:
            lines.append(f"  empty or non-polygon geometry (counted missing): {named(self.empty)}")
        if self.misplaced:
            lines.append(
                f"  not where the LA is (polygon more than {PLACE_TOLERANCE_M / 1000:g} km from "
                f"the LA's point; counted missing): {named(self.misplaced)}"
            )
        if self.outside_england:
            lines.append(f"  {self.outside_england} feature(s) outside England ignored")
        if self.district_codes:
            lines.append(
                f"  {self.district_codes} district code(s) (E07) ignored: this looks like a "
                "lower-tier file; children's services are upper-tier (counties and unitaries)"
            )
        lines += [f"  note: {n}" for n in self.notes]
        lines.append("  OK: all LAs matched" if self.complete else "  INCOMPLETE")
        return "\n".join(lines)


@dataclass(frozen=True)
class BoundaryMatch:
    """Boundaries matched to the LAs: `gdf` (code, name, geometry; EPSG:4326) and the report."""

    gdf: gpd.GeoDataFrame
    report: MatchReport

    @property
    def bng(self) -> gpd.GeoDataFrame:
        """The same boundaries in British National Grid metres, for lengths and areas."""
        return self.gdf.to_crs(BNG)

    def __str__(self) -> str:
        return str(self.report)


def detect_code_column(frame: pd.DataFrame) -> str:
    """The column holding upper-tier LA GSS codes: a known name, else one whose values look so."""
    columns = [c for c in frame.columns if c != frame_geometry_name(frame)]
    by_lower = {str(c).lower(): c for c in columns}
    for name in CODE_COLUMNS:
        if name.lower() in by_lower:
            col = by_lower[name.lower()]
            if _share_upper_tier(frame[col]) > 0:
                return str(col)
    best, best_share = None, 0.0
    for col in columns:
        share = _share_upper_tier(frame[col])
        if share > best_share:
            best, best_share = col, share
    if best is None:
        raise BoundaryError(
            "no column holds English upper-tier LA codes (E06/E08/E09/E10 followed by 6 digits); "
            f"columns are {', '.join(map(str, columns))}.{CODE_COLUMN_HINT}"
        )
    return str(best)


def frame_geometry_name(frame: pd.DataFrame) -> str | None:
    return frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None


def _share_upper_tier(values: pd.Series) -> float:
    text = values.dropna().astype(str).str.strip().str.upper()
    if text.empty:
        return 0.0
    return float(text.str.match(_UPPER_TIER.pattern).mean())


def _read_file(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    if not path.exists():
        raise BoundaryError(f"{path}: no such file")
    try:
        read = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as exc:  # pyogrio/GDAL raise several types for unreadable files
        raise BoundaryError(
            f"{path}: cannot read it as GeoJSON, GeoPackage or zipped Shapefile ({exc})"
        ) from exc
    if not isinstance(read, gpd.GeoDataFrame):  # a CSV or a folder of them: a plain table
        raise BoundaryError(
            f"{path} has no geometry: not a boundary file (GeoJSON, GeoPackage or zipped Shapefile)"
        )
    return read


def _within(bounds: Sequence[float], box: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = bounds
    return bool(x0 >= box[0] and y0 >= box[1] and x1 <= box[2] and y1 <= box[3])


def _set_crs(gdf: gpd.GeoDataFrame, source: str) -> tuple[gpd.GeoDataFrame, str, bool]:
    """Reproject to EPSG:4326; a file without a CRS is placed by its coordinate range.

    Returns the reprojected frame, the file's CRS and whether that CRS was assumed. A file
    that says longitude/latitude (as every GeoJSON without a `crs` member does) but holds
    British National Grid metres is refused: reprojecting it would put England off the map.
    """
    finite = gdf.geometry[~gdf.geometry.is_empty & gdf.geometry.notna()]
    if finite.empty:
        raise BoundaryError(f"{source}: none of its {len(gdf)} feature(s) has a geometry")
    bounds = finite.total_bounds
    x0, y0, x1, y1 = bounds
    span = f"({x0:.0f}, {y0:.0f}) to ({x1:.0f}, {y1:.0f})"
    if gdf.crs is not None:
        epsg = gdf.crs.to_epsg()
        name = f"EPSG:{epsg}" if epsg else gdf.crs.name
        degrees = _within(bounds, (-180.0, -90.0, 180.0, 90.0))
        if gdf.crs.is_geographic and not degrees and _within(bounds, _BNG_BOX):
            raise BoundaryError(
                f"{source}: the file looks like British National Grid metres without its CRS: "
                f"it says longitude/latitude ({name}) but its coordinates run {span}. Save it "
                "with its CRS (EPSG:27700), e.g. as a GeoPackage, or as longitude/latitude"
            )
        return gdf.to_crs(WGS84), name, False
    for crs, box in ((WGS84, _LONLAT_BOX), (BNG, _BNG_BOX)):
        if _within(bounds, box):
            return gdf.set_crs(crs).to_crs(WGS84), crs, True
    raise BoundaryError(
        f"{source}: the file has no CRS and its coordinates {span} are neither lon/lat nor "
        "British National Grid metres"
    )


def _distance_to_known_point(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Metres from each LA's polygon (`code`, geometry in EPSG:4326) to the LA's point in the
    embedded LA table (0 when the polygon contains it; inf when it cannot be projected)."""
    england = load_england()
    las = [england.by_code(c) for c in gdf["code"]]
    points = gpd.GeoSeries.from_xy([la.easting for la in las], [la.northing for la in las], crs=BNG)
    metres = gdf.geometry.to_crs(BNG).distance(points, align=False).to_numpy(dtype=float)
    return np.where(np.isfinite(metres), metres, np.inf)


def _not_in_england(source: str, crs: str, gdf: gpd.GeoDataFrame, far: int) -> BoundaryError:
    """The error for a file whose LAs are mostly away from their places: say where it lies."""
    x0, y0, x1, y1 = gdf.total_bounds
    hint = ""
    if _within((y0, x0, y1, x1), _ENGLAND_BOX):
        hint = "; longitude and latitude look swapped"
    elif not _within((x0, y0, x1, y1), _ENGLAND_BOX):
        hint = "; the coordinates are not in the CRS the file gives"
    e0, n0, e1, n1 = _ENGLAND_BOX
    return BoundaryError(
        f"{source}: {far} of {len(gdf)} LA polygons are not where their LA is (more than "
        f"{PLACE_TOLERANCE_M / 1000:g} km from its point), read in {crs}: the file spans "
        f"longitude {x0:.2f} to {x1:.2f}, latitude {y0:.2f} to {y1:.2f}; England lies within "
        f"longitude {e0} to {e1}, latitude {n0} to {n1}{hint}"
    )


def _polygonal(geom: BaseGeometry | None) -> BaseGeometry | None:
    """The polygonal part of a geometry (make_valid can return collections), None if none."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    if geom.geom_type == "GeometryCollection":
        parts = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        if parts:
            return shapely.union_all(parts)
    return None


def read_boundaries(
    path: str | Path, *, code_column: str | None = None, layer: str | None = None
) -> BoundaryMatch:
    """Read a boundary file and match its features to the 153 LAs.

    Raises `BoundaryError` when the file is unreadable, has no LA code column or no LA at all;
    everything else (missing LAs, old vintage, duplicates, repairs) goes into the report.
    """
    path = Path(path)
    source = str(path)
    raw = _read_file(path, layer)
    if raw.empty:
        raise BoundaryError(f"{source}: the file has no features")
    if code_column is not None and code_column not in raw.columns:
        raise BoundaryError(
            f"{source}: no column '{code_column}'; columns are "
            f"{', '.join(str(c) for c in raw.columns if c != raw.geometry.name)}"
        )
    try:
        column = code_column or detect_code_column(raw)
    except BoundaryError as exc:
        raise BoundaryError(f"{source}: {exc}") from None
    gdf, crs_in, crs_assumed = _set_crs(raw, source)
    england = load_england()
    codes = gdf[column].astype("string").str.strip().str.upper().fillna("")

    outside = int((~codes.str.startswith("E")).sum())
    districts = int(codes.str.match(r"^E07\d{6}$").sum())
    recoded = tuple(sorted(set(codes[codes.isin(list(RECODED_2025))])))
    codes = codes.replace(RECODED_2025)
    old = tuple(sorted(set(codes[codes.isin(list(OLD_CODES))])))
    upper = codes.str.match(_UPPER_TIER.pattern)
    known = codes.isin(list(england.codes))
    unknown = tuple(sorted(set(codes[upper & ~known & ~codes.isin(list(OLD_CODES))])))

    kept = gdf.loc[known, [gdf.geometry.name]].copy()
    kept["code"] = codes[known]
    counts = kept["code"].value_counts()
    duplicates = tuple(sorted(counts.index[counts > 1]))

    invalid = ~kept.geometry.is_valid & kept.geometry.notna() & ~kept.geometry.is_empty
    repaired = tuple(sorted(set(kept.loc[invalid, "code"])))
    geoms = kept.geometry.copy()
    geoms[invalid] = shapely.make_valid(geoms[invalid].to_numpy())
    kept = kept.set_geometry(gpd.GeoSeries([_polygonal(g) for g in geoms], index=kept.index))
    kept = kept.set_crs(WGS84, allow_override=True)
    good = kept.geometry.notna()
    empty = tuple(sorted(set(kept.loc[~good, "code"]) - set(kept.loc[good, "code"])))
    if known.any() and not good.any():
        kinds = gdf.loc[known].geometry.geom_type.fillna("no geometry").value_counts()
        raise BoundaryError(
            f"{source}: none of the {int(known.sum())} feature(s) with an LA code has a polygon "
            f"geometry ({', '.join(f'{n} {kind}' for kind, n in kinds.items())}); LA "
            "boundaries must be polygons or multipolygons"
        )
    kept = kept[good]
    if kept.empty:
        raise BoundaryError(
            f"{source}: none of the {len(gdf)} feature(s) in column '{column}' is one of the "
            f"{len(england)} English LA codes (GSS 2024)"
            + (f"; it has retired codes {', '.join(old)}: an older vintage" if old else "")
        )
    merged = kept.dissolve(by="code", as_index=False) if duplicates else kept
    order = {c: i for i, c in enumerate(england.codes)}
    merged = merged.assign(_order=merged["code"].map(order)).sort_values("_order")
    out = gpd.GeoDataFrame(
        {
            "code": merged["code"].to_numpy(),
            "name": [england.by_code(c).name for c in merged["code"]],
        },
        geometry=merged.geometry.to_numpy(),
        crs=WGS84,
    )
    metres = _distance_to_known_point(out)
    far = metres > PLACE_TOLERANCE_M
    if far.sum() > len(out) / 2:
        raise _not_in_england(source, crs_in, out, int(far.sum()))
    misplaced = tuple(out.loc[far, "code"])
    out = out[~far].reset_index(drop=True)
    matched = tuple(out["code"])
    missing = tuple(c for c in england.codes if c not in set(matched))
    notes = []
    if old and missing:
        notes.append(
            "the missing LAs are the successors of the retired codes above: this file predates "
            "April 2023"
        )
    report = MatchReport(
        source=source,
        code_column=str(column),
        crs=crs_in,
        crs_assumed=crs_assumed,
        features=len(gdf),
        matched=matched,
        missing=missing,
        unknown=unknown,
        duplicates=duplicates,
        old_vintage=old,
        recoded=recoded,
        outside_england=outside,
        district_codes=districts,
        repaired=repaired,
        empty=empty,
        notes=tuple(notes),
        misplaced=misplaced,
    )
    return BoundaryMatch(gdf=out, report=report)


def dissolve_rccs(gdf: gpd.GeoDataFrame, lookup: Mapping[str, str]) -> gpd.GeoDataFrame:
    """One polygon per RCC (`rcc`, `geometry`) from LA boundaries and an LA -> RCC lookup.

    Every LA in `gdf` must be in `lookup`; a `ValueError` names those that are not.
    """
    if "code" not in gdf.columns:
        raise ValueError("the boundaries need a 'code' column (use read_boundaries(...).gdf)")
    absent = sorted(set(gdf["code"]) - set(lookup))
    if absent:
        raise ValueError(
            f"{len(absent)} LA(s) in the boundaries have no RCC in the lookup: {', '.join(absent)}"
        )
    frame = gpd.GeoDataFrame(
        {"rcc": gdf["code"].map(lookup).to_numpy()}, geometry=gdf.geometry.to_numpy(), crs=gdf.crs
    )
    dissolved = frame.dissolve(by="rcc", as_index=False, sort=True)
    fixed = [_polygonal(g if g.is_valid else shapely.make_valid(g)) for g in dissolved.geometry]
    return gpd.GeoDataFrame(
        {"rcc": dissolved["rcc"].to_numpy()}, geometry=fixed, crs=gdf.crs
    ).reset_index(drop=True)
