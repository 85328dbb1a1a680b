"""Tests of RCC districting: contiguity, locks, balance, clear infeasibility, brute-force optima."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geodata.adjacency import is_contiguous
from geodata.distance import METRES_PER_MILE
from optimiser.errors import InfeasibleRequestError, ProblemValidationError
from optimiser.regions import (
    Lock,
    Proposal,
    ProposalStatus,
    RegionsInstance,
    Request,
    Weights,
    baseline_partition,
    check_request,
    compare,
    evaluate,
    improve_locally,
    parse_weights,
    propose,
    read_lock_csv,
    suppress,
    write_outputs,
)


def tiny(
    edges: Sequence[tuple[str, str]],
    cla: Mapping[str, int],
    *,
    points: Mapping[str, tuple[float, float]],
    res_demand: Mapping[str, float] | None = None,
    res_supply: Mapping[str, float] | None = None,
    regions: Mapping[str, str] | None = None,
) -> RegionsInstance:
    """A hand-made instance; points are in miles (converted to BNG metres)."""
    codes = tuple(cla)
    graph: dict[str, set[str]] = {c: set() for c in codes}
    for a, b in edges:
        graph[a].add(b)
        graph[b].add(a)
    res_d = res_demand or {c: 10.0 for c in codes}
    res_s = res_supply or {c: 10.0 for c in codes}
    return RegionsInstance(
        codes=codes,
        names=tuple(f"LA {c}" for c in codes),
        regions=tuple((regions or {}).get(c, "Region") for c in codes),
        cla=tuple(cla[c] for c in codes),
        demand={
            "foster": tuple(float(cla[c]) for c in codes),
            "residential": tuple(res_d[c] for c in codes),
            "secure": tuple(res_d[c] / 10 for c in codes),
        },
        supply={
            "residential": tuple(res_s[c] for c in codes),
            "secure": tuple(res_s[c] / 10 for c in codes),
        },
        easting=tuple(points[c][0] * METRES_PER_MILE for c in codes),
        northing=tuple(points[c][1] * METRES_PER_MILE for c in codes),
        graph={c: frozenset(v) for c, v in graph.items()},
    )


def set_partitions(items: list[str]) -> Iterator[list[list[str]]]:
    """Every partition of `items` into non-empty blocks."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in set_partitions(rest):
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1 :]]
        yield [[first], *part]


def brute_force_best(inst: RegionsInstance, request: Request) -> float:
    """The best objective over every contiguous, balanced partition (checked by enumeration)."""
    locked = {c for lock in request.locks for c in lock.members}
    free = [c for c in inst.codes if c not in locked]
    k = request.k - len(request.locks)
    idx = inst.index
    mean = sum(inst.cla[idx[c]] for c in free) / k
    lo, hi = (1 - request.tolerance) * mean, (1 + request.tolerance) * mean
    best = -math.inf
    for blocks in set_partitions(free):
        if len(blocks) != k:
            continue
        if not all(is_contiguous(b, inst.graph) for b in blocks):
            continue
        loads = [sum(inst.cla[idx[c]] for c in b) for b in blocks]
        if not all(lo - 1e-9 <= x <= hi + 1e-9 for x in loads):
            continue
        if request.within_regions and any(
            len({inst.regions[idx[c]] for c in b}) > 1 for b in blocks
        ):
            continue
        lookup = {c: lock.name for lock in request.locks for c in lock.members}
        lookup.update({c: f"block {n}" for n, b in enumerate(blocks) for c in b})
        score = evaluate(inst, lookup, weights=request.weights, locks=request.locks)
        best = max(best, score.objective)
    return best


def assert_valid(inst: RegionsInstance, request: Request, lookup: Mapping[str, str]) -> None:
    """Every LA once; K RCCs; each contiguous; locks kept; proposed RCCs within the band."""
    assert set(lookup) == set(inst.codes)
    groups: dict[str, list[str]] = {}
    for code, rcc in lookup.items():
        groups.setdefault(rcc, []).append(code)
    assert len(groups) == request.k
    for members in groups.values():
        assert is_contiguous(members, inst.graph), members
    locked_names = {lock.name for lock in request.locks}
    for lock in request.locks:
        assert sorted(groups[lock.name]) == sorted(lock.members)
    idx = inst.index
    proposed = [m for name, m in groups.items() if name not in locked_names]
    loads = [sum(inst.cla[idx[c]] for c in m) for m in proposed]
    mean = sum(loads) / len(loads)
    for load in loads:
        assert (
            (1 - request.tolerance) * mean - 1e-6 <= load <= (1 + request.tolerance) * mean + 1e-6
        )
    if request.within_regions:
        for members in proposed:
            assert len({inst.regions[idx[c]] for c in members}) == 1


