"""The typed allocation problem: children, placements, LAs with their RCC, and policy.

Inputs are validated once, here at the boundary: readers collect every problem in one
`ProblemValidationError` naming file, row and column; nothing is dropped or coerced.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geodata.england import England, load_england
from optimiser.errors import InputIssue, ProblemValidationError, read_json
from optimiser.textcsv import (
    SEPARATOR_NAMES,
    multiline_issues,
    parser_issue,
    read_start,
    repeated_column_issues,
    separator,
)

__all__ = [
    "CHILD_COLUMNS",
    "LA_COLUMNS",
    "MAX_PER_MILE",
    "MAX_WEEKLY_COST",
    "NEEDS",
    "NEED_AGES",
    "PLACEMENT_COLUMNS",
    "SETTINGS",
    "Policy",
    "Problem",
    "default_substitutions",
    "read_csv_table",
    "read_policy",
    "read_problem",
    "read_rccs",
    "remove_stale",
    "validate_problem_frames",
    "write_problem",
]

NEEDS: tuple[str, ...] = ("foster", "residential", "secure", "supported")
SETTINGS: tuple[str, ...] = (
    "foster_inhouse",
    "foster_ifa",
    "residential_la",
    "residential_private",
    "secure",
    "supported",
)
CHILD_SEXES = ("F", "M")
PLACEMENT_SEXES = ("F", "M", "any")
MIN_AGE, MAX_AGE = 0, 17
NEED_AGES: dict[str, tuple[int, int]] = {
    "foster": (MIN_AGE, MAX_AGE),
    "residential": (MIN_AGE, MAX_AGE),
    "secure": (10, MAX_AGE),
    "supported": (16, MAX_AGE),
}
"""The ages (first, last) each need covers: supported accommodation is for 16-17-year-olds only
(DESIGN.md sections 4 and 6), and secure welfare places are for children aged 10 and over (the
secure homes of the synthetic England and the plan's secure beds take 10-17). Children's rows and
forecasts (`optimiser.forecast.NEED_BANDS`) are both checked against it."""
# Upper limits of money, so that costs in integer units of 1/COST_SCALE GBP (10,000 a pound,
# int64, up to 9.2e18) cannot overflow: a child's dearest pair is at most 5 x MAX_WEEKLY_COST
# (weekly cost, substitution penalty, out of LA, out of RCC, move) + MAX_PER_MILE x 550 miles
# (England's diagonal) + a sibling split = 1.2e8 GBP, so the objective of 3 million children
# (35 times England's) is at most 3.5e18 units. Real values are thousands of pounds.
MAX_WEEKLY_COST = 10_000_000.0
"""GBP a week: the most a placement's weekly_cost or a policy weight (other than
distance_per_mile) may be."""
MAX_PER_MILE = 100_000.0
"""GBP a week per mile: the most distance_per_mile may be."""
# England's extent on the British National Grid (metres, the Isles of Scilly to Lowestoft and
# the Lizard to Berwick, with a margin); a point outside is a typo (a digit too many, a sign,
# a latitude pasted in) that would place a child hundreds of miles away
GRID = {"easting": (80_000.0, 660_000.0), "northing": (5_000.0, 660_000.0)}
# places in one placement unit (a home, a household, a secure unit): more is a placeholder
MAX_CAPACITY = 10_000
# first characters that make a spreadsheet run a cell as a formula (=HYPERLINK(...)) when it
# opens a CSV the ids and names are written to
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_message(value: str) -> str:
    """Why an id or name starting with one of FORMULA_STARTS is refused."""
    return (
        f"'{value}' starts with {value[:1]!r}: a spreadsheet would run it as a formula; "
        "ids and names must start with a letter or digit"
    )


CHILD_COLUMNS: tuple[str, ...] = (
    "child_id",
    "home_la",
    "need",
    "age",
    "sex",
    "sibling_group",
    "current_placement",
    "easting",
    "northing",
)
PLACEMENT_COLUMNS: tuple[str, ...] = (
    "placement_id",
    "setting",
    "la",
    "easting",
    "northing",
    "capacity",
    "weekly_cost",
    "min_age",
    "max_age",
    "sexes",
    "provider",
    "ofsted_rating",
)
LA_COLUMNS: tuple[str, ...] = (
    "code",
    "name",
    "region_code",
    "region_name",
    "easting",
    "northing",
    "rcc",
)
_CHILD_REQUIRED = ("child_id", "home_la", "need", "age", "sex")
_PLACEMENT_REQUIRED = (
    "placement_id",
    "setting",
    "la",
    "capacity",
    "weekly_cost",
    "min_age",
    "max_age",
    "sexes",
)


def default_substitutions() -> dict[str, dict[str, float]]:
    """Which settings may meet each need, and the weekly penalty for doing so.

    A setting absent from a need's table is not allowed. Step-ups into residential care carry
    a penalty so they happen only when no family setting is available.
    """
    return {
        "foster": {
            "foster_inhouse": 0.0,
            "foster_ifa": 0.0,
            "residential_la": 2500.0,
            "residential_private": 2500.0,
        },
        "residential": {"residential_la": 0.0, "residential_private": 0.0},
        "secure": {"secure": 0.0},
        "supported": {
            "supported": 0.0,
            "foster_inhouse": 0.0,
            "foster_ifa": 0.0,
            "residential_la": 1500.0,
            "residential_private": 1500.0,
        },
    }


@dataclass(frozen=True)
class Policy:
    """The objective's weights, all in GBP per week (DESIGN.md section 4).

    Defaults are assumptions chosen so that one mile is worth about 2% of a week's in-house
    foster care, an out-of-area move costs about as much as a 25-mile one, and an unplaced child
    costs more than any placement (an unplaced child is a sufficiency gap, never silently dropped).
    Every weight is at most MAX_WEEKLY_COST (GBP 10,000,000 a week), distance_per_mile at most
    MAX_PER_MILE (GBP 100,000 a mile), so that integer costs cannot overflow.
    """

    distance_per_mile: float = 12.0
    out_of_la: float = 300.0
    out_of_rcc: float = 600.0
    unplaced: float = 100_000.0
    move: float = 1_500.0
    sibling_split: float = 400.0
    max_miles: float | None = None
    substitutions: Mapping[str, Mapping[str, float]] = field(default_factory=default_substitutions)

    def to_json(self) -> dict[str, Any]:
        """The complete policy, defaults included, in the policy-file format."""
        data = asdict(self)
        data["substitutions"] = {n: dict(s) for n, s in self.substitutions.items()}
        return data

    def updated(self, data: Mapping[str, Any], *, source: str) -> Policy:
        """This policy with the keys `data` gives changed (a need's substitution table only
        where `data` gives that need's)."""
        merged = {**self.to_json(), **data}
        if isinstance(data.get("substitutions"), Mapping):
            merged["substitutions"] = {**self.to_json()["substitutions"], **data["substitutions"]}
        return Policy.from_json(merged, source=source)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, source: str = "policy.json") -> Policy:
        """Policy from a mapping with any subset of the keys; the rest take the defaults."""
        issues: list[InputIssue] = []
        known = {f for f in cls.__dataclass_fields__}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                issues.append(
                    InputIssue(source, None, key, f"unknown key; expected one of {sorted(known)}")
                )
            elif key == "substitutions":
                values[key] = _check_substitutions(value, source, issues)
            elif key == "max_miles" and value is None:
                values[key] = None
            elif (problem := _penalty_problem(value, _POLICY_LIMITS.get(key))) is not None:
                issues.append(InputIssue(source, None, key, problem))
            else:
                values[key] = float(value)
        if issues:
            raise ProblemValidationError(issues)
        return cls(**values)


