"""Request and response bodies of the HTTP API, with the examples shown in the OpenAPI page."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from optimiser.costs import MAX_YEARS

__all__ = [
    "DatasetIn",
    "DatasetOut",
    "ErrorOut",
    "IssueOut",
    "PlanSpec",
    "RccSpec",
    "ScenarioIn",
    "ScenarioOut",
    "SyntheticSpec",
]


class IssueOut(BaseModel):
    """One input problem: file, spreadsheet row (header is row 1), column, message."""

    file: str
    row: int | None
    column: str | None
    message: str


class ErrorOut(BaseModel):
    detail: str
    issues: list[IssueOut] = Field(default_factory=list)


class SyntheticSpec(BaseModel):
    """A calibrated synthetic England (`rcc synth`): scale 1 is about 84,000 children."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(1, ge=0, le=2**31 - 1)
    scale: float = Field(1.0, gt=0, le=2.0)
    sibling_groups: bool = True


class DatasetIn(BaseModel):
    """A dataset as JSON: either `synthetic` alone, or the rows of children.csv and
    placements.csv with an RCC lookup (LA code -> RCC name) and optional policy."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"synthetic": {"seed": 1, "scale": 0.05}},
                {
                    "children": [
                        {
                            "child_id": "C1",
                            "home_la": "E08000003",
                            "need": "foster",
                            "age": 9,
                            "sex": "F",
                        }
                    ],
                    "placements": [
                        {
                            "placement_id": "P1",
                            "setting": "foster_inhouse",
                            "la": "E08000003",
                            "capacity": 1,
                            "weekly_cost": 600,
                            "min_age": 0,
                            "max_age": 17,
                            "sexes": "any",
                        }
                    ],
                    "rccs": {"E08000003": "North West: Greater Manchester"},
                },
            ]
        },
    )

    synthetic: SyntheticSpec | None = None
    # strict: true is not the age 1, nor "1" the number (nothing is coerced)
    children: list[dict[str, StrictStr | StrictInt | StrictFloat | None]] | None = None
    placements: list[dict[str, StrictStr | StrictInt | StrictFloat | None]] | None = None
    rccs: dict[str, str] | None = None
    policy: dict[str, Any] | None = None


class DatasetOut(BaseModel):
    id: str
    created_at: float
    source: dict[str, Any]
    # null for council keys: exact counts, some small (they read the suppressed indicators)
    children: int | None
    placements: int | None
    places: int | None
    las: int
    rccs: int
    warnings: list[str] = Field(
        default_factory=list,
        description="The dataset's RCCs in several pieces, naming the detached LAs (allowed)",
    )
    links: dict[str, str]


class RccSpec(BaseModel):
    """Which RCC lookup to solve with: the dataset's own, a preset, or an uploaded mapping."""

    model_config = ConfigDict(extra="forbid")

    preset: Literal["dataset", "default", "regions", "proposed"] = "dataset"
    lookup: dict[str, str] | None = Field(
        None, description="LA code -> RCC name for every LA of the dataset (overrides preset)"
    )


class PlanSpec(BaseModel):
    """A sufficiency plan after the allocation (`rcc plan`): forecast demand and choose new
    homes, foster carers and secure beds within a capital budget."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    years: int = Field(5, ge=1, le=MAX_YEARS, description="Horizon in years")
    growth: str | float = Field(
        "care-review", description="flat, care-review, or an annual rate (0.02 or '2%')"
    )
    capital_budget: str = Field("50m", max_length=20, description="e.g. 50m, 1.2bn, none")
    time_limit: float | None = Field(
        None, gt=0, description="Seconds for the whole plan (capped by server)"
    )


class ScenarioIn(BaseModel):
    """A scenario: only `dataset_id` is required; the rest default as in `rcc solve`."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,  # 1e400 is no time limit, nor a growth rate
        json_schema_extra={
            "examples": [
                {"dataset_id": "ds_0123456789abcdef"},
                {
                    "dataset_id": "ds_0123456789abcdef",
                    "name": "Four more LA homes in Manchester",
                    "rccs": {"preset": "default"},
                    "policy": {"out_of_la": 500, "distance_per_mile": 15},
                    "changes": {
                        "add_capacity": [
                            {
                                "la_code": "E08000003",
                                "setting": "residential_la",
                                "places": 4,
                                "weekly_cost": 5000,
                            }
                        ],
                        "prices": [{"setting": "residential_private", "factor": 1.1}],
                    },
                    "time_limit": 30,
                },
            ]
        },
    )

    dataset_id: str = Field(..., min_length=1, max_length=40)
    name: str | None = Field(None, max_length=200)
    rccs: RccSpec | None = None
    policy: dict[str, Any] | None = Field(None, description="Policy keys as in policy.json")
    changes: dict[str, Any] | None = Field(
        None,
        description="scenario.json changes: add_capacity, remove_capacity, prices, weights, rccs",
    )
    time_limit: float | None = Field(None, gt=0, description="Solver seconds (capped by server)")
    baseline: bool = Field(True, description="Also simulate today's practice for comparison")
    plan: PlanSpec | None = Field(None, description="Also solve a sufficiency plan")


class ScenarioOut(BaseModel):
    id: str
    name: str
    dataset_id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: str
    reason: str | None
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    summary: dict[str, Any] | None
    links: dict[str, str]