def solve(inst: RegionsInstance, request: Request) -> Proposal:
    said: list[str] = []
    proposal = propose(inst, request, progress=said.append)
    assert_valid(inst, request, proposal.lookup)
    # the stages, then a line for each improving solution
    solutions = [line for line in said if line.startswith("solution ")]
    assert said[0].startswith("warm start") and said[1].startswith("CP-SAT")
    assert len(solutions) == len(proposal.trace) > 0
    return proposal


# A 2 x 4 grid, 1 mile apart:   A B C D
#                               E F G H
GRID_POINTS = {
    c: (float(i % 4), float(i // 4)) for i, c in enumerate(["A", "B", "C", "D", "E", "F", "G", "H"])
}
GRID_EDGES = [
    ("A", "B"),
    ("B", "C"),
    ("C", "D"),
    ("E", "F"),
    ("F", "G"),
    ("G", "H"),
    ("A", "E"),
    ("B", "F"),
    ("C", "G"),
    ("D", "H"),
]


def grid(cla: Mapping[str, int] | None = None, **kwargs: Any) -> RegionsInstance:
    return tiny(
        GRID_EDGES,
        cla or {c: 10 for c in GRID_POINTS},
        points=GRID_POINTS,
        **kwargs,
    )


def fast(**options: Any) -> Request:
    """A request for the tiny graphs: no distance limit, one worker, a generous time limit."""
    return Request(
        **{"time_limit": 20.0, "threads": 1, "max_miles": None, "baseline_draws": 10, **options}
    )


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize(
    "weights",
    [Weights(), Weights(compactness=0.0), Weights(residential=0.0, secure=0.0), Weights(secure=5)],
)
def test_grid_optimum_matches_brute_force(k: int, weights: Weights) -> None:
    inst = grid(
        {"A": 12, "B": 8, "C": 10, "D": 15, "E": 9, "F": 11, "G": 7, "H": 10},
        res_demand={"A": 20, "B": 5, "C": 5, "D": 30, "E": 5, "F": 5, "G": 5, "H": 5},
        res_supply={"A": 0, "B": 30, "C": 0, "D": 0, "E": 0, "F": 0, "G": 40, "H": 10},
    )
    request = fast(k=k, tolerance=0.4, weights=weights)
    proposal = solve(inst, request)
    assert proposal.status is ProposalStatus.OPTIMAL
    assert proposal.objective == pytest.approx(brute_force_best(inst, request), abs=1e-3)
    assert proposal.bound is not None and proposal.bound >= proposal.objective - 1e-3


def test_path_with_a_lock_matches_brute_force() -> None:
    points = {c: (float(i), 0.0) for i, c in enumerate("ABCDEFG")}
    edges = list(itertools.pairwise("ABCDEFG"))
    cla = {"A": 5, "B": 9, "C": 6, "D": 8, "E": 7, "F": 4, "G": 9}
    inst = tiny(edges, cla, points=points)
    lock = Lock("Pathfinder", ("C", "D"))
    request = fast(k=4, tolerance=0.5, locks=(lock,))
    proposal = solve(inst, request)
    assert proposal.status is ProposalStatus.OPTIMAL
    assert proposal.lookup["C"] == proposal.lookup["D"] == "Pathfinder"
    assert proposal.objective == pytest.approx(brute_force_best(inst, request), abs=1e-3)


def test_self_sufficiency_pulls_demand_next_to_supply() -> None:
    # Path A-B-C-D, equal children; homes only in A and D; demand only in B and C: the best
    # 2-RCC split pairs each demand LA with a supply LA, not A|BCD or ABC|D.
    points = {c: (float(i), 0.0) for i, c in enumerate("ABCD")}
    inst = tiny(
        list(itertools.pairwise("ABCD")),
        {c: 10 for c in "ABCD"},
        points=points,
        res_demand={"A": 0, "B": 10, "C": 10, "D": 0},
        res_supply={"A": 10, "B": 0, "C": 0, "D": 10},
    )
    request = fast(k=2, tolerance=0.6, weights=Weights(compactness=0.0))
    proposal = solve(inst, request)
    assert proposal.lookup["A"] == proposal.lookup["B"] != proposal.lookup["C"]
    assert proposal.score.self_sufficiency["residential"] == pytest.approx(100.0)


def test_within_regions_keeps_rccs_inside_regions() -> None:
    regions = {c: ("North" if c in "ABEF" else "South") for c in GRID_POINTS}
    inst = grid(regions=regions)
    request = fast(k=4, tolerance=0.25, within_regions=True)
    proposal = solve(inst, request)
    assert proposal.status is ProposalStatus.OPTIMAL
    assert proposal.objective == pytest.approx(brute_force_best(inst, request), abs=1e-3)


def test_k_larger_than_the_las_is_refused() -> None:
    with pytest.raises(InfeasibleRequestError, match="K larger than the LAs"):
        propose(grid(), fast(k=9))


def test_non_contiguous_lock_is_refused() -> None:
    request = fast(k=3, locks=(Lock("Split", ("A", "D")),))
    with pytest.raises(InfeasibleRequestError, match="'Split' breaks contiguity"):
        propose(grid(), request)


def test_lock_that_cuts_off_a_small_piece_is_refused() -> None:
    points = {c: (float(i), 0.0) for i, c in enumerate("ABCDE")}
    inst = tiny(list(itertools.pairwise("ABCDE")), {c: 10 for c in "ABCDE"}, points=points)
    # Locking B leaves A alone (10 children) but proposed RCCs must hold 15 +-10%.
    request = fast(k=3, tolerance=0.1, locks=(Lock("Middle", ("B",)),))
    with pytest.raises(InfeasibleRequestError, match=r"tolerance too tight.*locks or regions cut"):
        propose(inst, request)


def test_tolerance_too_tight_for_a_big_la_is_refused() -> None:
    cla = {c: 10 for c in GRID_POINTS} | {"A": 40}
    with pytest.raises(InfeasibleRequestError, match="tolerance too tight: LA A alone"):
        propose(grid(cla), fast(k=4, tolerance=0.1))


def test_infeasibility_proven_by_the_solver_names_the_balance_tolerance() -> None:
    # A star: hub H with leaves A, B, C, all 10 children. Two RCCs of exactly 20 would need
    # two leaves together without the hub, which is not contiguous.
    points = {"H": (0.0, 0.0), "A": (1.0, 0.0), "B": (0.0, 1.0), "C": (-1.0, 0.0)}
    inst = tiny([("H", "A"), ("H", "B"), ("H", "C")], {c: 10 for c in "HABC"}, points=points)
    with pytest.raises(InfeasibleRequestError, match=r"CP-SAT proved.*balance tolerance"):
        propose(inst, fast(k=2, tolerance=0.0))


def test_two_locked_groups_with_one_name_are_refused_naming_both() -> None:
    """Two locks sharing a name were merged into one RCC in two pieces (K-1 RCCs, exit 0)."""
    locks = (
        Lock("Same", ("A",), source="preset 'x'"),
        Lock("Same", ("H",), source="locks.csv row 2"),
    )
    with pytest.raises(
        InfeasibleRequestError, match=r"both named 'Same' \(preset 'x' and locks.csv row 2\)"
    ):
        check_request(grid(), fast(k=3, locks=locks))


def test_a_proposed_rcc_never_takes_a_locked_groups_name() -> None:
    """A lock named like a generated RCC ('Region: LA H') was merged with the proposed RCC of
    that name: K asked, K-1 given, one RCC in two pieces."""
    inst = grid({c: 10 for c in GRID_POINTS} | {"H": 12})
    request = fast(k=2, tolerance=0.5, locks=(Lock("Region: LA H", ("A",)),))
    proposal = propose(inst, request)
    assert_valid(inst, request, proposal.lookup)
    assert proposal.lookup["A"] == "Region: LA H"
    assert proposal.lookup["H"] == "Region: LA H (2)"


def test_negative_or_too_small_max_miles_is_refused_plainly() -> None:
    """--max-miles -5 crashed with a KeyError deep in the model (no LA had a candidate
    centre); a limit too small for any balanced RCC now says so before solving."""
    with pytest.raises(InfeasibleRequestError, match="must be 0 or more, not -5"):
        propose(grid(), fast(k=2, max_miles=-5.0))
    with pytest.raises(InfeasibleRequestError, match=r"0.5-mile limit .* too small: .*LA A"):
        propose(grid(), fast(k=2, max_miles=0.5))
    assert check_request(grid(), fast(k=2, max_miles=2.0)).k_proposed == 2


def test_too_many_locks_for_k_is_refused() -> None:
    locks = (Lock("One", ("A",)), Lock("Two", ("B",)))
    with pytest.raises(InfeasibleRequestError, match="exceed the number of locked groups"):
        check_request(grid(), Request(k=2, locks=locks))


def test_baseline_partitions_are_contiguous_and_balanced() -> None:
    inst = grid({"A": 12, "B": 8, "C": 10, "D": 15, "E": 9, "F": 11, "G": 7, "H": 10})
    for seed in range(5):
        request = Request(k=3, tolerance=0.3, seed=seed, baseline_draws=5)
        lookup = baseline_partition(inst, request)
        assert lookup is not None
        assert_valid(inst, request, lookup)


def test_compare_reports_every_grouping() -> None:
    inst = grid()
    lookups = {"halves": {c: ("L" if c in "ABEF" else "R") for c in inst.codes}}
    table = compare(inst, lookups)
    assert table.loc[0, "rccs"] == 2
    assert table.loc[0, "all_contiguous"]
    assert table.loc[0, "max_balance_deviation_pct"] == pytest.approx(0.0)


def test_parse_weights() -> None:
    assert parse_weights("secure=3, compactness=0.5") == Weights(secure=3.0, compactness=0.5)
    with pytest.raises(ValueError, match="KEY=NUMBER"):
        parse_weights("distance=1")
    with pytest.raises(ValueError, match="not a number"):
        parse_weights("secure=lots")


def test_read_lock_csv_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "locks.csv"
    path.write_text("la_code,rcc\nE08000001,Bolton pair\nE0800XXXX,Bolton pair\nE08000002,\n")
    with pytest.raises(ProblemValidationError) as info:
        read_lock_csv(path)
    text = str(info.value)
    assert "locks.csv row 3, column la_code" in text
    assert "locks.csv row 4, column rcc" in text
    path.write_text("la_code,rcc\nE08000001,Bolton pair\ne08000002,Bolton pair\n")
    (lock,) = read_lock_csv(path)
    assert lock == Lock("Bolton pair", ("E08000001", "E08000002"))
    path.write_text("la_code,rcc\n\nE08000001,Bolton pair\n\nE0800XXXX,Bolton pair\n")
    with pytest.raises(ProblemValidationError, match=r"locks.csv row 5, column la_code"):
        read_lock_csv(path)  # (row 3 before: the blank lines were not counted)


def test_read_lock_csv_names_file_and_row_of_unreadable_rows(tmp_path: Path) -> None:
    """A Windows-1252 lock CSV gave "'utf-8' codec can't decode byte..." without the file; a
    row with an extra field was misread (its code taken for an index) and misreported."""
    latin = tmp_path / "latin.csv"
    latin.write_bytes("la_code,rcc\nE08000001,Café\n".encode("cp1252"))
    with pytest.raises(ProblemValidationError, match=r"latin.csv row 2: not UTF-8 text"):
        read_lock_csv(latin)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("la_code,rcc\nE08000001,A,extra\nE08000002,A\nE08000003,B,x,y\n")
    with pytest.raises(ProblemValidationError) as info:
        read_lock_csv(ragged)
    assert [(i.row, i.message) for i in info.value.issues] == [
        (2, "has 3 fields, expected 2 (the header's)"),
        (4, "has 4 fields, expected 2 (the header's)"),
    ]
    header_only = tmp_path / "header.csv"
    header_only.write_text("la_code,rcc\n")
    assert read_lock_csv(header_only) == ()


def test_suppress_small_counts() -> None:
    assert [suppress(v) for v in (0, 1, 5, 6, 4.6)] == [0, "c", "c", 6, "c"]


def test_local_search_keeps_rules_and_never_worsens() -> None:
    inst = grid(
        {"A": 12, "B": 8, "C": 10, "D": 15, "E": 9, "F": 11, "G": 7, "H": 10},
        res_demand={"A": 20, "B": 5, "C": 5, "D": 30, "E": 5, "F": 5, "G": 5, "H": 5},
        res_supply={"A": 0, "B": 30, "C": 0, "D": 0, "E": 0, "F": 0, "G": 40, "H": 10},
    )
    request = fast(k=3, tolerance=0.4, locks=(Lock("Corner", ("A",)),))
    for seed in range(5):
        start = baseline_partition(inst, request, seed=seed, draws=1)
        assert start is not None
        better = improve_locally(inst, request, start)
        assert_valid(inst, request, better)
        before = evaluate(inst, start, locks=request.locks).objective
        assert evaluate(inst, better, locks=request.locks).objective >= before - 1e-9


def test_outputs_are_written_with_readable_names(tmp_path: Path) -> None:
    inst = grid()
    request = fast(k=2, tolerance=0.25)
    proposal = solve(inst, request)
    table = compare(inst, {"proposal": proposal.lookup})
    paths = write_outputs(tmp_path, proposal, table)
    assert [p.name for p in paths] == [
        "rccs.csv",
        "rccs_summary.csv",
        "comparison.csv",
        "proposal.json",
    ]
    lookup = pd.read_csv(tmp_path / "rccs.csv", dtype=str)
    assert list(lookup.columns) == ["la_code", "rcc"]
    assert dict(zip(lookup["la_code"], lookup["rcc"], strict=True)) == dict(proposal.lookup)
    assert all(name.startswith("Region: LA ") for name in lookup["rcc"])
    summary = pd.read_csv(tmp_path / "rccs_summary.csv")
    assert len(summary) == 2
    assert summary["contiguous"].all()
    meta = json.loads((tmp_path / "proposal.json").read_text())
    assert meta["status"] == "optimal"
    assert meta["objective"] == pytest.approx(proposal.objective)


def test_locks_that_split_the_rest_leave_each_piece_any_count_the_band_allows() -> None:
    # A (locked) cuts B-C from D-E; 3 RCCs for 15 children, band 1-9. Splitting by size
    # (B-C one RCC, D and E one each) forces C's 5 miles into the compactness term; the optimum
    # keeps D-E together (9, at the band's top) and B, C apart: no distance at all.
    inst = tiny(
        [("A", "B"), ("A", "C"), ("A", "D"), ("B", "C"), ("D", "E")],
        {"A": 1, "B": 5, "C": 1, "D": 1, "E": 8},
        points={"A": (0, 0), "B": (0, 0), "C": (0, 5), "D": (0, 0), "E": (0, 0)},
        res_demand=dict.fromkeys("ABCDE", 0.0),
        res_supply=dict.fromkeys("ABCDE", 0.0),
    )
    request = fast(k=4, tolerance=0.8, locks=(Lock("Locked", ("A",)),))
    proposal = solve(inst, request)
    assert proposal.status is ProposalStatus.OPTIMAL
    assert proposal.objective == pytest.approx(200.0)
    assert proposal.lookup["D"] == proposal.lookup["E"]
    assert proposal.lookup["B"] != proposal.lookup["C"]
    assert brute_force_best(inst, request) == pytest.approx(200.0)


@st.composite
def small_instances(draw: st.DrawFn) -> tuple[RegionsInstance, Request]:
    """A random connected graph of 5-7 LAs in two regions with random children, K, tolerance,
    maybe a one-LA lock and maybe --within-regions."""
    n = draw(st.integers(5, 7))
    codes = [chr(ord("A") + i) for i in range(n)]
    edges = [(codes[draw(st.integers(0, i - 1))], codes[i]) for i in range(1, n)]
    extra = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=4))
    edges += [(codes[a], codes[b]) for a, b in extra if a != b]
    cla = {c: draw(st.integers(1, 20)) for c in codes}
    points = {c: (float(draw(st.integers(0, 9))), float(draw(st.integers(0, 9)))) for c in codes}
    res_d = {c: float(draw(st.integers(0, 9))) for c in codes}
    res_s = {c: float(draw(st.integers(0, 9))) for c in codes}
    regions = {c: draw(st.sampled_from(["North", "South"])) for c in codes}
    inst = tiny(edges, cla, points=points, res_demand=res_d, res_supply=res_s, regions=regions)
    locks = (Lock("Locked", (draw(st.sampled_from(codes)),)),) if draw(st.booleans()) else ()
    return inst, fast(
        k=draw(st.integers(2, 3)) + len(locks),
        tolerance=draw(st.sampled_from([0.2, 0.4, 0.8])),
        within_regions=draw(st.booleans()),
        locks=locks,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_instances())
def test_random_graphs_optimal_or_proven_infeasible(case: tuple[RegionsInstance, Request]) -> None:
    inst, request = case
    best = brute_force_best(inst, request)
    try:
        proposal = solve(inst, request)
    except InfeasibleRequestError:
        assert best == -math.inf
        return
    assert proposal.status is ProposalStatus.OPTIMAL
    assert proposal.objective == pytest.approx(best, abs=1e-3)
