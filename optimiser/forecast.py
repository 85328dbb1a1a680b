"""Demand forecasts: children by LA, need and age band for each future year.

Two sources: growth scenarios applied to today's children (flat, the Care Review trajectory, or
an annual rate nationally or per LA), or an imported long-format file
(`year, la_code, need, age_band, children`) such as the output of an LA's own demand model.
Counts are whole children, rounded under control so that totals follow the chosen rates: each
year's national total is the rounded sum of its expected children, shared over the needs by
largest remainders, each need's over the LAs and each LA's over its age bands the same way
(`controlled_round`; rounding each small cell alone biased growth down: at scale 0.2, secure
demand stayed at 20 for five years under any growth). Each need stays within one child of its
expected total. Ties go to the earlier need, LA code and band, so it is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from geodata.england import load_england
from optimiser.costs import (
    CARE_REVIEW_BASE_CLA,
    CARE_REVIEW_BASE_YEAR,
    CARE_REVIEW_TARGET_CLA,
    CARE_REVIEW_TARGET_YEAR,
    DEFAULT_YEARS,
    MAX_YEARS,
)
from optimiser.errors import InputIssue, ProblemValidationError
from optimiser.problem import NEED_AGES, NEEDS, Problem, read_csv_table

__all__ = [
    "AGE_BANDS",
    "BAND_EDGES",
    "DEMAND_COLUMNS",
    "NEED_BANDS",
    "Growth",
    "age_band",
    "base_demand",
    "care_review_rate",
    "children_for_year",
    "controlled_round",
    "forecast_demand",
    "parse_growth",
    "read_forecast",
    "read_growth_rates",
    "share_whole",
]

AGE_BANDS: tuple[str, ...] = ("0", "1-4", "5-9", "10-15", "16-17")
"""DfE's CLA age groups: under 1, 1 to 4, 5 to 9, 10 to 15, 16 and over."""
BAND_EDGES = (0, 1, 5, 10, 16, 18)
"""Each band's first age, then 18: band i holds ages BAND_EDGES[i] to BAND_EDGES[i+1] - 1."""
DEMAND_COLUMNS: tuple[str, ...] = ("year", "la_code", "need", "age_band", "children")
NEED_BANDS: dict[str, tuple[str, ...]] = {
    need: tuple(
        band
        for band, lo, end in zip(AGE_BANDS, BAND_EDGES[:-1], BAND_EDGES[1:], strict=True)
        if first <= lo and end - 1 <= last
    )
    for need, (first, last) in NEED_AGES.items()
}
"""The age bands each need covers, from `optimiser.problem.NEED_AGES` (one rule for children's
rows and forecasts): supported accommodation 16-17 only, secure 10-15 and 16-17."""


def age_band(ages: pd.Series) -> pd.Series:
    """The DfE age band ("0", "1-4", "5-9", "10-15", "16-17") of each age in years."""
    codes = np.searchsorted(np.asarray(BAND_EDGES[1:]), ages.to_numpy(), side="right")
    return pd.Series(np.asarray(AGE_BANDS)[codes], index=ages.index)


def care_review_rate() -> float:
    """Annual growth taking 83,630 CLA (2024) to 100,000 (2032): about 2.26% a year."""
    span = CARE_REVIEW_TARGET_YEAR - CARE_REVIEW_BASE_YEAR
    return float((CARE_REVIEW_TARGET_CLA / CARE_REVIEW_BASE_CLA) ** (1 / span) - 1)


@dataclass(frozen=True)
class Growth:
    """A growth scenario: one annual rate nationally, with optional per-LA overrides.

    `name` is how it is reported (`flat`, `care-review`, `2.0%`, `rates.csv`).
    """

    name: str
    rate: float = 0.0
    la_rates: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def flat(cls) -> Growth:
        return cls("flat", 0.0)

    @classmethod
    def care_review(cls) -> Growth:
        return cls("care-review", care_review_rate())

    def rate_of(self, la_codes: pd.Series) -> pd.Series:
        """The annual rate of each LA code."""
        return la_codes.map(lambda c: self.la_rates.get(c, self.rate)).astype(float)


