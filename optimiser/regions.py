"""RCC districting: partition the LAs into K contiguous, balanced, self-sufficient RCCs.

What is decided
    Which Regional Care Cooperative (RCC) each LA joins. Locked groups (the pathfinders, or a
    user's CSV) are taken as given; the other LAs are partitioned into the remaining
    K' = K - (number of locked groups) RCCs.

Model (CP-SAT, a Hess-style "assign each LA to a centre" districting model)
    Sets: U the unlocked LAs; N(i) the neighbours of i in U over the adjacency graph (land
    borders + water links + the Scilly island link; with --within-regions only neighbours in
    the same region); C(i) the candidate centres of i: LAs j in U within `max_miles` of i
    (same region with --within-regions) from which i is reachable through LAs that have j as a
    candidate.

    Variables: x[i,j] = 1 when LA i belongs to the RCC centred on LA j (x[j,j] = 1: j is a
    centre); p[i,v] = 1 when v is i's parent in a spanning tree of its RCC; level[i] in
    0..|U|-1; met[j,s] = the demand for setting s in RCC j that its own supply can meet.

    Rules, in words and one line of maths each:
    - each LA is in exactly one RCC:                   sum_j x[i,j] = 1               for i in U
    - only open centres take members:                  x[i,j] <= x[j,j]
    - exactly K' RCCs are proposed:                    sum_j x[j,j] = K'
    - demand balance: each proposed RCC's children in care lie within +-tolerance of the mean
      m = (CLA of U) / K' of the proposed RCCs:       (1-t) m x[j,j] <= sum_i cla_i x[i,j]
                                                       <= (1+t) m x[j,j]
    - contiguity (a rooted spanning tree per RCC): every non-centre has one parent among its
      neighbours, in its own RCC, at a lower level; following parents therefore ends at the
      RCC's centre inside the RCC:                     sum_v p[i,v] + x[i,i] = 1,
                                                       p[i,v] <= sum_{j in C(i) & C(v)} x[i,j],
                                                       x[i,j] + p[i,v] <= 1 + x[v,j],
                                                       p[i,v] => level[v] + 1 <= level[i]
      This is exact: every contiguous RCC has such a tree (e.g. breadth-first from its centre).
    - self-sufficiency, linearised min():              met[j,s] <= sum_i supply_{i,s} x[i,j],
                                                       met[j,s] <= sum_i demand_{i,s} x[i,j]

    Objective (maximise, in points):
        score = sum_s w_s * 100 * (sum_RCC met[RCC,s]) / D_s
                - w_c * (sum_i cla_i * d(i, centre(i))) / CLA
    i.e. for each setting s the national percentage of demand that can be met inside the
    child's own RCC (sum over RCCs of min(supply, demand) / national demand), weighted by w_s,
    minus w_c times the mean distance in DfE miles from a child's home LA point to its RCC's
    centre LA point (demand-weighted compactness). Locked RCCs add a constant (their centre is
    their own best one). Coefficients are scaled to integers for CP-SAT (smallest about 2,000,
    so rounding moves the objective by well under 0.1%); the reported objective is recomputed
    exactly from the partition by `evaluate` (centre = the member minimising the demand-
    weighted miles), and the bound is CP-SAT's proven bound in the same points.

    Restriction: an LA may only join an RCC whose centre is within `max_miles` (default 150)
    of it. This keeps the model smaller (about 14,000 x[i,j] with Greater Manchester locked,
    against 20,000 without it) and is generous: it still lets the Isles of Scilly join an RCC
    centred on Devon (124 miles).

    What is proven: status OPTIMAL means no better partition exists under the rules above;
    FEASIBLE means the partition meets every rule and the optimum is at most `bound`
    (gap = (bound - objective) / bound). WARM_START means CP-SAT found nothing of its own in
    the time limit and the (checked) warm start is returned, with no bound (none is proven).

Solving
    Warm start: the best of several seeded recursive spanning-tree draws (see Baseline), each
    polished by boundary moves (`improve_locally`: move one LA to a neighbouring RCC when both
    stay contiguous, balanced and within the distance limit and the objective rises), is given
    to CP-SAT as a complete hint; CP-SAT then searches (LNS and a portfolio of workers) within
    the time limit (its own: the warm start is not counted); its answer is polished by the same
    boundary moves, which stay inside the model's feasible set, so the bound still holds.

    Reproducibility: the warm start and the baseline depend only on the seed and the inputs.
    CP-SAT's workers race each other against the clock, so by default two runs with one seed
    can differ. With `reproducible`, CP-SAT interleaves its workers in a fixed order
    (`interleave_search`) and stops after `time_limit` of its deterministic time
    (`max_deterministic_time`), so one seed, one set of inputs, the same threads and the same
    OR-Tools give the same proposal whatever the machine's load, at the price of a weaker search
    (measured: less gain over the warm start in more wall time).

    Pre-checks (`check_request`) name every cause of infeasibility visible before solving: K
    larger than the LAs, unknown, duplicated or non-contiguous locks, two locked groups with
    one name, an LA above the balance band, a distance limit too small for any balanced RCC,
    and separate pieces (cut off by locks or regions) that no whole number of RCCs can split
    within the band.

Settings in the self-sufficiency term (what the embedded facts allow)
    - residential: demand = children in secure and children's homes at 31 March 2024 (DfE does
      not split secure from children's homes by LA); supply = children's home places 2023
      (excluding short-break-only homes).
    - secure: demand is not published by LA, so a proxy: the national welfare secure demand of
      about 150 (about 100 children in a secure home on a day plus about 50 waiting, DESIGN.md
      section 6) apportioned by each LA's residential demand; supply = half the secure places
      (about half are contracted to youth justice).
    - foster: there is no foster supply by LA in the facts, so foster self-sufficiency is left
      out of the objective (it would be 100% for every partition under the only honest proxy,
      "foster sufficiency is local"); foster and supported demand are reported only.
    - DfE suppressed some small counts (None); they are taken as 3 (the middle of 1-5) so no
      child is dropped.

Baseline
    A seeded recursive spanning-tree partition (as redistricting tools such as GerryChain's
    `recursive_tree_part` do): draw a random spanning tree of the unassigned LAs, cut one edge
    that leaves a piece within the balance limits and a remainder that can still be split,
    repeat; separate pieces of unlocked LAs (cut off by locks or regions) each take RCCs in
    proportion to their children. The best of several seeded draws (by the objective) is the
    heuristic peer in the comparison; the same draws, polished, give the solver's warm start.
"""

from __future__ import annotations

import enum
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from geodata.adjacency import Graph, adjacency_graph, components, is_contiguous
from geodata.distance import dfe_miles
from geodata.england import England, load_england
from optimiser.errors import InfeasibleRequestError, InputIssue, ProblemValidationError

__all__ = [
    "ALLOCATION_COLUMNS",
    "OBJECTIVE_SETTINGS",
    "SECURE_WELFARE_DEMAND",
    "SECURE_WELFARE_SHARE",
    "SUPPRESSED_COUNT",
    "Lock",
    "Proposal",
    "ProposalStatus",
    "RegionsInstance",
    "Request",
    "Score",
    "Weights",
    "allocation_comparison",
    "baseline_partition",
    "check_request",
    "compare",
    "england_instance",
    "evaluate",
    "improve_locally",
    "parse_weights",
    "preset_locks",
    "propose",
    "rcc_names",
    "read_lock_csv",
    "summary_frame",
    "suppress",
    "write_outputs",
]

