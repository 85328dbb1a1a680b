"""Pricing every eligible (child, placement) pair against dual prices, compiled with numba.

Given u_c per child and w_p >= 0 per placement (integer units of 1/COST_SCALE GBP), a pair is
improving when its reduced cost cost(c,p) + w_p - u_c is negative. Children are grouped in
blocks and placements in groups (same LA and need or setting, one grid cell), each with a
centre and radius; no pair of block b and group g costs less than

    LB(b, g) = min_g(weekly + w) + substitution + distance_per_mile x (centre gap - radii)
               + out_of_la + out_of_rcc penalties,

so a (block, group) pair is skipped when LB >= max u of the block, and only children with
u_c > LB meet the group's placements one by one; once a child holds its quota of improving
pairs, only pairs beating the least negative of them are looked at (the quota kept is the
same; scale 1, first round: 1.2 million pairs evaluated exactly instead of 12.1 million). A
block visits its groups cheapest bound first up to a budget of exact evaluations; the groups
it leaves are priced by their bound (the budget now lasts longer: other pairs may be found).

The same pass gives best_c = min(U, min_p cost(c,p) + w_p) (or a lower bound on it where a group
was priced by its bound), so sum_c best_c - sum_p cap_p w_p is a Lagrangian lower bound on the
objective for any w >= 0, equal to the objective when no pair improves.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

from optimiser.pairs import PairModel

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

METRES_PER_MILE = 1609.3  # as geodata.distance (DfE's formula)


# The arrays of a PairModel the compiled loops read, in this order (see `pair_arrays`).
PairArrays = tuple


def pair_arrays(model: PairModel) -> PairArrays:
    """The children's and placements' arrays and the policy as the compiled loops take them:
    (c_e, c_n, c_la, c_rcc, c_need, c_age, c_male, c_current, p_e, p_n, p_la, p_rcc,
    p_setting, p_weekly, p_min_age, p_max_age, p_sexes, substitution, policy), where policy =
    [distance_per_mile, out_of_la, out_of_rcc, move, max_miles (inf when none)]."""
    pol = model.problem.policy
    max_miles = np.inf if pol.max_miles is None else float(pol.max_miles)
    policy = np.array([pol.distance_per_mile, pol.out_of_la, pol.out_of_rcc, pol.move, max_miles])
    m = model
    return (
        m.c_e, m.c_n, m.c_la, m.c_rcc, m.c_need, m.c_age, m.c_male, m.c_current, m.p_e, m.p_n,
        m.p_la, m.p_rcc, m.p_setting, m.p_weekly, m.p_min_age, m.p_max_age, m.p_sexes,
        m.substitution, policy,
    )  # fmt: skip


@njit(cache=True, inline="always")
def _near(de: float, dn: float) -> float:
    """Straight-line distance for bounds, several times quicker than math.hypot and never above
    it (shaved by 1e-12, far more than their rounding differs), so a bound from it stays a
    lower bound, against max_miles too; exact pair costs keep math.hypot, as PairModel's."""
    return math.sqrt(de * de + dn * dn) * (1.0 - 1e-12)


@njit(cache=True, inline="always")
def _accepts(age: int, sex: int, min_age: int, max_age: int, sexes: int) -> bool:
    """A placement's age range and sexes (0 F, 1 M, 2 any) admit the child (sex 0 F, 1 M)."""
    return min_age <= age <= max_age and (sexes == 2 or sexes == sex)


@njit(cache=True, inline="always")
def _total(
    miles: float,
    weekly: float,
    sub: float,
    out_la: float,
    out_rcc: float,
    moved: bool,
    policy: FloatArray,
    scale: float,
) -> int:
    """A pair's cost in integer units, its parts added in PairModel.total_cost's order (the
    same rounding); out_la and out_rcc are the penalties that apply (0 when none)."""
    total = miles * policy[0]
    total += weekly
    total += sub
    total += out_la
    total += out_rcc
    if policy[3] != 0.0:
        total += policy[3] * (1.0 if moved else 0.0)
    return int(np.rint(total * scale))


