"""The sufficiency plan: which homes, foster carers and secure beds to create, where and when.

A mixed-integer model over a horizon of years. Decisions (integers, per year t and candidate LA
l): `units[a,l,t]` and `places[a,l,t]` of each action a (open an RCC children's home, recruit
foster households, add secure welfare beds). Flows (continuous, per year y): children of home
LA h with need n and age group g placed in setting s in LA l, `flow[h,n,g,l,s,y]`, the
allocation model aggregated from children to (LA, need, age group) cohorts and from placements
to (LA, setting, price) pools.

Minimise, in GBP over the horizon (undiscounted):

    sum_y 52 x ( sum flow x (substitution + distance_per_mile x miles + out_of_la x [l != h]
                             + out_of_rcc x [rcc(l) != rcc(h)])
               + sum use[p,y] x weekly_cost_p + sum unplaced[h,n,y] x unplaced_penalty )
    + sum_{a,l,t} (capital_per_unit_a x units + capital_per_place_a x places)
    + sum_{a,l,t} 52 x weekly_running_a x places x (years the places are open in the horizon)

subject to: every forecast child counted once (placed or unplaced); each existing pool used up
to its places; new places used only from `lead_years` after the decision and only by children
of the ages their action takes; homes 2-4 places each (and the other actions' unit sizes);
capital within the total, yearly and per-RCC budgets.

Restrictions, stated plainly (also listed in `RESTRICTIONS` and plan_summary.json): flows are
between LA points (DfE miles between LA representative points); arcs from each home LA go only
to the k nearest LAs offering (or able to offer) each setting, the k nearest with existing
supply of it, and every LA of the home RCC -- after solving, every arc left out is priced with
LP duals (`price_pruned_arcs`) and the best are added until none prices negative (column
generation in `solve_plan`), so the proven gap holds over the arcs given to the MIP and the
reported flows are optimal over all arcs for the plan's decisions; existing places
are priced in a few capacity-weighted tiers per LA and setting; cohorts are split into age
groups at the ages new places take (a home 8-17, secure beds 10-17) and new places take only
children of their ages, but existing places' age limits and sex are not modelled at this
aggregate level (check a plan at child level with `plan_problem` and `rcc solve`); a year's
flows are re-optimised freely, as if placements ended and restarted each year; new places are
paid for whether used or not.

"end_private" actions are derived, not decided: private children's-home places used without
the plan but not with it in every later year can be released as those placements end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ortools.linear_solver.python import model_builder as mb
from ortools.math_opt.io.python import mps_converter
from ortools.math_opt.python import mathopt

from geodata.distance import dfe_miles
from optimiser.costs import ActionCosts, PlanCosts
from optimiser.problem import Problem

__all__ = [
    "ACTION_COLUMNS",
    "BY_YEAR_COLUMNS",
    "INDICATORS",
    "RESTRICTIONS",
    "PlanModel",
    "PlanOptions",
    "PlanResult",
    "PlanStatus",
    "apply_actions",
    "build_plan_model",
    "plan_problem",
    "plan_summary",
    "solve_plan",
    "write_plan_outputs",
]

WEEKS = 52
RESTRICTIONS: tuple[str, ...] = (
    "children and places are aggregated to LA points (DfE miles between LA representative "
    "points; a child placed in their own LA counts 0 miles)",
    "arcs from each home LA start as the k nearest LAs per setting (with or able to build it), "
    "the k nearest with existing places of it, and every LA of the home RCC; every arc left out "
    "is then priced with LP duals and added while any prices negative (column generation), so "
    "the flows are optimal over all arcs for the plan's decisions (see pruned_arc_pricing), "
    "while the MIP's proven bound and gap hold over the arcs it was given",
    "new places take only children of their action's ages (cohorts are split at those ages, a "
    "forecast band shared over its ages as today's children are); existing places' age limits "
    "and sex are not modelled in the plan; check them at child level by solving final_year/ "
    "with `rcc solve`",
    "existing places of an LA and setting are priced in a few capacity-weighted price tiers",
    "each year's flows are re-optimised freely, as if placements ended and restarted yearly",
    "new places are paid for whether used or not; costs are undiscounted 2024 prices",
)
ACTION_COLUMNS: tuple[str, ...] = (
    "year",
    "opens",
    "rcc",
    "la_code",
    "action",
    "setting",
    "units",
    "places",
    "capital",
    "weekly_running",
    "weekly_saving",
)
"""plan_actions.csv: money in GBP at 2024 prices; `capital` one-off, `weekly_running` the
running cost a week the action adds (every place, from `opens`), `weekly_saving` the cost a week
it saves (end_private: private places no longer bought). Both are >= 0, so each sums plainly."""
INDICATORS: tuple[str, ...] = (
    "children",
    "placed",
    "unplaced",
    "out_of_la",
    "over_20_miles",
    "out_of_rcc",
    "weekly_cost",
)
BY_YEAR_COLUMNS: tuple[str, ...] = ("year", "plan", *INDICATORS)
_COHORT_KEYS = ["home_la", "need", "ages", "year"]
_FLOW_KEYS = ["home_la", "need", "ages", "placement_la", "setting", "year"]
# negative arcs up to which pricing adds them all (a few cohorts far from places took 6 a
# round, 3 each, so 8 rounds left 530 of 672 negative, by up to GBP 7,954 a child a week)
_ADD_EVERY_NEGATIVE = 5_000
_ARC_KEYS = ["home_la", "need", "placement_la", "setting"]
_DECISION_NUMBERS = (
    "max_units",
    "min_per_unit",
    "max_per_unit",
    "capital_per_unit",
    "capital_per_place",
    "running_per_place",
)


class PlanStatus(Enum):
    """How far the solver got: a proven optimum, a feasible plan with a gap, or nothing."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    NOT_SOLVED = "not_solved"


