"""Scenarios: a small `scenario.json` change file applied to a Problem, so variants can be compared.

Format (every key optional):

    {
      "name": "North West homes",
      "add_capacity":    [{"la_code": "E08000003", "setting": "residential_la", "places": 4,
                           "weekly_cost": 5000, "min_age": 8, "max_age": 17, "sexes": "any"}],
      "remove_capacity": [{"la_code": "E08000003", "setting": "residential_private",
                           "places": 10}],
      "prices":          [{"setting": "residential_private", "factor": 1.1},
                          {"setting": "foster_ifa", "la_code": "E09000001", "weekly_cost": 900}],
      "growth":          "care-review" | "flat" | 0.02 | {"rate": 0.01, "la_rates": {...}},
      "weights":         {"out_of_la": 500, "distance_per_mile": 15},
      "rccs":            {"E06000001": "North East and Cumbria"}
    }

`remove_capacity` takes places from the costliest placements of that LA and setting first.
`weights` are policy keys (as in policy.json, with its limits) replacing the problem's. Amounts
(`weekly_cost`, and a price `factor`'s result) are at most MAX_WEEKLY_COST (GBP 10,000,000 a
week). `rccs` moves the named LAs to other RCCs. Errors name the file, the item number (as the
row) and the key (as column).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geodata.england import load_england
from optimiser.errors import InputIssue, ProblemValidationError, read_json
from optimiser.forecast import Growth, parse_growth
from optimiser.problem import (
    FORMULA_STARTS,
    MAX_CAPACITY,
    MAX_WEEKLY_COST,
    PLACEMENT_SEXES,
    SETTINGS,
    Policy,
    Problem,
    formula_message,
)
from optimiser.textcsv import read_text_csv

__all__ = [
    "SCENARIO_KEYS",
    "Scenario",
    "apply_scenario",
    "compare_folders",
    "horizon_mismatch",
    "read_scenario",
    "scenario_from_json",
]

SCENARIO_KEYS = ("name", "add_capacity", "remove_capacity", "prices", "growth", "weights", "rccs")


@dataclass(frozen=True)
class Scenario:
    """A validated change file. Lists hold plain dicts already checked for keys and types."""

    name: str = "scenario"
    add_capacity: tuple[dict[str, Any], ...] = ()
    remove_capacity: tuple[dict[str, Any], ...] = ()
    prices: tuple[dict[str, Any], ...] = ()
    growth: Growth | None = None
    weights: Mapping[str, Any] = field(default_factory=dict)
    rccs: Mapping[str, str] = field(default_factory=dict)


class _Issues:
    def __init__(self, source: str) -> None:
        self.source, self.items = source, []  # type: ignore[var-annotated]

    def add(self, row: int | None, column: str, message: str) -> None:
        self.items.append(InputIssue(self.source, row, column, message))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)


def _check_items(
    data: Any,
    key: str,
    required: dict[str, str],
    optional: dict[str, str],
    issues: _Issues,
) -> tuple[dict[str, Any], ...]:
    """Check a list of objects: required/optional keys with kinds la|setting|count|money|..."""
    if data is None:
        return ()
    if not isinstance(data, list):
        issues.add(None, key, "must be a list of objects")
        return ()
    out = []
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            issues.add(i, key, "must be an object")
            continue
        for name in item:
            if name not in required and name not in optional:
                allowed = sorted([*required, *optional])
                issues.add(i, f"{key}.{name}", f"unknown key; expected one of {allowed}")
        for name in required:
            if name not in item:
                issues.add(i, f"{key}.{name}", "required key is missing")
        kinds = {**required, **optional}
        england = load_england()
        for name, value in item.items():
            kind = kinds.get(name)
            col = f"{key}.{name}"
            whole = _number(value) and value == int(value)
            if kind == "setting" and value not in SETTINGS:
                issues.add(i, col, f"unknown setting {value!r}; expected one of {list(SETTINGS)}")
            elif kind == "la" and not (isinstance(value, str) and value in england):
                text = england.unknown_code_message(value) if isinstance(value, str) else ""
                issues.add(i, col, text or f"must be an LA code, got {value!r}")
            elif kind == "count" and not (whole and 0 <= value <= MAX_CAPACITY):
                issues.add(
                    i, col, f"must be a whole number from 0 to {MAX_CAPACITY}, got {value!r}"
                )
            elif kind == "money" and not (_number(value) and 0 <= value <= MAX_WEEKLY_COST):
                issues.add(
                    i, col, f"must be an amount from 0 to {MAX_WEEKLY_COST:,.0f}, got {value!r}"
                )
            elif kind == "age" and not (whole and 0 <= value <= 17):
                issues.add(i, col, f"must be a whole age 0-17, got {value!r}")
            elif kind == "sexes" and value not in PLACEMENT_SEXES:
                issues.add(i, col, f"must be one of {list(PLACEMENT_SEXES)}, got {value!r}")
            elif kind == "id" and not (isinstance(value, str) and value.strip()):
                issues.add(i, col, f"must be a non-empty text id, got {value!r}")
            elif kind == "id" and value.startswith(FORMULA_STARTS):
                issues.add(i, col, formula_message(value))
        ages = [item.get("min_age", 0), item.get("max_age", 17)]
        if all(_number(a) for a in ages) and ages[0] > ages[1]:
            issues.add(i, f"{key}.min_age", f"min_age {ages[0]} is above max_age {ages[1]}")
        out.append(dict(item))
    return tuple(out)


def scenario_from_json(data: Any, *, source: str = "scenario.json") -> Scenario:
    """A validated `Scenario` from parsed JSON; every issue at once, naming item and key."""
    issues = _Issues(source)
    if not isinstance(data, dict):
        raise ProblemValidationError([InputIssue(source, None, None, "must be a JSON object")])
    for key in data:
        if key not in SCENARIO_KEYS:
            issues.add(None, key, f"unknown key; expected one of {list(SCENARIO_KEYS)}")
    add = _check_items(
        data.get("add_capacity"),
        "add_capacity",
        {"la_code": "la", "setting": "setting", "places": "count", "weekly_cost": "money"},
        {"min_age": "age", "max_age": "age", "sexes": "sexes", "placement_id": "id"},
        issues,
    )
    remove = _check_items(
        data.get("remove_capacity"),
        "remove_capacity",
        {"la_code": "la", "setting": "setting", "places": "count"},
        {},
        issues,
    )
    prices = _check_items(
        data.get("prices"),
        "prices",
        {"setting": "setting"},
        {"la_code": "la", "factor": "money", "weekly_cost": "money"},
        issues,
    )
    for i, item in enumerate(prices, start=1):
        if ("factor" in item) == ("weekly_cost" in item):
            issues.add(i, "prices", "give exactly one of factor or weekly_cost")
    growth = _growth(data.get("growth"), issues)
    weights: dict[str, Any] = {}
    if "weights" in data:
        if not isinstance(data["weights"], dict):
            issues.add(None, "weights", "must be an object of policy keys")
        else:
            try:
                Policy.from_json(data["weights"], source=source)
                weights = dict(data["weights"])
            except ProblemValidationError as exc:
                issues.items.extend(
                    replace(i, column=f"weights.{i.column}" if i.column else "weights")
                    for i in exc.issues
                )
    rccs: dict[str, str] = {}
    if "rccs" in data:
        raw = data["rccs"]
        if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in raw.items()
        ):
            issues.add(None, "rccs", "must map LA codes to non-empty RCC names")
        else:
            rccs = dict(raw)
            for name in (v for v in rccs.values() if v.startswith(FORMULA_STARTS)):
                issues.add(None, "rccs", formula_message(name))
    name = data.get("name", "scenario")
    if not isinstance(name, str):
        issues.add(None, "name", "must be a string")
    if issues.items:
        raise ProblemValidationError(issues.items)
    return Scenario(str(name), add, remove, prices, growth, weights, rccs)


def _growth(value: Any, issues: _Issues) -> Growth | None:
    if value is None:
        return None
    try:
        if isinstance(value, dict):
            unknown = set(value) - {"rate", "la_rates"}
            if unknown:
                issues.add(None, "growth", f"unknown keys {sorted(unknown)}; use rate, la_rates")
                return None
            base = parse_growth(float(value.get("rate", 0.0)))
            rates = value.get("la_rates", {})
            if not isinstance(rates, dict) or not all(
                _number(r) and -1 < r <= 1 for r in rates.values()
            ):
                issues.add(None, "growth.la_rates", "must map LA codes to rates in (-1, 1]")
                return None
            return Growth(f"{base.name} with {len(rates)} LA rates", base.rate, dict(rates))
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            issues.add(None, "growth", f"must be flat, care-review, a rate or an object: {value!r}")
            return None
        return parse_growth(value)
    except ValueError as exc:
        issues.add(None, "growth", str(exc))
        return None


def read_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario.json file."""
    path = Path(path)
    return scenario_from_json(read_json(path), source=path.name)


