"""Build any map kind by name, and write every map of a result folder (CLI and demo)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import folium

from maps.flows import DEFAULT_TOP, flows_map
from maps.inputs import MapInputError, MapInputs
from maps.out_of_area import out_of_area_map
from maps.rccs import rcc_map
from maps.style import MapSettings, save_map
from maps.sufficiency import plan_map, sufficiency_map

__all__ = ["KINDS", "build_map", "write_maps"]

KINDS = ("out-of-area", "flows", "rccs", "sufficiency", "plan")


def build_map(
    kind: str,
    inputs: MapInputs,
    *,
    settings: MapSettings,
    la: str | None = None,
    top: int = DEFAULT_TOP,
    level: Literal["la", "rcc"] = "la",
) -> folium.Map:
    """The map of this kind; `la` (one council's children) applies to flows only."""
    if kind not in KINDS:
        raise ValueError(f"unknown map kind '{kind}'; choose one of {', '.join(KINDS)}")
    if la is not None and kind != "flows":
        raise ValueError("--la (one council's children) applies to --kind flows only")
    if kind == "out-of-area":
        return out_of_area_map(inputs.allocation, inputs.rccs, settings=settings)
    if kind == "flows":
        return flows_map(inputs.allocation, inputs.rccs, settings=settings, la=la, top=top)
    if kind == "rccs":
        return rcc_map(inputs.allocation, inputs.supply, inputs.rccs, settings=settings)
    if kind == "sufficiency":
        return sufficiency_map(
            inputs.allocation, inputs.supply, inputs.rccs, settings=settings, level=level
        )
    if inputs.plan_actions is None:
        raise MapInputError("a plan map needs plan_actions.csv (written by `rcc plan`)")
    return plan_map(
        inputs.allocation,
        inputs.supply,
        inputs.rccs,
        inputs.plan_actions,
        settings=settings,
        level=level,
    )


def write_maps(
    inputs: MapInputs,
    folder: str | Path,
    *,
    settings: MapSettings,
    self_contained: bool = True,
) -> dict[str, Path]:
    """Write every map the inputs allow (plan only with plan actions) as
    `folder/map-<kind>.html`; returns kind -> path."""
    out = Path(folder)
    written: dict[str, Path] = {}
    for kind in KINDS:
        if kind == "plan" and inputs.plan_actions is None:
            continue
        m = build_map(kind, inputs, settings=settings)
        written[kind] = save_map(m, out / f"map-{kind}.html", self_contained=self_contained)
    return written
