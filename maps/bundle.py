"""Build any map kind by name, and write every map of a result folder (CLI and demo)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import folium

from geodata.england import load_england
from maps.flows import DEFAULT_TOP, council_counts, flow_counts, flows_map
from maps.inputs import MapInputError, MapInputs, clean_allocation
from maps.out_of_area import la_counts, out_of_area_counts, out_of_area_map
from maps.rccs import NEEDS, rcc_counts, rcc_map
from maps.style import MapSettings, save_map
from maps.sufficiency import (
    sufficiency_counts,
    sufficiency_map,
    sufficiency_table,
    unplaced_by_rcc,
)
from maps.suppress import Counts, Disclosure

__all__ = [
    "KINDS",
    "build_map",
    "council_disclosures",
    "disclosures",
    "result_counts",
    "write_maps",
]

KINDS = ("out-of-area", "flows", "rccs", "sufficiency", "plan")


def result_counts(inputs: MapInputs, settings: MapSettings, *, top: int = DEFAULT_TOP) -> Counts:
    """The counts every standard map of a result publishes, each as (map, key), with how they
    add up within a map and what one map's counts are on another (an RCC's children are its
    LAs' children; an LA's children on the out-of-area map are its children on the
    sufficiency map): maps "out-of-area", "flows", "rccs", "sufficiency-la", "sufficiency-rcc",
    and each council's flows map ("flows-la", code) for each home LA."""
    geometry = settings.resolved_geometry()
    a, rccs = clean_allocation(inputs.allocation), inputs.rccs
    unplaced = unplaced_by_rcc(a, rccs)
    on_map = {c: r for c, r in rccs.items() if c in geometry.codes}
    parts = {
        "out-of-area": out_of_area_counts(la_counts(a)),
        "flows": flow_counts(a, geometry, la=None, top=top)[0],
        "rccs": rcc_counts(a, inputs.supply, rccs, list(geometry.rcc_outlines(on_map)["rcc"])),
    }
    for level in ("la", "rcc"):
        table = sufficiency_table(a, inputs.supply, rccs, level=level)
        parts[f"sufficiency-{level}"] = sufficiency_counts(table, unplaced, level=level)
    joint = Counts()
    for name, counts in parts.items():
        joint.add(name, counts)
    # each council's flows map: an LA's children taken in, on the national map, are the sum
    # of what each council's map shows placed there
    councils = council_counts(a, geometry, top=top)
    for code, counts in councils.items():
        _add_council(joint, code, counts)
    for code in geometry.polygons["code"]:
        taken = [(("flows-la", h), ("to", code)) for h in councils if h != code]
        joint.adds_up(("flows", ("in", code)), taken)
    members: dict[str, list[str]] = {}
    for code, rcc in rccs.items():
        members.setdefault(rcc, []).append(code)
    for code in set(a["home_la"]):
        joint.same(
            ("out-of-area", (code, "children")), ("sufficiency-la", ("children", code, "all"))
        )
        joint.same(("out-of-area", (code, "out_of_la")), ("flows", ("out", code)))
    for rcc, codes in members.items():
        r, rs = ("rccs", (rcc, "children")), ("sufficiency-rcc", ("children", rcc, "all"))
        joint.same(r, rs)
        joint.adds_up(r, [("out-of-area", (c, "children")) for c in codes])
        # children = inside the RCC + placed outside it + unplaced
        joint.adds_up(
            r,
            [("rccs", (rcc, "inside"))]
            + [("out-of-area", (c, x)) for c in codes for x in ("out_of_rcc", "unplaced")],
        )
        for need in NEEDS:
            joint.same(("rccs", (rcc, need)), ("sufficiency-rcc", ("children", rcc, need)))
        joint.same(("rccs", (rcc, "places")), ("sufficiency-rcc", ("places", rcc, "all")))
        joint.same(("sufficiency-la", ("unplaced", rcc)), ("sufficiency-rcc", ("unplaced", rcc)))
        joint.adds_up(
            ("sufficiency-rcc", ("unplaced", rcc)),
            [("out-of-area", (c, "unplaced")) for c in codes],
        )
        for key in parts["sufficiency-rcc"].values:
            if not (isinstance(key, tuple) and len(key) == 3 and key[1] == rcc):
                continue
            what, _, family = key
            joint.adds_up(
                ("sufficiency-rcc", key), [("sufficiency-la", (what, c, family)) for c in codes]
            )
    return joint