def _check_substitutions(
    value: Any, source: str, issues: list[InputIssue]
) -> dict[str, dict[str, float]]:
    col = "substitutions"
    if not isinstance(value, Mapping):
        issues.append(InputIssue(source, None, col, "must be an object {need: {setting: penalty}}"))
        return {}
    out: dict[str, dict[str, float]] = {}
    for need, table in value.items():
        if need not in NEEDS:
            issues.append(InputIssue(source, None, col, f"unknown need '{need}'; use {NEEDS}"))
            continue
        if not isinstance(table, Mapping):
            issues.append(InputIssue(source, None, col, f"'{need}' must map settings to penalties"))
            continue
        out[need] = {}
        for setting, penalty in table.items():
            if setting not in SETTINGS:
                issues.append(
                    InputIssue(source, None, col, f"unknown setting '{setting}' for '{need}'")
                )
            elif (problem := _penalty_problem(penalty, MAX_WEEKLY_COST)) is not None:
                issues.append(InputIssue(source, None, col, f"{need}->{setting}: {problem}"))
            else:
                out[need][setting] = float(penalty)
    # a need left out keeps its default table (an empty table allows no setting)
    return {need: out.get(need, table) for need, table in default_substitutions().items()}


# the most each policy key may be (max_miles, a distance, has no upper limit)
_POLICY_LIMITS = {
    "distance_per_mile": MAX_PER_MILE,
    "out_of_la": MAX_WEEKLY_COST,
    "out_of_rcc": MAX_WEEKLY_COST,
    "unplaced": MAX_WEEKLY_COST,
    "move": MAX_WEEKLY_COST,
    "sibling_split": MAX_WEEKLY_COST,
}