@njit(cache=True, inline="always")
def _cost(
    de: float,
    dn: float,
    sub: float,
    age: int,
    male: bool,
    min_age: int,
    max_age: int,
    sexes: int,
    weekly: float,
    out_la: bool,
    out_rcc: bool,
    moved: bool,
    policy: FloatArray,
    scale: float,
) -> int:
    """The integer cost of a pair as PairModel.total_cost and .scaled compute it, or -1 when it
    is not eligible, from the child's and the placement's values (their offsets de, dn in
    metres; the substitution penalty, NaN when not allowed; whether LA and RCC differ, and
    whether the child moves). Callers read the values themselves: a helper given the 19
    arrays of `pair_arrays` cost 7 times as much per pair (at every call numba passes each
    array and counts a reference to it), inlined or not."""
    if math.isnan(sub):
        return -1
    if not _accepts(age, 1 if male else 0, min_age, max_age, sexes):
        return -1
    miles = math.hypot(de, dn) / METRES_PER_MILE
    if miles > policy[4]:
        return -1
    la = policy[1] if out_la else 0.0
    rcc = policy[2] if out_rcc else 0.0
    return _total(miles, weekly, sub, la, rcc, moved, policy, scale)


@njit(cache=True, nogil=True)
def pair_costs(ci: IntArray, pi: IntArray, m: PairArrays, scale: float) -> IntArray:
    """The integer cost of each pair (ci[k], pi[k]), -1 where it is not eligible (capacity
    aside): PairModel's, quicker (no cost parts, no temporaries)."""
    (c_e, c_n, c_la, c_rcc, c_need, c_age, c_male, c_current, p_e, p_n, p_la, p_rcc,
     p_setting, p_weekly, p_min_age, p_max_age, p_sexes, subst, policy) = m  # fmt: skip
    out = np.empty(len(ci), np.int64)
    for k in range(len(ci)):
        c, p = ci[k], pi[k]
        out[k] = _cost(
            c_e[c] - p_e[p], c_n[c] - p_n[p], subst[c_need[c], p_setting[p]], c_age[c],
            c_male[c], p_min_age[p], p_max_age[p], p_sexes[p], p_weekly[p], c_la[c] != p_la[p],
            c_rcc[c] != p_rcc[p], c_current[c] >= 0 and c_current[c] != p, policy, scale,
        )  # fmt: skip
    return out


@njit(cache=True)
def _bound(
    e: float,
    n: float,
    r: float,
    la: int,
    rcc: int,
    need: int,
    g_e: float,
    g_n: float,
    g_r: float,
    g_la: int,
    g_rcc: int,
    setting: int,
    floor: float,
    subst: FloatArray,
    policy: FloatArray,
) -> tuple[float, float]:
    """Lower bound on the cost plus price of any pair between a circle of children (centre,
    radius, LA, RCC, need) and a circle of placements (with its cheapest weekly cost plus price
    `floor`), and its part that does not depend on distance; inf when never eligible."""
    sub = subst[need, setting]
    if math.isnan(sub) or not math.isfinite(floor):
        return np.inf, np.inf
    gap = max(_near(e - g_e, n - g_n) - r - g_r, 0.0) / METRES_PER_MILE
    if gap > policy[4]:
        return np.inf, np.inf
    fixed = floor + sub
    if la != g_la:
        fixed += policy[1]
    if rcc != g_rcc:
        fixed += policy[2]
    return fixed + policy[0] * gap, fixed


