"""Today's practice as a baseline: council-by-council spot purchasing, no regional coordination.

The simulation, seeded and deterministic:
1. LAs take turns in a seeded random order; at its turn an LA places one of its own children
   (so no council is served first for all its children). Within an LA, the most constrained
   needs go first: secure, then residential, then supported, then foster; siblings consecutively.
2. Before anyone is placed, every child already in an eligible placement stays there (councils
   do not move settled children, and a place a child lives in is not free to others).
3. Every other child, in that order: a sibling goes with an earlier-placed sibling when there
   is room; otherwise the LA uses its own in-house places first (in-house fostering, LA-run
   homes in its own area), the nearest one to the child's home; then the nearest eligible place
   still free anywhere in England whose setting meets the need without a step-up; only then a
   step-up setting (e.g. a children's home for a child who needs fostering). Spot purchasing is
   price-led: of the `offers` nearest free places the council takes the cheapest (offers=1:
   the nearest; price breaks ties between places equally near, to 0.1 mile).
4. A child with no eligible free place left is unplaced.

The loop over children is compiled (numba). A council's list of the places nearest its centre
is searched nearest first, dropping full placements, until no place further on can be among the
offers; a whole tier, held from west to east, is searched outwards from the child's easting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit

from geodata.distance import METRES_PER_MILE
from optimiser.allocation import assignment_objective, assignment_table, unplaced_reasons
from optimiser.pairs import FloatArray, IntArray, PairModel
from optimiser.pricing import PairArrays, _cost, pair_arrays
from optimiser.problem import NEEDS, SETTINGS, Problem

__all__ = ["BaselineResult", "simulate_baseline"]

_NEED_ORDER = {"secure": 0, "residential": 1, "supported": 2, "foster": 3}
_IN_HOUSE = (SETTINGS.index("foster_inhouse"), SETTINGS.index("residential_la"))
# Placements per (home LA, need) kept as the local market, nearest first: this many times the
# placements per LA (at least 300). Any length gives the same placements (a list that cannot prove
# its answer is refilled or the whole tier searched); with the market's density the lists must
# grow or most children fall back to the whole tier (measured, simulation only: scale 1 1.75 s
# with 300, 1.11 s with 600; scale 2 7.0 s with 300, 3.1 s with 1,200; scale 5 51.9 s with 300,
# 16.6 s with 1,200, 13.6 s with 3,000, 15.8 s with 6,000)
_LOCAL_PER_LA = 3
_LOCAL_LEAST = 300
DEFAULT_OFFERS = 40  # see the module docstring, step 3, and the calibration benchmark


@dataclass(frozen=True)
class BaselineResult:
    """The simulated allocation: `assignments` as in `AllocationResult`, and its objective."""

    assignments: pd.DataFrame
    objective: float
    seed: int


def _order(model: PairModel, seed: int) -> IntArray:
    """Children in the order councils place them (see the module docstring, step 1)."""
    rng = np.random.default_rng(seed)
    la_rank = rng.permutation(len(model.la_codes))[model.c_la]
    need_rank = np.array([_NEED_ORDER[n] for n in NEEDS])[model.c_need]
    within = np.lexsort((model.c_group, rng.random(model.n_children), need_rank, model.c_la))
    position = np.empty(model.n_children, np.int64)
    la_sorted = model.c_la[within]
    starts = np.r_[0, np.flatnonzero(la_sorted[1:] != la_sorted[:-1]) + 1]
    counts = np.diff(np.r_[starts, len(within)])
    position[within] = np.arange(len(within)) - np.repeat(starts, counts)
    return np.lexsort((la_rank, position))


def _csr(lists: list[IntArray]) -> tuple[IntArray, IntArray]:
    """Lists of placements as (start pointers, concatenated members)."""
    ptr = np.r_[0, np.cumsum([len(x) for x in lists])].astype(np.int64)
    flat = np.concatenate(lists) if lists else np.zeros(0, np.int64)
    return ptr, flat.astype(np.int64)


def _markets(model: PairModel) -> tuple[np.ndarray, ...]:
    """The placements of each tier, west to east: tier 0, an LA's own in-house places for a need
    (key la * needs + need); tiers 1 and 2, the settings meeting a need without and with a
    step-up (key las * needs + need * 2 + tier - 1). And for each (home LA, need, tier), key
    (la * needs + need) * 3 + tier, the local market: those nearest the LA's centre (see
    _LOCAL_PER_LA; ties by index), nearest first with each one's distance from the centre, and
    the distance past which that list is cut."""
    las = model.problem.las
    la_e, la_n = las["easting"].to_numpy(np.float64), las["northing"].to_numpy(np.float64)
    n_la, n_need = len(model.la_codes), len(NEEDS)
    places = model.p_cap > 0
    sub = model.substitution[:, model.p_setting]  # need x placement
    steps = [np.flatnonzero(tier & places) for need in sub for tier in (need == 0, need > 0)]
    own = np.flatnonzero(np.isin(model.p_setting, _IN_HOUSE) & places)
    own = own[np.argsort(model.p_la[own], kind="stable")]
    own_by_la = np.split(own, np.searchsorted(model.p_la[own], np.arange(1, n_la)))
    tier0 = [m[sub[need, m] == 0] for m in own_by_la for need in range(n_need)]
    # needs whose tier holds the same placements share its local market (the first such tier)
    first = [next(j for j, y in enumerate(steps) if np.array_equal(x, y)) for x in steps]
    size = max(_LOCAL_LEAST, _LOCAL_PER_LA * model.n_placements // max(n_la, 1))

    def nearest(m: IntArray, d_all: FloatArray) -> tuple[IntArray, FloatArray, float]:
        """The `size` of m nearest the LA's centre (ties by index), their distances, and the
        distance of the next (inf when none is left out)."""
        d = d_all[m]
        near = np.argpartition(d, size)[: size + 1] if len(d) > size else np.arange(len(d))
        order = near[np.lexsort((near, d[near]))]
        return m[order[:size]], d[order[:size]], d[order[size]] if len(order) > size else np.inf

    used = set(zip(model.c_la.tolist(), model.c_need.tolist(), strict=True))
    none = (steps[0][:0], np.zeros(0), np.inf)
    markets: list[tuple[IntArray, FloatArray, float]] = []  # by (la * needs + need) * 3 + tier
    for la in range(n_la):
        d_all = np.hypot(model.p_e - la_e[la], model.p_n - la_n[la])
        shared: dict[int, tuple[IntArray, FloatArray, float]] = {}
        for need in range(n_need):
            if (la, need) not in used:
                markets += [none] * 3
                continue
            markets.append(nearest(tier0[la * n_need + need], d_all))
            for step in first[need * 2 : need * 2 + 2]:
                if step not in shared:
                    shared[step] = nearest(steps[step], d_all)
                markets.append(shared[step])
    local, reach, cuts = (list(x) for x in zip(*markets, strict=True)) if markets else ([], [], [])
    cut = np.array(cuts, np.float64)
    l_ptr, l_members = _csr(local)
    l_dist = np.concatenate(reach) if reach else np.zeros(0)
    # each tier from west to east (ties by index), for `_nearest`
    tiers = [x[np.lexsort((x, model.p_e[x]))] for x in tier0 + steps]
    return (*_csr(tiers), l_ptr, l_members, l_dist, cut, la_e, la_n)


@njit(cache=True)
def _before(miles: float, week: float, p: int, miles2: float, week2: float, p2: int) -> bool:
    """Whether placement p comes before p2 among offers: nearer (to 0.1 mile), then cheaper,
    then the lower index (so the order never depends on the list searched)."""
    if miles != miles2:
        return miles < miles2
    if week != week2:
        return week < week2
    return p < p2


@njit(cache=True)
def _nearest(
    c: int,
    places: IntArray,
    dist: FloatArray,
    start: int,
    length: int,
    k: int,
    free: IntArray,
    m: PairArrays,
    offset: float,
) -> tuple[int, float, int]:
    """The cheapest of the k nearest free eligible placements among places[start:start +
    length] (ties in distance, to 0.1 mile, broken by price, then by index), the distance
    in metres of the farthest of those k (inf when fewer than k were found; -1 and inf when
    none was), and the list's new length.

    With `offset` >= 0, the child's distance from a point and `dist` each placement's, in
    ascending order: the list is searched in order, full placements dropped from it in place
    (places never free up here) with their `dist`, until a placement that must be further
    (by dist - offset) than the k-th found; it and all after it rank after the k. With
    `offset` < 0, the list holds placements in ascending order of easting (`dist` is not
    read): it is searched outwards from the child's easting, on the side nearer in easting
    first, each side until its next placement must be further than the k-th found."""
    (c_e, c_n, c_la, c_rcc, c_need, c_age, c_male, c_current, p_e, p_n, p_la, p_rcc,
     p_setting, p_weekly, p_min_age, p_max_age, p_sexes, subst, policy) = m  # fmt: skip
    # the k best so far by (rounded miles, weekly cost, index), kept sorted
    top_m = np.empty(k)
    top_w = np.empty(k)
    top_p = np.empty(k, np.int64)
    top_raw = np.empty(k)
    n = 0
    end = start + length
    kept, j = start, start
    west, east = start, end  # by easting: the next placement west of the child, and east
    if offset < 0:
        while west < east:  # bisection: the first placement at or east of the child
            mid = (west + east) // 2
            if p_e[places[mid]] < c_e[c]:
                west = mid + 1
            else:
                east = mid
        west -= 1
    while True:
        if offset >= 0:
            if j == end:
                break
            gap = dist[j] - offset
        else:
            gap_w = c_e[c] - p_e[places[west]] if west >= start else np.inf
            gap_e = p_e[places[east]] - c_e[c] if east < end else np.inf
            gap = min(gap_w, gap_e)
            if np.isinf(gap):
                break
            j = west if gap_w <= gap_e else east
        # every placement from here on at least `gap` metres from the child (a metre less, for
        # the rounding of hypot) ranks after the k found, to 0.1 mile
        least = max(gap - 1.0, 0.0) / METRES_PER_MILE
        if n == k and np.rint(least * 10.0) / 10.0 > top_m[k - 1]:
            if offset >= 0:  # the rest of the list, kept as it is
                if kept == j:
                    kept = end
                else:
                    for i in range(j, end):
                        places[kept], dist[kept] = places[i], dist[i]
                        kept += 1
            break
        p = places[j]
        if offset < 0:
            west, east = (west - 1, east) if j == west else (west, east + 1)
        else:
            j += 1
        if free[p] <= 0:
            continue
        if offset >= 0:
            places[kept], dist[kept] = p, dist[j - 1]
            kept += 1
        raw = math.hypot(c_e[c] - p_e[p], c_n[c] - p_n[p]) / METRES_PER_MILE
        miles = np.rint(raw * 10.0) / 10.0  # numpy's round(miles, 1)
        week = p_weekly[p]
        if n == k and not _before(miles, week, p, top_m[n - 1], top_w[n - 1], top_p[n - 1]):
            continue  # not among the k nearest: no need to check eligibility
        if _cost(
            c_e[c] - p_e[p], c_n[c] - p_n[p], subst[c_need[c], p_setting[p]], c_age[c],
            c_male[c], p_min_age[p], p_max_age[p], p_sexes[p], week, c_la[c] != p_la[p],
            c_rcc[c] != p_rcc[p], c_current[c] >= 0 and c_current[c] != p, policy, 1.0,
        ) < 0:  # fmt: skip
            continue  # not eligible
        i = min(n, k - 1)
        while i > 0 and _before(miles, week, p, top_m[i - 1], top_w[i - 1], top_p[i - 1]):
            if i < k:
                top_m[i], top_w[i], top_p[i], top_raw[i] = (
                    top_m[i - 1], top_w[i - 1], top_p[i - 1], top_raw[i - 1],
                )  # fmt: skip
            i -= 1
        top_m[i], top_w[i], top_p[i], top_raw[i] = miles, week, p, raw
        n = min(n + 1, k)
    new_length = kept - start if offset >= 0 else length
    if n == 0:
        return -1, np.inf, new_length
    pick = 0
    for i in range(1, n):
        if top_w[i] < top_w[pick]:
            pick = i
    reach = top_raw[:n].max() * METRES_PER_MILE if n == k else np.inf
    return top_p[pick], reach, new_length


@njit(cache=True)
def _proven(found: int, reach: float, cut: float, offset: float) -> bool:
    """Whether a search of a local list found what the whole tier would (a placement, or that
    none is free): its list holds the whole tier (cut inf), or it found a placement and every
    place left out, at least cut - offset from the child, ranks after the farthest offer found
    (0.1 mile beyond it, for the rounding)."""
    return math.isinf(cut) or (found >= 0 and reach + METRES_PER_MILE / 10 <= cut - offset)


@njit(cache=True)
def _refill(
    places: IntArray,
    start: int,
    length: int,
    local: IntArray,
    l_dist: FloatArray,
    l_start: int,
    size: int,
    free: IntArray,
    e: float,
    n: float,
    m: PairArrays,
) -> tuple[int, int, float]:
    """Refill a local list (local[l_start:l_start + size], their distances from the point
    (e, n) in l_dist) with the free placements of places[start:start + length] nearest that
    point, nearest first; drops full placements from `places` in place. Returns the new
    lengths of both lists and the distance of the nearest placement left out (inf when none
    is)."""
    p_e, p_n = m[8], m[9]  # see pair_arrays
    kept = start
    for j in range(start, start + length):
        if free[places[j]] > 0:
            places[kept] = places[j]
            kept += 1
    live = places[start:kept]
    d = np.empty(len(live))
    for j in range(len(live)):
        d[j] = math.hypot(p_e[live[j]] - e, p_n[live[j]] - n)
    order = np.arange(len(d))
    if len(d) > size + 1:  # only the size + 1 nearest (and any tied with the last) are sorted
        order = np.flatnonzero(d <= np.partition(d, size)[size])
    order = order[np.argsort(d[order], kind="mergesort")]
    take = min(size, len(live))
    for j in range(take):
        local[l_start + j] = live[order[j]]
        l_dist[l_start + j] = d[order[j]]
    cut = d[order[take]] if take < len(live) else np.inf
    return kept - start, take, cut


@njit(cache=True, nogil=True)  # run_solve runs it beside the solve
def _simulate(
    order: IntArray,
    offers: int,
    cap: IntArray,
    c_group: IntArray,
    n_groups: int,
    markets: tuple,
    m: PairArrays,
) -> IntArray:
    """The placement of every child (-1 unplaced) by the rules of the module docstring."""
    t_ptr, t_members, l_ptr, l_members, l_dist, cut, la_e, la_n = markets
    t_len = np.diff(t_ptr)  # live lengths: lists shrink as places fill
    l_len = np.diff(l_ptr)
    c_e, c_n, c_la, c_need, c_current = m[0], m[1], m[2], m[4], m[7]  # see pair_arrays
    n_need = len(m[17])  # rows of the substitution table
    n_tier0 = (len(t_ptr) - 1) - 2 * n_need
    free = cap.copy()
    assigned = np.full(len(order), -1, np.int64)
    group_place = np.full(n_groups, -1, np.int64)
    one = np.empty(1, np.int64)
    for c in order:  # step 2 first: every child stays in its eligible current placement
        cur = c_current[c]
        if cur >= 0 and free[cur] > 0:
            one[0] = cur
            if _nearest(c, one, l_dist, 0, 1, 1, free, m, -1.0)[0] >= 0:
                assigned[c] = cur
                free[cur] -= 1
                g = c_group[c]
                if g >= 0 and group_place[g] < 0:
                    group_place[g] = cur
    for c in order:
        if assigned[c] >= 0:
            continue
        choice = -1
        g = c_group[c]
        if g >= 0 and group_place[g] >= 0:
            one[0] = group_place[g]
            choice = _nearest(c, one, l_dist, 0, 1, 1, free, m, -1.0)[0]
        for tier in range(3):
            if choice >= 0:
                break
            key = (c_la[c] * n_need + c_need[c]) * 3 + tier
            k = 1 if tier == 0 else offers
            full = c_la[c] * n_need + c_need[c] if tier == 0 else n_tier0 + c_need[c] * 2 + tier - 1
            offset = math.hypot(c_e[c] - la_e[c_la[c]], c_n[c] - la_n[c_la[c]])
            found, reach, l_len[key] = _nearest(
                c, l_members, l_dist, l_ptr[key], l_len[key], k, free, m, offset
            )
            size = l_ptr[key + 1] - l_ptr[key]
            refill = not math.isinf(cut[key]) and 2 * l_len[key] <= size
            if refill and not _proven(found, reach, cut[key], offset):
                # a list cut short and half emptied by full places: refilled from the tier's
                # free places
                la = c_la[c]
                t_len[full], l_len[key], cut[key] = _refill(
                    t_members, t_ptr[full], t_len[full], l_members, l_dist, l_ptr[key], size,
                    free, la_e[la], la_n[la], m,
                )  # fmt: skip
                found, reach, l_len[key] = _nearest(
                    c, l_members, l_dist, l_ptr[key], l_len[key], k, free, m, offset
                )
            if _proven(found, reach, cut[key], offset):
                choice = found
            else:  # the whole tier
                choice, _, _ = _nearest(
                    c, t_members, l_dist, t_ptr[full], t_len[full], k, free, m, -1.0
                )
        if choice >= 0:
            assigned[c] = choice
            free[choice] -= 1
            if g >= 0 and group_place[g] < 0:
                group_place[g] = choice
    return assigned


def simulate_baseline(
    problem: Problem, *, seed: int = 2024, offers: int = DEFAULT_OFFERS
) -> BaselineResult:
    """Simulate council-by-council placement (module docstring) and measure it; its objective
    is counted as the solver counts its own (each pair to 1/COST_SCALE GBP)."""
    model = PairModel.from_problem(problem)
    assigned = _simulate(
        _order(model, seed),
        offers,
        model.p_cap,
        model.c_group,
        int(model.c_group.max(initial=-1)) + 1,
        _markets(model),
        pair_arrays(model),
    )
    table = assignment_table(model, assigned, unplaced_reasons(model, assigned))
    return BaselineResult(table, assignment_objective(model, assigned), seed)
