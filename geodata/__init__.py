"""geodata: every place in the product (LAs, boundaries, hex map, distances, adjacency, RCCs).

Names are loaded on first use, so `import geodata.england` does not pull in geopandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    # england
    "ATTRIBUTION": "england",
    "LA": "england",
    "England": "england",
    "UnknownLAError": "england",
    "load_england": "england",
    # boundaries
    "BoundaryError": "boundaries",
    "BoundaryMatch": "boundaries",
    "MatchReport": "boundaries",
    "dissolve_rccs": "boundaries",
    "read_boundaries": "boundaries",
    # fetch
    "BoundaryDownloadError": "fetch",
    "OfflineError": "fetch",
    "cached_boundaries": "fetch",
    "fetch_boundaries": "fetch",
    # hexmap
    "hex_centres": "hexmap",
    "hex_polygons": "hexmap",
    "load_layout": "hexmap",
    "neighbour_retention": "hexmap",
    # distance
    "bng_to_latlon": "distance",
    "dfe_miles": "distance",
    "latlon_to_bng": "distance",
    "pair_miles": "distance",
    # adjacency
    "adjacency_graph": "adjacency",
    "borders_from_boundaries": "adjacency",
    "components": "adjacency",
    "graph_from_boundaries": "adjacency",
    "is_contiguous": "adjacency",
    "land_borders": "adjacency",
    "water_links": "adjacency",
    # rcc
    "RccLookupError": "rcc",
    "check_lookup": "rcc",
    "default_lookup": "rcc",
    "preset_groups": "rcc",
    "proposed_lookup": "rcc",
    "read_lookup": "rcc",
    "regions_lookup": "rcc",
    "write_lookup": "rcc",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'geodata' has no attribute {name!r}")
    value = getattr(import_module(f"geodata.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