def parse_growth(text: str | float) -> Growth:
    """`flat`, `care-review`, an annual rate (`0.02`, `2%`) or a CSV of `la_code,rate`."""
    if isinstance(text, int | float):
        return _checked_rate(float(text), str(text))
    key = text.strip().lower()
    if key == "flat":
        return Growth.flat()
    if key in ("care-review", "care_review", "carereview"):
        return Growth.care_review()
    if key.endswith(".csv"):
        return Growth(Path(text).name, 0.0, read_growth_rates(Path(text)))
    try:
        value = float(key[:-1]) / 100 if key.endswith("%") else float(key)
    except ValueError:
        raise ValueError(
            f"unknown growth '{text}': use flat, care-review, an annual rate such as 0.02 or "
            "2%, or a CSV file of la_code,rate"
        ) from None
    return _checked_rate(value, text)


def _checked_rate(value: float, text: str) -> Growth:
    if not np.isfinite(value) or value <= -1 or value > 1:
        raise ValueError(f"growth rate {text} must be above -100% and at most 100% a year")
    return Growth(f"{value:.2%}", value)


def read_growth_rates(path: Path) -> dict[str, float]:
    """Per-LA annual rates from `la_code,rate` (rate as a fraction, 0.02 = 2%); LAs not listed
    keep the national rate (flat unless given)."""
    df = _read_strings(path)
    issues: list[InputIssue] = []
    _require(df, ("la_code", "rate"), path.name, issues)
    if issues:
        raise ProblemValidationError(issues)
    england = load_england()
    rate = pd.to_numeric(df["rate"], errors="coerce")
    rows = [int(i) + 2 for i in df.index]  # spreadsheet rows (header row 1, blank lines out)
    for row, code, value, raw in zip(rows, df["la_code"], rate, df["rate"], strict=True):
        if not np.isfinite(value) or value <= -1 or value > 1:
            issues.append(InputIssue(path.name, row, "rate", f"'{raw}' is not a rate in (-1, 1]"))
        if code == "":
            issues.append(InputIssue(path.name, row, "la_code", "LA code is empty"))
        elif code not in england:
            issues.append(InputIssue(path.name, row, "la_code", england.unknown_code_message(code)))
    dup = df["la_code"].duplicated()
    for row in (r for r, twice in zip(rows, dup, strict=True) if twice):
        issues.append(InputIssue(path.name, row, "la_code", "LA listed twice"))
    if issues:
        raise ProblemValidationError(issues)
    return dict(zip(df["la_code"], rate.astype(float), strict=True))


def base_demand(problem: Problem) -> pd.DataFrame:
    """Today's children counted by home LA, need and age band (`la_code, need, age_band,
    children`), every child counted once."""
    kids = problem.children
    df = pd.DataFrame(
        {"la_code": kids["home_la"], "need": kids["need"], "age_band": age_band(kids["age"])}
    )
    out = df.groupby(["la_code", "need", "age_band"], observed=True).size()
    return out.rename("children").reset_index()