def apply_scenario(
    problem: Problem, scenario: Scenario, *, source: str = "scenario.json"
) -> Problem:
    """A new Problem with the scenario's changes; the input is not modified.

    Order: RCC lookup, prices, removals, additions, weights. LA codes must be in the problem.
    """
    issues = _Issues(source)
    known = set(problem.las["code"])
    _check_las(scenario, known, issues)
    if issues.items:
        raise ProblemValidationError(issues.items)
    las = problem.las.copy()
    if scenario.rccs:
        las["rcc"] = las["code"].map(lambda c: scenario.rccs.get(c, None)).fillna(las["rcc"])
    placements = problem.placements.copy()
    for i, item in enumerate(scenario.prices, start=1):
        mask = placements["setting"] == item["setting"]
        if "la_code" in item:
            mask &= placements["la"] == item["la_code"]
        if "factor" in item:
            placements.loc[mask, "weekly_cost"] = (
                placements.loc[mask, "weekly_cost"] * item["factor"]
            )
            dearest = placements.loc[mask, "weekly_cost"].max()
            if dearest > MAX_WEEKLY_COST:
                text = f"raises a weekly_cost to {dearest:,.0f}, above the limit of "
                issues.add(i, "prices.factor", text + f"{MAX_WEEKLY_COST:,.0f}")
        else:
            placements.loc[mask, "weekly_cost"] = float(item["weekly_cost"])
    if issues.items:
        raise ProblemValidationError(issues.items)
    for i, item in enumerate(scenario.remove_capacity, start=1):
        placements = _remove(placements, item, i, issues)
    if issues.items:
        raise ProblemValidationError(issues.items)
    placements = _add(placements, scenario.add_capacity, las, issues)
    if issues.items:
        raise ProblemValidationError(issues.items)
    policy = problem.policy
    if scenario.weights:
        policy = policy.updated(scenario.weights, source=source)
    return replace(problem, placements=placements, las=las, policy=policy)