@njit(cache=True, nogil=True)
def price(
    b_ptr: IntArray,
    b_kids: IntArray,
    b_e: FloatArray,
    b_n: FloatArray,
    b_r: FloatArray,
    b_la: IntArray,
    b_rcc: IntArray,
    b_need: IntArray,
    cb_ptr: IntArray,
    cb_e: FloatArray,
    cb_n: FloatArray,
    cb_r: FloatArray,
    g_ptr: IntArray,
    g_places: IntArray,
    g_e: FloatArray,
    g_n: FloatArray,
    g_r: FloatArray,
    g_la: IntArray,
    g_rcc: IntArray,
    g_setting: IntArray,
    cg_ptr: IntArray,
    cg_e: FloatArray,
    cg_n: FloatArray,
    cg_r: FloatArray,
    m: PairArrays,
    p_cap: IntArray,
    scale: float,
    u: IntArray,
    w: IntArray,
    budget: int,
    first: int,
    last: int,
    top_p: IntArray,
    top_rc: IntArray,
    best: IntArray,
) -> tuple[int, bool]:
    """For the children of coarse blocks first..last - 1: each child's most negative pairs
    into its row of top_p (placements, -1 where fewer) and top_rc, and best_c as in the module
    docstring into `best` (which holds min(u_c, U) on entry); returns the number of pairs
    evaluated exactly and whether every group was visited (no block ran out of budget).
    Calls on disjoint ranges of coarse blocks write disjoint rows, so they may run at once
    (the loop holds no GIL).

    Blocks list their children by decreasing u (b_kids); groups their placements (g_places)."""
    c_e, c_n, c_age, c_male, c_current = m[0], m[1], m[5], m[6], m[7]
    subst, policy = m[17], m[18]
    per_child = top_p.shape[1]
    # the placements' arrays in group order, so a group's are read in sequence; within a group
    # LA, RCC and setting are one
    q_e, q_n, q_weekly, q_w, q_cap = (
        m[8][g_places],
        m[9][g_places],
        m[13][g_places],
        w[g_places],
        p_cap[g_places],
    )
    q_min, q_max, q_sexes = m[14][g_places], m[15][g_places], m[16][g_places]
    n_g = len(g_ptr) - 1
    # each group's cheapest weekly cost plus price, in GBP
    floor = np.full(n_g, np.inf)
    for g in range(n_g):
        for q in range(g_ptr[g], g_ptr[g + 1]):
            if q_cap[q] > 0:
                floor[g] = min(floor[g], q_weekly[q] + q_w[q] / scale)
    # coarse groups (blocks) are runs of groups (blocks) of one LA and setting (need)
    n_cg = len(cg_ptr) - 1
    cg_floor = np.full(n_cg, np.inf)
    for cg in range(n_cg):
        for g in range(cg_ptr[cg], cg_ptr[cg + 1]):
            cg_floor[cg] = min(cg_floor[cg], floor[g])
    evaluated = 0
    complete = True
    # each child's threshold: u until it has per_child improving pairs, then u plus the least
    # negative of them (a pair must beat it to join them)
    cut = u.copy()
    lb = np.empty(n_g)
    base = np.empty(n_g)
    cand = np.empty(n_g, np.int64)
    near = np.empty(n_cg, np.int64)
    for cb in range(first, last):
        f = cb_ptr[cb]  # the LA, RCC and need of a coarse block are those of its blocks
        u_top = -1
        for b in range(cb_ptr[cb], cb_ptr[cb + 1]):
            if b_ptr[b] < b_ptr[b + 1]:
                u_top = max(u_top, u[b_kids[b_ptr[b]]])
        n_near = 0
        for cg in range(n_cg):
            g = cg_ptr[cg]
            bound, _ = _bound(
                cb_e[cb], cb_n[cb], cb_r[cb], b_la[f], b_rcc[f], b_need[f], cg_e[cg],
                cg_n[cg], cg_r[cg], g_la[g], g_rcc[g], g_setting[g], cg_floor[cg], subst,
                policy,
            )  # fmt: skip
            if bound * scale < u_top + 1:  # a margin of one unit for rounding
                near[n_near] = cg
                n_near += 1
        for b in range(cb_ptr[cb], cb_ptr[cb + 1]):
            k0, k1 = b_ptr[b], b_ptr[b + 1]
            if k0 == k1:
                continue
            u_max = u[b_kids[k0]]
            n_cand = 0
            for i in range(n_near):
                for g in range(cg_ptr[near[i]], cg_ptr[near[i] + 1]):
                    bound, fixed = _bound(
                        b_e[b], b_n[b], b_r[b], b_la[b], b_rcc[b], b_need[b], g_e[g], g_n[g],
                        g_r[g], g_la[g], g_rcc[g], g_setting[g], floor[g], subst, policy,
                    )  # fmt: skip
                    if bound * scale < u_max + 1:
                        lb[n_cand] = bound
                        base[n_cand] = fixed
                        cand[n_cand] = g
                        n_cand += 1
            order = np.argsort(lb[:n_cand], kind="mergesort")
            spent = 0
            allowance = budget * (k1 - k0)
            for j in range(n_cand):
                g = cand[order[j]]
                bound = lb[order[j]]
                if spent > allowance:
                    # left unvisited: every pair of this group and later ones costs >= bound
                    complete = False
                    floor_int = np.int64(math.floor(bound * scale)) - 1
                    for k in range(k0, k1):
                        c = b_kids[k]
                        if floor_int < best[c]:
                            best[c] = floor_int
                    break
                fixed = base[order[j]]
                m0, m1 = g_ptr[g], g_ptr[g + 1]
                # the terms of _cost that are one for the whole group
                sub = subst[b_need[b], g_setting[g]]
                out_la = policy[1] * (1.0 if b_la[b] != g_la[g] else 0.0)
                out_rcc = policy[2] * (1.0 if b_rcc[b] != g_rcc[g] else 0.0)
                terms = sub + out_la + out_rcc
                for k in range(k0, k1):
                    c = b_kids[k]
                    if bound * scale >= u[c] + 1:
                        break  # children are in decreasing u: the rest cannot improve here
                    if bound * scale >= cut[c] + 1:
                        continue
                    # the same bound from the child's own point
                    e, n = c_e[c], c_n[c]
                    gap = _near(e - g_e[g], n - g_n[g]) - g_r[g]
                    own = fixed + policy[0] * max(gap, 0.0) / METRES_PER_MILE
                    if own * scale >= cut[c] + 1:
                        continue
                    spent += m1 - m0
                    age, sex, cur = c_age[c], 1 if c_male[c] else 0, c_current[c]
                    for q in range(m0, m1):
                        if q_cap[q] <= 0 or not _accepts(age, sex, q_min[q], q_max[q], q_sexes[q]):
                            continue
                        # the pair's cost without the move penalty, from the quick distance:
                        # a pair that cannot improve is left before its exact cost is computed
                        quick_miles = _near(e - q_e[q], n - q_n[q]) / METRES_PER_MILE
                        quick = (q_weekly[q] + terms + policy[0] * quick_miles) * scale + q_w[q]
                        if quick >= cut[c] + 2:
                            continue
                        miles = math.hypot(e - q_e[q], n - q_n[q]) / METRES_PER_MILE
                        if miles > policy[4]:
                            continue
                        p = g_places[q]
                        moved = cur >= 0 and cur != p
                        cost = _total(
                            miles, q_weekly[q], sub, out_la, out_rcc, moved, policy, scale
                        )
                        evaluated += 1
                        value = cost + q_w[q]
                        if value < best[c]:
                            best[c] = value
                        rc = value - u[c]
                        if rc < 0:  # keep it if among the child's per_child most negative
                            worst = -1
                            for s in range(per_child):
                                if top_p[c, s] < 0:
                                    worst = s
                                    break
                                if worst < 0 or top_rc[c, s] > top_rc[c, worst]:
                                    worst = s
                            if top_p[c, worst] < 0 or rc < top_rc[c, worst]:
                                top_p[c, worst] = p
                                top_rc[c, worst] = rc
                                if top_p[c, per_child - 1] >= 0:  # full: its least negative
                                    least = top_rc[c, 0]
                                    for t in range(1, per_child):
                                        least = max(least, top_rc[c, t])
                                    cut[c] = u[c] + least
    return evaluated, complete


