"""The offline hex layout: assign the 153 LAs to hexagon cells with OR-Tools, keeping neighbours.

Three steps, each deterministic:
1. spread the LA points (British National Grid) until no two are closer than one cell while
   neighbours (land borders, water and island links) stay one cell apart along their real
   bearing (London's 33 boroughs need room; Kent must stay east of it);
2. assign LAs to cells optimally (OR-Tools min-cost flow: minimise the summed squared distance
   from each spread point to its cell, each cell used at most once);
3. improve neighbour retention by seeded simulated annealing then a greedy pass over moves and
   swaps near each LA's point, maximising: touching land-border pairs - weight x squared
   displacement (the optimal assignment alone keeps about half of the border pairs touching).

Regenerate the shipped file with `python -m optimiser.hexlayout` (writes
geodata/data/hex_layout.csv).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from geodata.adjacency import ISLAND_LINKS, land_borders, water_links
from geodata.england import load_england
from geodata.hexmap import cell_xy, neighbour_retention, validate_layout

__all__ = [
    "HexLayoutResult",
    "assign_cells",
    "candidate_cells",
    "compute_layout",
    "direction_kept",
    "improve_neighbours",
    "spread_points",
    "write_layout",
]

_COST_SCALE = 1000  # squared cell units -> integer costs for the min-cost flow


@dataclass(frozen=True)
class HexLayoutResult:
    """A computed layout (`code, col, row`) with how well it keeps land-border neighbours."""

    layout: pd.DataFrame
    retention: float
    retention_assignment: float
    direction_kept: float
    pairs: int
    mean_offset_cells: float
    max_offset_cells: float
    spacing_km: float
    wall_seconds: float

    def summary(self) -> str:
        return (
            f"hex layout: {len(self.layout)} LAs; land-border pairs touching "
            f"{self.retention:.1%} of {self.pairs} (optimal assignment alone "
            f"{self.retention_assignment:.1%}); {self.direction_kept:.1%} drawn within 60 degrees "
            f"of their real bearing; cell {self.spacing_km:.1f} km; mean offset "
            f"{self.mean_offset_cells:.2f} cells (max {self.max_offset_cells:.2f}); "
            f"{self.wall_seconds:.2f} s"
        )


def _land_pairs(codes: list[str]) -> NDArray[np.int64]:
    index = {c: i for i, c in enumerate(codes)}
    borders = land_borders()
    return np.array(
        [(index[a], index[b]) for a, b in zip(borders.code_a, borders.code_b, strict=True)],
        dtype=np.int64,
    )


def _all_links(codes: list[str]) -> NDArray[np.int64]:
    """Land borders plus water and island links: what the spread keeps together."""
    index = {c: i for i, c in enumerate(codes)}
    water = water_links()
    extra = [(index[a], index[b]) for a, b in zip(water.code_a, water.code_b, strict=True)]
    extra += [(index[a], index[b]) for a, b in ISLAND_LINKS]
    return np.vstack([_land_pairs(codes), np.array(extra, dtype=np.int64)])


def direction_kept(layout: pd.DataFrame, *, threshold_degrees: float = 60.0) -> float:
    """Share of land-border pairs whose hexagons lie within `threshold_degrees` of the real
    bearing between the two LAs' points (a check that the map still looks like England)."""
    england = load_england()
    codes = list(england.codes)
    order = layout.set_index("code").loc[codes]
    x, y = cell_xy(order["col"], order["row"])
    hexes = np.column_stack([x, y])
    points = np.array([(la.easting, la.northing) for la in england.las], dtype=np.float64)
    pairs = _land_pairs(codes)
    real = points[pairs[:, 1]] - points[pairs[:, 0]]
    drawn = hexes[pairs[:, 1]] - hexes[pairs[:, 0]]
    cos = (real * drawn).sum(axis=1) / np.hypot(*real.T) / np.hypot(*drawn.T)
    return float((cos > np.cos(np.deg2rad(threshold_degrees))).mean())


def spread_points(
    points: NDArray[np.float64],
    pairs: NDArray[np.int64],
    *,
    spacing: float,
    iterations: int = 400,
    attraction: float = 0.3,
) -> NDArray[np.float64]:
    """Push points apart to at least `spacing`; pull each linked pair to `spacing` apart along
    its original bearing (so London grows outwards without turning its neighbours around).

    Each iteration moves every point by a quarter of its summed overlaps with the others and
    by `attraction` x a quarter of each link's offset from `spacing` x (original unit bearing).
    """
    pos = np.array(points, dtype=np.float64, copy=True)
    a, b = pairs[:, 0], pairs[:, 1]
    original = pos[b] - pos[a]
    bearing = original / np.hypot(original[:, 0], original[:, 1])[:, None]
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.hypot(delta[..., 0], delta[..., 1])
        np.fill_diagonal(dist, np.inf)
        overlap = np.clip(spacing - dist, 0.0, None)
        move = 0.25 * (delta * (overlap / dist)[..., None]).sum(axis=1)
        pull = (pos[b] - pos[a] - spacing * bearing) * (attraction / 4.0)
        np.add.at(move, a, pull)
        np.add.at(move, b, -pull)
        pos += move
    return pos