def _check_las(scenario: Scenario, known: set[str], issues: _Issues) -> None:
    lists = {
        "add_capacity": scenario.add_capacity,
        "remove_capacity": scenario.remove_capacity,
        "prices": scenario.prices,
    }
    for key, items in lists.items():
        for i, item in enumerate(items, start=1):
            code = item.get("la_code")
            if code is not None and code not in known:
                issues.add(i, f"{key}.la_code", f"'{code}' is not an LA of the problem")
    for code in scenario.rccs:
        if code not in known:
            issues.add(None, "rccs", f"'{code}' is not an LA of the problem")
    if scenario.growth is not None:
        for code in scenario.growth.la_rates:
            if code not in known:
                issues.add(None, "growth.la_rates", f"'{code}' is not an LA of the problem")


def _remove(
    placements: pd.DataFrame, item: dict[str, Any], i: int, issues: _Issues
) -> pd.DataFrame:
    mask = (placements["la"] == item["la_code"]) & (placements["setting"] == item["setting"])
    have = int(placements.loc[mask, "capacity"].sum())
    left = int(item["places"])
    if left > have:
        issues.add(
            i,
            "remove_capacity.places",
            f"{item['la_code']} has {have} {item['setting']} places; cannot remove {left}",
        )
        return placements
    order = placements[mask].sort_values("weekly_cost", ascending=False, kind="stable").index
    for idx in order:
        take = min(left, int(placements.at[idx, "capacity"]))
        placements.at[idx, "capacity"] = int(placements.at[idx, "capacity"]) - take
        left -= take
        if left == 0:
            break
    return placements


def _add(
    placements: pd.DataFrame, items: tuple[dict[str, Any], ...], las: pd.DataFrame, issues: _Issues
) -> pd.DataFrame:
    if not items:
        return placements
    points = las.set_index("code")
    existing = set(placements["placement_id"])
    rows = []
    for i, item in enumerate(items, start=1):
        pid = str(item.get("placement_id", f"SCN-{i}"))
        if pid in existing:
            issues.add(i, "add_capacity.placement_id", f"placement id '{pid}' already exists")
        existing.add(pid)
        lo, hi = int(item.get("min_age", 0)), int(item.get("max_age", 17))
        rows.append(
            {
                "placement_id": pid,
                "setting": item["setting"],
                "la": item["la_code"],
                "easting": float(points.at[item["la_code"], "easting"]),
                "northing": float(points.at[item["la_code"], "northing"]),
                "capacity": int(item["places"]),
                "weekly_cost": float(item["weekly_cost"]),
                "min_age": lo,
                "max_age": hi,
                "sexes": item.get("sexes", "any"),
                "provider": "scenario",
                "ofsted_rating": "",
            }
        )
    added = pd.DataFrame(rows, columns=placements.columns)
    out = pd.concat([placements, added], ignore_index=True)
    return out.astype({"capacity": np.int64, "min_age": np.int64, "max_age": np.int64})


# ----------------------------------------------------------------------------- compare

_RCC_INDICATORS = (
    "children",
    "unplaced",
    "out_of_la",
    "over_20_miles",
    "out_of_rcc",
    "weekly_cost",
)


