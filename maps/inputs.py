"""The tables maps draw from, checked and typed, and read from a `rcc solve` folder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "ALLOCATION_COLUMNS",
    "PLAN_COLUMNS",
    "SUPPLY_COLUMNS",
    "MapInputError",
    "MapInputs",
    "clean_allocation",
    "clean_plan_actions",
    "clean_supply",
    "read_result",
]

ALLOCATION_COLUMNS = (
    "child_id",
    "home_la",
    "home_rcc",
    "need",
    "placement_id",
    "setting",
    "placement_la",
    "placement_rcc",
    "out_of_la",
    "out_of_rcc",
    "over_20_miles",
)
SUPPLY_COLUMNS = ("placement_id", "setting", "la", "capacity", "used")
PLAN_COLUMNS = ("year", "rcc", "la_code", "action", "units", "places")
_TEXT = ("child_id", "home_la", "home_rcc", "need", "placement_id", "setting", "placement_la")
_FLAGS = ("out_of_la", "out_of_rcc", "over_20_miles")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


class MapInputError(ValueError):
    """A table a map needs is missing, lacks a column, or has a bad value (file, row, column)."""


def _require(frame: pd.DataFrame, columns: tuple[str, ...], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MapInputError(
            f"{source}: missing column(s) {', '.join(missing)}; "
            f"it has {', '.join(map(str, frame.columns))}"
        )


_CLEAN = "rcc_clean_allocation"  # in DataFrame.attrs of a cleaned allocation


def _text(series: pd.Series) -> pd.Series:
    return series.astype("string").fillna("").str.strip().astype(object)


def _flag(series: pd.Series, column: str, source: str) -> pd.Series:
    if series.dtype == bool:
        return series
    text = series.astype("string").fillna("").str.strip().str.lower()
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise MapInputError(
            f"{source}: row {row + 2}, column {column}: '{series.iloc[row]}' is not true/false"
        )
    return text.isin(_TRUE)


def _integer(series: pd.Series, column: str, source: str) -> pd.Series:
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() | (numbers < 0) | (numbers != numbers.round())
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise MapInputError(
            f"{source}: row {row + 2}, column {column}: '{series.iloc[row]}' is not a whole "
            "number >= 0"
        )
    return numbers.astype("int64")


def clean_allocation(frame: pd.DataFrame, *, source: str = "allocation") -> pd.DataFrame:
    """The allocation (one row per child) with text columns as str ('' when unplaced), the
    three flags as bool and `placed` added. Raises `MapInputError` naming row and column.
    A frame it returned (or a part of one) is taken as it is: the maps of a result clean it
    once, and each map's counts would otherwise clean it again."""
    if frame.attrs.get(_CLEAN):
        return frame.copy()
    _require(frame, ALLOCATION_COLUMNS, source)
    out = frame.copy()
    for c in (*_TEXT, "placement_rcc"):
        out[c] = _text(out[c])
    for c in _FLAGS:
        out[c] = _flag(out[c], c, source)
    blank_home = out["home_la"] == ""
    if blank_home.any():
        row = int(blank_home.to_numpy().nonzero()[0][0])
        raise MapInputError(f"{source}: row {row + 2}, column home_la: empty")
    out["placed"] = out["placement_la"] != ""
    out.attrs[_CLEAN] = True
    return out


def clean_supply(frame: pd.DataFrame, *, source: str = "supply") -> pd.DataFrame:
    """Supply (one row per placement) with whole-number capacity and used places."""
    _require(frame, SUPPLY_COLUMNS, source)
    out = frame.copy()
    for c in ("placement_id", "setting", "la"):
        out[c] = _text(out[c])
    for c in ("capacity", "used"):
        out[c] = _integer(out[c], c, source)
    return out


def clean_plan_actions(frame: pd.DataFrame, *, source: str = "plan_actions") -> pd.DataFrame:
    """Plan actions (year, rcc, la_code, action, units, places; capital, weekly_running and
    weekly_saving when present) with whole-number units and places."""
    _require(frame, PLAN_COLUMNS, source)
    out = frame.copy()
    for c in ("rcc", "la_code", "action"):
        out[c] = _text(out[c])
    for c in ("units", "places"):
        out[c] = _integer(out[c], c, source)
    for c in ("year", "opens"):
        if c in out.columns:
            out[c] = _text(out[c].astype("string").str.replace(r"\.0$", "", regex=True))
    for c in ("capital", "weekly_running", "weekly_saving"):
        if c in out.columns:
            out[c] = pd.to_numeric(out[c], errors="coerce").fillna(0.0)
    return out


@dataclass(frozen=True)
class MapInputs:
    """The tables of one result folder."""

    allocation: pd.DataFrame
    supply: pd.DataFrame
    rccs: Mapping[str, str]
    plan_actions: pd.DataFrame | None = None


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise MapInputError(f"{path}: not found (is this a folder written by `rcc solve`?)")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise MapInputError(f"{path}: the file is empty (no header row)") from None
    except pd.errors.ParserError as exc:  # "... Expected 9 fields in line 5, saw 10"
        said = str(exc).strip().splitlines()[0]
        raise MapInputError(f"{path}: cannot read as CSV: {said}") from None
    except UnicodeDecodeError as exc:
        said = f"not UTF-8 text (byte {exc.start}); save it as UTF-8"
        raise MapInputError(f"{path}: {said}") from None


def read_result(
    directory: str | Path, *, plan: bool = False, plan_actions: str | Path | None = None
) -> MapInputs:
    """Read allocation.csv, supply.csv and rccs.csv from a `rcc solve` folder, and, when
    `plan`, plan_actions.csv from `plan_actions` (a file or a `rcc plan` folder; default the
    same folder)."""
    folder = Path(directory)
    if not folder.is_dir():
        raise MapInputError(f"{folder}: not a folder")
    allocation = clean_allocation(
        _read(folder / "allocation.csv"), source=str(folder / "allocation.csv")
    )
    supply = clean_supply(_read(folder / "supply.csv"), source=str(folder / "supply.csv"))
    rcc_frame = _read(folder / "rccs.csv")
    _require(rcc_frame, ("la_code", "rcc"), str(folder / "rccs.csv"))
    rccs = dict(zip(_text(rcc_frame["la_code"]), _text(rcc_frame["rcc"]), strict=True))
    actions = None
    if plan:
        path = Path(plan_actions) if plan_actions is not None else folder
        if path.is_dir():
            path = path / "plan_actions.csv"
        if not path.is_file():
            raise MapInputError(
                f"{path}: not found; a plan map needs the plan_actions.csv that "
                "`rcc plan --out DIR` writes (pass --plan DIR)"
            )
        actions = clean_plan_actions(_read(path), source=str(path))
    return MapInputs(allocation=allocation, supply=supply, rccs=rccs, plan_actions=actions)