def disclosures(
    inputs: MapInputs, settings: MapSettings, *, la: str | None = None, top: int = DEFAULT_TOP
) -> dict[str, Disclosure]:
    """What every map of a result may show, decided together (`result_counts`: a reader lays
    the maps side by side, so a count hidden on one must not be shown on another, nor follow
    from another's totals), with one council's flows map (`la`, "flows-la"); each map's by
    its own keys."""
    joint = result_counts(inputs, settings, top=top)
    decided = joint.protect(settings.suppression)
    names = ["out-of-area", "flows", "rccs", "sufficiency-la", "sufficiency-rcc"]
    shown = {name: decided.within(name) for name in names}
    if la is not None:
        council = ("flows-la", la)
        if not any(isinstance(k, tuple) and k[0] == council for k in decided.values):
            # no children: its map's counts are all 0, decided around the others
            geometry = settings.resolved_geometry()
            _add_council(joint, la, flow_counts(inputs.allocation, geometry, la=la, top=top)[0])
            decided = joint.protect(settings.suppression, published=decided)
        shown["flows-la"] = decided.within(council)
    return shown


def council_disclosures(
    inputs: MapInputs, settings: MapSettings, *, top: int = DEFAULT_TOP
) -> dict[str, Disclosure]:
    """What each council's flows map may show (each home LA of the result's), by its own keys."""
    decided = result_counts(inputs, settings, top=top).protect(settings.suppression)
    codes = {k[0][1] for k in decided.values if isinstance(k, tuple) and k[0][0] == "flows-la"}
    return {code: decided.within(("flows-la", code)) for code in sorted(codes)}


def _add_council(joint: Counts, code: str, counts: Counts) -> None:
    """One council's flows map among the maps, ("flows-la", code), with its links to them."""
    name = ("flows-la", code)
    joint.add(name, counts)
    for c in ("children", "unplaced", "out"):
        own = "out_of_la" if c == "out" else c
        joint.same((name, (c, code)), ("out-of-area", (code, own)))
    placed = [(name, ("own", code)), ("out-of-area", (code, "out_of_la"))]
    joint.adds_up(("out-of-area", (code, "placed")), placed)
    for key in counts.values:
        if isinstance(key, tuple) and key[0] == "flow":
            joint.same((name, key), ("flows", key))


def build_map(
    kind: str,
    inputs: MapInputs,
    *,
    settings: MapSettings,
    la: str | None = None,
    top: int = DEFAULT_TOP,
    level: Literal["la", "rcc"] = "la",
    shared: dict[str, Disclosure] | None = None,
) -> folium.Map:
    """The map of this kind; `la` (one council's children) applies to flows only. What it
    shows is decided with the result's other maps (`disclosures`, or `shared` when given)."""
    if kind not in KINDS:
        raise ValueError(f"unknown map kind '{kind}'; choose one of {', '.join(KINDS)}")
    if la is not None and kind != "flows":
        raise ValueError("--la (one council's children) applies to --kind flows only")
    if level != "la" and kind not in ("sufficiency", "plan"):
        raise ValueError("--level rcc applies to --kind sufficiency and plan only")
    if kind == "plan" and inputs.plan_actions is None:
        raise MapInputError("a plan map needs plan_actions.csv (written by `rcc plan`)")
    if la is not None:
        la = load_england().check_code(la)
    shared = shared or disclosures(inputs, settings, la=la, top=top)
    if kind == "out-of-area":
        return out_of_area_map(
            inputs.allocation, inputs.rccs, settings=settings, disclosure=shared["out-of-area"]
        )
    if kind == "flows":
        return flows_map(
            inputs.allocation,
            inputs.rccs,
            settings=settings,
            la=la,
            top=top,
            disclosure=shared["flows-la" if la else "flows"],
        )
    if kind == "rccs":
        return rcc_map(
            inputs.allocation,
            inputs.supply,
            inputs.rccs,
            settings=settings,
            disclosure=shared["rccs"],
        )
    return sufficiency_map(
        inputs.allocation,
        inputs.supply,
        inputs.rccs,
        settings=settings,
        level=level,
        plan_actions=inputs.plan_actions if kind == "plan" else None,
        disclosure=shared[f"sufficiency-{level}"],
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
    shared = disclosures(inputs, settings)
    for kind in KINDS:
        if kind == "plan" and inputs.plan_actions is None:
            continue
        m = build_map(kind, inputs, settings=settings, shared=shared)
        written[kind] = save_map(m, out / f"map-{kind}.html", self_contained=self_contained)
    return written
