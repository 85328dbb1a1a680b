"""Eligible (child, placement) pairs and their cost parts, vectorised over index arrays.

The allocation model never loops over children x placements in Python: a `PairModel` holds the
problem as numpy arrays, and `costs(ci, pi)` evaluates any broadcastable index arrays at once
(paired vectors, or a column of children against a row of placements).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from geodata.distance import dfe_miles
from optimiser.problem import NEEDS, SETTINGS, Problem

__all__ = ["COST_PARTS", "COST_SCALE", "PairCosts", "PairModel"]

# Pair costs are evaluated to 1/100 of a penny: the network-flow solver works in integers.
COST_SCALE = 10_000
COST_PARTS = (
    "weekly_cost",
    "substitution_cost",
    "distance_cost",
    "out_of_la_cost",
    "out_of_rcc_cost",
    "move_cost",
)

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class PairCosts:
    """Eligibility, miles and cost parts of a batch of pairs (same shape as the inputs)."""

    eligible: BoolArray
    miles: FloatArray
    parts: dict[str, FloatArray]

    @property
    def total(self) -> FloatArray:
        """The pair cost, summed in the order of `PairModel.total_cost` (so both agree to the
        last bit, and integer costs never differ between pricing and the flow)."""
        p = self.parts
        out = p["distance_cost"] + p["weekly_cost"]
        for part in ("substitution_cost", "out_of_la_cost", "out_of_rcc_cost", "move_cost"):
            out = out + p[part]
        return out


@dataclass(frozen=True)
class PairModel:
    """The problem as flat arrays: children c, placements p, LAs and RCCs as integer codes."""

    problem: Problem
    la_codes: tuple[str, ...]
    rcc_names: tuple[str, ...]
    # children
    c_e: FloatArray
    c_n: FloatArray
    c_la: IntArray
    c_rcc: IntArray
    c_need: IntArray
    c_age: IntArray
    c_male: BoolArray
    c_current: IntArray  # placement index, -1 when none
    c_group: IntArray  # sibling group index, -1 when none
    # placements
    p_e: FloatArray
    p_n: FloatArray
    p_la: IntArray
    p_rcc: IntArray
    p_setting: IntArray
    p_cap: IntArray
    p_weekly: FloatArray
    p_min_age: IntArray
    p_max_age: IntArray
    p_sexes: IntArray  # 0 F, 1 M, 2 any
    # policy
    substitution: FloatArray  # need x setting, NaN where not allowed

    @classmethod
    def from_problem(cls, problem: Problem) -> PairModel:
        ch, pl, las, pol = problem.children, problem.placements, problem.las, problem.policy
        la_codes = tuple(las["code"])
        la_index = {c: i for i, c in enumerate(la_codes)}
        rcc_names = tuple(sorted(set(las["rcc"])))
        rcc_index = {r: i for i, r in enumerate(rcc_names)}
        la_rcc = np.array([rcc_index[r] for r in las["rcc"]], dtype=np.int64)
        p_index = {p: i for i, p in enumerate(pl["placement_id"])}
        groups = ch["sibling_group"].to_numpy()
        _, g_codes = np.unique(groups, return_inverse=True)
        g_codes = np.where(groups == "", -1, g_codes)
        c_la = ch["home_la"].map(la_index).to_numpy(np.int64)
        p_la = pl["la"].map(la_index).to_numpy(np.int64)
        subst = np.full((len(NEEDS), len(SETTINGS)), np.nan)
        for i, need in enumerate(NEEDS):
            for setting, penalty in pol.substitutions.get(need, {}).items():
                subst[i, SETTINGS.index(setting)] = penalty
        return cls(
            problem=problem,
            la_codes=la_codes,
            rcc_names=rcc_names,
            c_e=ch["easting"].to_numpy(np.float64),
            c_n=ch["northing"].to_numpy(np.float64),
            c_la=c_la,
            c_rcc=la_rcc[c_la],
            c_need=ch["need"].map(NEEDS.index).to_numpy(np.int64),
            c_age=ch["age"].to_numpy(np.int64),
            c_male=(ch["sex"] == "M").to_numpy(),
            c_current=ch["current_placement"].map(lambda v: p_index.get(v, -1)).to_numpy(np.int64),
            c_group=g_codes.astype(np.int64),
            p_e=pl["easting"].to_numpy(np.float64),
            p_n=pl["northing"].to_numpy(np.float64),
            p_la=p_la,
            p_rcc=la_rcc[p_la],
            p_setting=pl["setting"].map(SETTINGS.index).to_numpy(np.int64),
            p_cap=pl["capacity"].to_numpy(np.int64),
            p_weekly=pl["weekly_cost"].to_numpy(np.float64),
            p_min_age=pl["min_age"].to_numpy(np.int64),
            p_max_age=pl["max_age"].to_numpy(np.int64),
            p_sexes=pl["sexes"].map({"F": 0, "M": 1, "any": 2}).to_numpy(np.int64),
            substitution=subst,
        )

    @property
    def n_children(self) -> int:
        return len(self.c_e)

    @property
    def n_placements(self) -> int:
        return len(self.p_e)

    def eligibility(self, ci: IntArray, pi: IntArray) -> tuple[FloatArray, FloatArray, BoolArray]:
        """Miles, substitution penalty (NaN: setting not allowed) and eligibility of pairs:
        setting allowed for the need, age in range, sex accepted, places > 0, max_miles."""
        miles = dfe_miles(self.c_e[ci], self.c_n[ci], self.p_e[pi], self.p_n[pi])
        sub = self.substitution[self.c_need[ci], self.p_setting[pi]]
        age = self.c_age[ci]
        sexes = self.p_sexes[pi]
        eligible = ~np.isnan(sub)
        eligible &= age >= self.p_min_age[pi]
        eligible &= age <= self.p_max_age[pi]
        eligible &= (sexes == 2) | (sexes == self.c_male[ci])
        eligible &= self.p_cap[pi] > 0
        if self.problem.policy.max_miles is not None:
            eligible &= miles <= self.problem.policy.max_miles
        return miles, sub, eligible

    def costs(self, ci: IntArray, pi: IntArray) -> PairCosts:
        """Eligibility and cost parts of pairs (ci, pi); arrays broadcast like numpy."""
        pol = self.problem.policy
        miles, sub, eligible = self.eligibility(ci, pi)
        current = self.c_current[ci]
        moved = (current >= 0) & (current != pi)
        shape = miles.shape
        parts = {
            "weekly_cost": np.broadcast_to(self.p_weekly[pi], shape).astype(np.float64),
            "substitution_cost": np.nan_to_num(sub, nan=0.0),
            "distance_cost": pol.distance_per_mile * miles,
            "out_of_la_cost": pol.out_of_la * (self.c_la[ci] != self.p_la[pi]),
            "out_of_rcc_cost": pol.out_of_rcc * (self.c_rcc[ci] != self.p_rcc[pi]),
            "move_cost": pol.move * moved,
        }
        return PairCosts(eligible=eligible, miles=miles, parts=parts)

    def total_cost(self, ci: IntArray, pi: IntArray) -> tuple[BoolArray, FloatArray]:
        """Eligibility and total cost of paired index vectors: `costs` without the parts, with
        fewer temporaries, for pricing millions of pairs."""
        pol = self.problem.policy
        miles, sub, eligible = self.eligibility(ci, pi)
        total = miles * pol.distance_per_mile
        total += self.p_weekly[pi]
        total += sub
        total += pol.out_of_la * (self.c_la[ci] != self.p_la[pi])
        total += pol.out_of_rcc * (self.c_rcc[ci] != self.p_rcc[pi])
        if pol.move:
            current = self.c_current[ci]
            total += pol.move * ((current >= 0) & (current != pi))
        return eligible, total

    def scaled(self, cost: FloatArray) -> IntArray:
        """Costs in integer units of 1/COST_SCALE GBP, as the flow solver takes them."""
        return np.rint(cost * COST_SCALE).astype(np.int64)
