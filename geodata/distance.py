"""Distances as the DfE measures them: straight lines on the British National Grid, in miles."""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer

__all__ = [
    "DEFAULT_CHUNK",
    "METRES_PER_MILE",
    "bng_to_latlon",
    "dfe_miles",
    "latlon_to_bng",
    "pair_miles",
]

# The DfE divides kilometres by 1.6093 (children looked after methodology).
METRES_PER_MILE = 1609.3
# Pairs measured at once by `pair_miles`: about 16 bytes of temporaries per pair in a chunk.
DEFAULT_CHUNK = 1 << 20


def dfe_miles(e1: ArrayLike, n1: ArrayLike, e2: ArrayLike, n2: ArrayLike) -> NDArray[np.float64]:
    """Straight-line miles between BNG points: sqrt(dE^2 + dN^2) / 1000 / 1.6093.

    Inputs broadcast like numpy arrays, so pass paired vectors (one row per pair) to measure
    millions of pairs without building a children x placements matrix.
    """
    de = np.asarray(e1, dtype=np.float64) - np.asarray(e2, dtype=np.float64)
    dn = np.asarray(n1, dtype=np.float64) - np.asarray(n2, dtype=np.float64)
    return np.hypot(de, dn) / METRES_PER_MILE


@cache
def _to_bng() -> Transformer:
    return Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


def latlon_to_bng(
    lat: ArrayLike, lon: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS84 latitude/longitude to British National Grid (EPSG:27700) easting and northing."""
    e, n = _to_bng().transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(e, dtype=np.float64), np.asarray(n, dtype=np.float64)


def pair_miles(
    from_e: ArrayLike,
    from_n: ArrayLike,
    to_e: ArrayLike,
    to_n: ArrayLike,
    from_idx: ArrayLike,
    to_idx: ArrayLike,
    *,
    chunk: int = DEFAULT_CHUNK,
    dtype: type[np.floating] = np.float64,
) -> NDArray[np.floating]:
    """DfE miles for pairs given as indices into two point sets (e.g. children and placements).

    Pair k is from point `from_idx[k]` to point `to_idx[k]`. Only the result (one value per pair,
    8 bytes, or 4 with `dtype=np.float32`) is allocated in full; coordinates are gathered and
    measured `chunk` pairs at a time, so tens of millions of pairs never need a
    children x placements matrix nor full-length coordinate copies.
    """
    fe, fn = np.asarray(from_e, dtype=np.float64), np.asarray(from_n, dtype=np.float64)
    te, tn = np.asarray(to_e, dtype=np.float64), np.asarray(to_n, dtype=np.float64)
    fi, ti = np.asarray(from_idx), np.asarray(to_idx)
    if fe.shape != fn.shape or te.shape != tn.shape:
        raise ValueError("eastings and northings of a point set must have the same length")
    if fi.shape != ti.shape or fi.ndim != 1:
        raise ValueError("from_idx and to_idx must be 1-D and of the same length")
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    for name, idx, size in (("from_idx", fi, len(fe)), ("to_idx", ti, len(te))):
        if len(idx) and (idx.min() < 0 or idx.max() >= size):
            raise ValueError(f"{name} has indices outside 0..{size - 1}")
    out = np.empty(len(fi), dtype=dtype)
    for start in range(0, len(fi), chunk):
        stop = min(start + chunk, len(fi))
        a, b = fi[start:stop], ti[start:stop]
        out[start:stop] = np.hypot(fe[a] - te[b], fn[a] - tn[b]) / METRES_PER_MILE
    return out


@cache
def _to_wgs84() -> Transformer:
    return Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def bng_to_latlon(
    easting: ArrayLike, northing: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """British National Grid easting/northing to WGS84 latitude and longitude (in that order)."""
    lon, lat = _to_wgs84().transform(
        np.asarray(easting, dtype=float), np.asarray(northing, dtype=float)
    )
    return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