def forecast_demand(
    problem: Problem,
    *,
    years: int = DEFAULT_YEARS,
    growth: Growth | None = None,
    base_year: int = CARE_REVIEW_BASE_YEAR,
) -> pd.DataFrame:
    """Children by year, LA, need and age band for `base_year + 1 .. base_year + years`.

    Each (LA, need, band) cell grows by (1 + rate_LA)^t; a year's national total is the rounded
    sum of those expected children, shared over needs, LAs and bands by largest remainders
    (see the module doc).
    """
    _check_years(years)
    growth = growth or Growth.flat()
    base = base_demand(problem)
    unknown = sorted(set(growth.la_rates) - set(problem.las["code"]))
    if unknown:
        raise ValueError(
            f"growth rates ({growth.name}) name LAs not in the problem: {', '.join(unknown[:5])}"
        )
    frames = []
    for t in range(1, years + 1):
        factor = (1 + growth.rate_of(base["la_code"])) ** t
        frame = base.assign(year=base_year + t, expected=base["children"] * factor)
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    df = df.sort_values(list(DEMAND_COLUMNS[:4]), ignore_index=True)
    levels = [["year"], ["year", "need"], ["year", "need", "la_code"]]
    df["children"] = controlled_round(df, levels, "expected")
    out = df[list(DEMAND_COLUMNS)].sort_values(list(DEMAND_COLUMNS[:4]), ignore_index=True)
    out.attrs["growth"] = growth.name
    return out


def controlled_round(df: pd.DataFrame, levels: list[list[str]], column: str) -> pd.Series:
    """Whole numbers for `column` whose sums over every level's groups are whole too.

    The coarsest level's totals are rounded; then each finer level's groups, and last the
    rows, share their parent's whole total by largest remainders (`share_whole`). `levels`
    run from coarse to fine, each holding the keys of the one before."""
    rows = df.assign(_row=np.arange(len(df)))
    rows["_whole"] = df.groupby(levels[0])[column].transform("sum").round().to_numpy()
    parent = levels[0]
    for keys in [*levels[1:], [*levels[-1], "_row"]]:
        groups = rows.groupby(keys, sort=False)
        part = groups[column].sum().rename("expected").reset_index()
        part["parent_whole"] = groups["_whole"].first().to_numpy()
        parent_sum = part.groupby(parent)["expected"].transform("sum").to_numpy()
        ratio = np.divide(
            part["parent_whole"].to_numpy(float),
            parent_sum,
            out=np.zeros(len(part)),
            where=parent_sum > 0,
        )
        part["scaled"] = part["expected"].to_numpy(float) * ratio
        part["whole"] = share_whole(part, parent, "scaled")
        rows = rows.drop(columns="_whole").merge(
            part[[*keys, "whole"]].rename(columns={"whole": "_whole"}), on=keys, how="left"
        )
        parent = keys
    return pd.Series(rows.sort_values("_row")["_whole"].to_numpy(dtype=np.int64), index=df.index)


def share_whole(df: pd.DataFrame, keys: list[str], column: str) -> pd.Series:
    """Round `column` to integers whose group sums equal the rounded group sums: each value's
    floor, plus one for the largest remainders of its group (ties to the earlier row)."""
    value = df[column].to_numpy(dtype=float)
    floor = np.floor(value)
    target = df.groupby(keys)[column].transform("sum").round().to_numpy()
    short = target - df.assign(_f=floor).groupby(keys)["_f"].transform("sum").to_numpy()
    order = (
        df.assign(_r=value - floor)
        .groupby(keys)["_r"]
        .rank(method="first", ascending=False)
        .to_numpy()
    )
    return pd.Series((floor + (order <= short)).astype(np.int64), index=df.index)


# ----------------------------------------------------------------------------- import


def _check_years(years: int) -> None:
    if not 1 <= years <= MAX_YEARS:
        raise ValueError(f"years must be at least 1 and at most {MAX_YEARS}, got {years}")


def _read_strings(path: Path) -> pd.DataFrame:
    """The CSV as `read_csv_table` reads a problem's files: indexed by spreadsheet row less 2."""
    issues: list[InputIssue] = []
    df = read_csv_table(path, issues)
    if df is None:
        raise ProblemValidationError(issues)
    return df


def _require(
    df: pd.DataFrame, columns: tuple[str, ...], file: str, issues: list[InputIssue]
) -> None:
    for c in columns:
        if c not in df.columns:
            issues.append(InputIssue(file, 1, c, "required column is missing"))


