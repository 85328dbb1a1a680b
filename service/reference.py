"""Reference data the service loads once: the 153 LAs, RCC lookup presets, map geometry."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from geodata import rcc
from geodata.england import load_england
from maps.geometry import MapGeometry

__all__ = ["Reference", "load_reference"]


@dataclass(frozen=True)
class Reference:
    las: list[dict[str, Any]]
    codes: frozenset[str]
    presets: dict[str, dict[str, str]]
    pathfinders: dict[str, list[str]]
    geometry: MapGeometry


def load_reference() -> Reference:
    """LA table, the lookups a scenario may name, the pathfinders and the hex geometry."""
    frame = load_england().frame()
    las = [
        {
            "code": r.code,
            "name": r.name,
            "region_code": r.region_code,
            "region_name": r.region_name,
            "lat": float(r.lat),
            "lon": float(r.lon),
        }
        for r in frame.itertuples()
    ]
    presets = {"default": rcc.default_lookup(), "regions": rcc.regions_lookup()}
    with contextlib.suppress(FileNotFoundError):
        presets["proposed"] = rcc.proposed_lookup()
    pathfinders = {}
    for name in rcc.PRESETS:
        label, members = rcc.preset_groups(name)
        pathfinders[label] = list(members)
    return Reference(
        las=las,
        codes=frozenset(frame["code"]),
        presets=presets,
        pathfinders=pathfinders,
        geometry=MapGeometry.hex(),
    )