def _penalty_problem(value: Any, limit: float | None) -> str | None:
    """What is wrong with a policy weight (GBP a week), or None: a finite number >= 0, at most
    `limit` when given."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number >= 0, got {value!r}"
    try:
        number = float(value)
    except OverflowError:
        return f"{value} is too large"
    if not math.isfinite(number):
        return f"must be finite, got {value!r}"
    if number < 0:
        return f"must be a number >= 0, got {value!r}"
    if limit is not None and number > limit:
        return f"{number:,.0f} is above the limit of {limit:,.0f}"
    return None


@dataclass(frozen=True)
class Problem:
    """A validated allocation problem. Frames are never mutated after construction.

    - `children`: CHILD_COLUMNS; `sibling_group` and `current_placement` are "" when absent;
      `easting`/`northing` default to the home LA's point.
    - `placements`: PLACEMENT_COLUMNS; points default to the LA's point.
    - `las`: LA_COLUMNS, one row per LA in the RCC lookup.
    """

    children: pd.DataFrame
    placements: pd.DataFrame
    las: pd.DataFrame
    policy: Policy = field(default_factory=Policy)

    def with_policy(self, policy: Policy) -> Problem:
        return replace(self, policy=policy)

    @property
    def rcc_of(self) -> dict[str, str]:
        return dict(zip(self.las["code"], self.las["rcc"], strict=True))


# ----------------------------------------------------------------------------- reading


def read_csv_table(path: Path, issues: list[InputIssue]) -> pd.DataFrame | None:
    """A user's CSV as stripped text with lower-case column names, or None with the reasons
    added to `issues` (file, row): missing, a folder, an Excel workbook, empty, not UTF-8,
    tabs or semicolons between columns, rows with more fields than the header (pandas took the
    first column for an index and shifted the rest), a value running over several lines (a
    stray quote), a column named twice (case and spaces aside).

    Blank lines are left out; the frame's index is each row's spreadsheet row less 2 (the
    header is row 1), so a row after blank lines keeps its number in messages."""
    if not path.exists():
        issues.append(InputIssue(path.name, None, None, f"file not found: {path}"))
        return None
    try:
        head = read_start(path)
    except ProblemValidationError as exc:
        issues.extend(exc.issues)
        return None
    if (sep := separator(head.decode("utf-8", errors="ignore").splitlines()[0])) != ",":
        text = f"columns are separated by {SEPARATOR_NAMES[sep]}; save it as 'CSV UTF-8 "
        text += "(comma delimited)'"
        issues.append(InputIssue(path.name, 1, None, text))
        return None
    try:
        with warnings.catch_warnings():  # a row longer than the header: say which
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,  # a row per line, so that rows keep their numbers
                encoding="utf-8-sig",
                skipinitialspace=True,
                index_col=False,
            )
    except UnicodeDecodeError as exc:  # Excel's "CSV" is Windows-1252: say where, and what to do
        row = path.read_bytes()[: exc.start].count(b"\n") + 1
        text = f"not UTF-8 text (byte {exc.object[exc.start : exc.start + 1]!r}, as Excel's "
        text += "plain CSV writes a £); save it as 'CSV UTF-8 (comma delimited)'"
        issues.append(InputIssue(path.name, row, None, text))
        return None
    except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError) as exc:
        ragged = _ragged_rows(path)
        issues.extend(
            InputIssue(path.name, row, None, f"has {n} fields, expected {expected} (the header's)")
            for row, n, expected in ragged
        )
        if not ragged:
            issues.append(parser_issue(path.name, exc))
        return None
    with path.open(newline="", encoding="utf-8-sig") as fh:  # pandas renamed a repeat "la.1"
        repeated = repeated_column_issues(path.name, next(csv.reader(fh), []))
    if repeated:
        issues.extend(repeated)
        return None
    if multiline := multiline_issues(path.name, df):
        issues.extend(multiline)
        return None
    df.columns = [str(c).strip().lower() for c in df.columns]
    df = df.apply(lambda s: s.str.strip())
    empty = (df == "").all(axis=1).to_numpy()
    if empty.any():  # blank lines, or rows of only commas (real rows, with empty values)
        df = df[~(empty & np.isin(np.arange(len(df)) + 2, _blank_lines(path)))]
    return df


def _blank_lines(path: Path) -> list[int]:
    """The numbers of the lines (the first is 1) that hold nothing but spaces."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return [n for n, line in enumerate(fh, start=1) if not line.strip()]


