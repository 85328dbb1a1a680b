"""Allocate every child to an eligible placement, or report them unplaced, at least cost.

The model (DESIGN.md section 4) without sibling groups is a transportation problem. We solve it
exactly as a min-cost flow over a restricted set of candidate pairs (`optimiser.flow`: in the first
rounds, while prices still move by pounds, an auction solves it to within GBP 0.05 per child; then
network simplex makes it exact, and from there on warm-started shortest paths re-route the children
that gain new pairs; OR-Tools' `SimpleMinCostFlow` solves the aggregated problem below, and any
flow from scratch without a tolerance), then *prove* that no pair left out could improve it: the
flow's potentials are dual prices (u_c for each child, w_p >= 0 for each placement), and
`optimiser.pricing` checks, for children and placements grouped by LA, need or setting and 5 km
grid cell, with spatial lower bounds and exactly where the bounds cannot decide, that every
eligible pair has non-negative reduced cost cost(c,p) + w_p - u_c >= 0. Pairs that fail are added
and the flow re-optimised (column generation). When the check passes the flow is optimal over
**all** eligible pairs; in any case sum_c min(U, min_p cost(c,p) + w_p) - sum_p cap_p w_p is a
valid lower bound (Lagrangian dual), reported as `bound`. The first candidates come from the
aggregated transportation problem (LA blocks of children to LA groups of placements) and its dual
prices, and from each placement's cheapest children of its own LA (its rivals, without which the
first prices are far off); children left unplaced by a restricted flow first get pairs to free
places, so prices stay meaningful. Of equally cheap optima, the one with the fewest miles (then a
fixed order of pairs) is returned, whichever the flow reached.

Sibling groups add sibling_split x (distinct placements used by a group - 1). The flow
relaxation without that term is a proven lower bound, raised by a Lagrangian bound with the
flow's prices; groups are then reserved their cheapest placement with room for all of them
(or, where no placement has the room, the cheapest two), the flow places everyone else around
the reservations, and that feasible allocation is the upper bound; the gap is reported. (A
CP-SAT repair of the groups still split, tried after the reservations, improved 3 of 222
splits on synthetic England at 0.25 and none on Greater Manchester, at 2-9 s: removed.)
Where the candidates are few enough (_MASTER_PAIRS: a region, up to about 0.2 of England),
the linear relaxation with each group kept together or apart as a whole is solved by column
generation (`_sibling_master`): a much stronger bound, and a dive through it gives a better
allocation. Local moves then gather the groups still split (`_consolidate`). A problem with at
most _EXACT_PAIRS pairs that could improve on the allocation, by their reduced costs at that
bound, is then solved exactly by SCIP and reported optimal. At 0.01 of England (574 children):
optimal at GBP 934,697.61 in 3-6 s, the optimum SCIP proves over every pair in 130-150 s;
before, the gap stayed 0.35% (bound 933,691.20, allocation 936,989.76). At 0.03 the gap falls
from 0.91% to 0.22%, at 0.05 (seed 3) from 0.52% to 0.16%, at 0.1 from 0.51% to 0.11%.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd
from ortools.graph.python import min_cost_flow

from optimiser import pricing
from optimiser.flow import Flow, distinct_pairs, group_by, warm_up
from optimiser.pairs import COST_PARTS, COST_SCALE, IntArray, PairModel
from optimiser.problem import SETTINGS, Problem

__all__ = [
    "AllocationResult",
    "SolveStatus",
    "assignment_objective",
    "assignment_table",
    "solve",
    "unplaced_reasons",
]

Progress = Callable[[str], None]
CELL = 5_000.0  # metres: the grid cells that group children and placements for lower bounds


class SolveStatus(Enum):
    """How far the solver got: proven optimal, feasible with a gap, or nothing usable."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    NOT_SOLVED = "not_solved"


@dataclass(frozen=True)
class AllocationResult:
    """A solved allocation. `assignments` has one row per child (see ASSIGNMENT_COLUMNS)."""

    status: SolveStatus
    objective: float
    bound: float
    wall_seconds: float
    solver: str
    parameters: dict[str, Any]
    assignments: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        """Relative gap (objective - bound) / objective; 0 when proven optimal."""
        if self.objective == 0:
            return 0.0
        return max(0.0, (self.objective - self.bound) / abs(self.objective))

    @property
    def unplaced(self) -> pd.DataFrame:
        return self.assignments[self.assignments["placement_id"] == ""].reset_index(drop=True)


# ----------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class _Groups:
    """Placements grouped by (LA, setting), and children by (home LA, need), with the centre
    and radius of each group's points: the unit of the spatial lower bounds."""

    members: list[IntArray]  # member indices per group
    la: IntArray
    rcc: IntArray
    kind: IntArray  # setting for placement groups, need for child blocks
    e: np.ndarray
    n: np.ndarray
    radius: np.ndarray

    @classmethod
    def of(
        cls,
        keys: tuple[IntArray, IntArray],
        e: np.ndarray,
        n: np.ndarray,
        rcc: IntArray,
        *,
        cell: float | None = None,
    ) -> _Groups:
        """Group by (LA, kind), and by square grid cells of `cell` metres when given (finer
        groups have smaller radii and so sharper lower bounds)."""
        la, kind = keys
        square = (
            np.zeros(len(la), np.int64)
            if cell is None
            else (e // cell).astype(np.int64) * 10_000 + (n // cell).astype(np.int64)
        )
        order = np.lexsort((square, kind, la))
        key = np.stack([la[order], kind[order], square[order]], axis=1)
        starts = np.flatnonzero(np.r_[len(order) > 0, (key[1:] != key[:-1]).any(axis=1)])
        size = np.diff(np.r_[starts, len(order)])
        group = np.repeat(np.arange(len(starts)), size)  # of each member, in `order`
        ce = np.bincount(group, e[order], len(starts)) / np.maximum(size, 1)
        cn = np.bincount(group, n[order], len(starts)) / np.maximum(size, 1)
        reach = np.hypot(e[order] - ce[group], n[order] - cn[group])
        radius = np.maximum.reduceat(reach, starts) if len(order) else np.zeros(0)
        first = order[starts]
        members = np.split(order, starts[1:]) if len(order) else []
        return cls(members, la[first], rcc[first], kind[first], ce, cn, radius)

    def __len__(self) -> int:
        return len(self.members)

    def sizes(self) -> IntArray:
        return np.array([len(m) for m in self.members], np.int64)

    def flat(self) -> tuple[IntArray, IntArray, IntArray]:
        """All members in group order, each group's start in that array, and its size."""
        size = np.array([len(m) for m in self.members], np.int64)
        return np.concatenate(self.members), np.r_[0, np.cumsum(size)[:-1]], size

    def coarse(self) -> tuple[IntArray, np.ndarray, np.ndarray, np.ndarray]:
        """Runs of groups with one LA and kind (consecutive, as groups are sorted): each run's
        first group, and a circle (centre, radius) holding all of its groups' circles."""
        ptr = np.r_[0, np.flatnonzero(np.diff(self.la) | np.diff(self.kind)) + 1, len(self)]
        size = self.sizes().astype(np.float64)
        run = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
        e = np.bincount(run, size * self.e) / np.bincount(run, size)
        n = np.bincount(run, size * self.n) / np.bincount(run, size)
        reach = np.hypot(self.e - e[run], self.n - n[run]) + self.radius
        radius = np.zeros(len(ptr) - 1)
        np.maximum.at(radius, run, reach)
        return ptr.astype(np.int64), e, n, radius * (1 + 1e-9) + 1e-6

    def index_of(self, n: int) -> IntArray:
        """The group of each of n members."""
        out = np.empty(n, np.int64)
        for g, m in enumerate(self.members):
            out[m] = g
        return out


def _lower_bounds(
    model: PairModel,
    blocks: _Groups,
    groups: _Groups,
    group_floor: np.ndarray,
    rows: slice | IntArray = slice(None),
) -> np.ndarray:
    """LB[b, g] for the blocks in `rows`: no pair of a child in block b and a placement in
    group g costs less.

    floor_g (min weekly cost + price in g) + substitution + distance_per_mile x (gap between the
    two circles) + out-of-LA and out-of-RCC penalties; +inf where the setting is not allowed.
    """
    pol = model.problem.policy
    be, bn, br = blocks.e[rows, None], blocks.n[rows, None], blocks.radius[rows, None]
    gap = np.hypot(be - groups.e[None, :], bn - groups.n[None, :])
    gap = np.maximum(0.0, gap - br - groups.radius[None, :])
    sub = model.substitution[blocks.kind[rows, None], groups.kind[None, :]]
    lb = (
        group_floor[None, :]
        + np.nan_to_num(sub, nan=np.inf)
        + pol.distance_per_mile * gap / 1609.3
        + pol.out_of_la * (blocks.la[rows, None] != groups.la[None, :])
        + pol.out_of_rcc * (blocks.rcc[rows, None] != groups.rcc[None, :])
    )
    if pol.max_miles is not None:
        lb[gap / 1609.3 > pol.max_miles] = np.inf
    return lb


@dataclass
class _Arcs:
    """Candidate pairs gathered so far, deduplicated by (child, placement)."""

    child: list[IntArray] = field(default_factory=list)
    place: list[IntArray] = field(default_factory=list)

    def add(self, ci: IntArray, pi: IntArray) -> None:
        self.child.append(ci.astype(np.int64))
        self.place.append(pi.astype(np.int64))

    def arrays(self, n_children: int, n_places: int) -> tuple[IntArray, IntArray]:
        ci = np.concatenate(self.child) if self.child else np.zeros(0, np.int64)
        pi = np.concatenate(self.place) if self.place else np.zeros(0, np.int64)
        ci, pi = distinct_pairs(ci, pi, n_children, n_places)
        self.child, self.place = [ci], [pi]
        return ci, pi


def _aggregate_flows(
    model: PairModel, blocks: _Groups, groups: _Groups, lb: np.ndarray
) -> tuple[IntArray, IntArray, IntArray, np.ndarray, np.ndarray]:
    """The aggregated transportation problem: blocks of children (at their centre) to groups
    of placements (with their total places). Small, and globally capacity-aware: returns the
    (block, group, children) flows, a good guide to where each child's candidates lie, and its
    dual prices per block and per group (GBP), a first estimate of where places are scarce."""
    n_b, n_g = len(blocks), len(groups)
    b_idx, g_idx = np.nonzero(np.isfinite(lb))
    size = np.array([len(m) for m in blocks.members], np.int64)
    caps = np.array([model.p_cap[m].sum() for m in groups.members], np.int64)
    sink = n_b + n_g
    mcf = min_cost_flow.SimpleMinCostFlow()
    mcf.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([b_idx, np.arange(n_b), n_b + np.arange(n_g)]),
        np.concatenate([n_b + g_idx, np.full(n_b, sink), np.full(n_g, sink)]),
        np.concatenate([size[b_idx], size, caps]),
        np.concatenate(
            [
                np.rint(lb[b_idx, g_idx] * 100).astype(np.int64),
                np.full(n_b, round(model.problem.policy.unplaced * 100)),
                np.zeros(n_g, np.int64),
            ]
        ),
    )
    supplies = np.concatenate([size, np.zeros(n_g, np.int64), [-size.sum()]])
    mcf.set_nodes_supplies(np.arange(sink + 1), supplies)
    if mcf.solve() != mcf.OPTIMAL:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, np.zeros(n_b), np.zeros(n_g)
    flows = mcf.flows(np.arange(len(b_idx)))
    used = flows > 0
    cost = np.rint(lb[b_idx, g_idx] * 100).astype(np.int64)
    u, w = _least_duals(
        b_idx, g_idx, cost, flows, size, round(model.problem.policy.unplaced * 100), n_g
    )
    return b_idx[used], g_idx[used], flows[used], u / 100, w / 100


