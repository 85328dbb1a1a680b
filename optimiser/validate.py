"""An allocation checker independent of the solver: the oracle for tests, benchmarks and users.

It recomputes everything from the inputs with plain pandas (no solver code): every child exactly
once (placed or unplaced), no capacity exceeded, only eligible pairs, and the objective; the
allocation's own columns (miles, the out-of-area flags, the pair's cost) where it has them; and
the DfE indicators a result reports (`check_indicators`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimiser.indicators import COUNTS  # the names only: the sums are this module's own
from optimiser.problem import Problem

__all__ = [
    "AllocationCheck",
    "check_allocation",
    "check_indicators",
    "recompute_objective",
    "reported_objective",
]

# Pair costs are solved to 1/100 of a penny; allow that rounding per child, or 1e-6 relative.
_PER_CHILD_TOLERANCE = 1e-4
_NAMED = 3  # children (or placements) named in each error, then "and N more"


def _naming(labels: list[str]) -> str:
    """': C1 (row 2), C7 (row 8) and 3 more': the first few of what breaks a rule."""
    more = len(labels) - _NAMED
    return ": " + ", ".join(labels[:_NAMED]) + (f" and {more} more" if more > 0 else "")


def _at_rows(assignments: pd.DataFrame, positions: np.ndarray | pd.Index) -> list[str]:
    """'C1 (row 2)' for the allocation's rows at `positions` (0-based; the header is row 1)."""
    ids = assignments["child_id"].to_numpy()
    return [f"{ids[i]} (row {i + 2})" for i in positions]


@dataclass(frozen=True)
class AllocationCheck:
    """The verdict: `errors` is empty when the allocation is valid."""

    errors: tuple[str, ...]
    objective: float
    reported_objective: float | None

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        if self.ok and self.reported_objective is None:
            return (
                f"valid: every rule holds; objective {self.objective:,.2f} computed from the "
                "inputs (no reported objective to compare it with)"
            )
        if self.ok:
            return (
                f"valid: every rule holds; objective {self.objective:,.2f} recomputed, equal to "
                "the reported one"
            )
        return "invalid:\n" + "\n".join(f"  - {e}" for e in self.errors)


def _pairs(problem: Problem, assignments: pd.DataFrame) -> pd.DataFrame:
    """Placed children joined to their placement, with the DfE miles."""
    ch = problem.children.set_index("child_id")
    pl = problem.placements.set_index("placement_id")
    placed = assignments.loc[
        assignments["placement_id"].fillna("") != "", ["child_id", "placement_id"]
    ]
    df = placed.join(ch, on="child_id").join(pl, on="placement_id", rsuffix="_p")
    de = df["easting"] - df["easting_p"]
    dn = df["northing"] - df["northing_p"]
    df["miles"] = np.sqrt(de**2 + dn**2) / 1000 / 1.6093
    rcc = problem.rcc_of
    df["home_rcc"] = df["home_la"].map(rcc)
    df["place_rcc"] = df["la"].map(rcc)
    return df


def _penalties(problem: Problem, df: pd.DataFrame) -> np.ndarray:
    """Substitution penalty of each pair; NaN where the setting is not allowed for the need."""
    table = problem.policy.substitutions
    pairs = zip(df["need"], df["setting"], strict=True)
    return np.array([table.get(n, {}).get(s, np.nan) for n, s in pairs], dtype=float)


def _pair_costs(problem: Problem, df: pd.DataFrame) -> pd.Series:
    """Each placed pair's cost (DESIGN.md section 4), from `_pairs`."""
    pol = problem.policy
    return (
        df["weekly_cost"]
        + np.nan_to_num(_penalties(problem, df))
        + pol.distance_per_mile * df["miles"]
        + pol.out_of_la * (df["home_la"] != df["la"])
        + pol.out_of_rcc * (df["home_rcc"] != df["place_rcc"])
        + pol.move
        * ((df["current_placement"] != "") & (df["current_placement"] != df["placement_id"]))
    )


