"""What each role sees of a result: council views with small-number suppression (primary and
secondary, so no hidden count is recoverable from a shown total), and scenario comparison."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from maps.bundle import result_counts
from maps.geometry import MapGeometry
from maps.inputs import MapInputs
from maps.style import MapSettings
from maps.suppress import SUPPRESSED, Counts, Group, Suppression

__all__ = ["COUNT_COLUMNS", "PUBLISHED_TABLES", "compare", "suppress_tables", "suppressed_view"]

# the indicator tables council keys read (suppressed); the need-by-area tables (la_need,
# rcc_need) are for planners only: their small cells would need suppression groups of their own
PUBLISHED_TABLES = ("national", "la", "rcc", "need")

COUNT_COLUMNS = (
    "children",
    "unplaced",
    "out_of_la",
    "over_20_miles",
    "out_of_la_over_20_miles",
    "out_of_rcc",
)
_RATES = {
    "out_of_la_pct": "out_of_la",
    "over_20_miles_pct": "over_20_miles",
    "out_of_la_over_20_miles_pct": "out_of_la_over_20_miles",
    "out_of_rcc_pct": "out_of_rcc",
}
_PER_CHILD = ("weekly_cost", "annual_cost", "mean_miles", "median_miles")
# differences a reader can form from two shown counts of one row
_PAIRS = (
    ("children", "unplaced"),
    ("children", "out_of_la"),
    ("children", "over_20_miles"),
    ("children", "out_of_rcc"),
    ("out_of_la", "out_of_la_over_20_miles"),
    ("over_20_miles", "out_of_la_over_20_miles"),
)
_TOTAL = "__all__"


def suppressed_view(threshold: int) -> str:
    """The stored view name of a result's council-facing indicator tables at `threshold`."""
    return f"indicators:suppressed:{threshold}"


def _table_counts(tables: Mapping[str, list[dict[str, Any]]]) -> Counts:
    """The tables' counts, keyed (table, row, column), with their sums and paired differences."""
    counts = Counts()
    for name, rows in tables.items():
        for i, row in enumerate(rows):
            for col in COUNT_COLUMNS:
                counts.values[(name, i, col)] = int(row.get(col) or 0)
            counts.pairs.extend(((name, i, a), (name, i, b)) for a, b in _PAIRS)
    # (a row that is a total, the rows it adds up)
    sums: list[tuple[tuple[Hashable, ...], list[tuple[str, int]]]] = []
    national = len(tables.get("national", [])) == 1
    for name, rows in tables.items():
        if name != "national" and rows:
            whole: tuple[Hashable, ...] = ("national", 0) if national else (_TOTAL, name)
            sums.append((whole, [(name, i) for i in range(len(rows))]))
    rcc_row = {row.get("home_rcc"): j for j, row in enumerate(tables.get("rcc", []))}
    members: dict[int, list[tuple[str, int]]] = {}
    for i, row in enumerate(tables.get("la", [])):
        if (j := rcc_row.get(row.get("rcc"))) is not None:
            members.setdefault(j, []).append(("la", i))
    sums += [(("rcc", j), las) for j, las in members.items()]
    for total_row, parts in sums:
        for col in COUNT_COLUMNS:
            total = (*total_row, col)
            if total_row[0] == _TOTAL:
                counts.values[total] = sum(counts.values[(*p, col)] for p in parts)
            counts.groups.append(Group(total, [(*p, col) for p in parts]))
    return counts


def suppress_tables(
    tables: Mapping[str, list[dict[str, Any]]],
    *,
    threshold: int,
    maps: MapInputs | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Council-facing copy of a result's indicator tables (national, by LA, RCC and need),
    protected together, as a council reads them together: counts 1..threshold become "c",
    plus whatever would let a reader recover them: differences of paired counts in a row
    (`placed` is left out: it is children - unplaced), the national row as the sum of the rows
    of each other table, and each RCC's row as the sum of its LAs' rows. With `maps` (the
    result's map inputs), around what the result's maps show as well (`maps.bundle`): an LA's
    row holds the counts of the out-of-area map, an RCC's children are the RCC map's. Rates of
    hidden counts are hidden; cost and miles of a row with a hidden number of children are
    too. Only the PUBLISHED_TABLES are protected and returned."""
    tables = {name: rows for name, rows in tables.items() if name in PUBLISHED_TABLES}
    counts = _table_counts(tables)
    suppression = Suppression(threshold=threshold)
    if maps is None:
        shown = counts.protect(suppression)
    else:
        settings = MapSettings(suppression=suppression, geometry=MapGeometry.hex())
        joint = result_counts(maps, settings)
        published = joint.protect(suppression)
        joint.add("tables", counts)
        for i, row in enumerate(tables.get("la", [])):
            for col in COUNT_COLUMNS:
                joint.same(("tables", ("la", i, col)), ("out-of-area", (row["home_la"], col)))
        for j, row in enumerate(tables.get("rcc", [])):
            joint.same(("tables", ("rcc", j, "children")), ("rccs", (row["home_rcc"], "children")))
        shown = joint.protect(suppression, published=published).within("tables")
    out: dict[str, list[dict[str, Any]]] = {}
    for name, rows in tables.items():
        out[name] = []
        for i, row in enumerate(rows):
            new = {k: v for k, v in row.items() if k != "placed"}
            for col in COUNT_COLUMNS:
                if (name, i, col) in shown.hidden:
                    new[col] = SUPPRESSED
            for rate, count in _RATES.items():
                if (name, i, count) in shown.hidden or (name, i, "children") in shown.hidden:
                    new[rate] = SUPPRESSED
            if (name, i, "children") in shown.hidden:
                for col in _PER_CHILD:
                    new[col] = SUPPRESSED
            out[name].append(new)
    return out


def compare(
    names: list[str], tables: list[dict[str, list[dict[str, Any]]]], *, key: str = "rcc"
) -> dict[str, Any]:
    """Indicator differences of each scenario against the first: national, and by RCC."""
    national = []
    base = tables[0]["national"][0]
    for col, first in base.items():
        if not isinstance(first, int | float) or isinstance(first, bool):
            continue
        entry: dict[str, Any] = {"indicator": col, names[0]: first}
        for name, table in zip(names[1:], tables[1:], strict=True):
            value = table["national"][0].get(col)
            entry[name] = value
            entry[f"{name} - {names[0]}"] = (
                None if value is None or first is None else round(value - first, 6)
            )
        national.append(entry)
    by_area: dict[str, dict[str, Any]] = {}
    group_col = {"rcc": "home_rcc", "la": "home_la"}[key]
    columns = ("children", "unplaced", "out_of_la", "over_20_miles", "weekly_cost")
    for name, table in zip(names, tables, strict=True):
        for row in table[key]:
            area = by_area.setdefault(row[group_col], {group_col: row[group_col]})
            for col in columns:
                area[f"{col}:{name}"] = row.get(col)
    for area in by_area.values():  # B - A per area; an area a scenario lacks has none there
        for name in names[1:]:
            for col in columns:
                first, value = area.get(f"{col}:{names[0]}") or 0, area.get(f"{col}:{name}") or 0
                area[f"{col}:{name} - {names[0]}"] = round(value - first, 6)
    return {"scenarios": names, "national": national, f"by_{key}": list(by_area.values())}