def candidate_cells(
    points: NDArray[np.float64], *, radius: float = 3.0
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Odd-r cells (col, row) with centres within `radius` of a point (cell units, origin 0)."""
    lo = np.floor(points.min(axis=0) - radius - 1).astype(int)
    hi = np.ceil(points.max(axis=0) + radius + 1).astype(int)
    rows = np.arange(int(lo[1] / (np.sqrt(3) / 2)) - 1, int(hi[1] / (np.sqrt(3) / 2)) + 2)
    cols = np.arange(lo[0] - 1, hi[0] + 2)
    grid = np.array([(c, r) for r in rows for c in cols], dtype=np.int64)
    x, y = cell_xy(grid[:, 0], grid[:, 1])
    centres = np.column_stack([x, y])
    d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    keep = (d2 <= radius**2).any(axis=0)
    return grid[keep], centres[keep]


def assign_cells(
    points: NDArray[np.float64], centres: NDArray[np.float64], *, radius: float = 3.0
) -> NDArray[np.int64]:
    """Optimal assignment (OR-Tools min-cost flow) of points to distinct cells within `radius`.

    Minimises sum_i |point_i - centre_cell(i)|^2 with each cell used at most once.
    Returns the cell index of each point.
    """
    n, m = len(points), len(centres)
    d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    la, cell = np.nonzero(d2 <= radius**2)
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        la, n + cell, np.ones(len(la), dtype=np.int64), np.round(d2[la, cell] * _COST_SCALE)
    )
    sink = n + m
    flow.add_arcs_with_capacity_and_unit_cost(
        n + np.arange(m), np.full(m, sink), np.ones(m, dtype=np.int64), np.zeros(m, dtype=np.int64)
    )
    flow.set_nodes_supplies(np.arange(n), np.ones(n, dtype=np.int64))
    flow.set_node_supply(sink, -n)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"hex cell assignment failed ({status}); widen the radius")
    used = flow.flows(arcs) > 0
    out = np.full(n, -1, dtype=np.int64)
    out[la[used]] = cell[used]
    return out


class _Neighbourhood:
    """Cells, LAs and the score of one LA in one cell, shared by the two local searches."""

    def __init__(
        self,
        assignment: NDArray[np.int64],
        points: NDArray[np.float64],
        centres: NDArray[np.float64],
        pairs: NDArray[np.int64],
        *,
        radius: float,
        weight: float,
    ) -> None:
        n = len(points)
        self.n, self.radius2, self.weight = n, radius**2, weight
        self.pos = assignment.copy()
        self.adjacent = _adjacency(centres)
        self.d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
        self.near = [np.nonzero(self.d2[i] <= self.radius2)[0] for i in range(n)]
        self.neighbours: list[list[int]] = [[] for _ in range(n)]
        for a, b in pairs:
            self.neighbours[a].append(int(b))
            self.neighbours[b].append(int(a))
        self.occupant = np.full(len(centres), -1, dtype=np.int64)
        self.occupant[self.pos] = np.arange(n)

    def local(self, i: int, cell: int) -> float:
        """Touching neighbours of LA i if it sat in `cell`, minus its displacement penalty."""
        touching = sum(bool(self.adjacent[cell, self.pos[j]]) for j in self.neighbours[i])
        return touching - self.weight * float(self.d2[i, cell])

    def gain(self, i: int, cell: int) -> float | None:
        """Score change of moving LA i to `cell` (swapping with its occupant); None if barred."""
        here = int(self.pos[i])
        j = int(self.occupant[cell])
        if cell == here or (j >= 0 and self.d2[j, here] > self.radius2):
            return None
        before = self.local(i, here) + (self.local(j, cell) if j >= 0 else 0.0)
        self.pos[i] = cell
        if j >= 0:
            self.pos[j] = here
        after = self.local(i, cell) + (self.local(j, here) if j >= 0 else 0.0)
        self.pos[i] = here
        if j >= 0:
            self.pos[j] = cell
        return after - before

    def apply(self, i: int, cell: int) -> None:
        here = int(self.pos[i])
        j = int(self.occupant[cell])
        self.pos[i], self.occupant[cell], self.occupant[here] = cell, i, j
        if j >= 0:
            self.pos[j] = here


def _adjacency(centres: NDArray[np.float64]) -> NDArray[np.bool_]:
    dist = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    return np.asarray(np.abs(dist - 1.0) < 1e-9)


def improve_neighbours(
    assignment: NDArray[np.int64],
    points: NDArray[np.float64],
    centres: NDArray[np.float64],
    pairs: NDArray[np.int64],
    *,
    radius: float = 2.0,
    weight: float = 0.1,
    steps: int = 400_000,
    seed: int = 1,
    max_passes: int = 50,
) -> NDArray[np.int64]:
    """Raise the number of touching border pairs by moving LAs to free cells or swapping them.

    score = touching land-border pairs - weight x sum_i |point_i - centre_cell(i)|^2, each LA kept
    within `radius` cells of its spread point. First simulated annealing (`steps` seeded random
    moves, temperature 1 -> 0.02, so the result is reproducible), then a greedy pass over the LAs
    in a fixed order until no single move or swap improves the score.
    """
    hood = _Neighbourhood(assignment, points, centres, pairs, radius=radius, weight=weight)
    rng = np.random.default_rng(seed)
    movers = rng.integers(0, hood.n, steps)
    picks = rng.random(steps)
    accept = rng.random(steps)
    temperature = 1.0 * (0.02 / 1.0) ** (np.arange(steps) / max(steps, 1))
    for k in range(steps):
        i = int(movers[k])
        cell = int(hood.near[i][int(picks[k] * len(hood.near[i]))])
        delta = hood.gain(i, cell)
        if delta is not None and (delta >= 0 or accept[k] < np.exp(delta / temperature[k])):
            hood.apply(i, cell)
    for _ in range(max_passes):
        improved = False
        for i in range(hood.n):
            best_gain, best_cell = 1e-9, -1
            for cell in hood.near[i].tolist():
                delta = hood.gain(i, cell)
                if delta is not None and delta > best_gain:
                    best_gain, best_cell = delta, cell
            if best_cell >= 0:
                hood.apply(i, best_cell)
                improved = True
        if not improved:
            break
    return hood.pos


def compute_layout(
    *,
    iterations: int = 400,
    attraction: float = 0.3,
    radius: float = 3.0,
    search_radius: float = 2.0,
    weight: float = 0.1,
    steps: int = 400_000,
    seed: int = 1,
) -> HexLayoutResult:
    """Compute the hex layout of the 153 LAs from their points and the shipped land borders."""
    start = time.perf_counter()
    england = load_england()
    codes = list(england.codes)
    points = np.array([(la.easting, la.northing) for la in england.las], dtype=np.float64)
    pairs = _land_pairs(codes)
    # One cell per LA with the total area of England: hexagon area (sqrt3/2) s^2.
    area_m2 = sum(la.area_km2 for la in england.las) * 1e6
    spacing = float(np.sqrt(area_m2 / len(codes) / (np.sqrt(3) / 2)))
    spread = spread_points(
        points, _all_links(codes), spacing=spacing, iterations=iterations, attraction=attraction
    )
    cell_points = (spread - spread.min(axis=0)) / spacing
    grid, centres = candidate_cells(cell_points, radius=radius)
    first = assign_cells(cell_points, centres, radius=radius)
    adjacent = _adjacency(centres)
    retained_first = int(adjacent[first[pairs[:, 0]], first[pairs[:, 1]]].sum())
    final = improve_neighbours(
        first,
        cell_points,
        centres,
        pairs,
        radius=search_radius,
        weight=weight,
        steps=steps,
        seed=seed,
    )
    cells = grid[final]
    # Shift so the smallest row is 0 and even (odd-r parity must be kept) and the smallest col 0.
    row0 = int(cells[:, 1].min())
    row0 -= row0 % 2
    layout = pd.DataFrame(
        {"code": codes, "col": cells[:, 0] - cells[:, 0].min(), "row": cells[:, 1] - row0}
    )
    layout = validate_layout(layout, source="computed hex layout")
    offsets = np.hypot(*(cell_points - centres[final]).T)
    return HexLayoutResult(
        layout=layout,
        retention=neighbour_retention(layout),
        retention_assignment=retained_first / len(pairs),
        direction_kept=direction_kept(layout),
        pairs=len(pairs),
        mean_offset_cells=float(offsets.mean()),
        max_offset_cells=float(offsets.max()),
        spacing_km=spacing / 1000.0,
        wall_seconds=time.perf_counter() - start,
    )


def write_layout(path: str | Path, result: HexLayoutResult) -> Path:
    """Write `code,col,row` (one LA a line, in the LA order of england_las.csv)."""
    path = Path(path)
    result.layout.to_csv(path, index=False, lineterminator="\n")
    return path


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - regeneration script
    parser = argparse.ArgumentParser(description="Recompute the shipped hex layout of the LAs.")
    default = Path(str(resources.files("geodata").joinpath("data/hex_layout.csv")))
    parser.add_argument("--out", type=Path, default=default)
    args = parser.parse_args(argv)
    result = compute_layout()
    write_layout(args.out, result)
    print(result.summary())
    print(f"written {args.out}")


if __name__ == "__main__":  # pragma: no cover
    main()