def recompute_objective(problem: Problem, assignments: pd.DataFrame) -> float:
    """The objective of DESIGN.md section 4 recomputed from the inputs alone."""
    pol = problem.policy
    df = _pairs(problem, assignments)
    cost = _pair_costs(problem, df)
    n_unplaced = len(problem.children) - len(df)
    groups = df[df["sibling_group"] != ""].groupby("sibling_group")["placement_id"].nunique()
    extra = int(np.maximum(groups - 1, 0).sum())
    return float(cost.sum() + pol.unplaced * n_unplaced + pol.sibling_split * extra)


def check_allocation(
    problem: Problem, assignments: pd.DataFrame, *, objective: float | None = None
) -> AllocationCheck:
    """Check an allocation table (`child_id`, `placement_id`, "" when unplaced) against every
    rule, and the reported objective against the one recomputed from the inputs."""
    errors: list[str] = []
    assignments = assignments.reset_index(drop=True)  # each label its row's position
    ids = assignments["child_id"]
    again = ids.duplicated()
    if again.any():
        named = _at_rows(assignments, again.to_numpy().nonzero()[0])
        errors.append(f"{ids[again].nunique()} children appear more than once{_naming(named)}")
    known = problem.children["child_id"]
    missing = known[~known.isin(ids)].tolist()
    if missing:
        errors.append(f"{len(missing)} children are neither placed nor unplaced{_naming(missing)}")
    unknown = ~ids.isin(known)
    if unknown.any():
        listed = _naming(_at_rows(assignments, unknown.to_numpy().nonzero()[0]))
        errors.append(f"{ids[unknown].nunique()} unknown children in the allocation{listed}")
    places = assignments["placement_id"].fillna("")
    bad = (places != "") & ~places.isin(problem.placements["placement_id"])
    if bad.any():
        named = [f"{places[i]} (row {i + 2})" for i in bad.to_numpy().nonzero()[0]]
        errors.append(f"{places[bad].nunique()} unknown placements used{_naming(named)}")
    if errors:
        return AllocationCheck(tuple(errors), float("nan"), objective)

    used = places[places != ""].value_counts()
    cap = problem.placements.set_index("placement_id")["capacity"]
    over = used[used > cap.reindex(used.index)]
    for pid, n in over.items():
        errors.append(f"placement {pid} takes {n} children but has {cap[pid]} places")

    df = _pairs(problem, assignments)
    allowed = ~np.isnan(_penalties(problem, df))
    sex_ok = (df["sexes"] == "any") | (df["sexes"] == df["sex"])
    age_ok = (df["age"] >= df["min_age"]) & (df["age"] <= df["max_age"])
    rules = {
        "setting not allowed for the need": ~allowed,
        "age outside the placement's range": ~age_ok.to_numpy(),
        "sex not accepted": ~sex_ok.to_numpy(),
    }
    if problem.policy.max_miles is not None:
        rules["further than max_miles"] = (df["miles"] > problem.policy.max_miles).to_numpy()
    for rule, broken in rules.items():
        if broken.any():
            named = _at_rows(assignments, df.index[broken])
            errors.append(f"{int(broken.sum())} pairs break the rule: {rule}{_naming(named)}")

    errors += _derived_columns(problem, assignments, df)
    value = recompute_objective(problem, assignments)
    if objective is not None:
        tolerance = max(1e-6 * abs(value), _PER_CHILD_TOLERANCE * len(problem.children))
        if not abs(value - objective) <= tolerance:  # a NaN reported is never equal
            errors.append(f"reported objective {objective:,.4f} != recomputed {value:,.4f}")
    return AllocationCheck(tuple(errors), value, objective)