@njit(cache=True, nogil=True)
def nearest_children(
    cell_ptr: IntArray,
    kids: IntArray,
    origin: FloatArray,
    size: float,
    boxes: IntArray,
    places: IntArray,
    m: PairArrays,
    scale: float,
    k: int,
) -> tuple[IntArray, IntArray]:
    """For each placement in `places`, the `k` children of its own LA with the cheapest
    eligible pairs to it (fewer where the LA has fewer): (child, placement) pairs.

    The children of each LA and need lie in a grid of their own, of square cells of side
    `size` from `origin` over the box they occupy: boxes[la * needs + need] = (i0, i1, j0, j1,
    first), and cell (i, j) of it holds kids[cell_ptr[first + (i - i0) * (j1 - j0 + 1) + j - j0]
    : ... + 1]. A placement searches the grid of each need that may use its setting in rings of
    cells outwards, until distance alone makes every child further out dearer than its k-th
    cheapest (children of other LAs and of needs that may not use the setting are not
    visited: one grid of every child took 5.4 s at scale 5, these 4.4 s, with cells of 2 km)."""
    (c_e, c_n, _, c_rcc, _, c_age, c_male, c_current, p_e, p_n, p_la, p_rcc,
     p_setting, p_weekly, p_min_age, p_max_age, p_sexes, subst, policy) = m  # fmt: skip
    n_need = subst.shape[0]
    out_c = np.full((len(places), k), -1, np.int64)
    top = np.empty(k, np.int64)
    for i in range(len(places)):
        p = places[i]
        pi_ = int((p_e[p] - origin[0]) // size)
        pj = int((p_n[p] - origin[1]) // size)
        found = 0
        for need in range(n_need):
            sub = subst[need, p_setting[p]]
            if math.isnan(sub):
                continue
            i0, i1, j0, j1, first = boxes[p_la[p] * n_need + need]
            if i1 < i0:
                continue  # no child of the LA has this need
            width = j1 - j0 + 1
            fixed = p_weekly[p] + sub
            far = max(abs(pi_ - i0), abs(pi_ - i1), abs(pj - j0), abs(pj - j1))
            for r in range(far + 1):
                # every child in ring r is at least r - 1 cells away
                reach = (fixed + policy[0] * max(r - 1, 0) * size / METRES_PER_MILE) * scale
                if found == k and reach >= top[k - 1]:
                    break
                for ci in range(max(pi_ - r, i0), min(pi_ + r, i1) + 1):
                    edge = abs(ci - pi_) == r
                    for cj in range(max(pj - r, j0), min(pj + r, j1) + 1):
                        if not edge and abs(cj - pj) != r:
                            continue
                        cell = first + (ci - i0) * width + cj - j0
                        for j in range(cell_ptr[cell], cell_ptr[cell + 1]):
                            c = kids[j]
                            cost = _cost(
                                c_e[c] - p_e[p], c_n[c] - p_n[p], sub, c_age[c], c_male[c],
                                p_min_age[p], p_max_age[p], p_sexes[p], p_weekly[p], False,
                                c_rcc[c] != p_rcc[p], c_current[c] >= 0 and c_current[c] != p,
                                policy, scale,
                            )  # fmt: skip
                            if cost < 0 or (found == k and cost >= top[k - 1]):
                                continue
                            # insert into the sorted top list
                            s = found if found < k else k - 1
                            while s > 0 and top[s - 1] > cost:
                                top[s] = top[s - 1]
                                out_c[i, s] = out_c[i, s - 1]
                                s -= 1
                            top[s] = cost
                            out_c[i, s] = c
                            found = min(found + 1, k)
    keep = out_c >= 0
    rows = np.empty(keep.sum(), np.int64)
    cols = np.empty(len(rows), np.int64)
    n = 0
    for i in range(len(places)):
        for s in range(k):
            if out_c[i, s] >= 0:
                rows[n], cols[n] = out_c[i, s], places[i]
                n += 1
    return rows, cols