def _least_duals(
    b: IntArray,
    g: IntArray,
    cost: IntArray,
    flow: IntArray,
    size: IntArray,
    unplaced: int,
    n_g: int,
) -> tuple[IntArray, IntArray]:
    """Optimal duals of an optimal transportation flow: u_b per supply node, w_g >= 0 per
    capacity node, from its arcs (b, g, cost, flow) and supplies `size`.

    The least solution of w_g = max(0, max_b u_b - c_bg) with u_b = max over b's used arcs of
    c_bg + w_g (u_b = U when some of b is unplaced); it exists because the flow is optimal (no
    negative cycle), and at it every used arc has zero reduced cost and none is negative, which
    is complementary slackness. Iterated to the fixed point.
    """
    n_b = len(size)
    short = np.bincount(b, weights=flow, minlength=n_b) < size
    used = flow > 0
    order = np.argsort(g, kind="stable")
    b_s, g_s, c_s = b[order], g[order], cost[order]
    starts = np.flatnonzero(np.r_[len(g_s) > 0, g_s[1:] != g_s[:-1]])
    heads = g_s[starts]
    w = np.zeros(n_g, np.int64)
    for _ in range(n_b + n_g + 1):
        u = np.full(n_b, -(2**62), np.int64)
        np.maximum.at(u, b[used], cost[used] + w[g[used]])
        u[short] = unplaced
        new = np.zeros(n_g, np.int64)
        if len(heads):
            new[heads] = np.maximum(np.maximum.reduceat(u[b_s] - c_s, starts), 0)
        if np.array_equal(new, w):
            return u, w
        w = new
    raise RuntimeError("dual prices did not converge: the flow is not optimal")


_WINDOW = np.arange(-3, 5)


def _guided_arcs(
    model: PairModel, blocks: _Groups, groups: _Groups
) -> tuple[IntArray, IntArray, np.ndarray, np.ndarray]:
    """Disaggregate the aggregated flows into one concrete placement per child, consistent with
    every placement's capacity (blocks queue for a group's places one after another), with a
    window of the placements beside it in the queue (ages and sexes may rule some out)."""
    floor = np.array([model.p_weekly[m].mean() for m in groups.members])
    b_idx, g_idx, f, u_block, w_group = _aggregate_flows(
        model, blocks, groups, _lower_bounds(model, blocks, groups, floor)
    )
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    taken = np.zeros(len(blocks), np.int64)  # children of each block already guided
    queued = np.zeros(len(groups), np.int64)  # places of each group already handed out
    for b, g, k in zip(b_idx, g_idx, f, strict=True):
        kids = blocks.members[b][taken[b] : taken[b] + k]
        taken[b] += k
        members = groups.members[g]
        members = members[np.argsort(model.p_weekly[members], kind="stable")]
        cum = np.cumsum(model.p_cap[members])
        pos = queued[g] + np.arange(len(kids))
        queued[g] += len(kids)
        pick = np.searchsorted(cum, pos % cum[-1], side="right")[:, None] + _WINDOW[None, :]
        rows.append(np.repeat(kids, len(_WINDOW)))
        cols.append(members[np.clip(pick, 0, len(members) - 1)].ravel())
    u = u_block[blocks.index_of(model.n_children)]
    w = w_group[groups.index_of(model.n_placements)]
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), u, w
    ci, pi = np.concatenate(rows), np.concatenate(cols)
    ok = model.costs(ci, pi).eligible
    return ci[ok], pi[ok], u, w


def _initial_arcs(
    model: PairModel,
    coarse: tuple[_Groups, _Groups],
    fine: tuple[_Groups, _Groups],
    *,
    per_child: int,
    threads: int,
) -> _Arcs:
    """Starting pairs that leave room for everyone: the places the aggregated transportation
    problem guides each child to (so a block's children do not all want the same cheapest
    places), its current placement (staying put is always on the table), and its `per_child`
    best pairs at the aggregated problem's prices, found by the pricing routine; and each
    placement's `_PER_PLACEMENT` cheapest children of its own LA, so that the first restricted
    problem holds the children competing for every place and prices it near its worth (without
    them a place few children reach is priced as if it had no rival, and the first rounds price
    in most of the country again)."""
    arcs = _Arcs()
    gci, gpi, u_agg, w_agg = _guided_arcs(model, *coarse)
    arcs.add(gci, gpi)
    cur = np.flatnonzero(model.c_current >= 0)
    ok = model.costs(cur, model.c_current[cur]).eligible
    arcs.add(cur[ok], model.c_current[cur[ok]])
    ci, pi = arcs.arrays(model.n_children, model.n_placements)
    # reduced costs against the aggregated problem's prices: each child's best pairs once
    # scarce places are priced, at most as dear as its guided pair
    u = np.full(model.n_children, model.problem.policy.unplaced)
    np.minimum.at(u, ci, model.costs(ci, pi).total + w_agg[pi])
    u = np.minimum(u, np.maximum(u_agg, 0) + model.problem.policy.out_of_la)
    cheaper = _price(
        model,
        *fine,
        model.scaled(u),
        model.scaled(w_agg),
        per_child=per_child,
        threads=threads,
    )
    arcs.add(cheaper.child, cheaper.place)
    places = np.flatnonzero(model.p_cap > 0)
    arcs.add(*_nearest_children(model, places, _PER_PLACEMENT, threads=threads))
    return arcs


