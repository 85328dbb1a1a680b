"""The offline hex map: one hexagon per LA laid over England, for maps without boundary files."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer
from shapely.geometry import Polygon

from geodata.adjacency import land_borders
from geodata.england import load_england

__all__ = [
    "ENGLAND_BNG_BOUNDS",
    "LAYOUT_COLUMNS",
    "cell_xy",
    "hex_centres",
    "hex_polygons",
    "load_layout",
    "neighbour_retention",
    "touching_pairs",
    "validate_layout",
]

# Bounds of England (incl. Scilly and Berwick) in British National Grid metres, from the ONS
# boundaries: min easting, min northing, max easting, max northing.
ENGLAND_BNG_BOUNDS = (83_753.0, 5_557.0, 655_510.0, 657_533.0)

# hex_layout.csv: pointy-top hexagons in "odd-r" offset coordinates. `row` 0 is the south;
# odd rows sit half a cell east. Neighbouring centres are 1 cell apart.
LAYOUT_COLUMNS = ("code", "col", "row")
_ROW_HEIGHT = np.sqrt(3.0) / 2.0
_CIRCUMRADIUS = 1.0 / np.sqrt(3.0)


def cell_xy(col: ArrayLike, row: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Centres of odd-r cells in cell units (x east, y north; neighbours 1 apart)."""
    c = np.asarray(col, dtype=np.int64)
    r = np.asarray(row, dtype=np.int64)
    return c + 0.5 * (r % 2), r * _ROW_HEIGHT


def validate_layout(layout: pd.DataFrame, *, source: str = "hex layout") -> pd.DataFrame:
    """Check a layout has every LA exactly once on distinct cells; return it ordered by LA."""
    missing_cols = [c for c in LAYOUT_COLUMNS if c not in layout.columns]
    if missing_cols:
        raise ValueError(f"{source}: missing column(s) {', '.join(missing_cols)}")
    england = load_england()
    problems = []
    for i, code in enumerate(layout["code"], start=2):
        if code not in england:
            problems.append(f"{source} row {i}, column code: {england.unknown_code_message(code)}")
    dup = layout["code"][layout["code"].duplicated()]
    problems += [f"{source}: LA {c} appears more than once" for c in sorted(set(dup))]
    missing = sorted(set(england.codes) - set(layout["code"]))
    if missing:
        problems.append(f"{source}: {len(missing)} LA(s) have no cell: {', '.join(missing)}")
    cells = layout[["col", "row"]].astype(int)
    shared = cells[cells.duplicated(keep=False)]
    if not shared.empty:
        problems.append(
            f"{source}: {len(shared)} LAs share cells: {sorted(set(map(tuple, shared.to_numpy())))}"
        )
    if problems:
        raise ValueError("\n".join(problems))
    order = {c: i for i, c in enumerate(england.codes)}
    out = layout.assign(col=cells["col"], row=cells["row"]).loc[:, list(LAYOUT_COLUMNS)]
    return out.sort_values("code", key=lambda s: s.map(order)).reset_index(drop=True)


@cache
def _shipped_layout() -> pd.DataFrame:
    with resources.files("geodata").joinpath("data/hex_layout.csv").open("rb") as fh:
        frame = pd.read_csv(fh, dtype={"code": str, "col": int, "row": int})
    return validate_layout(frame, source="hex_layout.csv")


def load_layout() -> pd.DataFrame:
    """The shipped layout (computed by `optimiser.hexlayout`): `code, col, row`, 153 rows."""
    return _shipped_layout().copy()


def touching_pairs(layout: pd.DataFrame) -> set[tuple[str, str]]:
    """Unordered LA pairs (sorted codes) whose hexagons share an edge."""
    x, y = cell_xy(layout["col"], layout["row"])
    codes = layout["code"].to_numpy()
    dist = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    i, j = np.nonzero(np.triu(np.abs(dist - 1.0) < 1e-9, k=1))
    return {tuple(sorted((str(codes[a]), str(codes[b])))) for a, b in zip(i, j, strict=True)}  # type: ignore[misc]


def neighbour_retention(
    layout: pd.DataFrame | None = None, *, pairs: Iterable[tuple[str, str]] | None = None
) -> float:
    """Share of land-border LA pairs whose hexagons touch (default: shipped layout, borders)."""
    layout = load_layout() if layout is None else layout
    if pairs is None:
        borders = land_borders()
        pairs = zip(borders.code_a, borders.code_b, strict=True)
    wanted = {tuple(sorted(p)) for p in pairs}
    if not wanted:
        raise ValueError("no neighbour pairs to measure retention on")
    return len(wanted & touching_pairs(layout)) / len(wanted)


def _fit_to_england(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[float, float, float]:
    """Scale and offsets placing cell-unit points (with their hexagons) over England's bounds."""
    x0, y0, x1, y1 = ENGLAND_BNG_BOUNDS
    width = x.max() - x.min() + 1.0
    height = y.max() - y.min() + 2.0 * _CIRCUMRADIUS
    scale = min((x1 - x0) / width, (y1 - y0) / height)
    off_x = (x0 + x1) / 2.0 - scale * (x.max() + x.min()) / 2.0
    off_y = (y0 + y1) / 2.0 - scale * (y.max() + y.min()) / 2.0
    return float(scale), float(off_x), float(off_y)


@cache
def _to_wgs84() -> Transformer:
    return Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def _layout_bng(layout: pd.DataFrame) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    x, y = cell_xy(layout["col"], layout["row"])
    scale, off_x, off_y = _fit_to_england(x, y)
    return off_x + scale * x, off_y + scale * y, scale


def hex_polygons(*, layout: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """One hexagon per LA (`code`, `name`, `geometry`) in EPSG:4326, laid over England.

    Neighbouring hexagons share their vertices exactly, so dissolving them (e.g. into RCCs with
    `geodata.boundaries.dissolve_rccs`) leaves no slivers.
    """
    layout = load_layout() if layout is None else validate_layout(layout)
    x, y = cell_xy(layout["col"], layout["row"])
    scale, off_x, off_y = _fit_to_england(x, y)
    angles = np.deg2rad(30.0 + 60.0 * np.arange(6))
    # Vertices in cell units, rounded so a vertex shared by two cells is bit-identical.
    vx = np.round(x[:, None] + _CIRCUMRADIUS * np.cos(angles)[None, :], 9)
    vy = np.round(y[:, None] + _CIRCUMRADIUS * np.sin(angles)[None, :], 9)
    lon, lat = _to_wgs84().transform(off_x + scale * vx, off_y + scale * vy)
    england = load_england()
    return gpd.GeoDataFrame(
        {
            "code": layout["code"].to_numpy(),
            "name": [england.by_code(c).name for c in layout["code"]],
        },
        geometry=[Polygon(zip(lo, la, strict=True)) for lo, la in zip(lon, lat, strict=True)],
        crs="EPSG:4326",
    )


def hex_centres(*, layout: pd.DataFrame | None = None) -> pd.DataFrame:
    """Centre of each LA's hexagon: `code, name, lon, lat, easting, northing` (for labels)."""
    layout = load_layout() if layout is None else validate_layout(layout)
    east, north, _ = _layout_bng(layout)
    lon, lat = _to_wgs84().transform(east, north)
    england = load_england()
    return pd.DataFrame(
        {
            "code": layout["code"].to_numpy(),
            "name": [england.by_code(c).name for c in layout["code"]],
            "lon": lon,
            "lat": lat,
            "easting": east,
            "northing": north,
        }
    )