OBJECTIVE_SETTINGS: tuple[str, ...] = ("residential", "secure")
REPORTED_DEMAND: tuple[str, ...] = ("foster", "residential", "secure", "supported")
SUPPRESSED_COUNT = 3  # a DfE-suppressed small count (1-5) is taken as its middle
SECURE_WELFARE_DEMAND = 150.0  # ~100 children in secure homes on a day + ~50 waiting
SECURE_WELFARE_SHARE = 0.5  # about half of secure places are contracted to youth justice
_UNITS = 100  # demand and supply enter CP-SAT in hundredths of a child or place
_MIN_COEFFICIENT = 2_000  # the smallest objective coefficient in CP-SAT integer units


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionsInstance:
    """The LAs to partition: demand, supply by setting, points, regions and adjacency."""

    codes: tuple[str, ...]
    names: tuple[str, ...]
    regions: tuple[str, ...]
    cla: tuple[int, ...]
    demand: Mapping[str, tuple[float, ...]]
    supply: Mapping[str, tuple[float, ...]]
    easting: tuple[float, ...]
    northing: tuple[float, ...]
    graph: Graph

    def __post_init__(self) -> None:
        n = len(self.codes)
        for label, seq in (
            ("names", self.names),
            ("regions", self.regions),
            ("cla", self.cla),
            ("easting", self.easting),
            ("northing", self.northing),
            *((f"demand[{s}]", v) for s, v in self.demand.items()),
            *((f"supply[{s}]", v) for s, v in self.supply.items()),
        ):
            if len(seq) != n:
                raise ValueError(f"RegionsInstance.{label} has {len(seq)} values for {n} LAs")
        if len(set(self.codes)) != n:
            raise ValueError("RegionsInstance.codes has duplicate LA codes")

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.codes)}

    def miles(self) -> np.ndarray:
        """DfE straight-line miles between every pair of LA points (n x n)."""
        e = np.asarray(self.easting, dtype=float)
        n = np.asarray(self.northing, dtype=float)
        return dfe_miles(e[:, None], n[:, None], e[None, :], n[None, :])

    @property
    def objective_settings(self) -> tuple[str, ...]:
        return tuple(s for s in OBJECTIVE_SETTINGS if s in self.supply and s in self.demand)


def _count(value: int | None) -> int:
    return SUPPRESSED_COUNT if value is None else int(value)


def england_instance(england: England | None = None) -> RegionsInstance:
    """The 153 English LAs with the demand and supply proxies described in the module doc."""
    eng = england or load_england()
    residential = [float(_count(la.residential_31mar2024)) for la in eng.las]
    total_res = sum(residential)
    secure_demand = tuple(SECURE_WELFARE_DEMAND * r / total_res for r in residential)
    return RegionsInstance(
        codes=eng.codes,
        names=tuple(la.name for la in eng.las),
        regions=tuple(la.region_name for la in eng.las),
        cla=tuple(int(la.cla_31mar2024) for la in eng.las),
        demand={
            "foster": tuple(float(_count(la.foster_31mar2024)) for la in eng.las),
            "residential": tuple(residential),
            "secure": secure_demand,
            "supported": tuple(float(_count(la.supported_31mar2024)) for la in eng.las),
        },
        supply={
            "residential": tuple(float(la.childrens_home_places_2023) for la in eng.las),
            "secure": tuple(SECURE_WELFARE_SHARE * la.secure_places_2023 for la in eng.las),
        },
        easting=tuple(float(la.easting) for la in eng.las),
        northing=tuple(float(la.northing) for la in eng.las),
        graph=adjacency_graph(eng.codes, water=True, islands=True),
    )


@dataclass(frozen=True)
class Weights:
    """Objective weights: points per percentage point of self-sufficiency, per mean mile."""

    residential: float = 1.0
    secure: float = 1.0
    compactness: float = 1.0

    def setting(self, name: str) -> float:
        return float(getattr(self, name))


def parse_weights(text: str | None) -> Weights:
    """'residential=1,secure=2,compactness=0.5' -> Weights (missing keys keep defaults)."""
    if not text:
        return Weights()
    known = {"residential", "secure", "compactness"}
    values: dict[str, float] = {}
    for part in text.split(","):
        key, sep, raw = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in known:
            raise ValueError(
                f"weights: '{part.strip()}' is not KEY=NUMBER with KEY one of "
                f"{', '.join(sorted(known))}"
            )
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"weights: '{raw.strip()}' for {key} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"weights: {key}={raw.strip()} must be a finite number >= 0")
        values[key] = value
    return Weights(**values)


@dataclass(frozen=True)
class Lock:
    """A group of LAs kept together as one RCC, as given (`source` says where it came from,
    e.g. "preset 'gm'" or "locks.csv row 2", for messages)."""

    name: str
    members: tuple[str, ...]
    source: str = field(default="", compare=False)


@dataclass(frozen=True)
class Request:
    """What the user asks for: K, balance tolerance, locks, regions, weights, solver limits."""

    k: int = 20
    tolerance: float = 0.25
    within_regions: bool = False
    locks: tuple[Lock, ...] = ()
    weights: Weights = field(default_factory=Weights)
    max_miles: float | None = 150.0
    time_limit: float = 60.0  # seconds of CP-SAT search, after the warm start
    # True: CP-SAT interleaves its workers deterministically and `time_limit` is in its
    # deterministic seconds, so the same seed and inputs give the same proposal under any load.
    reproducible: bool = False
    threads: int = 2
    seed: int = 1
    baseline_draws: int = 40


# --------------------------------------------------------------------------------------------
# Pre-checks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """The checked request: unlocked LAs, their graph, balance limits and RCCs per component."""

    unlocked: tuple[str, ...]
    graph: dict[str, frozenset[str]]
    k_proposed: int
    mean: float
    lo: float
    hi: float
    parts: tuple[tuple[tuple[str, ...], int, int], ...]  # (component LAs, fewest, most RCCs)
    shares: tuple[int, ...]  # RCCs per part in proportion to its children (the baseline's)


def _plan_graph(
    inst: RegionsInstance, members: set[str], within: bool
) -> dict[str, frozenset[str]]:
    region = dict(zip(inst.codes, inst.regions, strict=True))
    return {
        c: frozenset(
            v
            for v in inst.graph.get(c, frozenset())
            if v in members and (not within or region[v] == region[c])
        )
        for c in inst.codes
        if c in members
    }


def _source(lock: Lock) -> str:
    return lock.source or "given in the request"


def _describe(inst: RegionsInstance, codes: Sequence[str]) -> str:
    idx = inst.index
    biggest = max(codes, key=lambda c: inst.cla[idx[c]])
    return f"{len(codes)} LA(s) around {inst.names[idx[biggest]]} ({inst.regions[idx[biggest]]})"


