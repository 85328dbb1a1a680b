"""Check supply against demand before solving, by RCC and need, with numbers in the message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

import pandas as pd

from optimiser.problem import NEEDS, SETTINGS, Problem

__all__ = ["WHOLE", "Shortfall", "shortfall_table", "supply_shortfalls"]

WHOLE = "all areas"


@dataclass(frozen=True)
class Shortfall:
    """Demand for a need, or for several needs together, above the places that can take them,
    in one area: in an RCC, the places there whose settings meet the needs without a step-up;
    in the whole problem (`WHOLE`), the places anywhere in any setting the needs may use."""

    area: str
    needs: tuple[str, ...]
    demand: int
    places: int
    settings: tuple[str, ...]

    @property
    def need(self) -> str:
        """The need, or the needs together ("foster and supported")."""
        if len(self.needs) == 1:
            return self.needs[0]
        return ", ".join(self.needs[:-1]) + " and " + self.needs[-1]

    @property
    def gap(self) -> int:
        return self.demand - self.places

    def __str__(self) -> str:
        them = "them" if len(self.needs) > 1 else "it"
        together = " together" if len(self.needs) > 1 else ""
        if self.area == WHOLE:
            where = "the whole problem"
            outcome = "cannot be placed anywhere in the problem and will be unplaced"
        else:
            where = f"RCC {self.area}"
            outcome = "must be placed outside it, stepped up or left unplaced"
        if self.area != WHOLE and len(self.needs) == 1:
            offer = f"available {self.need} places {self.places:,}"
        else:
            offer = f"{self.places:,} places that can take {them} ({', '.join(self.settings)})"
        return (
            f"{self.need} need{together} {self.demand:,} > {offer} in {where}: "
            f"at least {_children(self.gap)} {outcome}"
        )


def _children(n: int) -> str:
    return f"{n:,} child" if n == 1 else f"{n:,} children"


def supply_shortfalls(problem: Problem) -> list[Shortfall]:
    """Where demand exceeds the places that can take it: per RCC (places inside the RCC in
    settings that meet the need at no penalty) and for the whole problem (places anywhere, any
    allowed setting). First each need alone; then the needs that share settings and fall short
    together beyond what each alone shows (foster and supported children competing for the same
    foster places).

    Together, the check is exact in the aggregate (Hall's condition: in each area, every group of
    needs has no more children than the places any of them may use); a necessary condition only,
    as ages, sexes and distance limits can make it worse.
    """
    rcc = problem.rcc_of
    kids = problem.children.assign(rcc=problem.children["home_la"].map(rcc))
    places = problem.placements.assign(rcc=problem.placements["la"].map(rcc))
    table = problem.policy.substitutions
    direct = {n: {s for s, penalty in table.get(n, {}).items() if penalty == 0} for n in NEEDS}
    allowed = {n: set(table.get(n, {})) for n in NEEDS}
    areas = {
        area: (_counts(kids.loc[kids["rcc"] == area, "need"]), _capacity(places, area))
        for area in sorted(set(kids["rcc"]))
    }
    whole = (_counts(kids["need"]), _capacity(places, None))
    found: list[Shortfall] = []
    for need in NEEDS:
        for area, (demand, supply) in areas.items():
            found += _short(area, [(need,)], demand, supply, direct)
        found += _short(WHOLE, [(need,)], *whole, allowed)
    for area, (demand, supply) in areas.items():
        found += _short(
            area, _groups_short_together(demand, supply, direct), demand, supply, direct
        )
    found += _short(WHOLE, _groups_short_together(*whole, allowed), *whole, allowed)
    return found


def _counts(needs: pd.Series) -> dict[str, int]:
    return {str(n): int(k) for n, k in needs.value_counts().items()}


def _capacity(places: pd.DataFrame, area: str | None) -> dict[str, int]:
    """Places by setting in one RCC (all of them for None)."""
    inside = places if area is None else places[places["rcc"] == area]
    return {str(s): int(k) for s, k in inside.groupby("setting")["capacity"].sum().items()}


def _tally(
    group: tuple[str, ...],
    demand: Mapping[str, int],
    supply: Mapping[str, int],
    may_use: Mapping[str, set[str]],
    area: str = "",
) -> Shortfall:
    """The group's children against the places in settings any of its needs may use, in
    `area` (a shortfall when its gap is above 0)."""
    settings = tuple(s for s in SETTINGS if any(s in may_use[n] for n in group))
    d = sum(demand.get(n, 0) for n in group)
    p = sum(supply.get(s, 0) for s in settings)
    return Shortfall(area, group, d, p, settings)


def _short(
    area: str,
    groups: list[tuple[str, ...]],
    demand: Mapping[str, int],
    supply: Mapping[str, int],
    may_use: Mapping[str, set[str]],
) -> list[Shortfall]:
    """A shortfall for each group of needs whose children outnumber the places they may use."""
    tallies = (_tally(group, demand, supply, may_use, area) for group in groups)
    return [t for t in tallies if t.gap > 0]


def _groups_short_together(
    demand: Mapping[str, int], supply: Mapping[str, int], may_use: Mapping[str, set[str]]
) -> list[tuple[str, ...]]:
    """The groups of two or more needs that fall short by more than any split of them into two
    parts does (each part's shortfall counted, a surplus as none), and of those only the largest:
    a group that adds a need with settings of its own, or a surplus, says nothing new.

    Needs are few (four), so every group is tried.
    """
    present = [n for n in NEEDS if demand.get(n, 0) > 0]
    groups = [g for k in range(1, len(present) + 1) for g in combinations(present, k)]
    excess = {frozenset(g): _tally(g, demand, supply, may_use).gap for g in groups}

    def new(group: frozenset[str]) -> bool:
        parts = [frozenset(p) for k in range(1, len(group)) for p in combinations(group, k)]
        split = (max(excess[p], 0) + max(excess[group - p], 0) for p in parts)
        return excess[group] > 0 and all(excess[group] > s for s in split)

    short = [g for g in groups if len(g) > 1 and new(frozenset(g))]
    return [g for g in short if not any(set(g) < set(h) for h in short)]


def shortfall_table(shortfalls: list[Shortfall]) -> pd.DataFrame:
    """The shortfalls as a table (area, need, demand, places, gap); several needs short together
    are one row, their need "foster and supported"."""
    rows = [(s.area, s.need, s.demand, s.places, s.gap) for s in shortfalls]
    return pd.DataFrame(rows, columns=["area", "need", "demand", "places", "gap"])
