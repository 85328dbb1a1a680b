"""DfE straight-line miles on the British National Grid, checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from geodata.distance import bng_to_latlon, dfe_miles, latlon_to_bng, pair_miles
from geodata.england import load_england


def test_dfe_formula_on_hand_computed_values() -> None:
    # 3-4-5 triangle: 5 km / 1.6093 = 3.106940905983968 miles.
    assert dfe_miles(0, 0, 3000, 4000) == pytest.approx(3.106940905983968, rel=1e-12)
    # 20 miles on the DfE's definition is 32,186 m.
    assert dfe_miles(100_000, 200_000, 100_000, 232_186) == pytest.approx(20.0, rel=1e-12)
    # Hartlepool (447895, 530741) to Middlesbrough (450402, 516598):
    # sqrt(2507^2 + 14143^2) = 14363.47792 m -> 8.925295 miles.
    assert dfe_miles(447_895, 530_741, 450_402, 516_598) == pytest.approx(8.925295421270516)
    assert dfe_miles(1, 2, 1, 2) == 0.0


def test_dfe_miles_broadcasts_paired_vectors() -> None:
    out = dfe_miles([0, 0, 10], [0, 0, 10], [3000, 0, 10], [4000, 1609.3, 10])
    np.testing.assert_allclose(out, [3.106940905983968, 1.0, 0.0])


def test_pair_miles_equals_direct_computation_in_any_chunking() -> None:
    rng = np.random.default_rng(7)
    child_e, child_n = rng.uniform(80_000, 650_000, 500), rng.uniform(10_000, 650_000, 500)
    place_e, place_n = rng.uniform(80_000, 650_000, 40), rng.uniform(10_000, 650_000, 40)
    ci, pi = rng.integers(0, 500, 10_007), rng.integers(0, 40, 10_007)
    expected = np.hypot(child_e[ci] - place_e[pi], child_n[ci] - place_n[pi]) / 1609.3
    for chunk in (1, 333, 10_007, 1 << 20):
        np.testing.assert_allclose(
            pair_miles(child_e, child_n, place_e, place_n, ci, pi, chunk=chunk), expected
        )
    small = pair_miles(child_e, child_n, place_e, place_n, ci, pi, dtype=np.float32)
    assert small.dtype == np.float32
    np.testing.assert_allclose(small, expected, rtol=1e-6)


def test_pair_miles_hand_computed_and_empty() -> None:
    miles = pair_miles(
        [0.0, 447_895], [0.0, 530_741], [3000.0, 450_402], [4000.0, 516_598], [0, 1, 1], [0, 1, 0]
    )
    expected_last = np.hypot(447_895 - 3000, 530_741 - 4000) / 1609.3
    np.testing.assert_allclose(miles, [3.106940905983968, 8.925295421270516, expected_last])
    assert pair_miles([0.0], [0.0], [1.0], [1.0], [], []).shape == (0,)


def test_pair_miles_rejects_bad_indices() -> None:
    with pytest.raises(ValueError, match=r"to_idx has indices outside 0\.\.0"):
        pair_miles([0.0], [0.0], [1.0], [1.0], [0], [1])
    with pytest.raises(ValueError, match="same length"):
        pair_miles([0.0], [0.0], [1.0], [1.0], [0, 0], [0])
    with pytest.raises(ValueError, match="chunk must be positive"):
        pair_miles([0.0], [0.0], [1.0], [1.0], [0], [0], chunk=0)


def test_latlon_to_bng_matches_the_embedded_points() -> None:
    frame = load_england().frame()
    east, north = latlon_to_bng(frame["lat"], frame["lon"])
    # Points were stored as BNG metres and lat/lon to 6 dp (about 0.1 m): agree within 1 m.
    assert np.abs(east - frame["easting"]).max() < 1.0
    assert np.abs(north - frame["northing"]).max() < 1.0
    lat, lon = bng_to_latlon(frame["easting"], frame["northing"])
    assert np.abs(lat - frame["lat"]).max() < 1e-5
    assert np.abs(lon - frame["lon"]).max() < 1e-5
