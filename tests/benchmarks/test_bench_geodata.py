"""Benchmark: DfE distances over national-size pair sets, and the hex layout solve.

Seeded. Distances: 57,000 children at jittered LA points and 3,000 placements, with synthetic
random (child, placement) pairs standing for eligible pairs, 1M to 40M; `pair_miles`
(chunked) against the peer measured in the same run, a one-shot `dfe_miles` over gathered
coordinate vectors; time and peak traced memory (tracemalloc sees numpy's buffers) each.
A dense children x placements float64 matrix would need 1.37 GB before any temporaries.
Hex layout: the steps of `compute_layout`, and its optimal assignment by min-cost flow against
the same assignment solved by CP-SAT (time-limited). Run with `make bench`.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pytest
from ortools.sat.python import cp_model

from geodata.distance import dfe_miles, pair_miles
from geodata.england import load_england
from optimiser import hexlayout

CHILDREN = 57_000
PLACEMENTS = 3_000
PAIR_COUNTS = (1_000_000, 10_000_000, 40_000_000)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """(result, wall seconds), untraced."""
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def peak_mb(fn: Callable[[], Any]) -> float:
    """Peak traced memory of a second call, above what was live before (numpy buffers count)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak / 1e6


def national_points(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    frame = load_england().frame()
    home = rng.integers(0, len(frame), CHILDREN)
    where = rng.integers(0, len(frame), PLACEMENTS)
    east, north = frame["easting"].to_numpy(), frame["northing"].to_numpy()
    return (
        east[home] + rng.normal(0, 5_000, CHILDREN),
        north[home] + rng.normal(0, 5_000, CHILDREN),
        east[where] + rng.normal(0, 5_000, PLACEMENTS),
        north[where] + rng.normal(0, 5_000, PLACEMENTS),
    )


def one_shot(
    ce: np.ndarray, cn: np.ndarray, pe: np.ndarray, pn: np.ndarray, ci: np.ndarray, pi: np.ndarray
) -> np.ndarray:
    """The peer: gather full-length coordinate vectors, then one vectorised `dfe_miles`."""
    return dfe_miles(ce[ci], cn[ci], pe[pi], pn[pi])


@pytest.mark.slow
def test_bench_pair_distances() -> None:
    rng = np.random.default_rng(1)
    ce, cn, pe, pn = national_points(rng)
    print(
        f"\nDfE miles, {CHILDREN:,} children x {PLACEMENTS:,} placements "
        f"(dense float64 matrix would be {CHILDREN * PLACEMENTS * 8 / 1e9:.2f} GB)"
    )
    print(
        f"{'pairs':>12}{'index MB':>10}{'chunked s':>11}{'peak MB':>9}"
        f"{'one-shot s':>12}{'peak MB':>9}{'x time':>8}{'x memory':>10}{'Mpairs/s':>10}"
    )
    for count in PAIR_COUNTS:
        ci = rng.integers(0, CHILDREN, count, dtype=np.int32)
        pi = rng.integers(0, PLACEMENTS, count, dtype=np.int32)
        ours, t_ours = timed(partial(pair_miles, ce, cn, pe, pn, ci, pi))
        peer, t_peer = timed(partial(one_shot, ce, cn, pe, pn, ci, pi))
        np.testing.assert_allclose(ours, peer, rtol=1e-12)
        del ours, peer
        m_ours = peak_mb(partial(pair_miles, ce, cn, pe, pn, ci, pi))
        m_peer = peak_mb(partial(one_shot, ce, cn, pe, pn, ci, pi))
        print(
            f"{count:>12,}{(ci.nbytes + pi.nbytes) / 1e6:>10.0f}{t_ours:>11.2f}{m_ours:>9.0f}"
            f"{t_peer:>12.2f}{m_peer:>9.0f}{t_ours / t_peer:>8.2f}{m_ours / m_peer:>10.2f}"
            f"{count / t_ours / 1e6:>10.1f}"
        )


CP_SAT_LIMIT = 30.0


def cp_sat_assignment(points: np.ndarray, centres: np.ndarray, *, radius: float) -> tuple[str, int]:
    """The same assignment as `hexlayout.assign_cells` solved by CP-SAT (the peer), time-limited."""
    d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    cost = np.round(d2 * 1000).astype(np.int64)
    model = cp_model.CpModel()
    x = {
        (i, int(c)): model.new_bool_var(f"x_{i}_{c}")
        for i in range(len(points))
        for c in np.nonzero(d2[i] <= radius**2)[0]
    }
    by_la: dict[int, list[Any]] = {}
    by_cell: dict[int, list[Any]] = {}
    for (i, c), var in x.items():
        by_la.setdefault(i, []).append(var)
        by_cell.setdefault(c, []).append(var)
    for vs in by_la.values():
        model.add_exactly_one(vs)
    for vs in by_cell.values():
        model.add_at_most_one(vs)
    model.minimize(sum(int(cost[i, c]) * v for (i, c), v in x.items()))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = CP_SAT_LIMIT
    status = solver.solve(model)
    assert status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    return solver.status_name(status), int(solver.objective_value)


@pytest.mark.slow
def test_bench_hex_layout() -> None:
    england = load_england()
    points = np.array([(la.easting, la.northing) for la in england.las])
    pairs = hexlayout._land_pairs(list(england.codes))
    links = hexlayout._all_links(list(england.codes))
    area = sum(la.area_km2 for la in england.las) * 1e6
    spacing = float(np.sqrt(area / len(points) / (np.sqrt(3) / 2)))
    spread, t_spread = timed(lambda: hexlayout.spread_points(points, links, spacing=spacing))
    cells = (spread - spread.min(axis=0)) / spacing
    (_, centres), t_grid = timed(lambda: hexlayout.candidate_cells(cells))
    first, t_flow = timed(lambda: hexlayout.assign_cells(cells, centres, radius=3.0))
    (cp_status, cp_cost), t_cp = timed(lambda: cp_sat_assignment(cells, centres, radius=3.0))
    d2 = ((cells[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    flow_cost = int(np.round(d2[np.arange(len(cells)), first] * 1000).sum())
    assert flow_cost <= cp_cost  # the flow is optimal; CP-SAT equals it or is still above
    _, t_search = timed(lambda: hexlayout.improve_neighbours(first, cells, centres, pairs))
    result, t_total = timed(hexlayout.compute_layout)
    m_total = peak_mb(hexlayout.compute_layout)
    print(f"\n{result.summary()}")
    print(f"{'step':<38}{'seconds':>9}{'x min-cost flow':>17}")
    for name, seconds in (
        ("spread points", t_spread),
        ("candidate cells", t_grid),
        ("assignment: OR-Tools min-cost flow", t_flow),
        (f"assignment: CP-SAT (peer, {cp_status})", t_cp),
        ("neighbour search (anneal + greedy)", t_search),
        ("compute_layout end to end", t_total),
    ):
        print(f"{name:<38}{seconds:>9.3f}{seconds / t_flow:>17.1f}")
    print(
        f"assignment cost: min-cost flow {flow_cost} (optimal), CP-SAT {cp_cost} ({cp_status}, "
        f"limit {CP_SAT_LIMIT:.0f} s, 1 worker); compute_layout peak traced {m_total:.0f} MB"
    )