def check_request(inst: RegionsInstance, request: Request) -> _Plan:
    """Every cause of infeasibility that can be seen before solving, raised with its numbers."""
    idx = inst.index
    n = len(inst)
    if request.k < 1:
        raise InfeasibleRequestError(f"K must be at least 1 (asked for {request.k})")
    if request.k > n:
        raise InfeasibleRequestError(
            f"K={request.k} RCCs asked for but there are only {n} LAs: K larger than the LAs"
        )
    if not 0 <= request.tolerance < 1:
        raise InfeasibleRequestError(
            f"balance tolerance {request.tolerance} must be at least 0 and below 1"
        )
    if not request.time_limit >= 0:
        raise InfeasibleRequestError(
            f"the time limit must be 0 seconds or more, not {request.time_limit:g}"
        )
    if request.max_miles is not None and not request.max_miles >= 0:
        raise InfeasibleRequestError(
            f"the largest distance from an LA to its RCC's centre (max miles) must be 0 or more, "
            f"not {request.max_miles:g}"
        )
    named: dict[str, Lock] = {}
    for lock in request.locks:
        if lock.name in named:
            raise InfeasibleRequestError(
                f"two locked groups are both named '{lock.name}' "
                f"({_source(named[lock.name])} and {_source(lock)}): give each RCC its own name"
            )
        named[lock.name] = lock
    locked: dict[str, str] = {}
    for lock in request.locks:
        if not lock.members:
            raise InfeasibleRequestError(f"locked group '{lock.name}' has no LAs")
        for code in lock.members:
            if code not in idx:
                raise InfeasibleRequestError(f"locked group '{lock.name}': unknown LA '{code}'")
            if code in locked:
                raise InfeasibleRequestError(
                    f"LA {code} ({inst.names[idx[code]]}) is in two locked groups: "
                    f"'{locked[code]}' and '{lock.name}'"
                )
            locked[code] = lock.name
        pieces = components(lock.members, inst.graph)
        if len(pieces) > 1:
            shown = "; ".join(", ".join(inst.names[idx[c]] for c in p) for p in pieces)
            raise InfeasibleRequestError(
                f"locked group '{lock.name}' breaks contiguity: its LAs form {len(pieces)} "
                f"separate pieces ({shown})"
            )
    k_proposed = request.k - len(request.locks)
    unlocked = tuple(c for c in inst.codes if c not in locked)
    if k_proposed < 0 or (k_proposed == 0 and unlocked):
        raise InfeasibleRequestError(
            f"K={request.k} but {len(request.locks)} groups are locked and {len(unlocked)} LAs "
            f"remain: K must exceed the number of locked groups"
        )
    if k_proposed > len(unlocked):
        raise InfeasibleRequestError(
            f"K={request.k} with {len(request.locks)} locked groups needs {k_proposed} proposed "
            f"RCCs but only {len(unlocked)} LAs are unlocked: K larger than the LAs"
        )
    graph = _plan_graph(inst, set(unlocked), request.within_regions)
    if k_proposed == 0:
        return _Plan((), graph, 0, 0.0, 0.0, 0.0, (), ())
    total = sum(inst.cla[idx[c]] for c in unlocked)
    mean = total / k_proposed
    lo, hi = (1 - request.tolerance) * mean, (1 + request.tolerance) * mean
    band = f"{lo:,.0f}-{hi:,.0f} (mean {mean:,.0f} +-{request.tolerance:.0%})"
    too_big = [c for c in unlocked if inst.cla[idx[c]] > hi]
    if too_big:
        c = too_big[0]
        raise InfeasibleRequestError(
            f"tolerance too tight: {inst.names[idx[c]]} alone has {inst.cla[idx[c]]:,} children "
            f"in care, above the balance band {band}"
        )
    if request.max_miles is not None:
        _check_reach(inst, unlocked, request.max_miles, lo, band)
    pieces = components(unlocked, graph)
    ranges = []
    for piece in pieces:
        cla = sum(inst.cla[idx[c]] for c in piece)
        low = max(1, math.ceil(cla / hi - 1e-9))
        high = min(len(piece), math.floor(cla / lo + 1e-9)) if lo > 0 else len(piece)
        if low > high:
            why = "locks or regions cut it off" if len(pieces) > 1 else "the balance band"
            raise InfeasibleRequestError(
                f"tolerance too tight: {_describe(inst, piece)} form a separate piece "
                f"({why}) with {cla:,} children in care, which no whole number of RCCs can "
                f"split within the balance band {band}"
            )
        ranges.append((piece, cla, low, high))
    need_lo = sum(r[2] for r in ranges)
    need_hi = sum(r[3] for r in ranges)
    if not need_lo <= k_proposed <= need_hi:
        causes = ["a tolerance too tight"]
        if request.within_regions:
            causes.insert(0, "keeping RCCs within the nine regions")
        if request.locks:
            causes.insert(0, "locks that cut the other LAs into pieces")
        raise InfeasibleRequestError(
            f"{k_proposed} proposed RCCs cannot be formed: the {len(pieces)} separate piece(s) "
            f"of unlocked LAs need between {need_lo} and {need_hi} RCCs at the balance band "
            f"{band}; likely cause: {' with '.join(causes)}"
        )
    parts = tuple((tuple(p), low, high) for p, _, low, high in ranges)
    shares = _allocate_counts([(cla, low, high) for _, cla, low, high in ranges], k_proposed)
    return _Plan(unlocked, graph, k_proposed, mean, lo, hi, parts, tuple(shares))


def _check_reach(
    inst: RegionsInstance, unlocked: Sequence[str], max_miles: float, lo: float, band: str
) -> None:
    """Every LA needs a possible centre within `max_miles` whose own `max_miles` around it hold
    enough children for the balance band (an RCC lies within that circle of its centre)."""
    idx = inst.index
    rows = [idx[c] for c in unlocked]
    near = inst.miles()[np.ix_(rows, rows)] <= max_miles + 1e-9  # near[i, j], symmetric
    reach = np.asarray(inst.cla, dtype=float)[rows] @ near  # children around each centre j
    best = np.where(near, reach[None, :], 0.0).max(axis=1)  # the best centre for each LA i
    if (best < lo - 1e-9).any():
        i = int(np.argmin(best))
        raise InfeasibleRequestError(
            f"the {max_miles:g}-mile limit from an RCC's centre is too small: every centre "
            f"{inst.names[rows[i]]} could join has at most {best[i]:,.0f} children in care "
            f"within {max_miles:g} miles, below the balance band {band}"
        )


def _allocate_counts(ranges: list[tuple[int, int, int]], k: int) -> list[int]:
    """RCCs per separate piece: near cla/mean, within each piece's range, summing to k."""
    total = sum(r[0] for r in ranges)
    counts = [min(max(round(cla * k / total), low), high) for cla, low, high in ranges]
    while sum(counts) != k:
        step = 1 if sum(counts) < k else -1
        best = None
        for i, (cla, low, high) in enumerate(ranges):
            new = counts[i] + step
            if low <= new <= high:
                err = abs(cla * k / total - new)
                if best is None or err < best[0]:
                    best = (err, i)
        assert best is not None  # guaranteed by the range check in check_request
        counts[best[1]] += step
    return counts


# --------------------------------------------------------------------------------------------
# Baseline: seeded recursive spanning-tree partition
# --------------------------------------------------------------------------------------------


def _random_spanning_tree(
    nodes: Sequence[str], graph: Mapping[str, Iterable[str]], rng: np.random.Generator
) -> dict[str, list[str]]:
    """Kruskal's algorithm on random edge weights: a random spanning tree of `nodes`."""
    members = set(nodes)
    edges = sorted({(a, b) for a in nodes for b in graph[a] if b in members and a < b})
    order = rng.permutation(len(edges))
    parent = {c: c for c in nodes}

    def find(c: str) -> str:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    tree: dict[str, list[str]] = {c: [] for c in nodes}
    for e in order:
        a, b = edges[e]
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
            tree[a].append(b)
            tree[b].append(a)
    return tree


def _split_once(
    nodes: Sequence[str],
    graph: Mapping[str, Iterable[str]],
    weight: Mapping[str, int],
    rcc_count: int,
    lo: float,
    hi: float,
    rng: np.random.Generator,
    attempts: int,
) -> tuple[str, ...] | None:
    """Cut one balanced RCC off `nodes` along a random spanning tree edge, or None."""
    for _ in range(attempts):
        tree = _random_spanning_tree(nodes, graph, rng)
        root = nodes[int(rng.integers(len(nodes)))]
        order, parent = [root], {root: ""}
        for node in order:
            for nxt in tree[node]:
                if nxt not in parent:
                    parent[nxt] = node
                    order.append(nxt)
        if len(order) != len(nodes):
            return None  # not connected
        below = {c: weight[c] for c in nodes}
        for node in reversed(order[1:]):
            below[parent[node]] += below[node]
        total = below[root]
        rest_lo, rest_hi = (rcc_count - 1) * lo, (rcc_count - 1) * hi
        cuts = []
        for node in order[1:]:
            piece, rest = below[node], total - below[node]
            if lo <= piece <= hi and rest_lo <= rest <= rest_hi:
                cuts.append((node, False))
            if lo <= rest <= hi and rest_lo <= piece <= rest_hi:
                cuts.append((node, True))
        if not cuts:
            continue
        node, other_side = cuts[int(rng.integers(len(cuts)))]
        children: dict[str, list[str]] = {c: [] for c in nodes}
        for c in order[1:]:
            children[parent[c]].append(c)
        subtree, stack = [], [node]
        while stack:
            c = stack.pop()
            subtree.append(c)
            stack.extend(children[c])
        chosen = set(subtree)
        if other_side:
            chosen = set(nodes) - chosen
        return tuple(c for c in nodes if c in chosen)
    return None