def read_forecast(
    path: Path | str,
    *,
    problem: Problem,
    years: int | None = None,
    base_year: int = CARE_REVIEW_BASE_YEAR,
) -> pd.DataFrame:
    """Read a long-format forecast (`year, la_code, need, age_band, children`), validated.

    Every issue names file, row and column. The years must be consecutive (the plan charges
    running costs and counts children year by year, so a gap would drop years of placements
    but not of running costs) and none before `base_year`, the year of the census today's
    children come from (31 March 2024 for the embedded England and `rcc synth`; growth
    forecasts start the year after it): a forecast looks forward from today's children.
    Each year must cover every LA that has children today (an LA with no rows would silently
    lose its children); absent need/age cells are 0. `years` keeps only the first N years.
    """
    if years is not None:
        _check_years(years)
    path = Path(path)
    df = _read_strings(path)
    issues: list[InputIssue] = []
    _require(df, DEMAND_COLUMNS, path.name, issues)
    if issues:
        raise ProblemValidationError(issues)
    known = set(problem.las["code"])

    def flag(mask: np.ndarray, column: str, message: str) -> None:
        for pos in np.flatnonzero(mask):
            value = df[column].iat[int(pos)]
            row = int(df.index[pos]) + 2
            issues.append(InputIssue(path.name, row, column, message.format(value)))

    year = pd.to_numeric(df["year"], errors="coerce")
    flag(
        (year.isna() | (year != np.floor(year.fillna(0)))).to_numpy(), "year", "'{}' is not a year"
    )
    flag((~df["la_code"].isin(known)).to_numpy(), "la_code", "'{}' is not an LA of the problem")
    flag((~df["need"].isin(NEEDS)).to_numpy(), "need", f"unknown need '{{}}'; use {list(NEEDS)}")
    flag(
        (~df["age_band"].isin(AGE_BANDS)).to_numpy(),
        "age_band",
        f"unknown age band '{{}}'; use {list(AGE_BANDS)}",
    )
    for need, bands in NEED_BANDS.items():
        wrong = (df["need"] == need) & df["age_band"].isin(AGE_BANDS) & ~df["age_band"].isin(bands)
        flag(
            wrong.to_numpy(),
            "age_band",
            f"{need} children aged {{}}: {need} covers only age bands {', '.join(bands)}",
        )
    kids = pd.to_numeric(df["children"], errors="coerce")
    bad = kids.isna() | ~np.isfinite(kids.fillna(0)) | (kids < 0)
    flag(bad.to_numpy(), "children", "'{}' is not a count >= 0")
    not_whole = ~bad & (kids != np.floor(kids.fillna(0)))
    flag(not_whole.to_numpy(), "children", "'{}' is not a whole number of children")
    dup = df.duplicated(["year", "la_code", "need", "age_band"])
    flag(dup.to_numpy(), "age_band", "repeats an earlier row's year, la_code, need and age_band")
    if issues:
        raise ProblemValidationError(issues)
    out = df.assign(year=year.astype(np.int64), children=kids.astype(np.int64))
    issues += _year_sequence_issues(out["year"], path.name, base_year)
    if issues:
        raise ProblemValidationError(issues)
    kept = sorted(out["year"].unique())[: years or None]
    if len(kept) > MAX_YEARS:
        first = int(out.index[out["year"] == kept[MAX_YEARS]][0]) + 2
        message = (
            f"the forecast runs {len(kept)} years ({kept[0]}-{kept[-1]}); a plan covers at most "
            f"{MAX_YEARS}: use --years or drop the years from {kept[MAX_YEARS]}"
        )
        raise ProblemValidationError([InputIssue(path.name, first, "year", message)])
    out = out[out["year"].isin(kept)]
    today = set(problem.children["home_la"])
    for y in kept:
        missing = sorted(today - set(out.loc[out["year"] == y, "la_code"]))
        for code in missing:
            n = int((problem.children["home_la"] == code).sum())
            issues.append(
                InputIssue(
                    path.name, None, "la_code", f"{code} has {n} children today but no rows for {y}"
                )
            )
    if issues:
        raise ProblemValidationError(issues)
    cols = list(DEMAND_COLUMNS)
    result = out[cols].sort_values(cols[:4], ignore_index=True)
    result.attrs["growth"] = f"forecast file {path.name}"
    return result


