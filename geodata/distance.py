"""Distances as the DfE measures them: straight lines on the British National Grid, in miles."""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer

__all__ = ["METRES_PER_MILE", "dfe_miles", "latlon_to_bng"]

# The DfE divides kilometres by 1.6093 (children looked after methodology).
METRES_PER_MILE = 1609.3


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