def _nearest_children(
    model: PairModel, places: IntArray, k: int, *, threads: int = 1
) -> tuple[IntArray, IntArray]:
    """The `k` children of each placement's own LA with its cheapest eligible pairs (the
    placements shared between `threads` threads), from grids of each LA's children of each
    need (see `pricing.nearest_children`)."""
    origin = np.array([model.c_e.min(initial=0.0), model.c_n.min(initial=0.0)])
    extent = np.array([model.c_e.max(initial=0.0), model.c_n.max(initial=0.0)]) - origin
    side = max(math.sqrt(extent.prod() / max(model.n_children, 1) / _NEAR_CELLS), 100.0)
    ci = ((model.c_e - origin[0]) // side).astype(np.int64)
    cj = ((model.c_n - origin[1]) // side).astype(np.int64)
    n_need = model.substitution.shape[0]
    kind = model.c_la * n_need + model.c_need
    boxes = np.empty((len(model.la_codes) * n_need, 5), np.int64)
    boxes[:, [0, 2]], boxes[:, [1, 3]] = np.iinfo(np.int64).max, -1
    np.minimum.at(boxes[:, 0], kind, ci)
    np.maximum.at(boxes[:, 1], kind, ci)
    np.minimum.at(boxes[:, 2], kind, cj)
    np.maximum.at(boxes[:, 3], kind, cj)
    width = np.maximum(boxes[:, 3] - boxes[:, 2] + 1, 0)
    cells = np.maximum(boxes[:, 1] - boxes[:, 0] + 1, 0) * width
    boxes[:, 4] = np.r_[0, np.cumsum(cells)[:-1]]
    cell = boxes[kind, 4] + (ci - boxes[kind, 0]) * width[kind] + cj - boxes[kind, 2]
    kids, cell_ptr = group_by(cell, int(cells.sum()))
    arrays = pricing.pair_arrays(model)

    def run(part: IntArray) -> tuple[IntArray, IntArray]:
        return pricing.nearest_children(
            cell_ptr, kids, origin, side, boxes, part, arrays, float(COST_SCALE), k
        )

    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(run, np.array_split(places, threads)))
    return np.concatenate([c for c, _ in parts]), np.concatenate([q for _, q in parts])


def _free_place_arcs(
    model: PairModel, assigned: IntArray, *, per_child: int, kids: IntArray | None = None
) -> tuple[IntArray, IntArray]:
    """For each child the restricted flow left unplaced (or each of `kids`), its cheapest
    eligible placements that still have a free place: restores feasibility before dual prices
    are worth computing (an unplaced child prices every place it touches at nearly the
    unplaced penalty)."""
    kids = np.flatnonzero(assigned < 0) if kids is None else kids
    placed = assigned[assigned >= 0]
    free = np.flatnonzero(model.p_cap - np.bincount(placed, minlength=model.n_placements) > 0)
    empty = np.zeros(0, np.int64)
    if len(kids) == 0 or len(free) == 0:
        return empty, empty
    rows, cols = [], []
    for part in _chunks(len(kids), len(free)):
        pc = model.costs(kids[part][:, None], free[None, :])
        # only pairs cheaper than leaving the child unplaced: the flow will take them
        useful = pc.eligible & (pc.total < model.problem.policy.unplaced)
        score = np.where(useful, pc.total, np.inf)
        k = min(per_child, len(free))
        pick = np.argpartition(score, k - 1, axis=1)[:, :k]
        r = np.repeat(kids[part], k)
        c = free[pick].ravel()
        ok = np.isfinite(np.take_along_axis(score, pick, axis=1)).ravel()
        rows.append(r[ok])
        cols.append(c[ok])
    return np.concatenate(rows), np.concatenate(cols)


# ----------------------------------------------------------------------------- flow


def _priced_pairs(
    model: PairModel, ci: IntArray, pi: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """The eligible pairs among (ci, pi), with their integer costs."""
    ci, pi = np.asarray(ci, np.int64), np.asarray(pi, np.int64)
    cost = pricing.pair_costs(ci, pi, pricing.pair_arrays(model), float(COST_SCALE))
    keep = (cost >= 0) & (model.p_cap[pi] > 0)
    return ci[keep], pi[keep], cost[keep]


@dataclass(frozen=True)
class _Pricing:
    """Pairs with negative reduced cost, and the Lagrangian lower bound the check yields."""

    child: IntArray
    place: IntArray
    bound: int
    least: np.ndarray  # per child: a lower bound on min(U, min_p cost(c,p) + w_p), GBP
    evaluated: int  # pairs whose reduced cost was computed exactly
    complete: bool  # every pair was checked (bounds or exactly): no improving pair left out
    w: IntArray  # the placements' prices checked against


# When the flow is solved afresh, each child keeps at most this many of its other pairs, the
# cheapest at the current prices, none dearer than _KEEP_WITHIN GBP: it keeps the restricted
# problem small (measured on synthetic England, scale 1: keeping 6 or 8 took 26-27 s, 16 28-29 s,
# all those within GBP 200 38-43 s, 4 36-37 s)
_KEEP_BEST = 8
_KEEP_WITHIN = 200.0
# The first rounds solve each restricted problem only to within a tolerance per child (down to
# _COARSE GBP, see _FIRST_TOLERANCE), by the auction (prices still move by pounds there, and an
# exact solve costs 2-3 s at scale 1), until fewer than _TIGHTEN_SHARE of the children gain
# pairs or the cost falls by less than _STALL of itself in a round; then exactly. Scale 1,
# one process each, alternating: 18.6 and 19.0 s against 27.5 and 29.3 s exact throughout (the
# same optimum); a fixed tolerance of GBP 1 or 4 took 19.6-24 s (its prices strayed further, and
# more exact rounds followed), 0.01-0.1 17-21 s.
_COARSE = 0.05
_TIGHTEN_SHARE = 0.1
_STALL = 5e-5
_SETTLING = 1e-3
# The first auction solves only to within _FIRST_TOLERANCE GBP per child, and each next one to
# within a _FALL_SHARE of the cost's fall per child in the round before (a power of 4, the
# auction's epsilon step, times _COARSE, never more than the last, never less than _COARSE):
# what the children may lose to the tolerance stays a small part of what a round gains, and
# the first rounds skip the auction's finest phases. Alternated in one hour, `rcc synth` seed 1:
# scale 1 5.83-7.07 s against 6.67-7.57 s, scale 2 17.69-19.17 s against 22.02-24.35 s (three
# each), scale 5 112.5-129.4 s against 119.4-141.7 s (the same optima); a first tolerance of GBP
# 12.8 was slower at scale 5 (134.9 s), and one from the gap to the bound (often stale) slower at
# scale 2. Not with sibling groups: their allocation starts from the flow where its rounds
# stop, and a coarser start left wider gaps (0.03 of England 0.236% against 0.214%, 0.1 0.112%
# against 0.110%).
_FIRST_TOLERANCE = 3.2
_FALL_SHARE = 0.25
# Starting pairs per placement, its own LA's cheapest children (national solve at scale 1, one
# process each: 8 per placement 17.6-19.1 s, 16: 20.0-20.6 s, 32: 20.0 s, none 22.9-23.0 s)
_PER_PLACEMENT = 8
# the grids that find them: cells of a fifth of the area per child over the children's box
# (the quickest of 1/1.25-1/80 at scale 1 and 5, about 1 km and 450 m: 0.15 and 0.82 s; a
# fixed 2 km took 0.22 and 4.2 s, as a cell held some 140 children of a city at scale 5)
_NEAR_CELLS = 5.0
_SHARED = 8  # plans kept per sibling group, cheapest first
_TIES = 16  # pairs at reduced cost 0 kept per child when choosing among equal optima
# With sibling groups the relaxation's column generation stops at this relative gap: the
# sibling bound's own gap is larger (0.07% nationally), and the last rounds close only pennies
_SIBLING_CG_GAP = 5e-5
# A problem with sibling groups and at most this many pairs that could improve on the
# allocation found (a council's, or a small region's) is then solved exactly by SCIP
# (`_exact_siblings`), from that allocation, for the time left (or _EXACT_SECONDS without a
# time limit): the reservations' bound alone left a gap of 5.6% on three children
_EXACT_PAIRS = 100_000
# The sibling groups' linear relaxation (`_sibling_master`) is solved from at most this many
# starting pairs (0.05 of England: 30,304, 4-6 s in all; 0.1: 67,966, 17-24 s; 0.2: 123,275,
# 37-46 s)
_MASTER_PAIRS = 150_000
# its column generation rounds (4-6 from 0.01 to 0.2 of England) and dive steps (1-9 there),
# at most; the rounds stop once the bound is within _MASTER_GAP of the LP's value (at 0.2,
# ten more rounds closed GBP 30 of 17.6 M)
_MASTER_ROUNDS, _DIVE_STEPS = 20, 30
_MASTER_GAP = 1e-5
_CHUNK = 256  # blocks whose lower bounds to every placement group are computed at once
_EXACT_CELLS = 25_000_000  # children x placements looked at for them (a few seconds)
_EXACT_SECONDS = 30.0


def _next_tolerance(tolerance: int, fall: int, n_children: int) -> int:
    """The auction's tolerance after a round whose cost fell by `fall` (see _FALL_SHARE)."""
    chosen = round(_COARSE * COST_SCALE)
    while chosen * 4 <= min(_FALL_SHARE * fall / n_children, tolerance):
        chosen *= 4
    return chosen


def _price(
    model: PairModel,
    blocks: _Groups,
    groups: _Groups,
    u: IntArray,
    w: IntArray,
    *,
    per_child: int,
    block_budget: int = 600,
    threads: int = 1,
) -> _Pricing:
    """Check every eligible pair's reduced cost cost(c,p) + w_p - u_c (integer units), with
    the spatial bounds of `optimiser.pricing`, on `threads` threads (each a share of the
    children): each child's `per_child` most negative pairs, and the dual bound
    sum_c min(U, min_p cost(c,p) + w_p) - sum_p cap_p w_p (valid for any w >= 0; equal to the
    objective when no pair is negative)."""
    pol = model.problem.policy
    kids, b_start, b_size = blocks.flat()
    block_of = np.repeat(np.arange(len(blocks)), b_size)
    kids = kids[np.lexsort((-u[kids], block_of))]
    places, g_start, _ = groups.flat()
    top_p = np.full((model.n_children, per_child), -1, np.int64)
    top_rc = np.zeros((model.n_children, per_child), np.int64)
    best = np.minimum(u, round(pol.unplaced * COST_SCALE))
    cb_ptr, cb_e, cb_n, cb_r = blocks.coarse()
    # contiguous runs of coarse blocks with about equal numbers of children per thread
    b_ptr = np.r_[b_start, len(kids)]
    cuts = np.searchsorted(b_ptr[cb_ptr], np.linspace(0, len(kids), threads + 1)[1:-1])
    bounds = np.r_[0, cuts, len(cb_ptr) - 1]
    g_ptr = np.r_[g_start, len(places)]
    coarse_groups = groups.coarse()
    arrays = pricing.pair_arrays(model)

    def run(first: int, last: int) -> tuple[int, bool]:
        return pricing.price(
            b_ptr, kids, blocks.e, blocks.n, blocks.radius, blocks.la, blocks.rcc, blocks.kind,
            cb_ptr, cb_e, cb_n, cb_r,
            g_ptr, places, groups.e, groups.n, groups.radius, groups.la, groups.rcc,
            groups.kind, *coarse_groups,
            arrays, model.p_cap, float(COST_SCALE),
            u, w, block_budget, first, last, top_p, top_rc, best,
        )  # fmt: skip

    spans = [(int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]
    if len(spans) > 1:
        with ThreadPoolExecutor(len(spans)) as pool:
            parts = list(pool.map(lambda span: run(*span), spans))
    else:
        parts = [run(*span) for span in spans]
    found = top_p >= 0
    child = np.broadcast_to(np.arange(model.n_children)[:, None], top_p.shape)[found]
    bound = int(best.sum()) - int((model.p_cap * w).sum())
    return _Pricing(
        child,
        top_p[found],
        bound,
        best / COST_SCALE,
        sum(e for e, _ in parts),
        all(c for _, c in parts),
        w,
    )


# ----------------------------------------------------------------------------- siblings


@dataclass(frozen=True)
class _Fixing:
    """A Lagrangian lower bound with the sibling term (`_sibling_bound`) at prices w, and what
    reduced-cost fixing needs: every allocation costs at least `bound` plus, for each of its
    pairs (c, p), cost(c,p) + w_p - least_c - slack_c (slack: how much above its members'
    `least` the bound counts a sibling group, 0 for a child alone), so an allocation cheaper
    than Z uses only pairs with cost + w - least <= Z - bound + slack."""

    bound: float  # GBP
    least: np.ndarray  # per child, GBP
    w: IntArray
    slack: np.ndarray  # per child, GBP


def _sibling_bound(
    model: PairModel,
    blocks: _Groups,
    groups: _Groups,
    pricing: _Pricing,
    unplaced: float,
) -> tuple[_Fixing, dict[int, list[IntArray]]]:
    """A lower bound with the sibling term, and each group's best plans (`_group_plans`).

    Lagrangian relaxation of capacity with the prices w the pricing checked against: each child
    alone costs at least m_c = min(U, min_p cost(c,p) + w_p); a sibling group g at least
    LB_g = min(sum m_c + split, together_g, min_c sum m + U - m_c), where together_g =
    min_p sum_c cost(c,p) + w_p over placements eligible for every member (the group kept
    together), the middle option leaves a member unplaced. Placements whose lower bound for the
    first member is at least m + split cannot make `together_g` the minimum and are skipped.
    bound = sum_(c alone) m_c + sum_g LB_g - sum_p cap_p w_p.
    """
    split = model.problem.policy.sibling_split
    wf = pricing.w / COST_SCALE
    m = pricing.least
    floor = np.array([(model.p_weekly[q] + wf[q]).min() for q in groups.members])
    block_of = np.empty(model.n_children, np.int64)
    for b, members in enumerate(blocks.members):
        block_of[members] = b
    member, kept = _sibling_members(model)  # a group of one is a child alone
    total = float(m[~member].sum())
    slack = np.zeros(model.n_children)
    shared: dict[int, list[IntArray]] = {}
    # for each group, the placement groups whose bound for its first member is below m + split,
    # from the bounds of up to _CHUNK blocks at a time (one block per call took 1.7 s at scale 1)
    firsts = np.array([kids[0] for kids in kept.values()], np.int64)
    rows, row_of = np.unique(block_of[firsts], return_inverse=True)
    near_of: list[IntArray] = [firsts[:0]] * len(firsts)
    for start in range(0, len(rows), _CHUNK):
        lb = _lower_bounds(model, blocks, groups, floor, rows[start : start + _CHUNK])
        for i in np.flatnonzero((row_of >= start) & (row_of < start + _CHUNK)).tolist():
            near_of[i] = np.flatnonzero(lb[row_of[i] - start] < m[firsts[i]] + split)
    for (g, kids), near in zip(kept.items(), near_of, strict=True):
        alone = float(m[kids].sum())
        options = [alone + split, float((alone + unplaced - m[kids]).min())]
        if len(near):
            places = np.concatenate([groups.members[q] for q in near])
            pc = model.costs(kids[:, None], places[None, :])
            value = np.where(pc.eligible, pc.total + wf[places], np.inf)
            plans = _group_plans(value, model.p_cap[places])
            if plans:
                cost, plan = plans[0]
                if (plan == plan[0]).all():
                    options.append(cost)  # kept together: exact under the relaxation
                shared[g] = [places[p] for _, p in plans]
        total += min(options)
        slack[kids] = min(options) - alone
    bound = total - float((model.p_cap * wf).sum())
    return _Fixing(bound, m, pricing.w, slack), shared


def _group_plans(value: np.ndarray, cap: IntArray) -> list[tuple[float, IntArray]]:
    """Ways to house a sibling group, cheapest first: a column per member of `value` (members
    x placements, the member's cost plus the placement's price, inf where not eligible).

    The `_SHARED` placements with room for the whole group; where none has room, the best
    splits into two placements (as few as sibling_split allows: a group of four in foster
    homes of at most three is one split, not three; groups of three or more), the larger part
    on the placement where it is cheapest, the rest on the cheapest placement that can take all
    of them."""
    k = len(value)
    fits = np.isfinite(value).all(axis=0) & (cap >= k)
    if fits.any():
        together = np.where(fits, value.sum(axis=0), np.inf)
        best = np.argsort(together, kind="stable")[:_SHARED]
        best = best[np.isfinite(together[best])]
        return [(float(together[p]), np.full(k, p)) for p in best]
    plans: list[tuple[float, IntArray]] = []
    if k < 3:
        return plans  # two apart is any split: the flow's choice
    ranked = np.sort(value, axis=0)
    for size in range(k - 1, (k + 1) // 2 - 1, -1):
        part = np.where(cap >= size, ranked[:size].sum(axis=0), np.inf)
        for p in np.argsort(part, kind="stable")[:_SHARED]:
            if not np.isfinite(part[p]):
                break
            on_p = np.argsort(value[:, p], kind="stable")[:size]
            rest = np.setdiff1d(np.arange(k), on_p)
            other = np.where(cap >= len(rest), value[rest].sum(axis=0), np.inf)
            other[p] = np.inf
            q = int(np.argmin(other))
            if np.isfinite(other[q]):
                plan = np.full(k, q)
                plan[on_p] = p
                plans.append((float(part[p] + other[q]), plan))
    plans.sort(key=lambda plan: plan[0])
    return plans[:_SHARED]


def _together_first(
    model: PairModel,
    arcs: tuple[IntArray, IntArray],
    shared: dict[int, list[IntArray]],
    unplaced: int,
    assigned: IntArray,
    *,
    passes: int = 3,
) -> IntArray:
    """Keep sibling groups together by reservation: groups already together keep their
    placement, each split group (largest first) is reserved the cheapest of its plans
    (`_group_plans`) with room for it (room not already reserved), everyone else is placed by
    the min-cost flow around the reservations; repeated for the groups still split while it
    lowers the objective. Returns the best assignment."""
    best, best_cost = assigned, assignment_objective(model, assigned)
    members = {g: np.flatnonzero(model.c_group == g) for g in shared}
    fixed = np.full(model.n_children, -1, np.int64)
    # groups already together stay where they are: reservations for the others must not
    # split them
    split_now = _split_groups(model, assigned)
    for g, kids in members.items():
        if g not in split_now:
            fixed[kids] = assigned[kids]
    for _ in range(passes):
        split_now = _split_groups(model, best)
        # split groups not reserved yet (a group reserved two placements stays split)
        split = [g for g in shared if g in split_now and fixed[members[g][0]] < 0]
        free = model.p_cap - np.bincount(fixed[fixed >= 0], minlength=model.n_placements)
        reserved = 0
        for g in sorted(split, key=lambda g: -len(members[g])):
            for plan in shared[g]:
                where, count = np.unique(plan, return_counts=True)
                if (free[where] >= count).all():
                    fixed[members[g]] = plan
                    free[where] -= count
                    reserved += 1
                    break
        if reserved == 0:
            break
        placed = _around(model, arcs, fixed, unplaced, assigned)
        cost = assignment_objective(model, placed)
        if cost >= best_cost:
            break
        best, best_cost = placed, cost
    return best


def _around(
    model: PairModel,
    arcs: tuple[IntArray, IntArray],
    fixed: IntArray,
    unplaced: int,
    assigned: IntArray,
) -> IntArray:
    """Everyone not `fixed` (-1) placed by the min-cost flow over the candidate `arcs`, in
    the room the fixed children leave; a child placed in `assigned` whom that pushes out of
    every pair it had gets pairs to the cheapest free places."""
    ci, pi = arcs
    held = fixed >= 0
    room = model.p_cap - np.bincount(fixed[held], minlength=model.n_placements)
    keep = ~held[ci]
    # within a tolerance by the auction, then exactly (scale 1: 1.2 s against OR-Tools' 3.0 s
    # from nothing over the same 1.35 M pairs, the same cost)
    flow = Flow.solve(
        room, unplaced, *_priced_pairs(model, ci[keep], pi[keep]), model.n_children,
        tolerance=round(_COARSE * COST_SCALE),
    )  # fmt: skip
    flow.tighten()
    pushed = np.flatnonzero(~held & (flow.assigned < 0) & (assigned >= 0))
    if len(pushed):
        now = np.where(held, fixed, flow.assigned)
        more = _free_place_arcs(model, now, per_child=_SHARED, kids=pushed)
        flow.add(*_priced_pairs(model, *more), keep_within=unplaced)
    return np.where(held, fixed, flow.assigned)


def _sibling_members(model: PairModel) -> tuple[np.ndarray, dict[int, IntArray]]:
    """Which children are in a sibling group of two or more, and each such group's children."""
    order = np.argsort(model.c_group, kind="stable")
    order = order[model.c_group[order] >= 0]
    cuts = np.flatnonzero(np.diff(model.c_group[order])) + 1
    kept = {int(model.c_group[k[0]]): k for k in np.split(order, cuts) if len(k) > 1}
    member = np.zeros(model.n_children, bool)
    for kids in kept.values():
        member[kids] = True
    return member, kept


def _consolidate(model: PairModel, assigned: IntArray) -> IntArray:
    """Gather split sibling groups by local moves: a member alone in its placement joins one
    that another member uses, into a free place there or in exchange with a child there in no
    sibling group who may take the member's place. In each split group the move that lowers
    the objective most (sibling_split per placement no longer used, against the pairs' costs)
    is made, while one does (each lowers the objective, so this ends); a move changes no
    other group."""
    split = round(model.problem.policy.sibling_split * COST_SCALE)
    assigned = assigned.copy()
    in_group, members = _sibling_members(model)
    load = np.bincount(assigned[assigned >= 0], minlength=model.n_placements)
    occupants: dict[int, list[int]] = {}
    for child in np.flatnonzero(assigned >= 0).tolist():
        occupants.setdefault(int(assigned[child]), []).append(child)

    def price(ci: IntArray, pi: IntArray) -> IntArray:  # -1 where not eligible
        pc = model.costs(ci, pi)
        return np.where(pc.eligible, model.scaled(pc.total), -1)

    moved = True
    while moved:
        moved = False
        for g in sorted(_split_groups(model, assigned) & members.keys()):
            while True:
                kids = members[g][assigned[members[g]] >= 0]
                where = assigned[kids]
                used, count = np.unique(where, return_counts=True)
                # (member, its placement, the placement it joins, the child exchanged or -1)
                moves = np.array(
                    [
                        (c, a, b, d)
                        for c, a in zip(kids.tolist(), where.tolist(), strict=True)
                        if count[np.searchsorted(used, a)] == 1
                        for b in used.tolist()
                        if b != a
                        for d in ([-1] if load[b] < model.p_cap[b] else [])
                        + [d for d in occupants[b] if not in_group[d]]
                    ],
                    np.int64,
                ).reshape(-1, 4)
                if not len(moves):
                    break
                c, a, b, d = moves.T
                n, gets = len(moves), d >= 0
                k = int(gets.sum())
                cost = price(
                    np.r_[c, c, d[gets], d[gets]], np.r_[b, a, a[gets], b[gets]]
                )  # member to b, member at a, exchanged child to a, exchanged child at b
                delta = cost[:n] - cost[n : 2 * n] - split
                ok = cost[:n] >= 0
                delta[gets] += cost[2 * n : 2 * n + k] - cost[2 * n + k :]
                ok[gets] &= cost[2 * n : 2 * n + k] >= 0
                delta = np.where(ok, delta, 1)
                best = int(np.argmin(delta))
                if delta[best] >= 0:
                    break
                mc, ma, mb, md = (int(v) for v in moves[best])
                assigned[mc] = mb
                occupants[ma].remove(mc)
                occupants[mb].append(mc)
                if md >= 0:
                    assigned[md] = ma
                    occupants[mb].remove(md)
                    occupants[ma].append(md)
                else:
                    load[ma] -= 1
                    load[mb] += 1
                moved = True
    return assigned


@dataclass(frozen=True)
class _Master:
    """The sibling groups' relaxation: its best bound, and its columns."""

    fixing: _Fixing
    pairs: tuple[IntArray, IntArray]  # its candidate pairs: child, placement
    # the groups a dive through the LP keeps together, and where (None: no LP solved in time)
    chosen: dict[int, int] | None


def _sibling_master(
    model: PairModel,
    blocks: _Groups,
    groups: _Groups,
    start: tuple[_Fixing, dict[int, list[IntArray]]],
    arcs: tuple[IntArray, IntArray],
    *,
    seconds: float | None,
    threads: int,
    say: Progress,
) -> _Master | None:
    """A stronger bound with sibling groups: the linear relaxation in which each group is
    either kept together in one placement (a column per group and placement, its members'
    costs, taking as many places as it has members) or kept apart (its members placed one by
    one, at sibling_split), solved by column generation with GLOP from the candidate `arcs`
    and the groups' plans of `start` (the bound at the flow's prices).

    Each round prices every pair at the LP's placement prices w and evaluates the Lagrangian
    bound there (`_sibling_bound`, valid for any w >= 0); pairs and kept-together plans of
    negative reduced cost join the LP, until the bound reaches the LP's value (then it is the
    relaxation's optimum: at 0.01 of England GBP 934,406.35, where the flow's prices gave
    933,691.20 and HiGHS, on the whole MIP for 60 s, 933,232.84), nothing joins, or half of
    `seconds` has gone (None: no limit but _MASTER_ROUNDS). Then a dive fixes groups whole
    (at most _DIVE_STEPS times) for an allocation. Returns the best bound found, with its
    fixing, the LP's pairs and the groups the dive keeps together; None above _MASTER_PAIRS
    candidate pairs, or when the LP is not solved in time."""
    import ortools.linear_solver.pywraplp as pywraplp

    ci, pi = arcs
    if len(ci) > _MASTER_PAIRS or (seconds is not None and seconds <= 0):
        return None
    # without a time limit, only counts limit the rounds (the same inputs, the same result)
    now = time.perf_counter()
    deadline = math.inf if seconds is None else now + seconds
    half = math.inf if seconds is None else now + seconds / 2  # for the bound
    pol = model.problem.policy
    member, kept = _sibling_members(model)
    lp = pywraplp.Solver.CreateSolver("GLOP")
    # without presolve GLOP starts each solve from the last basis as columns join
    lp.SetSolverSpecificParametersAsString("use_preprocessing: false")
    objective = lp.Objective()
    child_row = [lp.Constraint(0.0 if m else 1.0, 0.0 if m else 1.0) for m in member.tolist()]
    place_row = [lp.Constraint(-lp.infinity(), float(cap)) for cap in model.p_cap.tolist()]
    group_row = {g: lp.Constraint(1.0, 1.0) for g in kept}

    def column(cost: float, rows: list[tuple[Any, float]]) -> Any:
        var = lp.NumVar(0.0, 1.0, "")
        objective.SetCoefficient(var, cost)
        for row, coefficient in rows:
            row.SetCoefficient(var, coefficient)
        return var

    for c in range(model.n_children):  # unplaced
        column(pol.unplaced, [(child_row[c], 1.0)])
    apart = {  # each group kept apart
        g: column(pol.sibling_split, [(group_row[g], 1.0), *((child_row[c], -1.0) for c in kids)])
        for g, kids in kept.items()
    }
    pairs: set[int] = set()
    in_lp: list[tuple[IntArray, IntArray, IntArray]] = []  # the pairs added, with their costs
    together: dict[tuple[int, int], Any] = {}

    def add_pairs(ci: IntArray, pi: IntArray, cost: IntArray) -> int:
        keys = ci * model.n_placements + pi
        new = np.array([k not in pairs for k in keys.tolist()], dtype=bool)
        ci, pi, cost = ci[new], pi[new], cost[new]
        pairs.update(keys[new].tolist())
        in_lp.append((ci, pi, cost))
        for c, p, k in zip(ci.tolist(), pi.tolist(), (cost / COST_SCALE).tolist(), strict=True):
            column(k, [(child_row[c], 1.0), (place_row[p], 1.0)])
        return len(ci)

    def add_plans(plans: dict[int, list[IntArray]]) -> int:
        added = 0
        for g, options in plans.items():
            kids = kept.get(g, np.zeros(0, np.int64))
            for plan in options if len(kids) else []:
                p = int(plan[0])
                if (plan != p).any() or (g, p) in together:
                    continue
                pc = model.costs(kids, np.full(len(kids), p))
                if pc.eligible.all():
                    rows = [(group_row[g], 1.0), (place_row[p], float(len(kids)))]
                    together[g, p] = column(float(pc.total.sum()), rows)
                    added += 1
        return added

    n_pairs = add_pairs(*_priced_pairs(model, ci, pi))
    best, plans = start
    say(f"sibling groups: their linear relaxation over {n_pairs:,} pairs (GLOP)")
    add_plans(plans)

    def solve_lp() -> bool:
        if deadline < math.inf:
            lp.SetTimeLimit(max(1, int((deadline - time.perf_counter()) * 1000)))
        return bool(lp.Solve() == pywraplp.Solver.OPTIMAL)

    def generate() -> tuple[_Fixing, int]:
        """After a solve: the bound at the LP's prices, and how many columns joined."""
        u = np.round(np.array([r.dual_value() for r in child_row]) * COST_SCALE).astype(np.int64)
        w = -np.array([r.dual_value() for r in place_row]) * COST_SCALE
        w = np.maximum(np.round(w), 0).astype(np.int64)
        # priced against each child's least over its pairs in the LP (or u, if above), so
        # that `least` is exact: every pair below u joins (its reduced cost is negative)
        reach = np.full(model.n_children, round(pol.unplaced * COST_SCALE), np.int64)
        for kids, places, costs in in_lp:
            np.minimum.at(reach, kids, costs + w[places])
        priced = _price(
            model, blocks, groups, np.maximum(u, reach), w,
            per_child=_SHARED, block_budget=10**12, threads=threads,
        )  # fmt: skip
        found, plans = _sibling_bound(model, blocks, groups, priced, pol.unplaced)
        ci, pi, cost = _priced_pairs(model, priced.child, priced.place)
        gains = cost + w[pi] < u[ci]
        return found, add_pairs(ci[gains], pi[gains], cost[gains]) + add_plans(plans)

    if not solve_lp():
        return None
    for _ in range(_MASTER_ROUNDS):
        if time.perf_counter() >= half:
            break
        value = lp.Objective().Value()
        found, added = generate()
        best = max(best, found, key=lambda f: f.bound)
        say(f"sibling groups: relaxation {value:,.2f}, bound {best.bound:,.2f}")
        if best.bound >= value - _MASTER_GAP * abs(value) or not added or not solve_lp():
            break

    # a dive to an allocation: the options the LP holds at 1/2 or more (a group kept together
    # in a placement, or kept apart; one per group, kept together first at a tie) are fixed,
    # most held first while their placements have room for them, or else the one it holds
    # most, and the LP solved again with the columns its new prices bring, until every group
    # is decided (fixing only those above 1/2 took 40 steps at 0.05 of England, this 3)
    def options() -> list[tuple[Any, int, int, int]]:  # (var, group, placement or -1, size)
        return [(var, g, p, len(kept[g])) for (g, p), var in together.items()] + [
            (var, g, -1, 0) for g, var in apart.items()
        ]

    def state() -> tuple[dict[int, int], set[int], float]:
        """The groups the LP's solution keeps together (held at 1: it has room for them all),
        the groups it leaves undecided, and its value."""
        return (
            {g: p for (g, p), var in together.items() if var.solution_value() > 1 - 1e-6},
            {g for var, g, _, _ in options() if 1e-6 < var.solution_value() < 1 - 1e-6},
            lp.Objective().Value(),
        )

    room = model.p_cap.copy()  # less the groups fixed in them
    solved = solve_lp()  # with the columns that joined last
    last = state() if solved else None  # of the last LP solved
    for _ in range(_DIVE_STEPS):
        if not solved or time.perf_counter() >= deadline:
            break
        held = [(var.solution_value(), var, g, p, k) for var, g, p, k in options() if var.lb() < 1]
        held = [item for item in held if 1e-6 < item[0] < 1 - 1e-6]
        if not held:
            break
        undecided = len({g for _, _, g, _, _ in held})
        say(f"sibling groups: a dive through the relaxation, undecided groups: {undecided:,}")
        held.sort(key=lambda item: -item[0])
        fix: list[tuple[Any, int, int]] = []
        taken: set[int] = set()  # one option per group (two held at 1/2 each cannot both be)
        for value, var, g, p, k in held:
            if (value > 0.5 - 1e-6 or not fix) and g not in taken and (p < 0 or room[p] >= k):
                fix.append((var, p, k))
                taken.add(g)
                if p >= 0:
                    room[p] -= k
        if not fix:  # the one held most has no room left: never, then
            held[0][1].SetBounds(0.0, 0.0)
        for var, _, _ in fix:
            var.SetLb(1.0)
        solved = solve_lp()
        if not solved:  # no room for them all: the one held most alone, or never
            undone = fix[1:]
            for var, _, _ in undone:
                var.SetLb(0.0)
            if not solve_lp():
                fix[0][0].SetBounds(0.0, 0.0)
                undone = fix
            for _, p, k in undone:
                if p >= 0:
                    room[p] += k
            solved = solve_lp()
        if solved and generate()[1]:  # with the columns its new prices bring
            solved = solve_lp()
        if solved:
            last = state()
    lp_pairs = (np.concatenate([c for c, _, _ in in_lp]), np.concatenate([p for _, p, _ in in_lp]))
    if last is None:
        return _Master(best, lp_pairs, None)
    chosen, left, value = last
    if left:  # out of steps or time: those groups are left to the reservations
        say(f"sibling groups: a dive through the relaxation, left undecided: {len(left):,}")
    else:
        say(f"sibling groups: a dive through the relaxation to {value:,.2f}")
    return _Master(best, lp_pairs, chosen)


def _pair_hash(ci: IntArray, pi: IntArray) -> IntArray:
    """A fixed pseudo-random number below 2^24 per pair (the top bits of splitmix64's
    finaliser of c * 2^32 + p): not linear, so swapping two children's places changes the sum
    of their pairs' numbers."""
    x = ci.astype(np.uint64) << np.uint64(32) | pi.astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return ((x ^ (x >> np.uint64(31))) >> np.uint64(40)).astype(np.int64)


def _canonical(
    model: PairModel, blocks: _Groups, groups: _Groups, flow: Flow, *, threads: int
) -> IntArray:
    """The optimum made independent of which optimum the flow reached (the two-thread auction
    reaches one or another by timing; at scale 1 about 40 children of 57,392 differ): of every
    allocation as cheap (those using only pairs of reduced cost 0 at the flow's optimal prices,
    found by pricing every pair, filling every place priced above 0, and leaving unplaced only
    children whose price is the unplaced cost), the one with the fewest miles, further ties
    broken by a fixed hash of each pair. That set does not depend on which optimal prices the
    flow holds, so neither does the allocation chosen (short of two such allocations tying on
    the hash too). A min-cost flow over those pairs, places priced above 0 taking exactly
    their capacity."""
    u, w = flow.duals()
    ties = _price(model, blocks, groups, u + 1, w, per_child=_TIES, block_budget=10**12,
                  threads=threads)  # fmt: skip
    n_c, n_p = model.n_children, model.n_placements
    placed = np.flatnonzero(flow.assigned >= 0)
    ci, pi = distinct_pairs(
        np.r_[ties.child, placed], np.r_[ties.place, flow.assigned[placed]], n_c, n_p
    )
    ci, pi, cost = _priced_pairs(model, ci, pi)
    tight = cost - u[ci] + w[pi] == 0
    ci, pi = ci[tight], pi[tight]
    # a child with one such pair and a price below the unplaced cost takes it in every optimum
    may_stay = u == flow.unplaced_cost  # children left unplaced at no loss
    forced = (np.bincount(ci, minlength=n_c) == 1) & ~may_stay
    assigned = np.full(n_c, -1, np.int64)
    assigned[ci[forced[ci]]] = pi[forced[ci]]
    room = model.p_cap - np.bincount(pi[forced[ci]], minlength=n_p)
    ci, pi = ci[~forced[ci]], pi[~forced[ci]]
    kids = np.flatnonzero(~forced)
    node = np.full(n_c, -1, np.int64)
    node[kids] = np.arange(len(kids))
    n_k = len(kids)
    sink = n_k + n_p
    stay = node[np.flatnonzero(may_stay)]
    key = np.rint(model.eligibility(ci, pi)[0] * 100).astype(np.int64) << 24 | _pair_hash(ci, pi)
    free = np.flatnonzero(w == 0)  # places that may keep room
    mcf = min_cost_flow.SimpleMinCostFlow()
    mcf.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([node[ci], stay, n_k + free]),
        np.concatenate([n_k + pi, np.full(len(stay), sink), np.full(len(free), sink)]),
        np.concatenate([np.ones(len(ci) + len(stay), np.int64), room[free]]),
        np.concatenate(
            [key, np.full(len(stay), key.max(initial=0) + 1), np.zeros(len(free))]
        ).astype(np.int64),
    )
    supplies = np.zeros(sink + 1, np.int64)
    supplies[:n_k] = 1
    full = w > 0
    supplies[n_k:sink][full] = -room[full]
    supplies[sink] = -(n_k - int(room[full].sum()))
    mcf.set_nodes_supplies(np.arange(sink + 1), supplies)
    if mcf.solve() != mcf.OPTIMAL:  # cannot be, as the flow's own allocation is one of them
        return flow.assigned.copy()
    used = mcf.flows(np.arange(len(ci))) > 0
    assigned[ci[used]] = pi[used]
    return assigned


def _split_groups(model: PairModel, assigned: IntArray) -> set[int]:
    """The sibling groups spread over placements or with a member unplaced."""
    kids = np.flatnonzero(model.c_group >= 0)
    group, where = model.c_group[kids], assigned[kids]
    unplaced = set(group[where < 0].tolist())
    pairs = np.unique(np.stack([group, where], axis=1), axis=0)
    spread = np.bincount(pairs[:, 0], minlength=int(group.max(initial=-1)) + 1) > 1
    return unplaced | set(np.flatnonzero(spread).tolist())


def _exact_siblings(
    model: PairModel,
    assigned: IntArray,
    fixing: _Fixing,
    *,
    seconds: float,
    say: Progress,
) -> tuple[IntArray, float, bool] | None:
    """A problem with sibling groups solved exactly as a MIP (SCIP), started from `assigned`:
    x[c,p] (child c in placement p), y[g,p] (group g uses p) and s[g] >= sum_p y[g,p] - 1
    (its extra placements), minimising sum cost x + unplaced x (children not placed) +
    sibling_split x sum s.

    Only pairs that could be in an allocation cheaper than `assigned` are needed: those
    within the gap by `fixing` (reduced-cost fixing), and not dearer than leaving the child
    unplaced. SCIP runs on one thread, so the same inputs give the same allocation when it
    finishes within `seconds` (at 0.01 of England, 21,424 pairs: 7 s, where CP-SAT found no
    proof in 60 s). Returns the allocation (never worse than `assigned`), the proven bound in
    GBP and whether it is optimal; None when more than _EXACT_PAIRS pairs are left, the
    problem has more than _EXACT_CELLS (child, placement) pairs to look at, or no time is
    left."""
    import ortools.linear_solver.pywraplp as pywraplp

    if seconds <= 0.1 or model.n_children * model.n_placements > _EXACT_CELLS:
        return None
    pol = model.problem.policy
    unplaced = round(pol.unplaced * COST_SCALE)
    start = assignment_objective(model, assigned)
    within = np.ceil((start - fixing.bound + fixing.slack + fixing.least) * COST_SCALE)
    kept: list[tuple[IntArray, IntArray, IntArray]] = []
    n_kept = 0
    for rows in _chunks(model.n_children, model.n_placements):
        kids = np.arange(model.n_children)[rows]
        ci = np.repeat(kids, model.n_placements)
        pi = np.tile(np.arange(model.n_placements), len(kids))
        ci, pi, cost = _priced_pairs(model, ci, pi)
        useful = (cost < unplaced) & (cost + fixing.w[pi] <= within[ci])
        kept.append((ci[useful], pi[useful], cost[useful]))
        n_kept += int(useful.sum())
        if n_kept > _EXACT_PAIRS:
            return None
    ci, pi, cost = (np.concatenate(parts) for parts in zip(*kept, strict=True))
    say(f"sibling groups: solving exactly over the {len(ci):,} pairs that could improve (SCIP)")
    mip = pywraplp.Solver.CreateSolver("SCIP")
    x = [mip.BoolVar("") for _ in range(len(ci))]
    by_child: list[list[int]] = [[] for _ in range(model.n_children)]
    by_place: list[list[int]] = [[] for _ in range(model.n_placements)]
    for k, (c, p) in enumerate(zip(ci.tolist(), pi.tolist(), strict=True)):
        by_child[c].append(k)
        by_place[p].append(k)
    for ks in by_child:
        mip.Add(mip.Sum([x[k] for k in ks]) <= 1)
    for p, ks in enumerate(by_place):
        if len(ks) > model.p_cap[p]:
            mip.Add(mip.Sum([x[k] for k in ks]) <= int(model.p_cap[p]))
    extra = []
    for kids in _sibling_members(model)[1].values():  # a group of one is never split
        uses: dict[int, Any] = {}
        for c in kids.tolist():
            for k in by_child[c]:
                y = uses.setdefault(int(pi[k]), mip.BoolVar(""))
                mip.Add(x[k] <= y)
        extra.append(mip.NumVar(0.0, max(len(uses) - 1, 0), ""))
        mip.Add(extra[-1] >= mip.Sum(list(uses.values())) - 1)
    objective = mip.Objective()
    for var, value in zip(x, (cost / COST_SCALE - pol.unplaced).tolist(), strict=True):
        objective.SetCoefficient(var, value)  # a child placed no longer costs `unplaced`
    for var in extra:
        objective.SetCoefficient(var, pol.sibling_split)
    objective.SetOffset(pol.unplaced * model.n_children)
    objective.SetMinimization()
    mip.SetHint(x, [float(assigned[c] == p) for c, p in zip(ci.tolist(), pi.tolist(), strict=True)])
    exact = pywraplp.MPSolverParameters()  # SCIP stops within 1e-4 of the optimum by default
    exact.SetDoubleParam(exact.RELATIVE_MIP_GAP, 0.0)
    mip.SetTimeLimit(max(1, int(seconds * 1000)))
    status = mip.Solve(exact)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None
    chosen = np.flatnonzero([var.solution_value() > 0.5 for var in x])
    better = np.full(model.n_children, -1, np.int64)
    better[ci[chosen]] = pi[chosen]
    # any allocation cheaper than `assigned` uses only the pairs kept: the least of the two
    # bounds every allocation
    bound = min(objective.BestBound(), start)
    if assignment_objective(model, better) > start:
        better = assigned  # (SCIP starts from it; a hint it could not complete in time)
    return better, bound, status == pywraplp.Solver.OPTIMAL


# ----------------------------------------------------------------------------- result


def assignment_objective(model: PairModel, assigned: IntArray) -> float:
    """The objective of an assignment, to 1/COST_SCALE GBP per pair as the flow counts it."""
    idx = np.flatnonzero(assigned >= 0)
    pairs = int(model.scaled(model.costs(idx, assigned[idx]).total).sum())
    unplaced = (model.n_children - len(idx)) * round(model.problem.policy.unplaced * COST_SCALE)
    splits = model.problem.policy.sibling_split * _sibling_splits(model, assigned)
    return (pairs + unplaced) / COST_SCALE + splits


def _sibling_splits(model: PairModel, assigned: IntArray) -> int:
    """Extra placements used by sibling groups: sum_g max(0, distinct placements - 1)."""
    mask = (model.c_group >= 0) & (assigned >= 0)
    if not mask.any():
        return 0
    pairs = np.unique(np.stack([model.c_group[mask], assigned[mask]], axis=1), axis=0)
    per_group = np.bincount(pairs[:, 0])
    return int(np.maximum(per_group[per_group > 0] - 1, 0).sum())


def assignment_table(model: PairModel, assigned: IntArray, reasons: np.ndarray) -> pd.DataFrame:
    """One row per child: where it goes, its DfE measures and its pair cost by part."""
    ch, pl = model.problem.children, model.problem.placements
    placed = assigned >= 0
    idx = np.flatnonzero(placed)
    pc = model.costs(idx, assigned[idx])
    n = model.n_children
    la = np.array(model.la_codes, dtype=object)
    rcc = np.array(model.rcc_names, dtype=object)
    out = pd.DataFrame(
        {
            "child_id": ch["child_id"].to_numpy(),
            "home_la": ch["home_la"].to_numpy(),
            "home_rcc": rcc[model.c_rcc],
            "need": ch["need"].to_numpy(),
            "age": ch["age"].to_numpy(),
            "sex": ch["sex"].to_numpy(),
            "placement_id": "",
            "setting": "",
            "placement_la": "",
            "placement_rcc": "",
            "miles": np.nan,
            "out_of_la": False,
            "out_of_rcc": False,
            "over_20_miles": False,
            "pair_cost": 0.0,
        }
    )
    p = assigned[idx]
    out.loc[idx, "placement_id"] = pl["placement_id"].to_numpy()[p]
    out.loc[idx, "setting"] = np.array(SETTINGS, dtype=object)[model.p_setting[p]]
    out.loc[idx, "placement_la"] = la[model.p_la[p]]
    out.loc[idx, "placement_rcc"] = rcc[model.p_rcc[p]]
    out.loc[idx, "miles"] = pc.miles
    out.loc[idx, "out_of_la"] = model.c_la[idx] != model.p_la[p]
    out.loc[idx, "out_of_rcc"] = model.c_rcc[idx] != model.p_rcc[p]
    out.loc[idx, "over_20_miles"] = pc.miles > 20
    out.loc[idx, "pair_cost"] = pc.total
    for part in COST_PARTS:
        col = np.zeros(n)
        col[idx] = pc.parts[part]
        out[part] = col
    out["unplaced_reason"] = reasons
    return out


def _chunks(rows: int, cols: int, cells: int = 4_000_000) -> list[slice]:
    """Row slices so that a rows x cols matrix is built a few million cells at a time."""
    step = max(1, cells // max(cols, 1))
    return [slice(i, i + step) for i in range(0, rows, step)]


def unplaced_reasons(model: PairModel, assigned: IntArray) -> np.ndarray:
    """'' when placed; 'no_eligible_placement' when no placement with places could ever take
    the child; 'no_free_place' when eligible ones exist but are full; 'cheaper_unplaced' when
    one has a free place, but every such place costs more than the policy's unplaced penalty
    (so the optimum leaves the child unplaced)."""
    reasons = np.full(model.n_children, "", dtype=object)
    unplaced = np.flatnonzero(assigned < 0)
    used = np.bincount(assigned[assigned >= 0], minlength=model.n_placements)
    free = model.p_cap - used > 0
    ask, inverse = unplaced, np.arange(len(unplaced))
    if model.problem.policy.max_miles is None:
        # eligibility then depends on need, age and sex alone: one child answers for its kind
        kind = np.column_stack(
            [model.c_need[unplaced], model.c_age[unplaced], model.c_male[unplaced]]
        )
        _, first, inverse = np.unique(kind, axis=0, return_index=True, return_inverse=True)
        ask, inverse = unplaced[first], inverse.reshape(-1)
    places = np.arange(model.n_placements)
    answer = np.zeros(len(ask), np.bool_)
    room = np.zeros(len(ask), np.bool_)  # an eligible placement with a free place
    for rows in _chunks(len(ask), len(places)):
        ok = model.eligibility(ask[rows][:, None], places[None, :])[2]
        answer[rows], room[rows] = ok.any(axis=1), (ok & free[None, :]).any(axis=1)
    full = np.where(answer[inverse], "no_free_place", "no_eligible_placement")
    reasons[unplaced] = np.where(room[inverse], "cheaper_unplaced", full)
    return reasons


# ----------------------------------------------------------------------------- solve


def solve(
    problem: Problem,
    *,
    time_limit: float | None = None,
    threads: int = 1,
    progress: Progress | None = None,
    candidates_per_child: int = 24,
    max_rounds: int = 50,
) -> AllocationResult:
    """Allocate the children of `problem` at least cost (see the module docstring).

    `time_limit` (seconds): a pricing round starts only when it (and, with sibling groups,
    their bound and reservations) should end within it, after the first, which gives the
    proven bound reported; `threads` share the pricing of every pair (one per core);
    `progress` receives one line per stage.
    """
    if time_limit is not None and not time_limit >= 0:
        raise ValueError(f"time_limit must be >= 0 seconds, got {time_limit}")
    counts = {
        "threads": threads,
        "candidates_per_child": candidates_per_child,
        "max_rounds": max_rounds,
    }
    for name, value in counts.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    model = PairModel.from_problem(problem)
    parameters = {
        "time_limit": time_limit,
        "threads": threads,
        "candidates_per_child": candidates_per_child,
        "cost_scale": COST_SCALE,
    }
    if model.n_children == 0 or not (model.p_cap > 0).any():
        # nothing to choose between: every child (if any) is unplaced, which is optimal
        assigned = np.full(model.n_children, -1, np.int64)
        objective = assignment_objective(model, assigned)
        return AllocationResult(
            status=SolveStatus.OPTIMAL,
            objective=objective,
            bound=objective,
            wall_seconds=time.perf_counter() - started,
            solver="none needed: no child or no place",
            parameters=parameters,
            assignments=assignment_table(model, assigned, unplaced_reasons(model, assigned)),
            stats={"rounds": 0, "pairs": 0, "sibling_splits": 0},
        )
    unplaced = round(problem.policy.unplaced * COST_SCALE)
    coarse = (
        _Groups.of((model.c_la, model.c_need), model.c_e, model.c_n, model.c_rcc),
        _Groups.of((model.p_la, model.p_setting), model.p_e, model.p_n, model.p_rcc),
    )
    blocks = _Groups.of((model.c_la, model.c_need), model.c_e, model.c_n, model.c_rcc, cell=CELL)
    groups = _Groups.of((model.p_la, model.p_setting), model.p_e, model.p_n, model.p_rcc, cell=CELL)
    # the compiled loops, compiled or loaded from numba's cache before the clock starts (the
    # first solve on a new installation compiles them, about 20 s); pricing at zero prices
    # rules out every pair by its bounds, so this costs milliseconds
    compiling = time.perf_counter()
    say("loading the solver's compiled loops (compiled on first use, about 20 s once)")
    warm_up()
    zero = np.zeros(model.n_children, np.int64)
    _price(model, blocks, groups, zero, np.zeros(model.n_placements, np.int64), per_child=1)
    _nearest_children(model, np.zeros(0, np.int64), 1)
    _priced_pairs(model, zero[:0], zero[:0])
    started += time.perf_counter() - compiling
    say(f"building candidates for {model.n_children:,} children, {model.n_placements:,} placements")
    arcs = _initial_arcs(
        model, coarse, (blocks, groups), per_child=candidates_per_child, threads=threads
    )
    ci, pi = arcs.arrays(model.n_children, model.n_placements)
    ci, pi, cost = _priced_pairs(model, ci, pi)
    say(f"{len(ci):,} starting pairs")
    fresh = time.perf_counter()
    # with two threads or more, the auction's passes share two (children and placements north
    # and south of the children's median, who seldom want the same places); not with sibling
    # groups: their allocation starts from the flow's prices, which then depend on the
    # threads' timing, and the same inputs must give the same allocation
    siblings = bool((model.c_group >= 0).any())
    halves = None
    if threads > 1 and model.n_children and not siblings:
        north = np.median(model.c_n)
        halves = (model.c_n > north, model.p_n > north)
    first = _COARSE if siblings else _FIRST_TOLERANCE  # see _FIRST_TOLERANCE
    flow = Flow.solve(
        model.p_cap, unplaced, ci, pi, cost, model.n_children,
        tolerance=round(first * COST_SCALE), halves=halves,
    )  # fmt: skip
    fresh = time.perf_counter() - fresh
    # with sibling groups, time left for their bound and reservations (about two exact solves,
    # each about twice this first one, within a tolerance)
    reserve = 4 * fresh if siblings else 0.0
    keep_within = round(_KEEP_WITHIN * COST_SCALE)
    bound = -np.inf
    if time_limit is not None:  # in case time runs out: each child's cheapest pair at zero
        # prices, capacity ignored (a search for pairs cheaper than the child's in the flow)
        free = np.zeros(model.n_placements, np.int64)
        bound = _price(model, blocks, groups, flow.assigned_cost, free, per_child=1).bound
        bound /= COST_SCALE
    proven, rounds = False, 0
    last_cost = 2**62
    pricing: _Pricing | None = None
    last_round = 0.0
    for rounds in range(1, max_rounds + 1):
        now = time.perf_counter()
        # a round starts only when it should end within the time limit, once there is a bound
        late = time_limit is not None and now - started + last_round + reserve > time_limit
        if late and pricing is not None:
            break
        more = _free_place_arcs(model, flow.assigned, per_child=candidates_per_child)
        if len(more[0]):
            say(f"round {rounds}: {len(more[0]):,} pairs to free places for unplaced children")
            flow.add(*_priced_pairs(model, *more), keep_within=keep_within, keep_best=_KEEP_BEST)
            continue
        u, w = flow.duals()
        # a budgeted check while many pairs still improve; near the end (few improve, the cost
        # fell by less than _SETTLING of itself in the last round, or the flow is exact), the
        # complete one: it costs little more there, and at scale 5 the budgeted check found
        # 976 improving pairs of the complete check's 961,956 (with the cost's fall as a sign,
        # 22-23 rounds against 26-27, each of three runs 7 s quicker; scales 1 and 2 too)
        nearly = pricing is not None and len(pricing.child) < model.n_children // 50
        fall = last_cost - flow.cost  # since the last round within a tolerance
        budget = 10**12 if nearly or fall < _SETTLING * flow.cost or not flow.tolerance else 600
        while True:  # widen the check until it finds improving pairs or is complete
            pricing = _price(
                model,
                blocks,
                groups,
                u - flow.tolerance,
                w,
                per_child=candidates_per_child,
                block_budget=budget,
                threads=threads,
            )
            if len(pricing.child) or pricing.complete:
                break
            budget *= 8
        bound = max(bound, pricing.bound / COST_SCALE)
        current = flow.cost / COST_SCALE
        say(
            f"round {rounds}: cost {current:,.2f}, bound {bound:,.2f} "
            f"(gap {(current - bound) / max(current, 1e-9):.3%}); "
            f"{len(flow.keys):,} candidate pairs, {len(pricing.child):,} more priced in"
        )
        exactly = False  # from here on the flow is solved exactly
        gaining = int(np.count_nonzero(np.bincount(pricing.child, minlength=model.n_children)))
        if flow.tolerance:
            last_cost = flow.cost
            exactly = gaining < _TIGHTEN_SHARE * model.n_children or fall < _STALL * flow.cost
            flow.tolerance = _next_tolerance(flow.tolerance, fall, model.n_children)
            if exactly and not len(pricing.child):
                flow.tighten()  # the optimum over the pairs so far, then exact rounds
                say(f"round {rounds}: optimal over its pairs, cost {flow.cost / COST_SCALE:,.2f}")
                continue
        elif gaining > _TIGHTEN_SHARE * model.n_children:
            # so many children gain that the auction is quicker than shortest paths (scale 5,
            # after the first exact solve: 996,586 pairs, 19.6 s by paths; 167 s in all against
            # 181 s), within the tolerance again until few gain
            flow.loosen(round(_COARSE * COST_SCALE))
            last_cost = 2**62
        if len(pricing.child) == 0 and pricing.complete:
            proven = True
            break
        if siblings and flow.cost / COST_SCALE - bound <= _SIBLING_CG_GAP * abs(bound):
            break
        # with `exactly`, the new pairs join before the one exact solve: solving the pairs so
        # far exactly, then again with the new ones, took two (each 10 s at scale 2)
        flow.add(
            *_priced_pairs(model, pricing.child, pricing.place),
            keep_within=keep_within,
            keep_best=_KEEP_BEST,
            exactly=exactly,
        )
        if exactly:
            say(f"round {rounds}: optimal over its pairs, cost {flow.cost / COST_SCALE:,.2f}")
        last_round = time.perf_counter() - now
    if flow.tolerance:
        assigned = flow.assigned.copy()
    else:
        assigned = _canonical(model, blocks, groups, flow, threads=threads)
    objective = flow.cost / COST_SCALE
    if proven:
        bound = objective
    solver = (
        "auction, network simplex and warm-started shortest paths, OR-Tools SimpleMinCostFlow, "
        "dual pricing"
    )
    if siblings and pricing is not None:
        fixing, shared = _sibling_bound(model, blocks, groups, pricing, problem.policy.unplaced)
        bound = max(bound, fixing.bound)
        say(f"sibling groups: keeping siblings together (bound {bound:,.2f})")
        # the candidate pairs within a sibling split of the flow's prices: where keeping
        # siblings together may move children (dearer pairs cost more than the split)
        ci, pi = flow.pairs()
        u, w = flow.duals()
        split = round(problem.policy.sibling_split * COST_SCALE)
        near = flow.arc_cost - u[ci] + w[pi] <= split
        # and each child's cheapest pairs within _KEEP_WITHIN of its price, as the flow
        # kept few: reservations move children from their pairs in the flow
        wide = _price(
            model, blocks, groups, u + keep_within, w,
            per_child=candidates_per_child, block_budget=10**12, threads=threads,
        )  # fmt: skip
        say(f"sibling groups: {len(wide.child):,} pairs near the prices for reservations")
        nearby = (np.r_[ci[near], wide.child], np.r_[pi[near], wide.place])
        if shared:
            assigned = _together_first(model, nearby, shared, unplaced, assigned)
        assigned = _consolidate(model, assigned)
        objective = assignment_objective(model, assigned)

        def left() -> float:  # for the relaxation (3/4) and the exact MIP
            return (
                _EXACT_SECONDS
                if time_limit is None
                else time_limit - (time.perf_counter() - started)
            )

        if objective - bound > 1e-9 * max(abs(objective), 1.0):
            # from the siblings' pairs near the prices and the other children's pairs within a
            # sibling split of them (column generation brings any other it needs): at 0.1 of
            # England 67,966 pairs instead of 161,555, about the same gap (0.10%) in 2/3 the time
            siblings_near = _sibling_members(model)[0][nearby[0]]
            master = _sibling_master(
                model, blocks, groups, (fixing, shared),
                distinct_pairs(
                    np.r_[ci[near], nearby[0][siblings_near]],
                    np.r_[pi[near], nearby[1][siblings_near]],
                    model.n_children, model.n_placements,
                ),
                seconds=None if time_limit is None else left() * 3 / 4,
                threads=threads, say=say,
            )  # fmt: skip
            if master is not None:
                solver += "; with sibling groups, their linear relaxation in GLOP"
                fixing = master.fixing
                bound = max(bound, fixing.bound)
                if master.chosen is not None:  # those groups reserved, the flow for the rest
                    fixed = np.full(model.n_children, -1, np.int64)
                    for g, p in master.chosen.items():
                        fixed[model.c_group == g] = p
                    nearby = distinct_pairs(
                        np.r_[nearby[0], master.pairs[0]], np.r_[nearby[1], master.pairs[1]],
                        model.n_children, model.n_placements,
                    )  # fmt: skip
                    dived = _around(model, nearby, fixed, unplaced, assigned)
                    dived = _together_first(model, nearby, shared, unplaced, dived)
                    dived = _consolidate(model, dived)
                    if assignment_objective(model, dived) < objective:
                        assigned, objective = dived, assignment_objective(model, dived)
                say(f"sibling groups: {objective:,.2f} after a dive through the relaxation")
        if objective - bound > 1e-9 * max(abs(objective), 1.0):
            exact = _exact_siblings(model, assigned, fixing, seconds=left(), say=say)
            if exact is not None:
                solver += "; SCIP over every pair that could improve"
                assigned, cp_bound, optimal = exact
                objective = assignment_objective(model, assigned)
                bound = objective if optimal else max(bound, cp_bound)
    elif siblings:
        objective = assignment_objective(model, assigned)
    splits = _sibling_splits(model, assigned)
    gap = (objective - bound) / max(abs(objective), 1e-9)
    # optimal when the proven bound is the objective (with sibling groups the column
    # generation may stop before its own proof, the bound already there)
    status = SolveStatus.OPTIMAL if gap <= 1e-9 else SolveStatus.FEASIBLE
    if status is SolveStatus.OPTIMAL:
        bound = objective
    table = assignment_table(model, assigned, unplaced_reasons(model, assigned))
    wall = time.perf_counter() - started
    say(f"{status.value}: objective {objective:,.2f}, bound {bound:,.2f} in {wall:.1f}s")
    return AllocationResult(
        status=status,
        objective=objective,
        bound=bound,
        wall_seconds=wall,
        solver=solver,
        parameters=parameters,
        assignments=table,
        stats={
            "rounds": rounds,
            "pairs": len(flow.keys),
            "sibling_splits": splits,
        },
    )