def _year_sequence_issues(year: pd.Series, file: str, base_year: int) -> list[InputIssue]:
    """A forecast's years run one by one from `base_year` or later: each year before it, and
    each year after a gap, is named at its first row."""
    first_row = {int(y): int(i) + 2 for i, y in reversed(list(zip(year.index, year, strict=True)))}
    issues = []
    previous = None
    for y in sorted(first_row):
        if y < base_year:
            message = (
                f"year {y} is before {base_year}, the year of the census today's children "
                "come from: a forecast starts then or later"
            )
            issues.append(InputIssue(file, first_row[y], "year", message))
        elif previous is not None and y != previous + 1:
            message = (
                f"year {y} follows {previous} with no rows for {previous + 1}"
                + (f"-{y - 1}" if y - 1 > previous + 1 else "")
                + ": a forecast's years must be consecutive"
            )
            issues.append(InputIssue(file, first_row[y], "year", message))
        previous = y
    return issues


# ----------------------------------------------------------------------------- children


def children_for_year(problem: Problem, demand: pd.DataFrame, *, seed: int = 1) -> pd.DataFrame:
    """A child-level population whose counts by (LA, need, age band) equal one year's `demand`.

    Today's children are kept where the cell shrinks or holds (a seeded choice of which), and
    cells that grow get new children copied from a seeded draw of the cell's children (new
    ids `F<year>-<n>`, no current placement, no sibling group). A cell with no children today
    gets children at the band's middle age, sexes alternating. Used to check a plan at child
    level with `rcc solve`.
    """
    if demand["year"].nunique() != 1:
        raise ValueError("children_for_year needs the demand of exactly one year")
    year = int(demand["year"].iat[0])
    rng = np.random.default_rng(seed)
    kids = problem.children.assign(age_band=age_band(problem.children["age"]))
    groups = {k: g for k, g in kids.groupby(["home_la", "need", "age_band"], observed=True)}
    parts: list[pd.DataFrame] = []
    made = 0
    cols = list(problem.children.columns)
    for la, need, band, n in demand[["la_code", "need", "age_band", "children"]].itertuples(
        index=False
    ):
        n = int(n)
        have = groups.get((la, need, band))
        if have is not None and len(have) >= n:
            parts.append(have.iloc[np.sort(rng.choice(len(have), n, replace=False))][cols])
            continue
        if have is not None:
            parts.append(have[cols])
        extra = n - (0 if have is None else len(have))
        if extra <= 0:
            continue
        if have is not None and len(have):
            new = have.iloc[rng.integers(0, len(have), extra)][cols].copy()
        else:
            new = _fresh_children(problem, la, need, band, extra)
        new["child_id"] = [f"F{year}-{made + i + 1}" for i in range(extra)]
        new["sibling_group"] = ""
        new["current_placement"] = ""
        made += extra
        parts.append(new)
    if not parts:
        return problem.children.iloc[0:0].copy()
    return pd.concat(parts, ignore_index=True)


def _fresh_children(problem: Problem, la: str, need: str, band: str, n: int) -> pd.DataFrame:
    lo, hi = (int(x) for x in (band.split("-") if "-" in band else (band, band)))
    point = problem.las.set_index("code").loc[la]
    return pd.DataFrame(
        {
            "child_id": "",
            "home_la": la,
            "need": need,
            "age": np.full(n, (lo + hi) // 2, dtype=np.int64),
            "sex": ["F" if i % 2 else "M" for i in range(n)],
            "sibling_group": "",
            "current_placement": "",
            "easting": float(point["easting"]),
            "northing": float(point["northing"]),
        }
    )
