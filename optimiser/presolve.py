"""Check supply against demand before solving, by RCC and need, with numbers in the message."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from optimiser.problem import NEEDS, Problem

__all__ = ["WHOLE", "Shortfall", "shortfall_table", "supply_shortfalls"]

WHOLE = "all areas"


@dataclass(frozen=True)
class Shortfall:
    """Demand for a need above the places that can meet it without a step-up, in one area."""

    area: str
    need: str
    demand: int
    places: int

    @property
    def gap(self) -> int:
        return self.demand - self.places

    def __str__(self) -> str:
        where = "the whole problem" if self.area == WHOLE else f"RCC {self.area}"
        return (
            f"{self.need} need {self.demand:,} > available {self.need} places {self.places:,} "
            f"in {where}: at least {self.gap:,} children must be placed outside it, stepped up "
            f"or left unplaced"
        )


def supply_shortfalls(problem: Problem) -> list[Shortfall]:
    """Where demand exceeds the places whose settings meet each need at no penalty: per RCC
    (places inside the RCC) and for the whole problem (places anywhere, any allowed setting).

    A necessary condition only: ages, sexes and distance limits can make it worse.
    """
    rcc = problem.rcc_of
    kids = problem.children.assign(rcc=problem.children["home_la"].map(rcc))
    places = problem.placements.assign(rcc=problem.placements["la"].map(rcc))
    demand = kids.groupby(["rcc", "need"]).size()
    supply = places.groupby(["rcc", "setting"])["capacity"].sum()
    found: list[Shortfall] = []
    for need in NEEDS:
        table = problem.policy.substitutions.get(need, {})
        direct = [s for s, penalty in table.items() if penalty == 0]
        for area in sorted(set(kids["rcc"])):
            d = int(demand.get((area, need), 0))
            p = int(sum(supply.get((area, s), 0) for s in direct))
            if d > p:
                found.append(Shortfall(area, need, d, p))
        total = int((kids["need"] == need).sum())
        anywhere = int(places.loc[places["setting"].isin(list(table)), "capacity"].sum())
        if total > anywhere:
            found.append(Shortfall(WHOLE, need, total, anywhere))
    return found


def shortfall_table(shortfalls: list[Shortfall]) -> pd.DataFrame:
    """The shortfalls as a table (area, need, demand, places, gap)."""
    rows = [(s.area, s.need, s.demand, s.places, s.gap) for s in shortfalls]
    return pd.DataFrame(rows, columns=["area", "need", "demand", "places", "gap"])