_PLAN_TECHNICAL = ("costs", "parameters", "model_size", "pruned_arc_pricing", "wall_seconds")


def _numbers(data: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a JSON object as {"a.b": value} (booleans and lists skipped)."""
    out: dict[str, float] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(_numbers(value, f"{prefix}{key}."))
    elif _number(data):
        out[prefix[:-1]] = float(data)
    return out


def _read_summary(folder: Path) -> tuple[str, dict[str, float]]:
    """Which command wrote the folder ("rcc solve" or "rcc plan"), and its numeric summary."""
    for name, kind in (("summary.json", "rcc solve"), ("plan_summary.json", "rcc plan")):
        path = folder / name
        if path.exists():
            data = read_json(path)
            if name == "plan_summary.json":
                data = {k: v for k, v in data.items() if k not in _PLAN_TECHNICAL}
            return kind, _numbers(data)
    raise ValueError(f"{folder} holds neither summary.json (rcc solve) nor plan_summary.json")


def _read_by_rcc(folder: Path) -> pd.DataFrame | None:
    """indicators_by_rcc.csv, its indicators by RCC (None without the file); a file that
    cannot be read, holds none of the indicators or a value that is not a number is a
    ValueError naming it (and the row and column)."""
    path = folder / "indicators_by_rcc.csv"
    if not path.exists():
        return None
    try:
        df, _ = read_text_csv(path)
    except ProblemValidationError as exc:
        raise ValueError("; ".join(str(replace(i, file=str(path))) for i in exc.issues)) from None
    key = "home_rcc" if "home_rcc" in df.columns else df.columns[0]
    cols = [c for c in _RCC_INDICATORS if c in df.columns and c != key]
    if not cols:
        raise ValueError(
            f"{path}: none of the columns {', '.join(_RCC_INDICATORS)}; is it the "
            "indicators_by_rcc.csv that rcc solve writes?"
        )
    values = df[cols].apply(lambda column: pd.to_numeric(column.str.strip(), errors="coerce"))
    wrong = values.isna() & (df[cols].apply(lambda column: column.str.strip()) != "")
    if wrong.any(axis=None):
        row, col = next(zip(*wrong.to_numpy().nonzero(), strict=True))
        raise ValueError(
            f"{path} row {row + 2}, column {cols[col]}: '{df[cols[col]].iloc[row]}' is not a number"
        )
    return values.set_index(df[key])


def horizon_mismatch(a: Path | str, b: Path | str) -> str | None:
    """A warning when two `rcc plan` folders plan different years (their final-year figures and
    horizon totals are then of different years), else None."""
    years = []
    for folder in (Path(a), Path(b)):
        path = folder / "plan_summary.json"
        if not path.exists():
            return None
        span = read_json(path).get("years") or []
        years.append(f"{span[0]}-{span[-1]}" if span else "no years")
    if years[0] == years[1]:
        return None
    return (
        f"{a} plans {years[0]} and {b} plans {years[1]}: their final years and totals over the "
        "horizon differ, so the differences mix years"
    )


def compare_folders(a: Path | str, b: Path | str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Indicator differences B - A between two result folders (`rcc solve` or `rcc plan`).

    Returns the national table (indicator, a, b, diff) of every numeric summary field present
    in both, and, when both folders have indicators_by_rcc.csv, RCC rows of B - A for the
    RCCs in both (None otherwise).
    """
    a, b = Path(a), Path(b)
    (kind_a, sa), (kind_b, sb) = _read_summary(a), _read_summary(b)
    if kind_a != kind_b:  # a week's allocation against a plan's years: no difference means much
        raise ValueError(f"{a} was written by {kind_a} and {b} by {kind_b}: compare two of a kind")
    common = [k for k in sa if k in sb]
    if not common:
        raise ValueError(f"{a} and {b} share no numeric indicators to compare")
    national = pd.DataFrame(
        {
            "indicator": common,
            "a": [sa[k] for k in common],
            "b": [sb[k] for k in common],
        }
    )
    national["diff"] = national["b"] - national["a"]
    ra, rb = _read_by_rcc(a), _read_by_rcc(b)
    by_rcc = None
    if ra is not None and rb is not None:
        cols = [c for c in ra.columns if c in rb.columns]
        # every RCC of either: one only B has (a scenario's new RCC) had none of A's children
        rows = ra.index.union(rb.index)
        counts = [c for c in cols if not c.endswith("_pct") and "miles" not in c]
        fill = dict.fromkeys(counts, 0)
        diff = rb.reindex(rows)[cols].fillna(fill) - ra.reindex(rows)[cols].fillna(fill)
        by_rcc = diff.rename_axis("rcc").reset_index()
    return national, by_rcc