def _tree_partition(
    nodes: Sequence[str],
    graph: Mapping[str, Iterable[str]],
    weight: Mapping[str, int],
    rcc_count: int,
    lo: float,
    hi: float,
    rng: np.random.Generator,
) -> list[tuple[str, ...]] | None:
    remaining = list(nodes)
    parts: list[tuple[str, ...]] = []
    for count in range(rcc_count, 1, -1):
        piece = _split_once(remaining, graph, weight, count, lo, hi, rng, attempts=50)
        if piece is None:
            return None
        parts.append(piece)
        taken = set(piece)
        remaining = [c for c in remaining if c not in taken]
    if not lo - 1e-9 <= sum(weight[c] for c in remaining) <= hi + 1e-9:
        return None
    parts.append(tuple(remaining))
    return parts


def baseline_partition(
    inst: RegionsInstance,
    request: Request,
    *,
    seed: int | None = None,
    draws: int | None = None,
    fits: Callable[[Sequence[Sequence[str]]], bool] | None = None,
    polish: Callable[[dict[str, str]], dict[str, str]] | None = None,
) -> dict[str, str] | None:
    """Best of `draws` seeded recursive spanning-tree partitions (by `evaluate`), or None.

    Where locks or regions cut the unlocked LAs into separate pieces, each piece gets its
    share of the RCCs in proportion to its children (the solver may give it any number the
    balance band allows). A draw that dead-ends (no balanced cut left) or misses `fits` is
    redrawn, up to 20 times per draw; None means no draw succeeded.

    Locked groups keep their names; proposed RCCs get readable names. `fits(groups)` may
    reject a draw (used for the solver's warm start, which must respect `max_miles`);
    `polish(lookup)` may improve each draw before it is scored (the warm start's local search).
    """
    plan = check_request(inst, request)
    rng = np.random.default_rng(request.seed if seed is None else seed)
    weight = dict(zip(inst.codes, inst.cla, strict=True))
    best: tuple[float, dict[str, str]] | None = None
    wanted = request.baseline_draws if draws is None else draws
    made = 0
    for _ in range(20 * wanted):  # a draw can dead-end; retry up to 20 times per draw
        if made >= wanted:
            break
        groups: list[tuple[str, ...]] = []
        for (piece, _, _), count in zip(plan.parts, plan.shares, strict=True):
            split = _tree_partition(piece, plan.graph, weight, count, plan.lo, plan.hi, rng)
            if split is None:
                break
            groups.extend(split)
        else:
            if fits is not None and not fits(groups):
                continue
            made += 1
            lookup = _lookup_from_groups(inst, groups, request.locks)
            if polish is not None:
                lookup = polish(lookup)
            score = evaluate(inst, lookup, weights=request.weights, locks=request.locks)
            if best is None or score.objective > best[0]:
                best = (score.objective, lookup)
    return None if best is None else best[1]


# --------------------------------------------------------------------------------------------
# Local search: boundary moves that keep contiguity, balance and the distance limit
# --------------------------------------------------------------------------------------------


def improve_locally(
    inst: RegionsInstance, request: Request, lookup: Mapping[str, str], *, max_passes: int = 50
) -> dict[str, str]:
    """Move single boundary LAs between neighbouring proposed RCCs while the objective rises.

    A move is kept only when both RCCs stay contiguous and within the balance band, and each
    keeps a centre within `max_miles` of all its LAs; locked groups never change. This is the
    "boundary move" step of region-building heuristics (e.g. AZP), used to polish the warm start.
    """
    plan = check_request(inst, request)
    idx = inst.index
    miles = inst.miles()
    cla = np.asarray(inst.cla, dtype=float)
    settings = inst.objective_settings
    dem = {s: np.asarray(inst.demand[s], dtype=float) for s in settings}
    sup = {s: np.asarray(inst.supply[s], dtype=float) for s in settings}
    met_pts = {
        s: request.weights.setting(s) * 100.0 / float(dem[s].sum()) if dem[s].sum() > 0 else 0.0
        for s in settings
    }
    miles_pts = request.weights.compactness / max(float(cla.sum()), 1.0)

    def value(members: list[int]) -> float | None:
        found = _best_centre(members, cla, miles, request.max_miles)
        if found is None:
            return None
        points = sum(
            met_pts[s] * min(float(dem[s][members].sum()), float(sup[s][members].sum()))
            for s in settings
        )
        unconstrained = _best_centre(members, cla, miles)
        assert unconstrained is not None
        return points - miles_pts * unconstrained[1]

    locked = {c for lock in request.locks for c in lock.members}
    label = {c: lookup[c] for c in plan.unlocked}
    groups: dict[str, list[int]] = {}
    for c in plan.unlocked:
        groups.setdefault(label[c], []).append(idx[c])
    load = {g: float(cla[m].sum()) for g, m in groups.items()}
    for _ in range(max_passes):
        improved = False
        for code in plan.unlocked:
            a = label[code]
            i = idx[code]
            if len(groups[a]) == 1 or load[a] - cla[i] < plan.lo - 1e-9:
                continue
            rest = [m for m in groups[a] if m != i]
            for b in sorted({label[v] for v in plan.graph[code] if v not in locked} - {a}):
                if load[b] + cla[i] > plan.hi + 1e-9:
                    continue
                if not is_contiguous([inst.codes[m] for m in rest], plan.graph):
                    break
                new_a, new_b = value(rest), value([*groups[b], i])
                old_a, old_b = value(groups[a]), value(groups[b])
                if new_a is None or new_b is None or old_a is None or old_b is None:
                    continue
                if new_a + new_b > old_a + old_b + 1e-9:
                    groups[a], groups[b] = rest, [*groups[b], i]
                    load[a] -= cla[i]
                    load[b] += cla[i]
                    label[code] = b
                    improved = True
                    break
        if not improved:
            break
    parts = [[inst.codes[m] for m in members] for members in groups.values()]
    return _lookup_from_groups(inst, parts, request.locks)


# --------------------------------------------------------------------------------------------
# Evaluation (solver-independent): the oracle for tests, comparisons and the reported objective
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """How good a partition is: the objective and its parts, and a per-RCC table."""

    objective: float
    self_sufficiency: Mapping[str, float]  # setting -> national % met inside own RCC
    mean_miles: float  # demand-weighted mean miles from a child's home LA to its RCC centre
    max_balance_deviation: float  # max |CLA / mean - 1| over proposed RCCs
    max_internal_miles: float
    rccs: pd.DataFrame = field(repr=False)


def _best_centre(
    members: Sequence[int], cla: np.ndarray, miles: np.ndarray, max_miles: float | None = None
) -> tuple[int, float] | None:
    """The member minimising sum cla_i * miles(i, centre), optionally within max_miles of all."""
    sub = miles[np.ix_(members, members)]
    cost = cla[members] @ sub
    if max_miles is not None:
        cost = np.where(sub.max(axis=0) <= max_miles + 1e-9, cost, np.inf)
    pos = int(np.argmin(cost))
    if not np.isfinite(cost[pos]):
        return None
    return members[pos], float(cost[pos])


