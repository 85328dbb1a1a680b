"""RCC lookups: which Regional Care Cooperative each LA belongs to, and the named presets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from geodata.adjacency import Graph, adjacency_graph, components
from geodata.england import load_england

__all__ = [
    "GREATER_MANCHESTER",
    "LOOKUP_COLUMNS",
    "PRESETS",
    "SOUTH_EAST_REGION",
    "LookupCheck",
    "RccLookupError",
    "check_lookup",
    "default_lookup",
    "preset_groups",
    "proposed_lookup",
    "read_lookup",
    "regions_lookup",
    "write_lookup",
]

LOOKUP_COLUMNS = ("la_code", "rcc")

# The two pathfinders running since 2025.
GREATER_MANCHESTER: tuple[str, ...] = tuple(f"E080000{i:02d}" for i in range(1, 11))
SOUTH_EAST_REGION = "E12000008"
PRESETS = ("gm", "south-east")


def preset_groups(name: str) -> tuple[str, tuple[str, ...]]:
    """(RCC name, member codes) of a named pathfinder: `gm` or `south-east`."""
    key = name.strip().lower()
    if key in ("gm", "greater-manchester"):
        return "North West: Greater Manchester", GREATER_MANCHESTER
    if key in ("se", "south-east"):
        return "South East", load_england().region_members(SOUTH_EAST_REGION)
    raise ValueError(f"unknown RCC preset '{name}'; known presets: {', '.join(PRESETS)}")


def regions_lookup() -> dict[str, str]:
    """Every LA to its region: the nine regions as nine RCCs."""
    return {la.code: la.region_name for la in load_england().las}


def default_lookup() -> dict[str, str]:
    """The nine regions with the Greater Manchester pathfinder as its own RCC (10 RCCs)."""
    lookup = regions_lookup()
    name, members = preset_groups("gm")
    for code in members:
        lookup[code] = name
    lookup.update({c: "North West: rest of region" for c, r in lookup.items() if r == "North West"})
    return lookup


class RccLookupError(ValueError):
    """Every problem found in an RCC lookup at once, each naming its file, row and column."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:200])
        more = len(self.problems) - 200
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.problems)} problem(s) in the RCC lookup:\n{shown}{tail}")


@dataclass(frozen=True)
class LookupCheck:
    """The result of checking a lookup: `problems` are errors, `warnings` are detached parts."""

    problems: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def read_lookup(path: str | Path, *, complete: bool = True) -> dict[str, str]:
    """Read `rccs.csv` (`la_code,rcc`) into LA code -> RCC name.

    Raises `RccLookupError` listing every problem (missing column, empty cell, unknown or
    repeated LA, and with `complete` every LA absent from the file), each with row and column.
    Rows are spreadsheet rows: the header is row 1.
    """
    path = Path(path)
    name = path.name
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise RccLookupError([f"{name}: cannot read it as CSV ({exc})"]) from exc
    absent = [c for c in LOOKUP_COLUMNS if c not in frame.columns]
    if absent:
        raise RccLookupError(
            [f"{name}: missing column(s) {', '.join(absent)} (columns: {', '.join(frame.columns)})"]
        )
    england = load_england()
    problems: list[str] = []
    lookup: dict[str, str] = {}
    first_row: dict[str, int] = {}
    for row, (raw_code, raw_rcc) in enumerate(
        zip(frame["la_code"], frame["rcc"], strict=True), start=2
    ):
        code, rcc = raw_code.strip().upper(), raw_rcc.strip()
        if not code:
            problems.append(f"{name} row {row}, column la_code: empty LA code")
            continue
        if code not in england:
            problems.append(
                f"{name} row {row}, column la_code: {england.unknown_code_message(raw_code)}"
            )
            continue
        if not rcc:
            problems.append(f"{name} row {row}, column rcc: RCC name is empty")
        if code in first_row:
            problems.append(
                f"{name} row {row}, column la_code: {code} ({england.by_code(code).name}) is "
                f"already in row {first_row[code]}; each LA belongs to exactly one RCC"
            )
            continue
        first_row[code] = row
        lookup[code] = rcc
    if complete:
        missing = [c for c in england.codes if c not in lookup]
        if missing:
            named = ", ".join(f"{c} ({england.by_code(c).name})" for c in missing)
            problems.append(f"{name}: {len(missing)} LA(s) have no RCC: {named}")
    if problems:
        raise RccLookupError(problems)
    return lookup


def write_lookup(lookup: Mapping[str, str], path: str | Path) -> Path:
    """Write `la_code,rcc`, one LA a line in the order of the embedded LA table."""
    path = Path(path)
    order = {c: i for i, c in enumerate(load_england().codes)}
    rows = sorted(lookup.items(), key=lambda kv: order.get(kv[0], len(order)))
    pd.DataFrame(rows, columns=list(LOOKUP_COLUMNS)).to_csv(path, index=False, lineterminator="\n")
    return path


def check_lookup(
    lookup: Mapping[str, str], *, complete: bool = True, graph: Graph | None = None
) -> LookupCheck:
    """Check every LA is known and (with `complete`) present, and each RCC is contiguous.

    Contiguity uses `graph` (default: land borders, water links and the Scilly link); an RCC
    in several pieces gives a warning naming the detached LAs, not an error.
    """
    england = load_england()
    problems = [england.unknown_code_message(c) for c in lookup if c not in england]
    problems += [f"{c}: RCC name is empty" for c, r in lookup.items() if not str(r).strip()]
    if complete:
        missing = [c for c in england.codes if c not in lookup]
        if missing:
            named = ", ".join(f"{c} ({england.by_code(c).name})" for c in missing)
            problems.append(f"{len(missing)} LA(s) have no RCC: {named}")
    graph = adjacency_graph(england.codes) if graph is None else graph
    members: dict[str, list[str]] = {}
    for code, rcc in lookup.items():
        if code in england:
            members.setdefault(rcc, []).append(code)
    warnings = []
    for rcc, codes in sorted(members.items()):
        parts = components(codes, graph)
        if len(parts) > 1:
            detached = "; ".join(
                ", ".join(f"{c} ({england.by_code(c).name})" for c in part) for part in parts[1:]
            )
            warnings.append(
                f"RCC '{rcc}' is in {len(parts)} pieces: {len(parts[0])} LA(s) joined, detached: "
                f"{detached}"
            )
    return LookupCheck(problems=tuple(problems), warnings=tuple(warnings))


def proposed_lookup() -> dict[str, str]:
    """The proposed 20 RCCs shipped by `optimiser.regions` as `data/rccs_proposed.csv`."""
    resource = resources.files("geodata").joinpath("data/rccs_proposed.csv")
    if not resource.is_file():
        raise FileNotFoundError(
            "the proposed RCCs (geodata/data/rccs_proposed.csv) are not shipped in this build"
        )
    with resources.as_file(resource) as path:
        return read_lookup(path)