def _ragged_rows(path: Path) -> list[tuple[int, int, int]]:
    """(row, fields, header's fields) of each non-blank row with more fields than the header
    (rows as a spreadsheet counts them: the header is row 1)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = csv.reader(fh)
        width = len(next(rows, []))
        found, first = [], rows.line_num + 1  # the line a row starts on
        for row in rows:
            if len(row) > width:
                found.append((first, len(row), width))
            first = rows.line_num + 1
        return found


def _float_or_nan(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):  # not text of a number, or not text at all (None)
        return math.nan


def _numbers(raw: pd.Series) -> pd.Series:
    """Text to numbers as Python's float() reads plain ASCII text, NaN where it cannot: the
    whole column at once when every cell reads (6 times quicker than pd.to_numeric on 57,392
    children), else cell by cell. float() also reads "1_000" and other scripts' digits ("٩٠٠",
    full-width "２"): those are NaN, not coerced."""
    try:
        num = raw.astype(float)
    except (TypeError, ValueError):
        num = pd.Series([_float_or_nan(v) for v in raw], index=raw.index, dtype=float)
    text = raw.astype(str)
    return num.where(text.map(str.isascii) & ~text.str.contains("_", regex=False))


def _rows(mask: pd.Series) -> list[int]:
    """Spreadsheet row numbers (header = row 1) of the True entries of a mask, from its
    frame's index: `read_csv_table` makes it each row's row less 2, so a RangeIndex numbers
    the rows after the header from 2."""
    return [int(i) + 2 for i in mask.index[mask.to_numpy()]]


class _Checker:
    """Collects issues about one file's columns, vectorised, naming rows and columns."""

    def __init__(self, file: str, df: pd.DataFrame, issues: list[InputIssue]) -> None:
        self.file, self.df, self.issues = file, df, issues

    def flag(self, mask: pd.Series, column: str, message: Any) -> None:
        values = self.df[column] if column in self.df else pd.Series("", index=self.df.index)
        for row, value in zip(_rows(mask), values[mask.to_numpy()], strict=True):
            text = message(value) if callable(message) else message
            self.issues.append(InputIssue(self.file, row, column, text))

    def require(self, columns: tuple[str, ...]) -> bool:
        missing = [c for c in columns if c not in self.df.columns]
        for c in missing:
            self.issues.append(InputIssue(self.file, 1, c, "required column is missing"))
        return not missing

    def unique_ids(self, column: str) -> None:
        ids = self.df[column]
        self.flag(ids == "", column, "id is empty")
        dup = ids.duplicated(keep="first") & (ids != "")
        first_row = {v: r for r, v in zip(_rows(~dup), ids[~dup.to_numpy()], strict=True)}
        self.flag(dup, column, lambda v: f"duplicate id '{v}' (first seen in row {first_row[v]})")

    def no_formula(self, column: str) -> None:
        """Ids and names (optional columns when present) start with none of FORMULA_STARTS:
        they are written to the CSVs of results, where a spreadsheet would run them."""
        if column not in self.df:
            return
        risky = self.df[column].astype(str).str[:1].isin(FORMULA_STARTS)
        self.flag(risky, column, formula_message)

    def one_of(self, column: str, allowed: tuple[str, ...], what: str) -> None:
        bad = ~self.df[column].isin(allowed)
        self.flag(bad, column, lambda v: f"unknown {what} '{v}'; expected one of {list(allowed)}")

    def la_codes(self, column: str, england: England, known: set[str]) -> pd.Series:
        """Flags codes that are no English LA's; returns the rows of English LAs missing
        from `known` (the RCC lookup), which `_missing_from_lookup` reports once per LA."""
        bad = ~self.df[column].isin(known)
        absent = bad & self.df[column].isin(england.codes)
        self.flag(bad & ~absent, column, england.unknown_code_message)
        return absent

    def rows_by_value(self, column: str, mask: pd.Series) -> dict[str, list[int]]:
        """The spreadsheet rows of each value of `column` where `mask` holds."""
        rows: dict[str, list[int]] = {}
        for row, value in zip(_rows(mask), self.df[column][mask.to_numpy()], strict=True):
            rows.setdefault(value, []).append(row)
        return rows

    def integer(self, column: str, *, lo: int | None = None, hi: int | None = None) -> pd.Series:
        num = _numbers(self.df[column])
        not_int = ~np.isfinite(num) | (num != np.floor(num.fillna(0)))
        self.flag(not_int, column, lambda v: f"'{v}' is not a whole number")
        if lo is not None:
            self.flag(~not_int & (num < lo), column, lambda v: f"{v} is below {lo}")
        if hi is not None:
            self.flag(~not_int & (num > hi), column, lambda v: f"{v} is above {hi}")
        return num

    def number(
        self,
        column: str,
        *,
        optional: bool = False,
        lo: float | None = None,
        hi: float | None = None,
    ) -> pd.Series:
        raw = self.df[column] if column in self.df else pd.Series("", index=self.df.index)
        num = _numbers(raw)
        blank = raw == ""
        bad = num.isna() & ~(blank & optional) | ~np.isfinite(num.fillna(0))
        self.flag(bad, column, lambda v: f"'{v}' is not a number")
        if lo is not None:
            self.flag(~bad & (num < lo), column, lambda v: f"{v} is negative")
        if hi is not None:
            self.flag(~bad & (num > hi), column, lambda v: f"{v} is above the limit of {hi:,.0f}")
        return num

    def known_columns(self, accepted: tuple[str, ...]) -> None:
        """Every column is one of `accepted`: a misspelt optional column ("sibling group")
        would otherwise be ignored, and its data with it."""
        for column in (c for c in self.df.columns if c not in accepted):
            close = difflib.get_close_matches(column, accepted, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            text = f"unknown column; {hint}accepted columns: {', '.join(accepted)}"
            self.issues.append(InputIssue(self.file, 1, column, text))

    def whole_points(self, what: str) -> None:
        """An easting and a northing together or neither (then `what`'s point is used)."""
        blank = {
            a: self.df[a] == "" if a in self.df else pd.Series(True, index=self.df.index)
            for a in ("easting", "northing")
        }
        for axis, other in (("easting", "northing"), ("northing", "easting")):
            text = f"{axis} is empty but {other} is given: give both, or neither for {what}"
            self.flag(blank[axis] & ~blank[other], axis, text)

    def grid(self, column: str, *, optional: bool = True) -> None:
        """An easting or northing, inside England on the British National Grid."""
        num = self.number(column, optional=optional)
        lo, hi = GRID[column]
        outside = np.isfinite(num) & ((num < lo) | (num > hi))
        self.flag(
            outside,
            column,
            lambda v: (
                f"{v} is outside England on the British National Grid ({lo:,.0f} to "
                f"{hi:,.0f} metres; a latitude or longitude is not a grid reference)"
            ),
        )


def validate_problem_frames(
    children: pd.DataFrame | None,
    placements: pd.DataFrame | None,
    las: pd.DataFrame,
    *,
    issues: list[InputIssue] | None = None,
    names: tuple[str, str, str] = ("children.csv", "placements.csv", "rccs.csv"),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check raw string frames and return typed copies; raise every issue found at once.

    `las` must already be typed (LA_COLUMNS). Referenced LAs must appear in it. A frame that
    could not be read is None: the other is still checked, and the error raised.
    """
    issues = [] if issues is None else issues
    england = load_england()
    known = set(las["code"])
    c_file, p_file, _ = names
    missing: dict[str, dict[str, list[int]]] = {c_file: {}, p_file: {}}  # LAs not in `las`

    p_ok = False
    if placements is not None:
        pc = _Checker(p_file, placements, issues)
        pc.known_columns(PLACEMENT_COLUMNS)
        p_ok = pc.require(_PLACEMENT_REQUIRED)
    if p_ok:
        pc.unique_ids("placement_id")
        pc.no_formula("placement_id")
        pc.one_of("setting", SETTINGS, "setting")
        missing[p_file] = pc.rows_by_value("la", pc.la_codes("la", england, known))
        pc.integer("capacity", lo=0, hi=MAX_CAPACITY)
        pc.number("weekly_cost", lo=0, hi=MAX_WEEKLY_COST)
        lo = pc.integer("min_age", lo=MIN_AGE, hi=MAX_AGE)
        hi = pc.integer("max_age", lo=MIN_AGE, hi=MAX_AGE)
        pc.flag(lo > hi, "min_age", lambda v: f"min_age {v} is above max_age")
        pc.one_of("sexes", PLACEMENT_SEXES, "sexes")
        pc.grid("easting")
        pc.grid("northing")
        pc.whole_points("the LA's point")

    if children is not None:
        cc = _Checker(c_file, children, issues)
        cc.known_columns(CHILD_COLUMNS)
    if children is not None and cc.require(_CHILD_REQUIRED):
        cc.unique_ids("child_id")
        for column in ("child_id", "sibling_group", "current_placement"):
            cc.no_formula(column)
        missing[c_file] = cc.rows_by_value("home_la", cc.la_codes("home_la", england, known))
        cc.one_of("need", NEEDS, "need")
        age = cc.integer("age", lo=MIN_AGE, hi=MAX_AGE)
        valid = (age == np.floor(age.fillna(-1))) & age.between(MIN_AGE, MAX_AGE)
        for need, (first, last) in NEED_AGES.items():
            outside = valid & (children["need"] == need) & ~age.between(first, last)
            text = f"a {need} child aged {{}}: {need} is for children aged {first}-{last}"
            cc.flag(outside, "age", text.format)
        cc.one_of("sex", CHILD_SEXES, "sex")
        cc.grid("easting")
        cc.grid("northing")
        cc.whole_points("the home LA's point")
        if "current_placement" in children and p_ok:
            assert placements is not None
            cur = children["current_placement"]
            gone = (cur != "") & ~cur.isin(set(placements["placement_id"]))
            cc.flag(
                gone, "current_placement", lambda v: f"placement '{v}' does not exist in {p_file}"
            )
    issues.extend(_missing_from_lookup(england, names[2], missing))
    if issues or children is None or placements is None:
        raise ProblemValidationError(issues)
    return _typed_children(children, las), _typed_placements(placements, las)


def _missing_from_lookup(
    england: England, lookup: str, missing: dict[str, dict[str, list[int]]]
) -> list[InputIssue]:
    """One issue per English LA that the files use (`missing`: file -> LA -> rows) but the
    RCC lookup `lookup` lacks, rather than one per row that uses it."""
    issues = []
    for code in sorted({code for rows in missing.values() for code in rows}):
        uses = ", ".join(
            f"{file} in {_row_spans(rows[code])}" for file, rows in missing.items() if code in rows
        )
        name = england.by_code(code).name
        text = f"LA '{code}' ({name}) is in no RCC, but used by {uses}: add it to one"
        issues.append(InputIssue(lookup, None, "la_code", text))
    return issues


def _row_spans(rows: list[int], most: int = 4) -> str:
    """'18 rows (384-401)': how many rows and where, runs of rows as first-last."""
    spans: list[list[int]] = []
    for row in rows:
        if spans and row == spans[-1][1] + 1:
            spans[-1][1] = row
        else:
            spans.append([row, row])
    where = ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in spans[:most])
    if len(spans) > most:
        where += ", ..."
    return f"{len(rows)} row{'s' if len(rows) > 1 else ''} ({where})"


def _point_defaults(df: pd.DataFrame, la_col: str, las: pd.DataFrame) -> pd.DataFrame:
    pts = las.set_index("code")
    for axis in ("easting", "northing"):
        given = _numbers(df[axis]) if axis in df else np.nan
        df[axis] = pd.Series(given, index=df.index).fillna(df[la_col].map(pts[axis])).astype(float)
    return df


def _typed_children(raw: pd.DataFrame, las: pd.DataFrame) -> pd.DataFrame:
    df = raw.copy()
    for col in ("sibling_group", "current_placement"):
        if col not in df:
            df[col] = ""
    df["age"] = df["age"].astype(float).astype(np.int64)
    df = _point_defaults(df, "home_la", las)
    return df[list(CHILD_COLUMNS)].reset_index(drop=True)


def _typed_placements(raw: pd.DataFrame, las: pd.DataFrame) -> pd.DataFrame:
    df = raw.copy()
    for col in ("provider", "ofsted_rating"):
        if col not in df:
            df[col] = ""
    for col in ("capacity", "min_age", "max_age"):
        df[col] = df[col].astype(float).astype(np.int64)
    df["weekly_cost"] = df["weekly_cost"].astype(float)
    df = _point_defaults(df, "la", las)
    return df[list(PLACEMENT_COLUMNS)].reset_index(drop=True)


def read_rccs(path: Path, *, issues: list[InputIssue] | None = None) -> dict[str, str]:
    """Read `rccs.csv` (`la_code,rcc`): unknown or repeated LA codes and empty RCCs are errors."""
    own = issues is None
    issues = [] if issues is None else issues
    df = read_csv_table(path, issues)
    lookup: dict[str, str] = {}
    if df is not None:
        chk = _Checker(path.name, df, issues)
        if chk.require(("la_code", "rcc")):
            england = load_england()
            chk.la_codes("la_code", england, set(england.codes))
            chk.unique_ids("la_code")
            chk.flag(df["rcc"] == "", "rcc", "RCC name is empty")
            chk.no_formula("rcc")
            lookup = dict(zip(df["la_code"], df["rcc"], strict=True))
    if own and issues:
        raise ProblemValidationError(issues)
    return lookup


def las_frame(rccs: Mapping[str, str], las_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """LA_COLUMNS for the LAs of an RCC lookup: names and points from `las_table` where it
    gives them, else the embedded England's (a las.csv may override only some LAs)."""
    base = load_england().frame()
    if las_table is not None:
        kept = base[~base["code"].isin(las_table["code"])]
        base = pd.concat([las_table[kept.columns.intersection(las_table.columns)], kept])
    df = base[base["code"].isin(rccs)].copy()
    df["rcc"] = df["code"].map(rccs)
    df["easting"] = df["easting"].astype(float)
    df["northing"] = df["northing"].astype(float)
    return df[list(LA_COLUMNS)].reset_index(drop=True)


def _read_las_table(path: Path, issues: list[InputIssue]) -> pd.DataFrame | None:
    """Optional `las.csv` overriding LA points and names; codes must be real LAs."""
    df = read_csv_table(path, issues)
    if df is None:
        return None
    chk = _Checker(path.name, df, issues)
    if not chk.require(("code", "name", "region_code", "region_name", "easting", "northing")):
        return None
    england = load_england()
    chk.la_codes("code", england, set(england.codes))
    chk.unique_ids("code")
    chk.grid("easting", optional=False)
    chk.grid("northing", optional=False)
    return df


def read_policy(path: Path) -> Policy:
    """Read a policy JSON file (any subset of keys); errors name the file and key."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise ProblemValidationError([InputIssue(path.name, None, None, "must be a JSON object")])
    return Policy.from_json(data, source=path.name)


def read_problem(
    directory: Path | str,
    *,
    policy: Policy | None = None,
    rccs: Mapping[str, str] | None = None,
) -> Problem:
    """Read `children.csv`, `placements.csv`, `rccs.csv` (and optional `las.csv`,
    `policy.json`) from a folder, validating everything and reporting all problems at once."""
    folder = Path(directory)
    issues: list[InputIssue] = []
    children = read_csv_table(folder / "children.csv", issues)
    placements = read_csv_table(folder / "placements.csv", issues)
    lookup = dict(rccs) if rccs is not None else read_rccs(folder / "rccs.csv", issues=issues)
    las_table = (
        _read_las_table(folder / "las.csv", issues) if (folder / "las.csv").exists() else None
    )
    if policy is None and (folder / "policy.json").exists():
        try:
            policy = read_policy(folder / "policy.json")
        except ProblemValidationError as exc:
            issues.extend(exc.issues)
    if not lookup and issues:  # rccs.csv unusable: its own issues, not one per row that uses it
        lookup = dict.fromkeys(load_england().codes, "")
    las = las_frame(lookup, las_table if not issues else None)
    kids, places = validate_problem_frames(children, placements, las, issues=issues)
    return Problem(children=kids, placements=places, las=las, policy=policy or Policy())


# ----------------------------------------------------------------------------- writing


def remove_stale(folder: Path | str, names: Iterable[str], written: Iterable[Path]) -> list[Path]:
    """Remove the files of `names` in `folder` that this run did not write (`written`): an
    earlier run's, which would pass for this one's (a --no-baseline solve left the last run's
    baseline_allocation.csv; a failed re-import, a problem that still validates); returns
    them."""
    kept = {Path(p).name for p in written}
    stale = [Path(folder) / n for n in names if n not in kept]
    stale = [p for p in stale if p.is_file()]
    for path in stale:
        path.unlink()
    return stale


def write_problem(problem: Problem, directory: Path | str) -> list[Path]:
    """Write the problem as `children.csv`, `placements.csv`, `rccs.csv`, `las.csv` and
    `policy.json` (UTF-8 CSVs that open in Excel); returns the paths written."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        name: folder / name
        for name in ("children.csv", "placements.csv", "rccs.csv", "las.csv", "policy.json")
    }
    problem.children.to_csv(
        paths["children.csv"], index=False, float_format="%.0f", encoding="utf-8-sig"
    )
    problem.placements.to_csv(paths["placements.csv"], index=False, encoding="utf-8-sig")
    problem.las[["code", "rcc"]].rename(columns={"code": "la_code"}).to_csv(
        paths["rccs.csv"], index=False, encoding="utf-8-sig"
    )
    problem.las.drop(columns="rcc").to_csv(paths["las.csv"], index=False, encoding="utf-8-sig")
    paths["policy.json"].write_text(json.dumps(problem.policy.to_json(), indent=2) + "\n")
    return list(paths.values())
