"""RCC lookups: which Regional Care Cooperative each LA belongs to, and the named presets."""

from __future__ import annotations

from geodata.england import load_england

__all__ = [
    "GREATER_MANCHESTER",
    "PRESETS",
    "SOUTH_EAST_REGION",
    "default_lookup",
    "preset_groups",
    "regions_lookup",
]

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
    lookup.update(
        {c: "North West: rest of region" for c, r in lookup.items() if r == "North West"}
    )
    return lookup
