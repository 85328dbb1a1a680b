"""Every default cost, size, lead time and budget of the sufficiency plan, each with its source.

This is the ONE place plan defaults live. Each figure says where it comes from; a figure marked
ASSUMPTION is a planning judgement a commissioner should replace with local numbers (every field
can be overridden through `PlanCosts`/`ActionCosts` or a scenario file).

Money is GBP at 2024 prices, undiscounted. "Capital" means one-off spend counted against the
plan's capital budget (for foster carers that is the recruitment and assessment cost, which is
revenue in council accounts but one-off in the plan). "Weekly running" is paid for every place
the action creates, used or not, from the year it opens to the end of the horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "ACTIONS",
    "CARE_REVIEW_BASE_CLA",
    "CARE_REVIEW_BASE_YEAR",
    "CARE_REVIEW_TARGET_CLA",
    "CARE_REVIEW_TARGET_YEAR",
    "DEFAULT_CAPITAL_BUDGET",
    "DEFAULT_YEARS",
    "MAX_YEARS",
    "SOURCES",
    "ActionCosts",
    "PlanCosts",
    "default_actions",
    "parse_money",
]

# --------------------------------------------------------------------------- horizon and budget

DEFAULT_YEARS = 5
"""Issue 6: a five-year sufficiency horizon."""

MAX_YEARS = 10
"""The longest horizon planned. Sufficiency strategies look 3-5 years ahead, and demand beyond
ten years is speculation rather than a forecast (the Care Review's trajectory ends in 2032); the
model grows with every year (the scenario API has the same limit), and at 100 years it ran out
of memory."""

DEFAULT_CAPITAL_BUDGET = 50_000_000.0
"""Issue 6 (`--capital-budget 50m`). ASSUMPTION as a national figure: about £0.3m per LA."""

# --------------------------------------------------------------------------- growth trajectory

CARE_REVIEW_BASE_YEAR = 2024
CARE_REVIEW_BASE_CLA = 83_630
"""DfE, Children looked after in England including adoptions, 31 March 2024 (DESIGN.md §6)."""
CARE_REVIEW_TARGET_YEAR = 2032
CARE_REVIEW_TARGET_CLA = 100_000
"""Independent Review of Children's Social Care (2022): about 100,000 CLA by 2032 without reform."""


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class ActionCosts:
    """One kind of new capacity: what a unit is, what it costs, how soon it opens.

    A decision in year t adds `units` (homes, households or bed blocks) with `places` places,
    min_places_per_unit x units <= places <= max_places_per_unit x units, costing
    capital_per_unit x units + capital_per_place x places once (in year t), and
    weekly_running_per_place x places every week from year t + lead_years on.
    """

    action: str
    setting: str
    capital_per_unit: float
    capital_per_place: float
    weekly_running_per_place: float
    min_places_per_unit: float
    max_places_per_unit: float
    lead_years: int
    max_units_per_la_year: int
    min_age: int
    max_age: int
    unit_name: str

    def __post_init__(self) -> None:
        if self.lead_years < 0:
            raise ValueError(f"{self.action}: lead_years must be >= 0, got {self.lead_years}")
        if not 0 < self.min_places_per_unit <= self.max_places_per_unit:
            raise ValueError(
                f"{self.action}: need 0 < min_places_per_unit <= max_places_per_unit, got "
                f"{self.min_places_per_unit} and {self.max_places_per_unit}"
            )
        for name in ("capital_per_unit", "capital_per_place", "weekly_running_per_place"):
            if getattr(self, name) < 0:
                raise ValueError(f"{self.action}: {name} must be >= 0")
        if self.max_units_per_la_year < 0:
            raise ValueError(f"{self.action}: max_units_per_la_year must be >= 0")


def default_actions() -> dict[str, ActionCosts]:
    """The three kinds of new capacity an RCC can create, with their default costs."""
    return {
        "open_home": ActionCosts(
            action="open_home",
            setting="residential_la",
            capital_per_unit=200_000.0,  # ASSUMPTION: purchase deposit, fees, registration
            capital_per_place=200_000.0,  # ASSUMPTION: a 4-place home about £1.0m in all
            weekly_running_per_place=5_000.0,  # DESIGN.md §6: LA children's home ~£5,000/week
            min_places_per_unit=2,  # issue 6: typical RCC homes have 2-4 places
            max_places_per_unit=4,
            lead_years=1,  # ASSUMPTION: buy, adapt and register with Ofsted in 12-18 months
            max_units_per_la_year=2,  # ASSUMPTION: what one LA can open in a year
            min_age=8,  # ASSUMPTION: children's homes rarely take children under 8
            max_age=17,
            unit_name="homes",
        ),
        "recruit_foster": ActionCosts(
            action="recruit_foster",
            setting="foster_inhouse",
            capital_per_unit=12_000.0,  # ASSUMPTION: marketing, assessment, panel, training
            capital_per_place=0.0,
            weekly_running_per_place=600.0,  # DESIGN.md §6: in-house fostering ~£600/week
            min_places_per_unit=1,
            # Ofsted fostering data 2023: ~43,000 households for ~57,000 fostered children
            # (DESIGN.md §6), about 1.3 children a household; 1.5 allows some sibling places.
            max_places_per_unit=1.5,
            lead_years=1,  # ASSUMPTION: assessment takes 6-8 months, places from next year
            # Care Review (2022): 9,000 more foster carers over 3 years = ~20 per LA per year.
            max_units_per_la_year=20,
            min_age=0,
            max_age=17,
            unit_name="households",
        ),
        "secure_beds": ActionCosts(
            action="secure_beds",
            setting="secure",
            capital_per_unit=0.0,
            capital_per_place=1_250_000.0,  # ASSUMPTION: new-build secure home ~£1.25m a bed
            weekly_running_per_place=8_000.0,  # DESIGN.md §6: secure bed ~£8,000 (assumption)
            min_places_per_unit=4,  # ASSUMPTION: beds added in blocks of 4 (one unit)
            max_places_per_unit=4,
            lead_years=2,  # ASSUMPTION: design, build and register take about two years
            max_units_per_la_year=1,
            min_age=10,  # secure welfare orders are for children aged 10 and over in practice
            max_age=17,
            unit_name="blocks",
        ),
    }


ACTIONS: tuple[str, ...] = ("open_home", "recruit_foster", "secure_beds")


@dataclass(frozen=True)
class PlanCosts:
    """All the plan's cost and budget settings, defaults from this module.

    - `capital_budget`: total one-off spend over the horizon (None: unlimited);
    - `capital_per_year`: limit on one-off spend in any single year (None: none);
    - `rcc_capital_budget`: total one-off spend limit per RCC (absent RCCs: no own limit);
    - `actions`: the kinds of new capacity allowed (drop a key to forbid that action).
    """

    capital_budget: float | None = DEFAULT_CAPITAL_BUDGET
    capital_per_year: float | None = None
    rcc_capital_budget: dict[str, float] = field(default_factory=dict)
    actions: dict[str, ActionCosts] = field(default_factory=default_actions)

    def with_action(self, action: str, **changes: Any) -> PlanCosts:
        """A copy with some fields of one action changed (e.g. `lead_years=2`)."""
        if action not in self.actions:
            raise ValueError(f"unknown action '{action}'; known: {sorted(self.actions)}")
        actions = dict(self.actions)
        actions[action] = replace(actions[action], **changes)
        return replace(self, actions=actions)

    def to_json(self) -> dict[str, Any]:
        """The settings as plain JSON-able data (for plan_summary.json)."""
        return {
            "capital_budget": self.capital_budget,
            "capital_per_year": self.capital_per_year,
            "rcc_capital_budget": dict(self.rcc_capital_budget),
            "actions": {k: a.__dict__.copy() for k, a in self.actions.items()},
        }


SOURCES: dict[str, str] = {
    "DESIGN.md §6": "Facts compiled for this project from DfE CLA 2024, Ofsted 2023, CMA 2022, "
    "CCN 2024 and LGA 2023 (see ../shared/DESIGN.md and ../shared/data/SOURCES.md).",
    "Care Review": "The Independent Review of Children's Social Care, final report (May 2022).",
    "ASSUMPTION": "A planning judgement made for this product; replace it with local figures.",
}


def parse_money(text: str | float | None) -> float | None:
    """An amount in GBP from `50m`, `£1.2bn`, `500k`, `50000000`; `none` (or None) is no limit."""
    if text is None or isinstance(text, int | float):
        return None if text is None else float(text)
    key = text.strip().lower().replace("£", "").replace(",", "").replace("_", "")
    if key == "":
        raise ValueError("an empty amount: give e.g. 50m, 1.2bn or 500k, or none for no limit")
    if key == "none":
        return None
    scale = 1.0
    for suffix, factor in (("bn", 1e9), ("b", 1e9), ("m", 1e6), ("k", 1e3)):
        if key.endswith(suffix):
            key, scale = key[: -len(suffix)], factor
            break
    try:
        value = float(key) * scale
    except ValueError:
        raise ValueError(f"'{text}' is not an amount: use e.g. 50m, 1.2bn, 500k or none") from None
    if value < 0 or value != value:
        raise ValueError(f"'{text}' must be an amount >= 0")
    if value == math.inf:  # '1e400' read as no limit at all
        raise ValueError(f"'{text}' is too large an amount: give none for no limit")
    return value