def reported_objective(summary: Mapping[str, object]) -> float | str:
    """summary.json's objective as a number to compare, or, when it is missing or not a
    finite number, the problem that stops the comparison (a check that compared nothing is no
    check)."""
    if "objective" not in summary:
        return "summary.json has no key objective: nothing to compare the recomputed one with"
    value = summary["objective"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return (
            f"summary.json objective is {json.dumps(value)}, not a number: nothing to compare "
            "the recomputed one with"
        )
    return float(value)


def _flags(column: pd.Series) -> pd.Series:
    """True/False as written to CSV (or read back as booleans)."""
    return column.astype(str).str.lower().isin(["true", "1"])


def _derived_columns(problem: Problem, assignments: pd.DataFrame, df: pd.DataFrame) -> list[str]:
    """The allocation's own columns against the inputs: each placed child's miles, out-of-LA,
    out-of-RCC and over-20-miles flags and pair cost, and no flag on an unplaced child."""
    errors: list[str] = []
    placed = assignments.loc[df.index]  # `df` keeps the allocation's row labels
    unplaced = assignments["placement_id"].fillna("") == ""
    expected = {
        "out_of_la": df["home_la"] != df["la"],
        "out_of_rcc": df["home_rcc"] != df["place_rcc"],
        "over_20_miles": df["miles"] > 20,
    }
    for column, want in expected.items():
        if column in assignments:
            wrong = df.index[_flags(placed[column]).to_numpy() != want.to_numpy()]
            wrong = wrong.union(assignments.index[unplaced & _flags(assignments[column])])
            if len(wrong):
                named = _naming(_at_rows(assignments, wrong))
                errors.append(f"{len(wrong)} children with a wrong {column}{named}")
    for column, want, tolerance in (
        ("miles", df["miles"], 1e-6),
        ("pair_cost", _pair_costs(problem, df), _PER_CHILD_TOLERANCE),
    ):
        if column in assignments:
            given = pd.to_numeric(placed[column], errors="coerce").to_numpy()
            wrong = df.index[~(np.abs(given - want.to_numpy()) <= tolerance)]
            if len(wrong):
                named = _naming(_at_rows(assignments, wrong))
                errors.append(f"{len(wrong)} children with a wrong {column}{named}")
    return errors


def _indicators(problem: Problem, assignments: pd.DataFrame) -> pd.DataFrame:
    """DfE indicators per home LA (DESIGN.md section 5), from the inputs and the placement of
    each child alone: shares are of the children placed; cost is the placements' weekly cost."""
    df = _pairs(problem, assignments)
    placed = df.assign(
        out_of_la=df["home_la"] != df["la"],
        over_20_miles=df["miles"] > 20,
        out_of_rcc=df["home_rcc"] != df["place_rcc"],
    )
    placed["out_of_la_over_20_miles"] = placed["out_of_la"] & placed["over_20_miles"]
    by = placed.groupby("home_la")
    out = pd.DataFrame({c: by[c].sum() for c in COUNTS[3:]})
    out["placed"] = by.size()
    out["weekly_cost"] = by["weekly_cost"].sum()
    out = out.reindex(sorted(set(problem.children["home_la"])), fill_value=0)
    out["children"] = problem.children.groupby("home_la").size()
    out["unplaced"] = out["children"] - out["placed"]
    return out


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def check_indicators(
    problem: Problem,
    assignments: pd.DataFrame,
    summary: Mapping[str, object],
    by_la: pd.DataFrame | None = None,
) -> list[str]:
    """The national indicators of `summary` (summary.json) and the counts of `by_la`
    (indicators_by_la.csv) against those recomputed from the inputs and the allocation."""
    errors: list[str] = []
    mine = _indicators(problem, assignments)
    total = mine.sum()
    placed = max(int(total["placed"]), 1)
    for key in (*COUNTS, "weekly_cost"):
        if key in summary and not abs(_number(summary[key]) - total[key]) <= 0.01:
            errors.append(f"summary.json {key} is {summary[key]}, recomputed {total[key]:,.2f}")
        share = f"{key}_pct"
        if share in summary and summary[share] is not None:
            want = 100 * total[key] / placed
            if not abs(_number(summary[share]) - want) <= 0.006:
                errors.append(f"summary.json {share} is {summary[share]}, recomputed {want:.2f}")
    if by_la is not None:
        given = by_la.set_index("home_la")
        for key in COUNTS:
            if key in given:
                want = mine[key].reindex(given.index)
                wrong = (pd.to_numeric(given[key], errors="coerce") != want).sum()
                if wrong:
                    errors.append(f"indicators_by_la.csv: {int(wrong)} LAs with a wrong {key}")
    return errors
