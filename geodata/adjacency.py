"""Who borders whom: land borders, water links and island links between the 153 LAs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources

import pandas as pd

__all__ = [
    "ISLAND_LINKS",
    "Graph",
    "adjacency_graph",
    "components",
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
    graph: dict[str, set[str]] = {c: set() for c in (codes or [])}
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
