"""Today's practice as a baseline: council-by-council spot purchasing, no regional coordination.

The simulation, seeded and deterministic:
1. LAs take turns in a seeded random order; at its turn an LA places one of its own children
   (so no council is served first for all its children). Within an LA, the most constrained
   needs go first: secure, then residential, then supported, then foster; siblings consecutively.
2. A child already in an eligible placement stays there (councils do not move settled children).
3. Otherwise the LA uses its own in-house places first (in-house fostering, LA-run homes in its
   own area), the nearest one to the child's home; then the nearest eligible place still free
   anywhere in England whose setting meets the need without a step-up; only then a step-up
   setting (e.g. a children's home for a child who needs fostering). Spot purchasing is
   price-led: of the `offers` nearest free places the council takes the cheapest (offers=1:
   the nearest; price breaks ties between places equally near, to 0.1 mile). A sibling goes
   with an earlier sibling when there is room.
4. A child with no eligible free place left is unplaced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geodata.distance import METRES_PER_MILE
from optimiser.allocation import assignment_table, unplaced_reasons
from optimiser.pairs import IntArray, PairModel
from optimiser.problem import NEEDS, SETTINGS, Problem
from optimiser.validate import recompute_objective

__all__ = ["BaselineResult", "simulate_baseline"]

_NEED_ORDER = {"secure": 0, "residential": 1, "supported": 2, "foster": 3}
_IN_HOUSE = (SETTINGS.index("foster_inhouse"), SETTINGS.index("residential_la"))
_LOCAL = 300  # placements per (home LA, need) kept as the local market, nearest first
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


class _Market:
    """Free places, and for each (home LA, need, tier) candidate placements nearest first."""

    def __init__(self, model: PairModel, offers: int) -> None:
        self.model = model
        self.offers = offers
        self.free = model.p_cap.copy()
        self.cache: dict[tuple[int, int, int], tuple[IntArray, float]] = {}
        las = model.problem.las
        self.la_e = las["easting"].to_numpy(np.float64)
        self.la_n = las["northing"].to_numpy(np.float64)

    def tier_members(self, la: int, need: int, tier: int) -> IntArray:
        m = self.model
        sub = m.substitution[need, m.p_setting]
        if tier == 0:
            ok = np.isin(m.p_setting, _IN_HOUSE) & (m.p_la == la) & (sub == 0)
        elif tier == 1:
            ok = sub == 0
        else:
            ok = sub > 0
        return np.flatnonzero(ok & (m.p_cap > 0))

    def local(self, la: int, need: int, tier: int) -> tuple[IntArray, float]:
        """The nearest placements to the LA's centre, and the distance past which it is cut."""
        key = (la, need, tier)
        if key not in self.cache:
            members = self.tier_members(la, need, tier)
            de = self.model.p_e[members] - self.la_e[la]
            d = np.hypot(de, self.model.p_n[members] - self.la_n[la])
            order = np.argsort(d, kind="stable")
            cut = float(d[order[_LOCAL]]) if len(order) > _LOCAL else np.inf
            self.cache[key] = (members[order[:_LOCAL]], cut)
        return self.cache[key]

    def nearest_free(self, c: int, tier: int) -> int:
        """For child c, the cheapest of the `offers` nearest free eligible placements of a tier
        (the nearest one in the LA's own in-house tier), or -1."""
        m = self.model
        la, need = int(m.c_la[c]), int(m.c_need[c])
        k = 1 if tier == 0 else self.offers
        local, cut = self.local(la, need, tier)
        found, reach = self.nearest(c, local, k)
        offset = np.hypot(m.c_e[c] - self.la_e[la], m.c_n[c] - self.la_n[la])
        if found >= 0 and (np.isinf(cut) or reach <= cut - offset):
            return found  # nothing outside the local list can be nearer
        return self.nearest(c, self.tier_members(la, need, tier), k)[0]

    def nearest(self, c: int, places: IntArray, k: int = 1) -> tuple[int, float]:
        """The cheapest of the k nearest free eligible placements among `places` (ties in
        distance, to 0.1 mile, broken by price), and the distance in metres of the farthest
        of those k; (-1, inf) when there is none."""
        places = places[self.free[places] > 0]
        if len(places) == 0:
            return -1, np.inf
        pc = self.model.costs(np.full(len(places), c), places)
        ok = pc.eligible
        if not ok.any():
            return -1, np.inf
        miles = np.round(pc.miles[ok], 1)
        cand = places[ok]
        near = np.lexsort((self.model.p_weekly[cand], miles))[:k]
        pick = near[np.argmin(self.model.p_weekly[cand[near]])]
        return int(cand[pick]), float(pc.miles[ok][near].max() * METRES_PER_MILE)


def simulate_baseline(
    problem: Problem, *, seed: int = 2024, offers: int = DEFAULT_OFFERS
) -> BaselineResult:
    """Simulate council-by-council placement (module docstring) and measure it."""
    model = PairModel.from_problem(problem)
    market = _Market(model, offers)
    assigned = np.full(model.n_children, -1, np.int64)
    group_place: dict[int, int] = {}
    for c in _order(model, seed):
        choice = -1
        cur = int(model.c_current[c])
        if cur >= 0 and market.free[cur] > 0:
            choice = market.nearest(c, np.array([cur]))[0]
        g = int(model.c_group[c])
        if choice < 0 and g in group_place:
            choice = market.nearest(c, np.array([group_place[g]]))[0]
        for tier in (0, 1, 2):
            if choice >= 0:
                break
            choice = market.nearest_free(c, tier)
        if choice >= 0:
            assigned[c] = choice
            market.free[choice] -= 1
            if g >= 0:
                group_place.setdefault(g, choice)
    table = assignment_table(model, assigned, unplaced_reasons(model, assigned))
    return BaselineResult(table, recompute_objective(problem, table), seed)