def evaluate(
    inst: RegionsInstance,
    lookup: Mapping[str, str],
    *,
    weights: Weights | None = None,
    locks: Sequence[Lock] = (),
) -> Score:
    """Score a lookup (every LA -> RCC name) exactly as the model's objective defines it."""
    weights = weights or Weights()
    missing = [c for c in inst.codes if c not in lookup]
    if missing:
        raise ValueError(f"the lookup has no RCC for {len(missing)} LA(s), e.g. {missing[0]}")
    idx = inst.index
    miles = inst.miles()
    cla = np.asarray(inst.cla, dtype=float)
    locked_names = {lock.name for lock in locks}
    groups: dict[str, list[int]] = {}
    for code in inst.codes:
        groups.setdefault(lookup[code], []).append(idx[code])
    settings = inst.objective_settings
    rows = []
    for name, members in groups.items():
        centre, cost = _best_centre(members, cla, miles) or (members[0], 0.0)
        row: dict[str, Any] = {
            "rcc": name,
            "locked": name in locked_names,
            "las": len(members),
            "cla": int(cla[members].sum()),
            "centre": inst.names[centre],
            "child_miles": cost,
            "max_internal_miles": float(miles[np.ix_(members, members)].max()),
            "contiguous": is_contiguous([inst.codes[i] for i in members], inst.graph),
        }
        for s in REPORTED_DEMAND:
            if s in inst.demand:
                row[f"{s}_demand"] = float(np.asarray(inst.demand[s])[members].sum())
        for s in settings:
            row[f"{s}_supply"] = float(np.asarray(inst.supply[s])[members].sum())
            row[f"{s}_met"] = min(row[f"{s}_supply"], row[f"{s}_demand"])
        rows.append(row)
    table = pd.DataFrame(rows)
    total_cla = max(float(cla.sum()), 1.0)
    # With no demand for a setting anywhere, all of it is met: 100%.
    shares = {
        s: 100.0 * float(table[f"{s}_met"].sum()) / float(table[f"{s}_demand"].sum())
        if float(table[f"{s}_demand"].sum()) > 0
        else 100.0
        for s in settings
    }
    mean_miles = float(table["child_miles"].sum()) / total_cla
    proposed = table[~table["locked"]] if not table["locked"].all() else table
    mean = float(proposed["cla"].mean())
    table["cla_vs_mean"] = table["cla"] / mean
    for s in settings:
        dem = table[f"{s}_demand"]
        table[f"{s}_self_sufficiency_pct"] = np.where(
            dem > 0, 100.0 * table[f"{s}_met"] / dem.where(dem > 0, 1.0), 100.0
        )
    table["mean_miles_to_centre"] = table["child_miles"] / table["cla"].where(table["cla"] > 0, 1)
    objective = sum(weights.setting(s) * shares[s] for s in settings)
    objective -= weights.compactness * mean_miles
    return Score(
        objective=float(objective),
        self_sufficiency=shares,
        mean_miles=mean_miles,
        max_balance_deviation=float((proposed["cla"] / mean - 1).abs().max()),
        max_internal_miles=float(table["max_internal_miles"].max()),
        rccs=table.sort_values("rcc").reset_index(drop=True),
    )


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------


def rcc_names(
    inst: RegionsInstance, groups: Sequence[Sequence[str]], *, taken: Iterable[str] = ()
) -> list[str]:
    """'Region: largest LA' for each group (region of its largest LA by children in care);
    a name in `taken` (a locked group's) gets a number: 'West Midlands: Birmingham (2)'."""
    idx = inst.index
    used = set(taken)
    names = []
    for group in groups:
        big = max(group, key=lambda c: (inst.cla[idx[c]], c))
        base = name = f"{inst.regions[idx[big]]}: {inst.names[idx[big]]}"
        number = 2
        while name in used:
            name, number = f"{base} ({number})", number + 1
        used.add(name)
        names.append(name)
    return names


def _lookup_from_groups(
    inst: RegionsInstance, groups: Sequence[Sequence[str]], locks: Sequence[Lock]
) -> dict[str, str]:
    lookup = {c: lock.name for lock in locks for c in lock.members}
    taken = [lock.name for lock in locks]
    for name, group in zip(rcc_names(inst, groups, taken=taken), groups, strict=True):
        for c in group:
            lookup[c] = name
    return {c: lookup[c] for c in inst.codes}


# --------------------------------------------------------------------------------------------
# The CP-SAT model: build (a table of contents), solve, read back
# --------------------------------------------------------------------------------------------


