"""Who borders whom: land borders, water links and island links between the 153 LAs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "ISLAND_LINKS",
    "Graph",
    "adjacency_graph",
    "borders_from_boundaries",
    "components",
    "graph_from_boundaries",
    "is_contiguous",
    "land_borders",
    "water_links",
]

Graph = Mapping[str, frozenset[str]]

# Islands with no land border or short water link: joined to the mainland LA that serves them.
ISLAND_LINKS: tuple[tuple[str, str], ...] = (("E06000052", "E06000053"),)  # Cornwall - Scilly


def _read_pairs(filename: str) -> pd.DataFrame:
    with resources.files("geodata").joinpath(f"data/{filename}").open("rb") as fh:
        return pd.read_csv(fh, dtype={"code_a": str, "code_b": str})


@cache
def land_borders() -> pd.DataFrame:
    """The shipped land borders: `code_a, code_b, shared_border_km` (362 pairs)."""
    return _read_pairs("england_utla_adjacency.csv")


@cache
def water_links() -> pd.DataFrame:
    """Pairs separated only by an estuary, tidal river or the Solent: `code_a, code_b, gap_km`."""
    return _read_pairs("england_utla_water_links.csv")


def adjacency_graph(
    codes: Iterable[str] | None = None,
    *,
    water: bool = True,
    islands: bool = True,
    pairs: Iterable[tuple[str, str]] | None = None,
) -> dict[str, frozenset[str]]:
    """Undirected neighbour sets for every LA.

    `pairs` replaces the shipped land borders (e.g. computed from supplied boundaries);
    `water` adds estuary links, `islands` links the Isles of Scilly to Cornwall.
    """
    edges: list[tuple[str, str]] = (
        list(pairs)
        if pairs is not None
        else list(zip(land_borders().code_a, land_borders().code_b, strict=True))
    )
    if water:
        edges += list(zip(water_links().code_a, water_links().code_b, strict=True))
    if islands:
        edges += list(ISLAND_LINKS)
    graph: dict[str, set[str]] = {c: set() for c in (codes if codes is not None else ())}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set()).add(a)
    return {k: frozenset(v) for k, v in graph.items()}


def components(codes: Iterable[str], graph: Graph) -> list[list[str]]:
    """Connected parts of the group `codes` using only edges inside it, largest first."""
    members = set(codes)
    seen: set[str] = set()
    parts: list[list[str]] = []
    for start in sorted(members):
        if start in seen:
            continue
        stack, part = [start], []
        seen.add(start)
        while stack:
            node = stack.pop()
            part.append(node)
            for nxt in graph.get(node, ()):
                if nxt in members and nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        parts.append(sorted(part))
    return sorted(parts, key=lambda p: (-len(p), p))


def is_contiguous(codes: Iterable[str], graph: Graph) -> bool:
    """True when the group is one connected piece over `graph` (an empty group is not)."""
    return len(components(codes, graph)) == 1


def borders_from_boundaries(gdf: gpd.GeoDataFrame, *, min_km: float = 0.0) -> pd.DataFrame:
    """Land borders measured on supplied boundaries: `code_a, code_b, shared_border_km`.

    Rook contiguity: two LAs border when their outlines share a line longer than `min_km`
    (a single touching point does not count). Lengths in British National Grid kilometres;
    candidate pairs come from an STRtree, so only nearby polygons are compared.
    """
    if "code" not in gdf.columns:
        raise ValueError("the boundaries need a 'code' column (use read_boundaries(...).gdf)")
    if gdf.crs is None:
        raise ValueError("the boundaries have no CRS; read them with read_boundaries")
    bng = gdf.to_crs("EPSG:27700")
    geoms = bng.geometry.to_numpy()
    codes = bng["code"].astype(str).to_numpy()
    left, right = bng.sindex.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    outlines = bng.geometry.boundary.to_numpy()
    lengths = np.array(
        [
            outlines[a].intersection(outlines[b]).length / 1000.0
            for a, b in zip(left, right, strict=True)
        ],
        dtype=np.float64,
    )
    rows = [
        (*sorted((codes[a], codes[b])), round(float(km), 3))
        for a, b, km in zip(left, right, lengths, strict=True)
        if km > min_km
    ]
    frame = pd.DataFrame(rows, columns=["code_a", "code_b", "shared_border_km"])
    return frame.sort_values(["code_a", "code_b"]).reset_index(drop=True)


def graph_from_boundaries(
    gdf: gpd.GeoDataFrame, *, water: bool = True, islands: bool = True
) -> dict[str, frozenset[str]]:
    """Neighbour sets from supplied boundaries, plus the shipped water and island links."""
    borders = borders_from_boundaries(gdf)
    return adjacency_graph(
        [str(c) for c in gdf["code"]],
        water=water,
        islands=islands,
        pairs=zip(borders.code_a, borders.code_b, strict=True),
    )
