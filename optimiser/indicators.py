"""DfE indicators of an allocation (DESIGN.md section 5): nationally, by RCC, LA, need, setting."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["BY", "COUNTS", "INDICATOR_COLUMNS", "indicators", "summary", "with_la_names"]

WEEKS_PER_YEAR = 52
BY = {None: None, "la": "home_la", "rcc": "home_rcc", "need": "need", "setting": "setting"}
COUNTS = (  # the indicators that count children
    "children",
    "placed",
    "unplaced",
    "out_of_la",
    "over_20_miles",
    "out_of_la_over_20_miles",
    "out_of_rcc",
)
INDICATOR_COLUMNS = (
    "children",
    "placed",
    "unplaced",
    "out_of_la",
    "out_of_la_pct",
    "over_20_miles",
    "over_20_miles_pct",
    "out_of_la_over_20_miles",
    "out_of_la_over_20_miles_pct",
    "out_of_rcc",
    "out_of_rcc_pct",
    "weekly_cost",
    "annual_cost",
    "mean_miles",
    "median_miles",
)


def indicators(assignments: pd.DataFrame, *, by: str | list[str] | None = None) -> pd.DataFrame:
    """Indicators per group of `by` (None = national; or a column such as `home_la`,
    `home_rcc`, `need`, `setting`, the short names `la`, `rcc` accepted; or a list of them,
    such as ["la", "need"]: placed and unplaced by need in each LA).

    Percentages are of the children placed, as the DfE reports placements; `weekly_cost` is the
    placements' own weekly price (penalties are modelling weights, not money).
    """
    columns = [BY.get(b, b) for b in ([by] if isinstance(by, str) else by or [])]
    df = assignments.assign(
        placed=assignments["placement_id"].fillna("") != "",
        out_la_20=assignments["out_of_la"] & assignments["over_20_miles"],
        _all="England",
    )
    g = df.groupby(columns or "_all", sort=True)
    out = pd.DataFrame(
        {
            "children": g.size(),
            "placed": g["placed"].sum(),
            "out_of_la": g["out_of_la"].sum(),
            "over_20_miles": g["over_20_miles"].sum(),
            "out_of_la_over_20_miles": g["out_la_20"].sum(),
            "out_of_rcc": g["out_of_rcc"].sum(),
            "weekly_cost": g["weekly_cost"].sum(),
            "mean_miles": g["miles"].mean(),
            "median_miles": g["miles"].median(),
        }
    )
    if not columns and out.empty:  # no children at all: England's row of zeros
        out = out.reindex(["England"], fill_value=0)
        out[["mean_miles", "median_miles"]] = np.nan
    out["unplaced"] = out["children"] - out["placed"]
    placed = out["placed"].where(out["placed"] > 0, np.nan)
    for col in ("out_of_la", "over_20_miles", "out_of_la_over_20_miles", "out_of_rcc"):
        out[f"{col}_pct"] = (100 * out[col] / placed).round(2)
    out["annual_cost"] = out["weekly_cost"] * WEEKS_PER_YEAR
    out["weekly_cost"] = out["weekly_cost"].round(2)
    out["annual_cost"] = out["annual_cost"].round(2)
    out["mean_miles"] = out["mean_miles"].round(2)
    out["median_miles"] = out["median_miles"].round(2)
    out = out[list(INDICATOR_COLUMNS)].astype({c: "int64" for c in COUNTS})
    if not columns:
        out.index.name = "area"
    return out.reset_index()


def with_la_names(by_la: pd.DataFrame, las: pd.DataFrame) -> pd.DataFrame:
    """Indicators by home LA with each LA's name and RCC beside its code (`las`: code, name,
    rcc), for readers who do not know the codes."""
    lookup = las.set_index("code")
    out = by_la.copy()
    out.insert(1, "la_name", out["home_la"].map(lookup["name"]))
    out.insert(2, "rcc", out["home_la"].map(lookup["rcc"]))
    return out


def summary(assignments: pd.DataFrame) -> dict[str, float | int | None]:
    """The national indicators as a flat dict of plain numbers (for summary.json)."""
    row = indicators(assignments).iloc[0].drop("area")
    return {
        k: (int(v) if k in COUNTS else (None if pd.isna(v) else float(v))) for k, v in row.items()
    }