class ProposalStatus(enum.Enum):
    """What the solver proved about the returned partition."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    # CP-SAT found no solution of its own within the limit: the partition is the verified
    # warm start (contiguous and balanced), and no bound is proven (bound and gap are None).
    WARM_START = "warm_start"


@dataclass(frozen=True)
class Proposal:
    """A solved partition with what is proven about it."""

    lookup: Mapping[str, str]
    status: ProposalStatus
    objective: float  # recomputed exactly by `evaluate`
    bound: float | None  # proven upper bound on the objective (same points); None: none proven
    gap: float | None  # (bound - objective) / max(|bound|, |objective|); None without a bound
    wall_seconds: float
    first_feasible_seconds: float | None
    score: Score
    parameters: Mapping[str, Any]
    warm_start_objective: float | None
    trace: tuple[tuple[float, float], ...]  # (seconds, model objective in points) per solution


@dataclass(frozen=True)
class _Model:
    model: cp_model.CpModel
    x: dict[tuple[int, int], cp_model.IntVar]
    parent: dict[tuple[int, int], cp_model.IntVar]
    level: dict[int, cp_model.IntVar]
    met: dict[tuple[int, str], cp_model.IntVar]
    candidates: dict[int, list[int]]  # LA -> candidate centres
    constant: float  # points from locked RCCs
    scale: float  # CP-SAT objective units per point


def _candidates(
    inst: RegionsInstance, plan: _Plan, miles: np.ndarray, max_miles: float | None
) -> dict[int, list[int]]:
    """C(i): centres j within max_miles (and the same piece) that can reach i inside S_j."""
    idx = inst.index
    piece_of = {c: k for k, (piece, _, _) in enumerate(plan.parts) for c in piece}
    unlocked = [idx[c] for c in plan.unlocked]
    cand: dict[int, list[int]] = {i: [] for i in unlocked}
    for j in unlocked:
        near = {
            inst.codes[i]
            for i in unlocked
            if piece_of[inst.codes[i]] == piece_of[inst.codes[j]]
            and (max_miles is None or miles[i, j] <= max_miles + 1e-9)
        }
        for part in components(near, plan.graph):
            if inst.codes[j] in part:
                for c in part:
                    cand[idx[c]].append(j)
    return cand


def add_assignment_vars(
    model: cp_model.CpModel, candidates: Mapping[int, list[int]], codes: Sequence[str]
) -> dict[tuple[int, int], cp_model.IntVar]:
    """x[i,j]: LA i is in the RCC centred on LA j, only for candidate centres j in C(i)."""
    return {
        (i, j): model.new_bool_var(f"in_rcc_of[{codes[i]},{codes[j]}]")
        for i, js in candidates.items()
        for j in js
    }


def add_each_la_in_one_rcc(
    model: cp_model.CpModel, x: Mapping[tuple[int, int], cp_model.IntVar], n_of: Mapping[int, Any]
) -> None:
    """Each LA is in exactly one RCC: sum_j x[i,j] = 1; members only join open centres:
    x[i,j] <= x[j,j]."""
    for i, js in n_of.items():
        model.add_exactly_one(x[i, j] for j in js)
        for j in js:
            if j != i:
                model.add_implication(x[i, j], x[j, j])


def add_rcc_count(
    model: cp_model.CpModel,
    x: Mapping[tuple[int, int], cp_model.IntVar],
    k: int,
    pieces: Sequence[tuple[Sequence[int], int, int]],
) -> None:
    """Exactly K' proposed RCCs: sum_j x[j,j] = K'. Each separate piece holds a number the
    balance band allows (implied by balance, stated to help the search):
    low_piece <= sum_{j in piece} x[j,j] <= high_piece."""
    model.add(sum(x[j, j] for centres, _, _ in pieces for j in centres) == k)
    for centres, low, high in pieces:
        model.add_linear_constraint(sum(x[j, j] for j in centres), low, high)


def add_demand_balance(
    model: cp_model.CpModel,
    x: Mapping[tuple[int, int], cp_model.IntVar],
    members_of: Mapping[int, list[int]],
    cla: Sequence[int],
    lo: float,
    hi: float,
) -> None:
    """Each proposed RCC's children in care within the band:
    ceil(lo) x[j,j] <= sum_i cla_i x[i,j] <= floor(hi) x[j,j]."""
    low, high = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    for j, members in members_of.items():
        load = sum(cla[i] * x[i, j] for i in members)
        model.add(load >= low * x[j, j])
        model.add(load <= high * x[j, j])


def add_contiguity(
    model: cp_model.CpModel,
    x: Mapping[tuple[int, int], cp_model.IntVar],
    candidates: Mapping[int, list[int]],
    graph: Mapping[str, frozenset[str]],
    codes: Sequence[str],
) -> tuple[dict[tuple[int, int], cp_model.IntVar], dict[int, cp_model.IntVar]]:
    """Every RCC holds a spanning tree rooted at its centre: each non-centre has one parent
    neighbour in its own RCC at a lower level (sum_v p[i,v] + x[i,i] = 1, p[i,v] =>
    x[i,j] <= x[v,j], p[i,v] => level[v] < level[i])."""
    idx = {c: i for i, c in enumerate(codes)}
    n = len(candidates)
    parent: dict[tuple[int, int], cp_model.IntVar] = {}
    level = {i: model.new_int_var(0, max(n - 1, 0), f"tree_level[{codes[i]}]") for i in candidates}
    for i, js in candidates.items():
        cand_i = set(js)
        arcs = []
        for code_v in sorted(graph[codes[i]]):
            v = idx[code_v]
            shared = cand_i & set(candidates[v])
            if not shared:
                continue
            p = model.new_bool_var(f"tree_parent[{codes[i]},{code_v}]")
            parent[i, v] = p
            arcs.append(p)
            model.add(p <= sum(x[i, j] for j in shared))
            for j in shared:
                model.add(x[i, j] + p <= 1 + x[v, j])
            model.add(level[v] + 1 <= level[i]).only_enforce_if(p)
        model.add(sum(arcs) + x[i, i] == 1)
        model.add(level[i] == 0).only_enforce_if(x[i, i])
    return parent, level


def add_self_sufficiency(
    model: cp_model.CpModel,
    x: Mapping[tuple[int, int], cp_model.IntVar],
    members_of: Mapping[int, list[int]],
    demand: Mapping[str, Sequence[int]],
    supply: Mapping[str, Sequence[int]],
    codes: Sequence[str],
) -> dict[tuple[int, str], cp_model.IntVar]:
    """met[j,s] = min(supply, demand) of setting s in RCC j, linearised for a maximisation:
    met[j,s] <= sum_i supply_is x[i,j] and met[j,s] <= sum_i demand_is x[i,j]."""
    met = {}
    for j, members in members_of.items():
        for s in demand:
            cap = min(sum(demand[s][i] for i in members), sum(supply[s][i] for i in members))
            m = model.new_int_var(0, cap, f"met[{codes[j]},{s}]")
            model.add(m <= sum(supply[s][i] * x[i, j] for i in members))
            model.add(m <= sum(demand[s][i] * x[i, j] for i in members))
            met[j, s] = m
    return met


def set_objective(
    model: cp_model.CpModel,
    x: Mapping[tuple[int, int], cp_model.IntVar],
    met: Mapping[tuple[int, str], cp_model.IntVar],
    *,
    met_points: Mapping[str, float],
    miles_points: np.ndarray,
) -> float:
    """Maximise sum_s w_s 100 met_s / D_s - w_c sum_ij cla_i d_ij x[i,j] / CLA, scaled to
    integers so the smallest nonzero coefficient is about 2,000 (rounding error < 0.03%);
    returns the scale (CP-SAT units per point)."""
    coefs = [abs(c) for c in met_points.values()]
    coefs += [abs(miles_points[i, j]) for i, j in x]
    smallest = min((c for c in coefs if c > 0), default=1.0)
    scale = min(max(_MIN_COEFFICIENT / smallest, 1.0), 1e12 / max(max(coefs, default=1.0), 1.0))
    terms = [round(scale * met_points[s]) * v for (_, s), v in met.items()]
    terms += [-round(scale * miles_points[i, j]) * v for (i, j), v in x.items()]
    model.maximize(sum(terms))
    return scale


def _units(values: Sequence[float]) -> list[int]:
    return [round(_UNITS * v) for v in values]


def build_model(inst: RegionsInstance, request: Request, plan: _Plan) -> _Model:
    """The CP-SAT model of the request (not solved)."""
    miles = inst.miles()
    idx = inst.index
    candidates = _candidates(inst, plan, miles, request.max_miles)
    members_of: dict[int, list[int]] = {}
    for i, js in candidates.items():
        for j in js:
            members_of.setdefault(j, []).append(i)
    model = cp_model.CpModel()
    x = add_assignment_vars(model, candidates, inst.codes)
    add_each_la_in_one_rcc(model, x, candidates)
    add_rcc_count(
        model, x, plan.k_proposed, [([idx[c] for c in p], few, most) for p, few, most in plan.parts]
    )
    add_demand_balance(model, x, members_of, inst.cla, plan.lo, plan.hi)
    parent, level = add_contiguity(model, x, candidates, plan.graph, inst.codes)
    settings = inst.objective_settings
    demand = {s: _units(inst.demand[s]) for s in settings}
    supply = {s: _units(inst.supply[s]) for s in settings}
    met = add_self_sufficiency(model, x, members_of, demand, supply, inst.codes)
    w = request.weights
    national = {s: sum(demand[s]) for s in settings}
    met_points = {s: w.setting(s) * 100.0 / national[s] if national[s] else 0.0 for s in settings}
    total_cla = max(float(sum(inst.cla)), 1.0)
    cla = np.asarray(inst.cla, dtype=float)
    miles_points = w.compactness * cla[:, None] * miles / total_cla
    scale = set_objective(model, x, met, met_points=met_points, miles_points=miles_points)
    constant = _locked_constant(inst, request, miles, met_points, demand, supply, miles_points)
    constant += sum(100.0 * w.setting(s) for s in settings if national[s] == 0)
    return _Model(model, x, parent, level, met, candidates, constant, scale)


def _locked_constant(
    inst: RegionsInstance,
    request: Request,
    miles: np.ndarray,
    met_points: Mapping[str, float],
    demand: Mapping[str, Sequence[int]],
    supply: Mapping[str, Sequence[int]],
    miles_points: np.ndarray,
) -> float:
    """Objective points of the locked RCCs (fixed): their met demand and best-centre miles."""
    idx = inst.index
    cla = np.asarray(inst.cla, dtype=float)
    points = 0.0
    for lock in request.locks:
        members = [idx[c] for c in lock.members]
        for s in met_points:
            met = min(sum(demand[s][i] for i in members), sum(supply[s][i] for i in members))
            points += met_points[s] * met
        centre, _ = _best_centre(members, cla, miles) or (members[0], 0.0)
        points -= float(miles_points[members, centre].sum())
    return points


def _hint(
    built: _Model, inst: RegionsInstance, lookup: Mapping[str, str], miles: np.ndarray
) -> None:
    """Warm start: centres, spanning trees (breadth-first) and met demand of a partition."""
    idx = inst.index
    cla = np.asarray(inst.cla, dtype=float)
    groups: dict[str, list[int]] = {}
    for i in built.candidates:
        groups.setdefault(lookup[inst.codes[i]], []).append(i)
    centre_of: dict[int, int] = {}
    levels: dict[int, int] = {}
    parent_of: dict[int, int] = {}
    for members in groups.values():
        allowed = [j for j in members if all(j in built.candidates[i] for i in members)]
        sub = miles[np.ix_(members, allowed)]
        j = allowed[int(np.argmin(cla[members] @ sub))]
        member_set = set(members)
        levels[j] = 0
        queue = [j]
        for node in queue:
            for code_v in sorted(inst.graph[inst.codes[node]]):
                v = idx[code_v]
                if v in member_set and v not in levels:
                    levels[v], parent_of[v] = levels[node] + 1, node
                    queue.append(v)
        for i in members:
            centre_of[i] = j
    m = built.model
    for (i, j), var in built.x.items():
        m.add_hint(var, centre_of[i] == j)
    for (i, v), var in built.parent.items():
        m.add_hint(var, parent_of.get(i) == v)
    for i, var in built.level.items():
        m.add_hint(var, levels[i])
    for (j, s), var in built.met.items():
        members = [i for i in built.candidates if centre_of[i] == j]
        dem = sum(round(_UNITS * inst.demand[s][i]) for i in members)
        sup = sum(round(_UNITS * inst.supply[s][i]) for i in members)
        m.add_hint(var, min(dem, sup))


class _Trace(cp_model.CpSolverSolutionCallback):
    """Records (seconds since start, objective in points) of every improving solution, and
    says each with the proven bound."""

    def __init__(
        self, start: float, scale: float, constant: float, say: Callable[[str], None]
    ) -> None:
        super().__init__()
        self.start, self.scale, self.constant, self.say = start, scale, constant, say
        self.points: list[tuple[float, float]] = []

    def on_solution_callback(self) -> None:
        value = self.objective_value / self.scale + self.constant
        self.points.append((time.perf_counter() - self.start, value))
        bound = self.best_objective_bound / self.scale + self.constant
        self.say(f"solution {len(self.points)}: {value:,.1f} points, bound {bound:,.1f}")


def _fits_radius(
    inst: RegionsInstance, max_miles: float | None, miles: np.ndarray
) -> Callable[[Sequence[Sequence[str]]], bool]:
    idx = inst.index
    cla = np.asarray(inst.cla, dtype=float)

    def fits(groups: Sequence[Sequence[str]]) -> bool:
        if max_miles is None:
            return True
        return all(
            _best_centre([idx[c] for c in g], cla, miles, max_miles) is not None for g in groups
        )

    return fits


def propose(
    inst: RegionsInstance, request: Request, *, progress: Callable[[str], None] | None = None
) -> Proposal:
    """Solve the request: pre-check, warm start, CP-SAT within the time limit, read back
    (`progress` receives a line per stage and per improving solution)."""
    start = time.perf_counter()
    say = progress or (lambda _msg: None)
    plan = check_request(inst, request)
    locked_lookup = {c: lock.name for lock in request.locks for c in lock.members}
    if plan.k_proposed == 0:
        score = evaluate(inst, locked_lookup, weights=request.weights, locks=request.locks)
        return _proposal(
            locked_lookup,
            ProposalStatus.OPTIMAL,
            score,
            score.objective,
            start,
            0.0,
            request,
            None,
            (),
        )
    miles = inst.miles()
    say("warm start: the best of seeded spanning-tree partitions, polished")
    warm = baseline_partition(
        inst,
        request,
        fits=_fits_radius(inst, request.max_miles, miles),
        polish=lambda lookup: improve_locally(inst, request, lookup),
    )
    built = build_model(inst, request, plan)
    if warm is not None:
        _hint(built, inst, warm, miles)
    solver = cp_model.CpSolver()
    # The limit is CP-SAT's own: the warm start before it (seeded, so the same each run) is
    # not taken out of it (it was, and a slow warm start left CP-SAT "0 s").
    if request.reproducible:  # deterministic search, stopped by deterministic work, not clock
        solver.parameters.interleave_search = True
        solver.parameters.max_deterministic_time = request.time_limit
    else:
        solver.parameters.max_time_in_seconds = request.time_limit
    solver.parameters.num_workers = max(1, request.threads)
    solver.parameters.random_seed = request.seed
    # Probing the ~70k contiguity clauses takes seconds on the national model for little gain;
    # without it the warm start is loaded within a few seconds.
    solver.parameters.cp_model_probing_level = 0
    say(
        f"CP-SAT: {len(built.x):,} assignment variables, stops after {request.time_limit:g} "
        f"{'deterministic ' if request.reproducible else ''}s"
    )
    trace = _Trace(start, built.scale, built.constant, say)
    code = solver.solve(built.model, trace)
    if code == cp_model.INFEASIBLE or code == cp_model.MODEL_INVALID:
        raise InfeasibleRequestError(_infeasible_message(request, plan, code))
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE) and warm is not None:
        # Without a solution of its own CP-SAT proves no bound (its best_objective_bound is
        # then a placeholder, e.g. below the warm start's objective): none is reported.
        score = evaluate(inst, warm, weights=request.weights, locks=request.locks)
        return _proposal(
            warm, ProposalStatus.WARM_START, score, None, start, None, request, score.objective, ()
        )
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise InfeasibleRequestError(
            f"no contiguous, balanced partition found within {request.time_limit:g} s (not "
            f"proven infeasible): allow more time, a wider tolerance than "
            f"{request.tolerance:.0%} or a larger --max-miles than {request.max_miles}"
        )
    groups: dict[int, list[str]] = {}
    for (i, j), var in built.x.items():
        if solver.boolean_value(var):
            groups.setdefault(j, []).append(inst.codes[i])
    lookup = _lookup_from_groups(inst, list(groups.values()), request.locks)
    score = evaluate(inst, lookup, weights=request.weights, locks=request.locks)
    status = ProposalStatus.OPTIMAL if code == cp_model.OPTIMAL else ProposalStatus.FEASIBLE
    if status is ProposalStatus.FEASIBLE:
        # Boundary moves stay inside the model's feasible set, so the bound still holds.
        polished = improve_locally(inst, request, lookup)
        polished_score = evaluate(inst, polished, weights=request.weights, locks=request.locks)
        if polished_score.objective > score.objective + 1e-9:
            lookup, score = polished, polished_score
    bound = solver.best_objective_bound / built.scale + built.constant
    if status is ProposalStatus.OPTIMAL:
        bound = max(bound, score.objective)
    first = trace.points[0][0] if trace.points else None
    warm_obj = (
        evaluate(inst, warm, weights=request.weights, locks=request.locks).objective
        if warm is not None
        else None
    )
    points = tuple(trace.points)
    return _proposal(
        lookup,
        status,
        score,
        bound,
        start,
        first,
        request,
        warm_obj,
        points,
        model_size={
            "assign_vars": len(built.x),
            "tree_arcs": len(built.parent),
            "conflicts": solver.num_conflicts,
        },
    )


def _proposal(
    lookup: Mapping[str, str],
    status: ProposalStatus,
    score: Score,
    bound: float | None,
    start: float,
    first: float | None,
    request: Request,
    warm: float | None,
    trace: tuple[tuple[float, float], ...],
    model_size: Mapping[str, int] | None = None,
) -> Proposal:
    if bound is not None and not math.isfinite(bound):
        bound = None
    gap = (
        None
        if bound is None
        else abs(bound - score.objective) / max(abs(bound), abs(score.objective), 1e-9)
    )
    params: dict[str, Any] = {
        "k": request.k,
        "tolerance": request.tolerance,
        "within_regions": request.within_regions,
        "locks": [lock.name for lock in request.locks],
        "weights": vars(request.weights).copy(),
        "max_miles": request.max_miles,
        "time_limit": request.time_limit,
        "reproducible": request.reproducible,
        "threads": request.threads,
        "seed": request.seed,
        "solver": "ortools CP-SAT",
        **(model_size or {}),
    }
    return Proposal(
        lookup=dict(lookup),
        status=status,
        objective=score.objective,
        bound=bound,
        gap=0.0 if status is ProposalStatus.OPTIMAL else gap,
        wall_seconds=time.perf_counter() - start,
        first_feasible_seconds=first,
        score=score,
        parameters=params,
        warm_start_objective=warm,
        trace=trace,
    )


def _infeasible_message(request: Request, plan: _Plan, code: Any) -> str:
    causes = [
        f"the balance tolerance (+-{request.tolerance:.0%} of {plan.mean:,.0f}: "
        f"{plan.lo:,.0f}-{plan.hi:,.0f} children in care per RCC) combined with contiguity"
    ]
    if request.max_miles is not None:
        causes.append(f"the {request.max_miles:g}-mile limit from an RCC's centre")
    if request.within_regions:
        causes.append("keeping RCCs within the nine regions")
    if request.locks:
        causes.append("the shape left by the locked groups")
    what = "proved" if code == cp_model.INFEASIBLE else "found the model invalid:"
    return (
        f"CP-SAT {what} no partition into {plan.k_proposed} proposed RCCs exists; likely "
        f"cause: {'; or '.join(causes)}"
    )


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def compare(
    inst: RegionsInstance,
    lookups: Mapping[str, Mapping[str, str]],
    *,
    weights: Weights | None = None,
    locks: Mapping[str, Sequence[Lock]] | None = None,
) -> pd.DataFrame:
    """One row per named lookup: RCCs, objective, self-sufficiency, compactness, balance."""
    rows = []
    for label, lookup in lookups.items():
        score = evaluate(inst, lookup, weights=weights, locks=(locks or {}).get(label, ()))
        row: dict[str, Any] = {
            "grouping": label,
            "rccs": int(score.rccs.shape[0]),
            "objective": score.objective,
        }
        for s, v in score.self_sufficiency.items():
            row[f"{s}_self_sufficiency_pct"] = v
        row["mean_miles_to_centre"] = score.mean_miles
        row["max_internal_miles"] = score.max_internal_miles
        row["max_balance_deviation_pct"] = 100.0 * score.max_balance_deviation
        row["all_contiguous"] = bool(score.rccs["contiguous"].all())
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Locks, outputs and the allocation indicators under a lookup
# --------------------------------------------------------------------------------------------


def preset_locks(names: str | Sequence[str]) -> tuple[Lock, ...]:
    """Locks for named pathfinders: 'gm', 'south-east' (comma-separated text or a list)."""
    from geodata.rcc import preset_groups

    items = names.split(",") if isinstance(names, str) else list(names)
    locks = []
    for item in (i.strip() for i in items):
        if item:
            name, members = preset_groups(item)
            locks.append(Lock(name, tuple(members), source=f"preset '{item}'"))
    return tuple(locks)


def read_lock_csv(path: Path, *, england: England | None = None) -> tuple[Lock, ...]:
    """Locked groups from a CSV with columns `la_code,rcc` (read as `rcc validate` reads
    rccs.csv: UTF-8, a BOM is fine); every problem named by file, row and column."""
    from optimiser.problem import read_csv_table

    eng = england or load_england()
    name = Path(path).name
    issues: list[InputIssue] = []
    frame = read_csv_table(Path(path), issues)
    if frame is None:
        raise ProblemValidationError(issues)
    issues = [
        InputIssue(name, 1, col, f"missing column '{col}' (need la_code,rcc)")
        for col in ("la_code", "rcc")
        if col not in frame.columns
    ]
    if issues:
        raise ProblemValidationError(issues)
    groups: dict[str, list[str]] = {}
    first: dict[str, int] = {}  # RCC name -> its first row
    seen: dict[str, int] = {}
    rows = frame.index + 2  # spreadsheet rows, blank lines counted (read_csv_table's index)
    for row, code, rcc in zip(rows, frame["la_code"], frame["rcc"], strict=True):
        norm = code.upper()
        if norm not in eng:
            issues.append(InputIssue(name, row, "la_code", eng.unknown_code_message(code)))
        elif norm in seen:
            issues.append(
                InputIssue(name, row, "la_code", f"{norm} is already on row {seen[norm]}")
            )
        if not rcc:
            issues.append(InputIssue(name, row, "rcc", "empty RCC name"))
        if norm in eng and norm not in seen and rcc:
            seen[norm] = row
            first.setdefault(rcc, row)
            groups.setdefault(rcc, []).append(norm)
    if issues:
        raise ProblemValidationError(issues)
    return tuple(
        Lock(rcc, tuple(members), source=f"{name} row {first[rcc]}")
        for rcc, members in groups.items()
    )


def suppress(value: float, *, threshold: int = 5) -> str | int:
    """Small-number suppression for published counts: 1..threshold shown as 'c'."""
    count = round(value)
    return "c" if 1 <= count <= threshold else count


def summary_frame(score: Score) -> pd.DataFrame:
    """The per-RCC table written as rccs_summary.csv (child counts suppressed when 1-5)."""
    t = score.rccs
    out = pd.DataFrame(
        {
            "rcc": t["rcc"],
            "locked": t["locked"],
            "las": t["las"],
            "children_in_care": [suppress(v) for v in t["cla"]],
            "cla_vs_mean": t["cla_vs_mean"].round(3),
        }
    )
    for s in REPORTED_DEMAND:
        if f"{s}_demand" in t:
            col = f"{s}_demand_estimate" if s == "secure" else f"{s}_demand"
            out[col] = (
                t[f"{s}_demand"].round(1)
                if s == "secure"
                else [suppress(v) for v in t[f"{s}_demand"]]
            )
        if f"{s}_supply" in t:
            out[f"{s}_places"] = t[f"{s}_supply"].round(1)
            out[f"{s}_self_sufficiency_pct"] = t[f"{s}_self_sufficiency_pct"].round(1)
    out["centre"] = t["centre"]
    out["mean_miles_to_centre"] = t["mean_miles_to_centre"].round(1)
    out["max_internal_miles"] = t["max_internal_miles"].round(1)
    out["contiguous"] = t["contiguous"]
    return out


def write_outputs(
    out: Path,
    proposal: Proposal,
    comparison: pd.DataFrame,
    allocation: pd.DataFrame | None = None,
) -> list[Path]:
    """Write rccs.csv (la_code,rcc), rccs_summary.csv, comparison.csv and proposal.json, and
    allocation_comparison.csv when given (else remove one left by an earlier run)."""
    out.mkdir(parents=True, exist_ok=True)
    lookup = pd.DataFrame({"la_code": list(proposal.lookup), "rcc": list(proposal.lookup.values())})
    paths = [out / "rccs.csv", out / "rccs_summary.csv", out / "comparison.csv"]
    lookup.to_csv(paths[0], index=False, encoding="utf-8-sig")
    summary_frame(proposal.score).to_csv(paths[1], index=False, encoding="utf-8-sig")
    comparison.round(3).to_csv(paths[2], index=False, encoding="utf-8-sig")
    if allocation is not None:
        paths.append(out / "allocation_comparison.csv")
        allocation.round(3).to_csv(paths[-1], index=False, encoding="utf-8-sig")
    else:  # an earlier run's table would describe another proposal
        (out / "allocation_comparison.csv").unlink(missing_ok=True)
    meta = {
        "status": proposal.status.value,
        "objective": proposal.objective,
        "bound": proposal.bound,
        "gap": proposal.gap,
        "wall_seconds": proposal.wall_seconds,
        "first_feasible_seconds": proposal.first_feasible_seconds,
        "warm_start_objective": proposal.warm_start_objective,
        "self_sufficiency_pct": dict(proposal.score.self_sufficiency),
        "mean_miles_to_centre": proposal.score.mean_miles,
        "max_balance_deviation": proposal.score.max_balance_deviation,
        "parameters": dict(proposal.parameters),
        "trace": [list(p) for p in proposal.trace],
    }
    paths.append(out / "proposal.json")
    paths[-1].write_text(json.dumps(meta, indent=2) + "\n")
    return paths


ALLOCATION_COLUMNS: tuple[str, ...] = (
    "children",
    "placed",
    "unplaced",
    "out_of_la_pct",
    "over_20_miles_pct",
    "out_of_rcc_pct",
    "weekly_cost",
    "mean_miles",
)


def allocation_comparison(
    lookups: Mapping[str, Mapping[str, str]],
    *,
    seed: int = 1,
    scale: float = 0.25,
    time_limit: float = 30.0,
) -> pd.DataFrame | str:
    """National allocation indicators when the allocation optimiser runs with each lookup.

    Uses `optimiser.synthetic.synthesize(rccs=...)`, `optimiser.allocation.solve` and
    `optimiser.indicators.indicators` (see the contracts); returns a sentence saying what is
    missing when those modules are not available yet. Sibling groups are left out so each
    allocation is a transportation problem solved to proven optimality: differences between
    groupings then come from the RCC lookup alone (the out-of-RCC penalty and indicator).
    """
    try:
        from optimiser.allocation import solve  # type: ignore[import-not-found,unused-ignore]
        from optimiser.indicators import (  # type: ignore[import-not-found,unused-ignore]
            indicators,
        )
        from optimiser.synthetic import (  # type: ignore[import-not-found,unused-ignore]
            synthesize,
        )
    except ImportError as exc:
        return (
            "allocation indicators not available: the allocation optimiser is not in this "
            f"build yet ({exc})"
        )
    rows = []
    for label, lookup in lookups.items():
        problem = synthesize(seed=seed, scale=scale, rccs=dict(lookup), sibling_groups=False)
        result = solve(problem, time_limit=time_limit)
        national = indicators(result.assignments)
        row: dict[str, Any] = {
            "grouping": label,
            "status": getattr(result.status, "name", ""),
            "seconds": result.wall_seconds,
        }
        for col in ALLOCATION_COLUMNS:
            if col in national.columns:
                row[col] = national[col].iloc[0]
        rows.append(row)
    return pd.DataFrame(rows)