@dataclass(frozen=True)
class PlanOptions:
    """How to build and solve the plan model.

    - `k_nearest`: arcs from a home LA to this many nearest LAs per setting (see module doc);
    - `same_rcc`: also arcs to every LA of the home LA's RCC;
    - `price_tiers`: existing places of an LA and setting are priced in this many tiers;
    - `candidate_las`: LAs where new capacity may be created (None: every LA of the problem);
    - `solver`: "highs" (default), "scip" or "sat" (CP-SAT) for the plan; the do-nothing LP
      uses GLOP. Measured on the national five-year plan (tests/benchmarks): HiGHS proved the
      optimum in 84 s, SCIP stopped at a 0.68% gap after 73 s, CP-SAT at 0.63% after 187 s.
      HiGHS runs through MathOpt, which keeps its best plan and proven bound at a limit;
    - `time_limit`: seconds for the whole plan, counted from the start of `solve_plan`. The LPs
      always finish; each MIP round gets the time left but at least a tenth of the limit (and
      1 s), then stops with its best plan and proven bound (else its LP relaxation rounded
      down); the notes say when. A plan the MIP finishes within `relative_gap` is the same on
      every machine; one stopped by time is not (HiGHS has no deterministic work limit, and
      its root node, where it works on this model, ignores node limits);
    - `relative_gap` (stop when proven within it); `threads` (SCIP and CP-SAT);
    - `solution_limit`: stop each MIP at its N-th improving plan (highs, scip): a stop that,
      unlike the time limit, does not depend on the machine; None for no such stop;
    - `pricing_rounds`: LP column-generation rounds pricing the arcs left out (1: price only);
    - `mip_rounds`: MIP solves at most (again with the arcs pricing found for its decisions;
      the cheapest plan of the rounds is kept).
    """

    k_nearest: int = 8
    same_rcc: bool = True
    price_tiers: int = 3
    candidate_las: tuple[str, ...] | None = None
    solver: str = "highs"
    time_limit: float | None = 120.0
    relative_gap: float = 0.001
    threads: int = 1
    pricing_rounds: int = 8
    mip_rounds: int = 2
    solution_limit: int | None = None

    def __post_init__(self) -> None:
        if not mb.Solver(self.solver).solver_is_supported():
            raise ValueError(f"solver '{self.solver}' is not available in this OR-Tools build")
        if self.time_limit is not None and not self.time_limit >= 0:
            raise ValueError(f"time_limit must be >= 0 seconds, got {self.time_limit}")
        if not self.relative_gap >= 0:
            raise ValueError(f"relative_gap must be >= 0, got {self.relative_gap}")
        for name in ("k_nearest", "price_tiers", "threads", "pricing_rounds", "mip_rounds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.solution_limit is not None:
            if self.solution_limit < 1:
                raise ValueError(f"solution_limit must be at least 1, got {self.solution_limit}")
            if self.solver == "sat":
                raise ValueError("solution_limit applies to the highs and scip solvers")


@dataclass(frozen=True)
class PlanModel:
    """A built (not solved) plan model with its variable tables."""

    model: mb.Model
    years: tuple[int, ...]
    flows: pd.DataFrame
    pools: pd.DataFrame
    new_use: pd.DataFrame
    unplaced: pd.DataFrame
    decisions: pd.DataFrame
    size: dict[str, int]
    counted: pd.Series
    balance: pd.Series
    age_limit: pd.Series
    ranges: Mapping[str, tuple[int, int]]


@dataclass(frozen=True)
class PlanResult:
    """A solved plan, never a raw solver object.

    `actions` (ACTION_COLUMNS) lists the decisions; `by_year` holds indicators per year for
    `plan` in ("with_plan", "without_plan"); `flows` the cohort flows of both. Objectives are
    GBP over the horizon; `bound` is the solver's proven lower bound on the plan's objective.
    """

    status: PlanStatus
    objective: float
    bound: float
    gap: float
    objective_without_plan: float
    wall_seconds: float
    solver: str
    parameters: dict[str, Any]
    years: tuple[int, ...]
    actions: pd.DataFrame
    by_year: pd.DataFrame
    flows: pd.DataFrame
    costs: PlanCosts
    size: dict[str, int]
    fell_back_to_nothing: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    pricing: dict[str, Any] = field(default_factory=dict)

    @property
    def capital_total(self) -> float:
        return float(self.actions["capital"].sum())

    @property
    def weekly_running_added(self) -> float:
        return float(self.actions["weekly_running"].sum())

    @property
    def weekly_saving(self) -> float:
        """GBP a week of private places the plan stops buying (end_private)."""
        return float(self.actions["weekly_saving"].sum())

    def final_year(self, plan: str) -> dict[str, float]:
        """The final year's indicators `with_plan` or `without_plan`."""
        rows = self.by_year[
            (self.by_year["plan"] == plan) & (self.by_year["year"] == self.years[-1])
        ]
        return {k: float(rows[k].iat[0]) for k in INDICATORS}


# ----------------------------------------------------------------------------- tables


def age_ranges(actions: Mapping[str, ActionCosts]) -> dict[str, tuple[int, int]]:
    """The ages new places of each setting take (min_age, max_age); where several actions
    build one setting, the ages all of them take."""
    out: dict[str, tuple[int, int]] = {}
    for a in actions.values():
        lo, hi = out.get(a.setting, (0, 17))
        out[a.setting] = (max(lo, a.min_age), min(hi, a.max_age))
    return out


def demand_by_cohort(
    demand: pd.DataFrame, children: pd.DataFrame, ranges: Mapping[str, tuple[int, int]]
) -> pd.DataFrame:
    """Forecast children by (home_la, need, ages, year), `ages` a label "lo-hi" of age groups cut
    at every age where new places start or stop taking children (`ranges`), so each group is
    wholly inside or outside each action's ages.

    A forecast age band cut by a group edge (5-9 at 8 for homes taking 8-17) is shared over
    its ages in the proportions of today's children of that LA and need (evenly when there are
    none), in whole children by largest remainders."""
    from optimiser.forecast import AGE_BANDS, BAND_EDGES, share_whole

    cuts = sorted(
        {0, 18} | {lo for lo, _ in ranges.values()} | {hi + 1 for _, hi in ranges.values()}
    )
    cuts = [c for c in cuts if 0 <= c <= 18]
    group = np.searchsorted(np.asarray(cuts), np.arange(18), side="right") - 1
    labels = np.array([f"{cuts[g]}-{cuts[g + 1] - 1}" for g in group])
    first = dict(zip(AGE_BANDS, BAND_EDGES[:-1], strict=True))
    width = dict(zip(AGE_BANDS, np.diff(BAND_EDGES), strict=True))
    df = demand.rename(columns={"la_code": "home_la"}).reset_index(drop=True)
    df = df[df["children"] > 0].rename_axis("row").reset_index()
    reps = df["age_band"].map(width).to_numpy(dtype=np.int64)
    ages = df.loc[df.index.repeat(reps)].reset_index(drop=True)
    ages["age"] = ages["age_band"].map(first).to_numpy() + ages.groupby("row").cumcount().to_numpy()
    today = children.groupby(["home_la", "need", "age"]).size().rename("today")
    ages = ages.join(today, on=["home_la", "need", "age"]).fillna({"today": 0.0})
    in_cell = ages.groupby("row")["today"].transform("sum")
    weight = np.where(in_cell > 0, ages["today"], 1.0)
    ages["share"] = (
        ages["children"] * weight / ages.assign(w=weight).groupby("row")["w"].transform("sum")
    )
    ages["ages"] = labels[ages["age"].to_numpy()]
    parts = ages.groupby(["row", *_COHORT_KEYS], as_index=False)["share"].sum()
    parts["children"] = share_whole(parts, ["row"], "share")
    out = parts.groupby(_COHORT_KEYS, as_index=False)["children"].sum()
    return out[out["children"] > 0].reset_index(drop=True)


def _ages_within(ages: pd.Series, lo: int, hi: int) -> np.ndarray:
    """Whether each "lo-hi" age group lies within [lo, hi] (each distinct label read once)."""
    labels, codes = np.unique(ages.to_numpy(dtype=str), return_inverse=True)
    bounds = np.array([label.split("-") for label in labels], dtype=int).reshape(-1, 2)
    return ((bounds[:, 0] >= lo) & (bounds[:, 1] <= hi))[codes]


def la_miles(las: pd.DataFrame) -> pd.DataFrame:
    """DfE miles between every pair of LA representative points (square, indexed by code)."""
    e, n = las["easting"].to_numpy(float), las["northing"].to_numpy(float)
    miles = dfe_miles(e[:, None], n[:, None], e[None, :], n[None, :])
    return pd.DataFrame(miles, index=las["code"].to_numpy(), columns=las["code"].to_numpy())


def supply_pools(placements: pd.DataFrame, *, price_tiers: int = 3) -> pd.DataFrame:
    """Existing places of each (la, setting) split into at most `price_tiers` price tiers.

    Places are sorted by weekly cost and cut into tiers of about equal places; a tier's price
    is the capacity-weighted mean of its places, so cheaper places still fill first. With as
    many tiers as distinct prices this is exact; fewer tiers is an approximation (stated).
    """
    df = placements.loc[placements["capacity"] > 0, ["la", "setting", "weekly_cost", "capacity"]]
    df = df.sort_values(["la", "setting", "weekly_cost"], kind="stable")
    keys = [df["la"], df["setting"]]
    cap = df["capacity"].astype(float)
    middle = cap.groupby(keys).cumsum() - cap / 2
    share = middle / cap.groupby(keys).transform("sum")
    tier = np.minimum(np.floor(share * price_tiers), price_tiers - 1).astype(np.int64)
    df = df.assign(tier=tier, spend=df["weekly_cost"] * cap)
    pools = df.groupby(["la", "setting", "tier"], as_index=False)[["capacity", "spend"]].sum()
    pools["weekly_cost"] = pools["spend"] / pools["capacity"]
    pools = pools.rename(columns={"la": "placement_la"})
    return pools[["placement_la", "setting", "tier", "weekly_cost", "capacity"]]


def candidate_arcs(
    problem: Problem,
    pools: pd.DataFrame,
    buildable: Mapping[str, set[str]],
    *,
    k_nearest: int,
    same_rcc: bool,
) -> pd.DataFrame:
    """(home_la, need, placement_la, setting) arcs with their weekly cost parts.

    Per home LA and setting: the k nearest LAs that have or may build that setting, the k
    nearest with existing places, and (if `same_rcc`) every same-RCC LA that has or may build
    it; only settings the policy allows for each need; never beyond `policy.max_miles`.
    """
    policy = problem.policy
    codes = problem.las["code"].to_numpy()
    rcc = problem.las["rcc"].to_numpy()
    miles = la_miles(problem.las).to_numpy()
    settings = sorted({s for table in policy.substitutions.values() for s in table})
    parts = []
    for setting in settings:
        existing = np.isin(codes, pools.loc[pools["setting"] == setting, "placement_la"])
        allowed = existing | np.isin(codes, list(buildable.get(setting, ())))
        if not allowed.any():
            continue
        chosen = _nearest(miles, allowed, k_nearest) | _nearest(miles, existing, k_nearest)
        if same_rcc:
            chosen |= (rcc[:, None] == rcc[None, :]) & allowed[None, :]
        h, l_ = np.nonzero(chosen)
        parts.append(
            pd.DataFrame(
                {
                    "home_la": codes[h],
                    "placement_la": codes[l_],
                    "setting": setting,
                    "miles": miles[h, l_],
                    "out_of_la": h != l_,
                    "out_of_rcc": rcc[h] != rcc[l_],
                }
            )
        )
    columns = ["home_la", "placement_la", "setting", "miles", "out_of_la", "out_of_rcc"]
    arcs = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    arcs = arcs.astype({"miles": float, "out_of_la": bool, "out_of_rcc": bool})
    if policy.max_miles is not None:
        arcs = arcs[arcs["miles"] <= policy.max_miles]
    subst = pd.DataFrame(
        [(n, s, p) for n, table in policy.substitutions.items() for s, p in table.items()],
        columns=["need", "setting", "substitution"],
    )
    arcs = arcs.merge(subst, on="setting")
    arcs["cost"] = (
        arcs["substitution"]
        + policy.distance_per_mile * arcs["miles"]
        + policy.out_of_la * arcs["out_of_la"]
        + policy.out_of_rcc * arcs["out_of_rcc"]
    )
    return arcs.reset_index(drop=True)


def _nearest(miles: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
    """Boolean matrix: for each row, the k nearest allowed columns."""
    out = np.zeros_like(miles, dtype=bool)
    if not allowed.any() or k <= 0:
        return out
    cols = np.flatnonzero(allowed)
    take = min(k, len(cols))
    order = np.argsort(miles[:, cols], axis=1, kind="stable")[:, :take]
    out[np.arange(len(miles))[:, None], cols[order]] = True
    return out


# ----------------------------------------------------------------------------- model


def build_plan_model(
    problem: Problem,
    demand: pd.DataFrame,
    *,
    costs: PlanCosts | None = None,
    options: PlanOptions | None = None,
    with_actions: bool = True,
    extra_arcs: pd.DataFrame | None = None,
) -> PlanModel:
    """Build the plan MIP (or, with `with_actions=False`, the do-nothing LP) without solving.

    `extra_arcs` (rows of `candidate_arcs`, e.g. found by pricing) join the k-nearest arcs.
    """
    costs = costs or PlanCosts()
    options = options or PlanOptions()
    model = mb.Model()
    ranges = age_ranges(costs.actions)
    cohorts = demand_by_cohort(demand, problem.children, ranges)
    years = tuple(sorted(int(y) for y in demand["year"].unique()))
    if not years or years != tuple(range(years[0], years[0] + len(years))):
        raise ValueError(f"the plan needs demand for consecutive years, got {list(years)}")
    actions = costs.actions if with_actions else {}
    candidates = set(options.candidate_las or problem.las["code"])
    buildable = {a.setting: candidates for a in actions.values()}
    pools = supply_pools(problem.placements, price_tiers=options.price_tiers)
    arcs = candidate_arcs(
        problem, pools, buildable, k_nearest=options.k_nearest, same_rcc=options.same_rcc
    )
    if extra_arcs is not None and not extra_arcs.empty:
        arcs = pd.concat([arcs, extra_arcs[arcs.columns]], ignore_index=True)
        arcs = arcs.drop_duplicates(_ARC_KEYS, ignore_index=True)

    decisions = add_action_vars(model, problem, actions, candidates, years)
    add_places_per_unit(model, decisions)
    add_capital_budgets(model, decisions, costs)
    flows = add_flow_vars(model, arcs, cohorts)
    unplaced = add_unplaced_vars(model, cohorts)
    counted = add_each_child_counted(model, flows, unplaced)
    pool_use = add_pool_use_vars(model, pools, years)
    new_use = add_new_use_vars(model, decisions, years)
    balance = add_pool_balance(model, flows, pool_use, new_use)
    age_limit = add_new_places_age_limit(model, flows, pool_use, new_use, ranges)
    add_new_places_open(model, decisions, new_use)
    set_objective(model, problem, flows, pool_use, unplaced, decisions, years)
    size = {
        "variables": model.num_variables,
        "integer_variables": 2 * len(decisions),
        "constraints": model.num_constraints,
        "flow_arcs": len(flows),
        "cohorts": len(cohorts),
        "pools": len(pools),
    }
    return PlanModel(
        model,
        years,
        flows,
        pool_use,
        new_use,
        unplaced,
        decisions,
        size,
        counted,
        balance,
        age_limit,
        ranges,
    )


def add_action_vars(
    model: mb.Model,
    problem: Problem,
    actions: Mapping[str, ActionCosts],
    candidates: set[str],
    years: tuple[int, ...],
) -> pd.DataFrame:
    """units[a,l,t] and places[a,l,t], integers, for decisions whose places open in the horizon.

    0 <= units <= max_units_per_la_year; places open in year t + lead_years.
    """
    rcc = problem.rcc_of
    rows = [
        (name, a.setting, la, rcc[la], t, t + a.lead_years)
        for name, a in actions.items()
        for t in years
        if t + a.lead_years <= years[-1] and a.max_units_per_la_year > 0
        for la in sorted(candidates)
    ]
    cols = ["action", "setting", "la_code", "rcc", "year", "opens"]
    df = pd.DataFrame(rows, columns=cols)
    if df.empty:
        numbers = [*_DECISION_NUMBERS, "units", "places"]
        return df.assign(**{c: pd.Series(dtype=float) for c in numbers})
    spec = df["action"].map(actions)
    df["max_units"] = spec.map(lambda a: a.max_units_per_la_year).astype(float)
    df["min_per_unit"] = spec.map(lambda a: a.min_places_per_unit).astype(float)
    df["max_per_unit"] = spec.map(lambda a: a.max_places_per_unit).astype(float)
    df["capital_per_unit"] = spec.map(lambda a: a.capital_per_unit).astype(float)
    df["capital_per_place"] = spec.map(lambda a: a.capital_per_place).astype(float)
    df["running_per_place"] = spec.map(lambda a: a.weekly_running_per_place).astype(float)
    df["units"] = _new_vars(model, "units", df.index, df["max_units"], integral=True)
    df["places"] = _new_vars(model, "places", df.index, _places_max(df), integral=True)
    return df


def _places_max(decisions: pd.DataFrame) -> pd.Series:
    """Most places a decision can make: its most units, each with its most places."""
    return np.floor(decisions["max_units"] * decisions["max_per_unit"])


def add_places_per_unit(model: mb.Model, decisions: pd.DataFrame) -> None:
    """Each unit has between its minimum and maximum places (a home 2-4):
    min_per_unit x units <= places <= max_per_unit x units for every decision."""
    for row in decisions.itertuples():
        model.add(
            row.places >= row.min_per_unit * row.units,
            name=f"places_per_unit_min[{row.action},{row.la_code},{row.year}]",
        )
        model.add(
            row.places <= row.max_per_unit * row.units,
            name=f"places_per_unit_max[{row.action},{row.la_code},{row.year}]",
        )


def _capital(decisions: pd.DataFrame) -> Any:
    return mb.LinearExpr.weighted_sum(
        [*decisions["units"], *decisions["places"]],
        [*decisions["capital_per_unit"], *decisions["capital_per_place"]],
    )


def add_capital_budgets(model: mb.Model, decisions: pd.DataFrame, costs: PlanCosts) -> None:
    """One-off spend within budgets: sum capital <= total; per year t; per RCC r."""
    if decisions.empty:
        return
    if costs.capital_budget is not None:
        model.add(_capital(decisions) <= costs.capital_budget, name="capital_budget_total")
    if costs.capital_per_year is not None:
        for year, part in decisions.groupby("year"):
            model.add(_capital(part) <= costs.capital_per_year, name=f"capital_budget_year[{year}]")
    for rcc, limit in costs.rcc_capital_budget.items():
        part = decisions[decisions["rcc"] == rcc]
        if not part.empty:
            model.add(_capital(part) <= limit, name=f"capital_budget_rcc[{rcc}]")


def _new_vars(
    model: mb.Model, name: str, index: pd.Index, upper: Any = np.inf, *, integral: bool = False
) -> pd.Series:
    """Variables name[i] >= 0 for each i of `index`, with upper bounds `upper` (one or one each)
    (as `mb.Model.new_var_series`, which reads its bounds element by element from a pandas
    Series: 1.7 s instead of 0.4 s for the 367,000 flows of the national plan)."""
    uppers = np.broadcast_to(np.asarray(upper, dtype=float), (len(index),)).tolist()
    return pd.Series(
        [
            model.new_var(0.0, ub, integral, f"{name}[{i}]")
            for i, ub in zip(index, uppers, strict=True)
        ],
        index=index,
        dtype=object,
    )


def add_flow_vars(model: mb.Model, arcs: pd.DataFrame, cohorts: pd.DataFrame) -> pd.DataFrame:
    """flow[h,n,l,s,y] >= 0 children of a cohort placed in a pool, for every arc and year."""
    flows = cohorts[_COHORT_KEYS].merge(arcs, on=["home_la", "need"])
    flows = flows.reset_index(drop=True)
    flows["var"] = _new_vars(model, "flow", flows.index)
    return flows


def add_unplaced_vars(model: mb.Model, cohorts: pd.DataFrame) -> pd.DataFrame:
    """unplaced[h,n,y] >= 0: forecast children the plan leaves without a placement."""
    df = cohorts.reset_index(drop=True)
    df["var"] = _new_vars(model, "unplaced", df.index)
    return df


def add_each_child_counted(
    model: mb.Model, flows: pd.DataFrame, unplaced: pd.DataFrame
) -> pd.Series:
    """Every forecast child is placed or unplaced, never dropped:
    sum_{l,s} flow[h,n,l,s,y] + unplaced[h,n,y] = children[h,n,y]."""
    groups = flows.groupby(_COHORT_KEYS)["var"].agg(list)
    made = {}
    for row in unplaced.itertuples():
        key = (row.home_la, row.need, row.ages, row.year)
        terms = [*groups.get(key, []), row.var]
        made[key] = model.add(
            mb.LinearExpr.sum(terms) == row.children,
            name=f"each_child_counted[{row.home_la},{row.need},{row.ages},{row.year}]",
        )
    return _constraint_series(made, _COHORT_KEYS)


def _constraint_series(made: dict[tuple[Any, ...], Any], names: list[str]) -> pd.Series:
    if not made:
        return pd.Series([], index=pd.MultiIndex.from_arrays([[]] * len(names), names=names))
    index = pd.MultiIndex.from_tuples(list(made), names=names)
    return pd.Series(list(made.values()), index=index, dtype=object)


def add_pool_use_vars(model: mb.Model, pools: pd.DataFrame, years: tuple[int, ...]) -> pd.DataFrame:
    """use[p,y] in [0, capacity_p]: places of an existing price pool used in a year."""
    df = pools.merge(pd.DataFrame({"year": years}), how="cross").reset_index(drop=True)
    df["var"] = _new_vars(model, "pool_use", df.index, df["capacity"])
    return df


def add_new_use_vars(
    model: mb.Model, decisions: pd.DataFrame, years: tuple[int, ...]
) -> pd.DataFrame:
    """new_use[l,s,y] >= 0: new places used in a year, for settings that can be built there."""
    keys = decisions[["la_code", "setting"]].drop_duplicates()
    df = keys.merge(pd.DataFrame({"year": years}), how="cross").reset_index(drop=True)
    df = df.rename(columns={"la_code": "placement_la"})
    df["var"] = _new_vars(model, "new_use", df.index)
    return df


def add_pool_balance(
    model: mb.Model, flows: pd.DataFrame, pool_use: pd.DataFrame, new_use: pd.DataFrame
) -> pd.Series:
    """Children placed in an LA's setting fill its places:
    sum_{h,n} flow[h,n,l,s,y] = sum_p use[p,y] + new_use[l,s,y] for every (l, s, y)."""
    keys = ["placement_la", "setting", "year"]
    stacked = pd.concat(
        [
            flows[[*keys, "var"]].assign(sign=1.0),
            pool_use[[*keys, "var"]].assign(sign=-1.0),
            new_use[[*keys, "var"]].assign(sign=-1.0),
        ],
        ignore_index=True,
    )
    made = {}
    for (la, setting, year), part in stacked.groupby(keys):
        expr = mb.LinearExpr.weighted_sum(list(part["var"]), list(part["sign"]))
        made[(la, setting, year)] = model.add(
            expr == 0, name=f"pool_balance[{la},{setting},{year}]"
        )
    return _constraint_series(made, keys)


def add_new_places_age_limit(
    model: mb.Model,
    flows: pd.DataFrame,
    pool_use: pd.DataFrame,
    new_use: pd.DataFrame,
    ranges: Mapping[str, tuple[int, int]],
) -> pd.Series:
    """New places take only children of their action's ages (a home 8-17): children of other
    ages placed in an LA's setting fit in its existing places,
    sum_{ages outside} flow[h,n,ages,l,s,y] <= sum_p use[p,y] for every (l, s, y) that can
    build s. (With the pool balance, new places then hold only children of their ages.)"""
    keys = ["placement_la", "setting", "year"]
    outside = flows[~_within_new_ages(flows, ranges)].groupby(keys)["var"].agg(list)
    existing = pool_use.groupby(keys)["var"].agg(list)
    made = {}
    for la, setting, year in new_use[keys].itertuples(index=False):
        key = (la, setting, year)
        terms = outside.get(key, [])
        used = existing.get(key, [])
        expr = mb.LinearExpr.weighted_sum([*terms, *used], [1.0] * len(terms) + [-1.0] * len(used))
        made[key] = model.add(expr <= 0, name=f"new_places_age_limit[{la},{setting},{year}]")
    return _constraint_series(made, keys)


def _within_new_ages(rows: pd.DataFrame, ranges: Mapping[str, tuple[int, int]]) -> np.ndarray:
    """Whether each row's age group may use new places of its setting (True where the setting
    has no action: nothing new is built there)."""
    inside = np.ones(len(rows), dtype=bool)
    for setting, (lo, hi) in ranges.items():
        mask = (rows["setting"] == setting).to_numpy()
        if mask.any():
            inside[mask] = _ages_within(rows.loc[mask, "ages"], lo, hi)
    return inside


def add_new_places_open(model: mb.Model, decisions: pd.DataFrame, new_use: pd.DataFrame) -> None:
    """New places are used only once open:
    new_use[l,s,y] <= sum_{a of s, t + lead_a <= y} places[a,l,t]."""
    if new_use.empty:
        return
    opened = decisions.groupby(["la_code", "setting"])
    for row in new_use.itertuples():
        part = opened.get_group((row.placement_la, row.setting))
        terms = list(part.loc[part["opens"] <= row.year, "places"])
        model.add(
            row.var <= mb.LinearExpr.sum(terms),
            name=f"new_places_open[{row.placement_la},{row.setting},{row.year}]",
        )


def set_objective(
    model: mb.Model,
    problem: Problem,
    flows: pd.DataFrame,
    pool_use: pd.DataFrame,
    unplaced: pd.DataFrame,
    decisions: pd.DataFrame,
    years: tuple[int, ...],
) -> None:
    """Minimise GBP over the horizon: 52 x weekly flow, price and unplaced costs per year, plus
    capital, plus 52 x running cost of new places for each year they are open."""
    open_years = (years[-1] - decisions["opens"] + 1).clip(lower=0).astype(float)
    variables = [*flows["var"], *pool_use["var"], *unplaced["var"], *decisions["places"]]
    coefs = [
        *(WEEKS * flows["cost"]),
        *(WEEKS * pool_use["weekly_cost"]),
        *np.full(len(unplaced), WEEKS * problem.policy.unplaced),
        *(WEEKS * decisions["running_per_place"] * open_years + decisions["capital_per_place"]),
    ]
    variables += list(decisions["units"])
    coefs += list(decisions["capital_per_unit"])
    model.minimize(mb.LinearExpr.weighted_sum(variables, [float(c) for c in coefs]))


# ----------------------------------------------------------------------------- solve


def _solver_parameters(options: PlanOptions, name: str) -> str:
    gap, threads = options.relative_gap, options.threads
    if name == "scip":
        solutions = options.solution_limit
        more = "" if solutions is None else f"\nlimits/bestsol = {solutions}"
        return f"limits/gap = {gap}\nparallel/maxnthreads = {threads}{more}"
    if name == "sat":
        return f"relative_gap_limit:{gap},num_workers:{threads}"
    return ""


def _solve(
    built: PlanModel, name: str, options: PlanOptions, *, limit: float | None = None
) -> tuple[mb.Solver, Any, float]:
    """Solve with `name`; within `limit` seconds when given (the MIP: the LPs always finish,
    or a plan could not be priced)."""
    solver = mb.Solver(name)
    if limit is not None:  # (0 would mean no limit to HiGHS)
        solver.set_time_limit_in_seconds(max(limit, 0.01))
    params = _solver_parameters(options, name)
    if params:
        solver.set_solver_specific_parameters(params)
    start = time.perf_counter()
    status = solver.solve(built.model)
    return solver, status, time.perf_counter() - start


@dataclass(frozen=True)
class _MipAnswer:
    """What a MIP solve gave: its status, the solver's own word for how it ended, and (when it
    has a plan) the decisions with their objective and the proven lower bound."""

    status: PlanStatus
    ended: str
    seconds: float
    objective: float = np.nan
    bound: float = -np.inf
    units: np.ndarray | None = None
    places: np.ndarray | None = None


def _solve_mip(built: PlanModel, options: PlanOptions, *, limit: float | None) -> _MipAnswer:
    """Solve the plan MIP within `limit` seconds, keeping the best plan found when stopped.

    HiGHS runs through MathOpt: OR-Tools' model_builder interface to HiGHS drops the incumbent
    at a time limit (it reports UNKNOWN_STATUS with no values) and reports a finished MIP's
    bound as its objective; MathOpt returns both the incumbent and HiGHS's dual bound. SCIP and
    CP-SAT keep their incumbent and bound through model_builder."""
    if options.solver != "highs":
        solver, status, seconds = _solve(built, options.solver, options, limit=limit)
        plan = _mb_status(status)
        ended = {PlanStatus.OPTIMAL: "optimal", PlanStatus.FEASIBLE: "limit reached"}.get(
            plan, status.name.lower().replace("_", " ")
        )
        if plan is PlanStatus.NOT_SOLVED:
            return _MipAnswer(plan, ended, seconds)
        raw = solver.best_objective_bound
        bound = -np.inf if raw is None or pd.isna(raw) else float(raw)
        if plan is PlanStatus.OPTIMAL and not np.isfinite(bound):  # presolve proved it
            bound = float(solver.objective_value)
        return _MipAnswer(
            plan,
            ended,
            seconds,
            float(solver.objective_value),
            bound,
            solver_values(solver, built.decisions["units"]).round().to_numpy(),
            solver_values(solver, built.decisions["places"]).round().to_numpy(),
        )
    start = time.perf_counter()
    proto = mps_converter.mps_to_model_proto(built.model.export_to_mps_string())
    model = mathopt.Model.from_model_proto(proto)
    params = mathopt.SolveParameters(
        time_limit=None if limit is None else timedelta(seconds=max(limit, 0.01)),
        relative_gap_tolerance=options.relative_gap,
        solution_limit=options.solution_limit,
        random_seed=0,  # HiGHS's default, fixed: the same model gives the same plan
    )
    answer = mathopt.solve(model, mathopt.SolverType.HIGHS, params=params)
    seconds = time.perf_counter() - start
    term = answer.termination
    ended = term.reason.name.lower().replace("_", " ")
    if term.limit is not None:
        ended = f"{term.limit.name.lower()} limit reached"
    if not answer.has_primal_feasible_solution():
        return _MipAnswer(PlanStatus.NOT_SOLVED, ended, seconds)
    optimal = term.reason is mathopt.TerminationReason.OPTIMAL
    plan = PlanStatus.OPTIMAL if optimal else PlanStatus.FEASIBLE
    by_name = {v.name: x for v, x in answer.variable_values().items()}

    def values(column: str) -> np.ndarray:
        return np.round([by_name[v.name] for v in built.decisions[column]]).astype(float)

    bound = float(term.objective_bounds.dual_bound)
    return _MipAnswer(
        plan,
        ended,
        seconds,
        float(term.objective_bounds.primal_bound),
        bound if np.isfinite(bound) else -np.inf,
        values("units"),
        values("places"),
    )


@dataclass(frozen=True)
class _Round:
    """One MIP round of `solve_plan`: the MIP's answer, its model, and the LP with its
    decisions fixed (flows re-optimised over every arc) with that LP's pricing."""

    mip: _MipAnswer
    built: PlanModel
    fixed: PlanModel
    lp: mb.Solver
    pricing: dict[str, Any]


def _gap(objective: float, bound: float) -> float:
    """Relative gap between a plan's objective and a proven lower bound (inf without one)."""
    if not np.isfinite(bound):
        return np.inf
    return max(0.0, (objective - bound) / max(1.0, abs(objective)))


def _mip_minimum(time_limit: float | None) -> float:
    """Seconds a MIP round gets even when the LP stages spent the time limit: a tenth of the
    limit and at least 1 s (so a short limit still gives the MIP a chance to find a plan)."""
    return max(1.0, 0.1 * (time_limit or 0.0))


def _mb_status(status: Any) -> PlanStatus:
    if status == mb.SolveStatus.OPTIMAL:
        return PlanStatus.OPTIMAL
    if status == mb.SolveStatus.FEASIBLE:
        return PlanStatus.FEASIBLE
    return PlanStatus.NOT_SOLVED


def _flow_values(built: PlanModel, solver: mb.Solver) -> pd.DataFrame:
    flows = built.flows.drop(columns="var")
    flows["children"] = solver_values(solver, built.flows["var"]).clip(lower=0).astype(float)
    return flows


def _by_year(
    built: PlanModel, solver: mb.Solver, flows: pd.DataFrame, actions: pd.DataFrame, plan: str
) -> pd.DataFrame:
    """Indicators per year from solved flows (counts of children, costs in GBP per week)."""
    years = pd.Index(built.years, name="year")
    kids = flows["children"].astype(float)
    f = pd.DataFrame(
        {
            "year": flows["year"],
            "children": kids,
            "over_20": kids * (flows["miles"].astype(float) > 20),
            "ola": kids * flows["out_of_la"].astype(bool),
            "orcc": kids * flows["out_of_rcc"].astype(bool),
        }
    )
    placed = f.groupby("year")[["children", "ola", "over_20", "orcc"]].sum()
    placed = placed.reindex(years).astype(float).fillna(0.0)
    left = solver_values(solver, built.unplaced["var"]).clip(lower=0).astype(float)
    unplaced = left.groupby(built.unplaced["year"]).sum().reindex(years).astype(float).fillna(0.0)
    use = solver_values(solver, built.pools["var"]).astype(float) * built.pools["weekly_cost"]
    price = use.groupby(built.pools["year"]).sum().reindex(years).astype(float).fillna(0.0)
    running = pd.Series(
        [float(actions.loc[actions["opens"] <= y, "weekly_running"].sum()) for y in years],
        index=years,
    )
    out = pd.DataFrame(
        {
            "year": years,
            "plan": plan,
            "placed": placed["children"].to_numpy(),
            "unplaced": unplaced.to_numpy(),
            "out_of_la": placed["ola"].to_numpy(),
            "over_20_miles": placed["over_20"].to_numpy(),
            "out_of_rcc": placed["orcc"].to_numpy(),
            "weekly_cost": (price + running).to_numpy(),
        }
    )
    out["children"] = out["placed"] + out["unplaced"]
    for col in ("children", "placed", "unplaced", "out_of_la", "over_20_miles", "out_of_rcc"):
        out[col] = out[col].round().astype(np.int64)
    out["weekly_cost"] = out["weekly_cost"].round(2)
    return out[list(BY_YEAR_COLUMNS)]


def _actions(built: PlanModel, solver: mb.Solver) -> pd.DataFrame:
    d = built.decisions
    if d.empty:
        return pd.DataFrame(columns=list(ACTION_COLUMNS))
    df = d.drop(columns=["units", "places"]).assign(
        units=solver.values(d["units"]).round().astype(np.int64).to_numpy(),
        places=solver.values(d["places"]).round().astype(np.int64).to_numpy(),
    )
    df = df[df["places"] > 0].copy()
    df["capital"] = df["capital_per_unit"] * df["units"] + df["capital_per_place"] * df["places"]
    df["weekly_running"] = df["running_per_place"] * df["places"]
    df["weekly_saving"] = 0.0
    return df[list(ACTION_COLUMNS)].reset_index(drop=True)


def _ended_private(
    built: PlanModel, with_use: pd.Series, without_use: pd.Series, rcc: Mapping[str, str]
) -> pd.DataFrame:
    """Private residential places the plan stops needing, released as placements end.

    For each LA, the places used without the plan but not with it, in every later year of the
    horizon (so nothing released is needed again): released_y = min_{y' >= y}
    max(0, used_without_y' - used_with_y'); a year's action is the increase on the year before.
    Costliest places are released first; weekly_saving is what they cost a week.
    """
    pools = built.pools[built.pools["setting"] == "residential_private"]
    if pools.empty:
        return pd.DataFrame(columns=list(ACTION_COLUMNS))
    use = pools.assign(with_=with_use.loc[pools.index], without=without_use.loc[pools.index])
    by = use.groupby(["placement_la", "year"])[["with_", "without"]].sum()
    freed = (by["without"] - by["with_"]).clip(lower=0).round().unstack("year", fill_value=0)
    released = freed.iloc[:, ::-1].cummin(axis=1).iloc[:, ::-1]
    step = released.diff(axis=1).fillna(released).astype(np.int64)
    rows = []
    for (la, year), places in step.stack().items():
        if places <= 0:
            continue
        prices = pools[(pools["placement_la"] == la) & (pools["year"] == year)]
        saving = _costliest_cost(prices, int(released.loc[la, year])) - _costliest_cost(
            prices, int(released.loc[la, year]) - int(places)
        )
        rows.append(
            (
                year,
                year,
                rcc[la],
                la,
                "end_private",
                "residential_private",
                0,
                places,
                0.0,
                0.0,
                saving,
            )
        )
    return pd.DataFrame(rows, columns=list(ACTION_COLUMNS))


def _costliest_cost(pools: pd.DataFrame, places: int) -> float:
    """Weekly cost of the `places` costliest places of some pools."""
    left, total = places, 0.0
    for cost, cap in pools.sort_values("weekly_cost", ascending=False)[
        ["weekly_cost", "capacity"]
    ].itertuples(index=False):
        take = min(left, int(cap))
        total += take * float(cost)
        left -= take
        if left <= 0:
            break
    return total


def solve_plan(
    problem: Problem,
    demand: pd.DataFrame,
    *,
    costs: PlanCosts | None = None,
    options: PlanOptions | None = None,
    end_private: bool = True,
    progress: Callable[[str], None] | None = None,
) -> PlanResult:
    """Solve doing nothing and the plan on the same forecast; return a `PlanResult`
    (`progress` receives one line per stage).

    1. The do-nothing LP over the k-nearest arcs, then column generation: arcs left out are
       priced with its duals and the best added until none prices negative (exact over all
       arcs, within `pricing_rounds`).
    2. The plan MIP over the k-nearest arcs plus those found in 1.
    3. The MIP's decisions fixed, the same column generation: the plan's flows are optimal over
       all arcs for its decisions. If arcs had to be added, step 2 is repeated with them (up to
       `mip_rounds` MIP solves) and the cheapest plan of the rounds is kept. The reported
       objective is this LP's; `bound` and `gap` are its MIP's proven ones over its arc set.
       A MIP stopped by a limit keeps its best plan and bound (`PlanOptions.time_limit`), or
       its LP relaxation rounded down where that costs less (`_best_of_stopped`).

    A plan never costs more than doing nothing: if the solver stops with a worse plan (or
    none), the result is the do-nothing plan, flagged `fell_back_to_nothing`.
    """
    costs = costs or PlanCosts()
    options = options or PlanOptions()
    say = progress or (lambda _msg: None)
    start = time.perf_counter()
    rounds = options.pricing_rounds
    nothing = build_plan_model(problem, demand, costs=costs, options=options, with_actions=False)
    nothing, lp, pricing_nothing, extra = _generate_columns(
        problem, nothing, options, max_rounds=rounds, say=lambda m: say(f"doing nothing: {m}")
    )
    objective_nothing = float(lp.objective_value)
    without_flows = _flow_values(nothing, lp)
    no_actions = pd.DataFrame(columns=list(ACTION_COLUMNS))
    without = _by_year(nothing, lp, without_flows, no_actions, "without_plan")
    pricing: dict[str, Any] = {"without_plan": pricing_nothing}
    notes: list[str] = []
    deadline = None if options.time_limit is None else start + options.time_limit
    tried: list[_Round] = []
    built = build_plan_model(problem, demand, costs=costs, options=options, extra_arcs=extra)
    for mip_round in range(1, options.mip_rounds + 1):
        left = None if deadline is None else deadline - time.perf_counter()
        _set_decisions(built, None)
        limit = None if left is None else max(left, _mip_minimum(options.time_limit))
        if left is not None and limit is not None and left < limit:
            notes.append(
                f"MIP round {mip_round}: {time.perf_counter() - start:.1f} s of the "
                f"{options.time_limit:g} s time limit were spent before it; it was given its "
                f"minimum of {limit:.1f} s, so the plan took longer than the limit"
            )
        say(
            f"the plan: {options.solver} MIP, {built.size['variables']:,} variables "
            f"({built.size['integer_variables']:,} integer)"
            + ("" if limit is None else f", stops after {limit:.1f} s")
        )
        answer = _solve_mip(built, options, limit=limit)
        say(f"the plan: MIP {answer.ended} in {answer.seconds:.1f} s")
        if answer.units is None or answer.places is None:
            relaxed = _rounded_relaxation(built, options)
            decided = {"units": relaxed["units"], "places": relaxed["places"]}
            answer = replace(answer, bound=float(relaxed["bound"][0]))
            notes.append(
                f"MIP round {mip_round}: the {options.solver} MIP found no plan "
                f"({answer.ended}); the "
                "plan is its LP relaxation rounded down, with the relaxation as the bound"
            )
        else:
            decided = {"units": answer.units, "places": answer.places}
            if answer.status is PlanStatus.FEASIBLE:
                decided, answer, rounded = _best_of_stopped(built, options, decided, answer)
                notes.append(
                    f"MIP round {mip_round}: the {options.solver} MIP stopped ({answer.ended}) "
                    + (
                        "with a plan dearer than its LP relaxation rounded down, which is the "
                        "plan, "
                        if rounded
                        else "with its best plan so far, "
                    )
                    + f"within {_gap(answer.objective, answer.bound):.2%} of its proven "
                    "bound; a plan stopped by time depends on the machine's speed and load "
                    "(a longer --time-limit or a larger --gap makes it reproducible)"
                )
        _set_decisions(built, decided)
        fixed, fixed_lp, found, more = _generate_columns(
            problem, built, options, max_rounds=rounds, say=lambda m: say(f"with the plan: {m}")
        )
        tried.append(_Round(answer, built, fixed, fixed_lp, found))
        if more.empty or mip_round == options.mip_rounds or answer.units is None:
            break
        built = fixed  # the next MIP round: this model, with the arcs pricing added
    best = min(tried, key=lambda r: float(r.lp.objective_value))
    if best is not tried[-1]:
        notes.append(
            f"MIP round {tried.index(best) + 1}'s plan is kept: with every arc priced it "
            "costs less than the last round's (each round stops within the relative gap or "
            "at its time)"
        )
    answer, built, fixed, fixed_lp = best.mip, best.built, best.fixed, best.lp
    pricing["with_plan"] = best.pricing
    mip_seconds = sum(r.mip.seconds for r in tried)
    status = answer.status if answer.units is not None else PlanStatus.FEASIBLE
    fell_back = bool(fixed_lp.objective_value > objective_nothing * (1 + 1e-9))
    mip_bound = answer.bound
    if fell_back:
        notes.append(
            f"the {options.solver} solve ended {answer.ended} without a plan better than "
            "doing nothing; the plan is to do nothing"
        )
        actions, with_flows = no_actions, without_flows
        with_ = without.assign(plan="with_plan")
        bound = min(objective_nothing, mip_bound) if np.isfinite(mip_bound) else -np.inf
        objective = mip_objective = objective_nothing
    else:
        actions = _actions(fixed, fixed_lp)
        with_flows = _flow_values(fixed, fixed_lp)
        with_ = _by_year(fixed, fixed_lp, with_flows, actions, "with_plan")
        objective, bound = float(fixed_lp.objective_value), mip_bound
        mip_objective = objective if answer.units is None else answer.objective
        if end_private:
            pool_with = solver_values(fixed_lp, fixed.pools["var"])
            pool_without = solver_values(lp, nothing.pools["var"])
            ended = _ended_private(fixed, pool_with, pool_without, problem.rcc_of)
            if not ended.empty:
                actions = pd.concat([actions, ended], ignore_index=True)
    for side, found in pricing.items():
        if found["negative"]:
            notes.append(
                f"{side}: {found['negative']:,} arcs left out still price negative after "
                f"{found['rounds']} pricing rounds (by up to £{-found['most_negative_weekly']:,.0f}"
                " a child a week); raise k_nearest or pricing_rounds"
            )
    flows = with_flows.merge(
        without_flows[[*_FLOW_KEYS, "children"]],
        on=_FLOW_KEYS,
        how="outer",
        suffixes=("_with_plan", "_without_plan"),
    )
    gap = _gap(mip_objective, bound)
    if fell_back:
        status = PlanStatus.OPTIMAL if gap <= options.relative_gap else PlanStatus.FEASIBLE
    by_year = pd.concat([with_, without], ignore_index=True)
    actions = actions.sort_values(["year", "rcc", "la_code", "action"], ignore_index=True)
    return PlanResult(
        status=status,
        objective=objective,
        bound=bound,
        gap=gap,
        objective_without_plan=objective_nothing,
        wall_seconds=time.perf_counter() - start,
        solver=options.solver,
        parameters={
            "k_nearest": options.k_nearest,
            "same_rcc": options.same_rcc,
            "price_tiers": options.price_tiers,
            "time_limit": options.time_limit,
            "relative_gap": options.relative_gap,
            "threads": options.threads,
            "pricing_rounds": options.pricing_rounds,
            "mip_rounds": len(tried),
            "mip_objective": mip_objective,
            "mip_seconds": round(mip_seconds, 3),
        },
        years=built.years,
        actions=actions,
        by_year=by_year,
        flows=flows,
        costs=costs,
        size=built.size,
        fell_back_to_nothing=fell_back,
        notes=tuple(notes),
        pricing=pricing,
    )


def price_pruned_arcs(
    problem: Problem, built: PlanModel, solver: mb.Solver, *, per_cohort: int = 3
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Price every arc the k-nearest restriction left out, with the duals of a solved LP.

    With pi[h,n,y] the dual of each_child_counted and sigma[l,s,y] that of pool_balance, an
    arc left out has reduced cost 52 x cost - pi - sigma. None negative means the flows are
    optimal over ALL arcs (for the LP's fixed decisions): the restriction cost nothing.
    Arcs to an (LA, setting) with no places in the model cannot carry children and are skipped.
    Returns the counts (pruned_arcs priced, negative, most_negative_weekly in GBP per child)
    and the arcs to add to the model: every negative one when there are few, else the
    `per_cohort` most negative of each cohort and year.

    Computed on integer codes, each cohort against every arc of its home LA and need (about
    2 million (cohort, arc) pairs in the national five-year plan, in well under a second).
    """
    cohorts = built.unplaced[_COHORT_KEYS].reset_index(drop=True)
    pi = pd.Series(solver.dual_values(built.counted).to_numpy(), index=built.counted.index)
    pi_c = pi.reindex(pd.MultiIndex.from_frame(cohorts)).to_numpy()
    places = built.balance.index.to_frame(index=False)
    sigma = solver.dual_values(built.balance).to_numpy()
    tau = np.zeros(len(places))
    if not built.age_limit.empty:
        limits = pd.Series(solver.dual_values(built.age_limit).to_numpy(), built.age_limit.index)
        tau = limits.reindex(built.balance.index).fillna(0.0).to_numpy()
    pools = places[["placement_la", "setting"]].drop_duplicates()
    everywhere = candidate_arcs(problem, pools, {}, k_nearest=len(problem.las), same_rcc=False)
    flows = built.flows
    # integer codes: g of (home_la, need), q of (placement_la, setting), y of year, c of cohort
    g_arc, g_cohort = _codes(["home_la", "need"], everywhere, cohorts)
    pool = ["placement_la", "setting"]
    q_arc, q_place, q_flow = _codes(pool, everywhere, places, flows)
    y_cohort, y_place = _codes(["year"], cohorts, places)
    c_cohort, c_flow = _codes(_COHORT_KEYS, cohorts, flows)
    n_q = 1 + max(q_arc.max(initial=-1), q_place.max(initial=-1), q_flow.max(initial=-1))
    place_of = np.full((n_q, 1 + max(y_cohort.max(initial=-1), y_place.max(initial=-1))), -1)
    place_of[q_place, y_place] = np.arange(len(places))
    cohort_of = np.full(1 + max(c_cohort.max(initial=-1), c_flow.max(initial=-1)), -1)
    cohort_of[c_cohort] = np.arange(len(cohorts))
    kept = np.zeros((len(cohorts), n_q), dtype=bool)
    kept[cohort_of[c_flow], q_flow] = True
    # every (cohort i, arc a) of one (home_la, need): the arcs sorted by it, each cohort's run
    order = np.argsort(g_arc, kind="stable")
    n_g = 1 + max(g_arc.max(initial=-1), g_cohort.max(initial=-1))
    first = np.searchsorted(g_arc[order], np.arange(n_g))
    count = np.bincount(g_arc, minlength=n_g)[g_cohort]
    i = np.repeat(np.arange(len(cohorts)), count)
    a = order[np.repeat(first[g_cohort] - np.cumsum(count) + count, count) + np.arange(len(i))]
    j = place_of[q_arc[a], y_cohort[i]]
    priced = (j >= 0) & ~kept[i, q_arc[a]]
    i, a, j = i[priced], a[priced], j[priced]
    if len(i) == 0:
        return {"pruned_arcs": 0, "negative": 0, "most_negative_weekly": 0.0}, everywhere[:0]
    s_arc, settings = pd.factorize(everywhere["setting"])
    g_ages, ages = pd.factorize(cohorts["ages"])
    pairs = pd.MultiIndex.from_product([settings, ages], names=["setting", "ages"]).to_frame()
    within = _within_new_ages(pairs, built.ranges).reshape(len(settings), len(ages))
    outside = ~within[s_arc[a], g_ages[i]]
    reduced = WEEKS * everywhere["cost"].to_numpy()[a] - pi_c[i] - sigma[j] - tau[j] * outside
    negative = np.flatnonzero(reduced < -1e-6 * max(1.0, float(np.abs(pi_c[i]).max())))
    stats = {
        "pruned_arcs": len(i),
        "negative": len(negative),
        "most_negative_weekly": float(min(0.0, reduced.min()) / WEEKS),
    }
    best = negative[np.argsort(reduced[negative], kind="stable")]
    if len(best) > _ADD_EVERY_NEGATIVE:
        best = best[pd.Series(i[best]).groupby(i[best]).cumcount().to_numpy() < per_cohort]
    return stats, everywhere.iloc[a[best]].drop_duplicates(_ARC_KEYS).reset_index(drop=True)


def _codes(columns: list[str], *frames: pd.DataFrame) -> list[np.ndarray]:
    """The rows of each frame coded as integers by their values in `columns`, one code for one
    combination of values across all the frames."""
    stacked = pd.concat([f[columns] for f in frames], ignore_index=True)
    codes = stacked.groupby(columns, sort=False).ngroup().to_numpy()
    return np.split(codes, np.cumsum([len(f) for f in frames])[:-1])


def add_arcs(model: mb.Model, built: PlanModel, arcs: pd.DataFrame, *, tag: str) -> PlanModel:
    """Add flow columns for new arcs (all years) to a built model, in place of rebuilding it.

    Each new flow enters its cohort's each_child_counted and its pool's pool_balance with
    coefficient 1 and the objective with 52 x cost, exactly as `add_flow_vars` would.
    """
    cohorts = built.unplaced[_COHORT_KEYS]
    rows = cohorts.merge(arcs, on=["home_la", "need"])
    keys = pd.MultiIndex.from_frame(rows[["placement_la", "setting", "year"]])
    rows = rows[keys.isin(built.balance.index)].reset_index(drop=True)
    if rows.empty:
        return built
    rows["var"] = _new_vars(model, f"flow_{tag}", rows.index)
    limited = ~_within_new_ages(rows, built.ranges)
    for row, outside in zip(rows.itertuples(index=False), limited, strict=True):
        built.counted[(row.home_la, row.need, row.ages, row.year)].add_term(row.var, 1.0)
        places = (row.placement_la, row.setting, row.year)
        built.balance[places].add_term(row.var, 1.0)
        if outside and places in built.age_limit.index:
            built.age_limit[places].add_term(row.var, 1.0)
        row.var.objective_coefficient = float(WEEKS * row.cost)
    flows = pd.concat([built.flows, rows[built.flows.columns]], ignore_index=True)
    size = {**built.size, "flow_arcs": len(flows), "variables": model.num_variables}
    return replace(built, flows=flows, size=size)


def _generate_columns(
    problem: Problem,
    built: PlanModel,
    options: PlanOptions,
    *,
    max_rounds: int,
    say: Callable[[str], None],
) -> tuple[PlanModel, mb.Solver, dict[str, Any], pd.DataFrame]:
    """Solve an LP, price the arcs left out, add the best, repeat until none prices negative
    (`say` receives a line per round).

    Returns the final model, its solver, the last pricing (with `rounds` and `arcs_added`) and
    every arc added. When `negative` is 0 the LP is optimal over all arcs.
    """
    added: list[pd.DataFrame] = []
    for round_ in range(1, max_rounds + 1):
        lp, status, _ = _solve(built, "glop", options)
        if status != mb.SolveStatus.OPTIMAL:
            raise RuntimeError(f"a plan LP did not solve: {lp.status_string}")
        stats, best = price_pruned_arcs(problem, built, lp)
        stats = {**stats, "rounds": round_, "arcs_added": int(sum(len(a) for a in added))}
        say(f"LP round {round_}: {len(best):,} more arc{'s' * (len(best) != 1)} priced in")
        if best.empty or round_ == max_rounds:
            break
        added.append(best)
        built = add_arcs(built.model, built, best, tag=f"priced{round_}")
    extra = pd.concat(added, ignore_index=True) if added else pd.DataFrame()
    return built, lp, stats, extra


def _best_of_stopped(
    built: PlanModel, options: PlanOptions, decided: dict[str, np.ndarray], answer: _MipAnswer
) -> tuple[dict[str, np.ndarray], _MipAnswer, bool]:
    """A MIP stopped by a limit may hold a poor plan (at 0.05 of England, after 40 s: nothing
    built, 98.6% from its bound, while 64 children stayed unplaced). Its plan and the LP
    relaxation rounded down are each costed with the flows re-optimised for them (an LP each);
    returns the cheaper, the answer with that cost as its objective and the better of the two
    bounds, and whether the rounded relaxation won."""
    relaxed = _rounded_relaxation(built, options)
    rounded = {"units": relaxed["units"], "places": relaxed["places"]}
    cost = []
    for plan in (decided, rounded):
        _set_decisions(built, plan)
        lp, status, _ = _solve(built, "glop", options)
        cost.append(float(lp.objective_value) if status == mb.SolveStatus.OPTIMAL else np.inf)
    bound = max(answer.bound, float(relaxed["bound"][0]))
    won = cost[1] < cost[0]
    return (
        rounded if won else decided,
        replace(answer, objective=min(cost), bound=bound),
        won,
    )


def _rounded_relaxation(built: PlanModel, options: PlanOptions) -> dict[str, np.ndarray]:
    """A feasible plan from the LP relaxation when the MIP found none in time: units rounded
    down, places = min(floor(places), max_per_unit x units). Places stay >= min_per_unit x
    units (the relaxation had places >= min x units and min is whole), and capital only falls,
    so every budget still holds."""
    for column in ("units", "places"):
        for var in built.decisions[column]:
            var.is_integral = False
    lp, status, _ = _solve(built, "glop", options)
    if status != mb.SolveStatus.OPTIMAL:
        raise RuntimeError(f"the plan's LP relaxation did not solve: {lp.status_string}")
    units = np.floor(solver_values(lp, built.decisions["units"]).to_numpy() + 1e-9)
    places = np.floor(solver_values(lp, built.decisions["places"]).to_numpy() + 1e-9)
    places = np.minimum(places, np.floor(built.decisions["max_per_unit"].to_numpy() * units))
    return {"units": units, "places": places, "bound": np.array([lp.objective_value])}


def _set_decisions(built: PlanModel, decided: dict[str, np.ndarray] | None) -> None:
    """Fix the model's decisions at given values (an LP: the plan's flows for its decisions),
    or with None free them again (the MIP): the same model serves every round in turn."""
    decisions = built.decisions
    upper = {"units": decisions["max_units"], "places": _places_max(decisions)}
    for column in ("units", "places"):
        values = upper[column] if decided is None else decided[column]
        for var, value in zip(decisions[column], values, strict=True):
            var.is_integral = decided is None
            var.lower_bound = 0.0 if decided is None else float(value)
            var.upper_bound = float(value)


def solver_values(solver: mb.Solver, variables: pd.Series) -> pd.Series:
    """Values of a variable series, indexed like it (float, empty when it is empty)."""
    if variables.empty:
        return pd.Series(dtype=float, index=variables.index)
    return pd.Series(solver.values(variables).to_numpy(dtype=float), index=variables.index)


# ----------------------------------------------------------------------------- outputs


def plan_summary(result: PlanResult) -> dict[str, Any]:
    """The plan_summary.json content: horizon, budget, spend and final-year indicators."""
    costs = result.costs
    return {
        "years": list(result.years),
        "capital_budget": costs.capital_budget,
        "capital_per_year": costs.capital_per_year,
        "capital_total": round(result.capital_total, 2),
        "weekly_running_added": round(result.weekly_running_added, 2),
        "weekly_saving": round(result.weekly_saving, 2),
        "status": result.status.value,
        "objective": round(result.objective, 2),
        "bound": round(result.bound, 2) if np.isfinite(result.bound) else None,
        "gap": result.gap if np.isfinite(result.gap) else None,
        "objective_without_plan": round(result.objective_without_plan, 2),
        "wall_seconds": round(result.wall_seconds, 3),
        "solver": result.solver,
        "parameters": result.parameters,
        "model_size": result.size,
        "fell_back_to_nothing": result.fell_back_to_nothing,
        "notes": list(result.notes),
        "restrictions": list(RESTRICTIONS),
        "pruned_arc_pricing": result.pricing,
        "with_plan": _ints(result.final_year("with_plan")),
        "without_plan": _ints(result.final_year("without_plan")),
        "costs": costs.to_json(),
    }


def _ints(values: dict[str, float]) -> dict[str, float | int]:
    return {k: (round(v, 2) if k == "weekly_cost" else round(v)) for k, v in values.items()}


def apply_actions(
    problem: Problem, actions: pd.DataFrame, *, costs: PlanCosts | None = None
) -> pd.DataFrame:
    """The placements table once every action has happened (the supply in the final year).

    New homes and secure blocks become one placement each (places shared out over the units,
    e.g. 10 places in 3 homes -> 4, 3, 3); recruited foster households become one placement per
    action; ids `PLAN-<year>-<la>-<action>-<n>`; weekly_cost is the running cost per place.
    `end_private` rows take places away from the LA's costliest private homes first.
    """
    costs = costs or PlanCosts()
    placements = problem.placements.copy()
    points = problem.las.set_index("code")[["easting", "northing"]]
    new_rows = []
    for row in actions.itertuples(index=False):
        if row.action == "end_private":
            placements = _release_private(placements, row.la_code, int(row.places))
            continue
        spec = costs.actions[row.action]
        units = int(row.units)
        if spec.action == "recruit_foster" or units <= 1:
            sizes = [int(row.places)]
        else:
            base, extra = divmod(int(row.places), units)
            sizes = [base + (i < extra) for i in range(units)]
        for i, size in enumerate(sizes, start=1):
            new_rows.append(
                {
                    "placement_id": f"PLAN-{row.year}-{row.la_code}-{row.action}-{i}",
                    "setting": spec.setting,
                    "la": row.la_code,
                    "easting": float(points.at[row.la_code, "easting"]),
                    "northing": float(points.at[row.la_code, "northing"]),
                    "capacity": size,
                    "weekly_cost": spec.weekly_running_per_place,
                    "min_age": spec.min_age,
                    "max_age": spec.max_age,
                    "sexes": "any",
                    "provider": "RCC plan",
                    "ofsted_rating": "",
                }
            )
    added = pd.DataFrame(new_rows, columns=placements.columns)
    out = pd.concat([placements, added], ignore_index=True) if new_rows else placements
    return out.astype({"capacity": np.int64, "min_age": np.int64, "max_age": np.int64})


def _release_private(placements: pd.DataFrame, la: str, places: int) -> pd.DataFrame:
    mask = (placements["la"] == la) & (placements["setting"] == "residential_private")
    order = placements[mask].sort_values("weekly_cost", ascending=False, kind="stable").index
    left = places
    for idx in order:
        take = min(left, int(placements.at[idx, "capacity"]))
        placements.at[idx, "capacity"] = int(placements.at[idx, "capacity"]) - take
        left -= take
        if left <= 0:
            break
    return placements


def plan_problem(
    problem: Problem,
    actions: pd.DataFrame,
    *,
    children: pd.DataFrame | None = None,
    costs: PlanCosts | None = None,
) -> Problem:
    """The problem with the plan's supply (and optionally a forecast year's children), ready for
    `optimiser.allocation.solve` or `write_problem` + `rcc solve`."""
    placements = apply_actions(problem, actions, costs=costs)
    kids = problem.children if children is None else children
    if children is not None:
        known = set(placements["placement_id"])
        kids = kids.assign(
            current_placement=kids["current_placement"].where(
                kids["current_placement"].isin(known), ""
            )
        )
    return replace(problem, placements=placements, children=kids.reset_index(drop=True))


def _finite(data: Any) -> Any:
    """JSON has no NaN or infinity: replace non-finite floats by None, recursively."""
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_finite(v) for v in data]
    if isinstance(data, float) and not np.isfinite(data):
        return None
    return data


def write_plan_outputs(
    result: PlanResult,
    problem: Problem,
    demand: pd.DataFrame,
    out: Path | str,
    *,
    seed: int = 1,
) -> list[Path]:
    """Write plan_actions.csv, plan_by_year.csv, plan_summary.json, placements_with_plan.csv
    and `final_year/`, a complete problem folder (the final forecast year's children, seeded,
    with the plan's supply) that `rcc solve` reads to check the plan at child level."""
    from optimiser.forecast import children_for_year
    from optimiser.problem import write_problem

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / n for n in ("plan_actions.csv", "plan_by_year.csv", "plan_summary.json")]
    result.actions[list(ACTION_COLUMNS)].to_csv(paths[0], index=False, encoding="utf-8-sig")
    result.by_year.to_csv(paths[1], index=False, encoding="utf-8-sig")
    summary = {**plan_summary(result), "growth": demand.attrs.get("growth")}
    paths[2].write_text(json.dumps(_finite(summary), indent=2) + "\n", encoding="utf-8")
    final = demand[demand["year"] == result.years[-1]]
    children = children_for_year(problem, final, seed=seed)
    checked = plan_problem(problem, result.actions, children=children, costs=result.costs)
    placements_path = folder / "placements_with_plan.csv"
    checked.placements.to_csv(placements_path, index=False, encoding="utf-8-sig")
    paths.append(placements_path)
    paths.extend(write_problem(checked, folder / "final_year"))
    return paths
