"""What maps draw on: LA polygons (hex layout or simplified boundaries), points, RCCs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata.boundaries import WGS84, dissolve_rccs, read_boundaries
from geodata.england import load_england

__all__ = ["DEFAULT_TOLERANCE", "MapGeometry", "load_geometry"]

# coverage_simplify tolerance in degrees: keeps shared edges shared and a national map of real
# boundaries to about 0.35 MB of coordinates per layer (measured on the ONS 200 m file).
DEFAULT_TOLERANCE = 0.005
_DECIMALS = 4  # about 10 m: far finer than the simplification


def _rounded(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.round(xy, _DECIMALS))


@dataclass(frozen=True)
class MapGeometry:
    """LA polygons (`code`, `name`, `geometry` in EPSG:4326) and a point per LA (`code`,
    `lat`, `lon`): `kind` says whether they are the hex layout or real boundaries."""

    polygons: gpd.GeoDataFrame
    points: pd.DataFrame
    kind: Literal["hex", "boundaries"]

    @classmethod
    def hex(cls) -> MapGeometry:
        """The offline hex layout; points are the hexagons' centres so lines meet them."""
        from geodata.hexmap import hex_polygons

        gdf = hex_polygons()
        centres = shapely.centroid(gdf.geometry.to_numpy())
        points = pd.DataFrame(
            {
                "code": gdf["code"].to_numpy(),
                "lat": shapely.get_y(centres),
                "lon": shapely.get_x(centres),
            }
        )
        polygons = gpd.GeoDataFrame(
            {"code": gdf["code"].to_numpy(), "name": gdf["name"].to_numpy()},
            geometry=_rounded(gdf.geometry.to_numpy()),
            crs=WGS84,
        )
        return cls(polygons=polygons, points=points, kind="hex")

    @classmethod
    def from_boundaries(
        cls, gdf: gpd.GeoDataFrame, *, tolerance: float = DEFAULT_TOLERANCE
    ) -> MapGeometry:
        """Real boundaries (as `read_boundaries(...).gdf` gives them), simplified together so
        neighbours still meet; points are the embedded LA representative points."""
        missing = {"code", "name", "geometry"} - set(gdf.columns)
        if missing:
            raise ValueError(f"boundaries need columns code, name, geometry; missing {missing}")
        geoms = gdf.geometry.to_numpy()
        if tolerance > 0:
            geoms = shapely.coverage_simplify(geoms, tolerance)
        polygons = gpd.GeoDataFrame(
            {"code": gdf["code"].to_numpy(), "name": gdf["name"].to_numpy()},
            geometry=_rounded(geoms),
            crs=WGS84,
        )
        england = load_england()
        points = pd.DataFrame(
            [(la.code, la.lat, la.lon) for la in england.las], columns=["code", "lat", "lon"]
        )
        return cls(polygons=polygons, points=points, kind="boundaries")

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self.polygons["code"])

    def point(self, code: str) -> tuple[float, float]:
        """(lat, lon) of an LA's point; KeyError naming the code when it has none."""
        row = self.points.loc[self.points["code"] == code]
        if row.empty:
            raise KeyError(f"no map point for LA {code}")
        return float(row["lat"].iloc[0]), float(row["lon"].iloc[0])

    def point_lookup(self) -> dict[str, tuple[float, float]]:
        return {
            c: (float(la), float(lo))
            for c, la, lo in self.points[["code", "lat", "lon"]].itertuples(index=False)
        }

    def bounds(self, codes: set[str] | None = None) -> list[list[float]]:
        """[[south, west], [north, east]] of all polygons, or of those LAs only."""
        gdf = self.polygons if codes is None else self.polygons[self.polygons["code"].isin(codes)]
        if gdf.empty:
            gdf = self.polygons
        west, south, east, north = (float(v) for v in gdf.total_bounds)
        return [[south, west], [north, east]]

    def rcc_outlines(self, lookup: Mapping[str, str]) -> gpd.GeoDataFrame:
        """One (multi)polygon per RCC (`rcc`, `geometry`) from the LAs in the lookup."""
        known = self.polygons[self.polygons["code"].isin(list(lookup))]
        return dissolve_rccs(known, lookup)


def load_geometry(
    boundaries: str | Path | None = None, *, tolerance: float = DEFAULT_TOLERANCE
) -> MapGeometry:
    """Real boundaries from a file when given (simplified), else the offline hex layout."""
    if boundaries is None:
        return MapGeometry.hex()
    return MapGeometry.from_boundaries(read_boundaries(boundaries).gdf, tolerance=tolerance)
