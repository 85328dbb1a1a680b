"""The allocation's flow (optimiser/flow.py): optimal over its pairs, from scratch and after
pairs are added (warm-started shortest paths or a fresh solve), with dual prices that prove it;
and within a tolerance (the auction), then exactly (network simplex).
Checked against an LP of the same transportation problem (GLOP through OR-Tools)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from ortools.linear_solver import pywraplp

from optimiser import flow as flow_module
from optimiser.flow import Flow

UNPLACED = 10_000


def random_instance(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Children x placements pairs with integer costs; places short of children at times."""
    rng = np.random.default_rng(seed)
    n_c, n_p = int(rng.integers(12, 40)), int(rng.integers(2, 15))
    cap = rng.integers(0, 4, n_p)
    pairs = np.argwhere(rng.random((n_c, n_p)) < 0.4)
    cost = rng.integers(0, 3_000, len(pairs))
    return pairs[:, 0], pairs[:, 1], cost, cap, n_c


def lp_optimum(
    ci: np.ndarray, pi: np.ndarray, cost: np.ndarray, cap: np.ndarray, n_c: int
) -> float:
    lp = pywraplp.Solver.CreateSolver("GLOP")
    x = [lp.NumVar(0, 1, "") for _ in ci]
    y = [lp.NumVar(0, 1, "") for _ in range(n_c)]
    for c in range(n_c):
        lp.Add(sum(x[k] for k in np.flatnonzero(ci == c)) + y[c] == 1)
    for p in range(len(cap)):
        lp.Add(sum(x[k] for k in np.flatnonzero(pi == p)) <= int(cap[p]))
    lp.Minimize(sum(int(v) * x[k] for k, v in enumerate(cost)) + UNPLACED * sum(y))
    assert lp.Solve() == pywraplp.Solver.OPTIMAL
    return float(lp.Objective().Value())


def solved_afresh(flow: Flow) -> None:
    raise AssertionError("solved afresh")


def assert_proven(
    flow: Flow, ci: np.ndarray, pi: np.ndarray, cost: np.ndarray, unplaced: int = UNPLACED
) -> None:
    """Dual feasibility on every pair, complementary slackness, and equal objectives."""
    u, w = flow.duals()
    assert (w >= 0).all() and (u <= unplaced).all()
    rc = cost - u[ci] + w[pi]
    assert rc.min() >= 0
    used = flow.assigned[ci] == pi
    assert (rc[used] == 0).all()
    assert (u[flow.assigned < 0] == unplaced).all()
    load = np.bincount(flow.assigned[flow.assigned >= 0], minlength=len(flow.cap))
    assert (load <= flow.cap).all()
    assert (w[load < flow.cap] == 0).all()
    assert flow.cost == int(u.sum() - (flow.cap * w).sum())


@pytest.mark.parametrize("seed", range(12))
def test_flow_is_optimal_from_scratch_and_after_adding_pairs(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ci, pi, cost, cap, n_c = random_instance(seed)
    best = lp_optimum(ci, pi, cost, cap, n_c)
    whole = Flow.solve(cap, UNPLACED, ci, pi, cost, n_c)
    assert whole.cost == pytest.approx(best, abs=1e-6)
    assert_proven(whole, ci, pi, cost)

    rng = np.random.default_rng(seed + 100)
    first = rng.random(len(ci)) < 0.5
    flow = Flow.solve(cap, UNPLACED, ci[first], pi[first], cost[first], n_c)
    rest = np.flatnonzero(~first)
    # one pair at a time, then the rest at once: children re-routed by shortest paths
    monkeypatch.setattr(Flow, "_restart", solved_afresh)
    for part in [rest[i : i + 1] for i in range(6)] + [rest[6:]]:
        flow.add(ci[part], pi[part], cost[part], keep_within=10**9)
    assert flow.cost == whole.cost
    assert_proven(flow, ci, pi, cost)


@pytest.mark.parametrize("seed", range(6))
def test_fresh_solve_keeps_each_childs_cheapest_pairs(seed: int) -> None:
    """Pairs added within a tolerance solve afresh: each child keeps its `keep_best` old pairs
    of least reduced cost, and its pair in the flow; the new flow, made exact, is optimal over
    what it kept."""
    ci, pi, cost, cap, n_c = random_instance(seed)
    first = np.random.default_rng(seed + 200).random(len(ci)) < 0.2
    flow = Flow.solve(cap, UNPLACED, ci[first], pi[first], cost[first], n_c, tolerance=40)
    old_c, old_p = flow.pairs()
    old_rc = flow.arc_cost - flow.pi[old_c] + flow.pi[n_c + old_p]
    in_flow = flow.assigned[old_c] == old_p
    rerouted = flow.add(ci[~first], pi[~first], cost[~first], keep_within=10**9, keep_best=2)
    assert rerouted == n_c  # solved afresh
    kept_c, kept_p = flow.pairs()
    kept = np.isin(old_c * len(cap) + old_p, kept_c * len(cap) + kept_p)
    assert kept[in_flow].all()
    for c in range(n_c):
        mine = old_c == c
        assert kept[mine].sum() in (min(2, mine.sum()), 3)  # 3: the pair in flow ranked third
        dropped = mine & ~kept
        if dropped.any():
            assert old_rc[mine & kept & ~in_flow].max() <= old_rc[dropped].min()
    flow.tighten()
    assert_proven(flow, kept_c, kept_p, flow.arc_cost)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("seed", range(12))
def test_within_a_tolerance_then_exactly(
    seed: int, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a tolerance the auction stops short of the optimum: every child within it of its
    cheapest option at the prices (so the cost within children x tolerance of the optimum),
    pairs in use at reduced cost 0, potentials found from the auction's prices by Dijkstra equal
    to label-correcting's. Pairs added keep it so; `tighten` reaches the optimum. The same with
    the passes on two threads, children and placements in two random halves."""
    ci, pi, cost, cap, n_c = random_instance(seed)
    best = lp_optimum(ci, pi, cost, cap, n_c)
    tol = int(np.random.default_rng(seed).integers(1, 400))
    first = np.random.default_rng(seed + 300).random(len(ci)) < 0.6
    rng = np.random.default_rng(seed)
    halves = (rng.random(n_c) < 0.5, rng.random(len(cap)) < 0.5) if threads == 2 else None
    monkeypatch.setattr(flow_module, "_PARALLEL_FROM", 1)
    monkeypatch.setattr(flow_module, "_PARALLEL_REVERSE_FROM", 1)
    label_correcting = flow_module._potentials
    monkeypatch.setattr(flow_module, "_potentials", None)  # not needed within a tolerance
    flow = Flow.solve(
        cap, UNPLACED, ci[first], pi[first], cost[first], n_c, tolerance=tol, halves=halves
    )
    flow.add(ci[~first], pi[~first], cost[~first], keep_within=10**9)
    monkeypatch.setattr(flow_module, "_potentials", label_correcting)
    kept_c, kept_p = flow.pairs()
    u, w = flow.duals()
    assert (w >= 0).all()
    rc = flow.arc_cost - u[kept_c] + w[kept_p]
    assert rc.min() >= -tol
    assert (rc[flow.assigned[kept_c] == kept_p] == 0).all()
    assert (u[flow.assigned < 0] <= UNPLACED + tol).all()
    assert best - 1e-6 <= flow.cost <= best + n_c * tol
    ptr, place = flow._csr()
    least = label_correcting(
        n_c, ptr, place, flow.arc_cost, flow.cap, UNPLACED, flow.assigned, flow.assigned_cost,
        flow.slot_ptr, flow.slot_child, flow.load, tol,
    )  # fmt: skip
    assert (flow.pi == least).all()
    monkeypatch.setattr(Flow, "_restart", solved_afresh)  # re-routes from the potentials
    flow.tighten()
    assert flow.tolerance == 0
    assert flow.cost == pytest.approx(best, abs=1e-6)
    assert_proven(flow, ci, pi, cost)


@pytest.mark.parametrize("seed", range(6))
def test_pairs_added_exactly_to_a_flow_within_a_tolerance(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`add(..., exactly=True)` ends within no tolerance at the optimum over every pair, the
    old ones included even where their reduced cost is far above `keep_within`, by shortest
    paths from the potentials within the tolerance, not afresh."""
    ci, pi, cost, cap, n_c = random_instance(seed)
    first = np.random.default_rng(seed + 400).random(len(ci)) < 0.5
    flow = Flow.solve(cap, UNPLACED, ci[first], pi[first], cost[first], n_c, tolerance=60)
    monkeypatch.setattr(Flow, "_restart", solved_afresh)
    flow.add(ci[~first], pi[~first], cost[~first], keep_within=0, keep_best=0, exactly=True)
    assert flow.tolerance == 0
    assert len(flow.keys) == len(np.unique(ci * len(cap) + pi))
    assert flow.cost == pytest.approx(lp_optimum(ci, pi, cost, cap, n_c), abs=1e-6)
    assert_proven(flow, ci, pi, cost)


@pytest.mark.parametrize("seed", range(8))
def test_network_simplex_from_a_coarse_auction_with_ties(seed: int) -> None:
    """`tighten` (network simplex) from an auction stopped far from the optimum, on a problem
    full of ties (many children and places alike: degenerate pivots, where a simplex without
    strongly feasible trees can cycle): the LP's optimum, with duals that prove it. Every seed
    ends with full placements, an empty one, one with no place and unplaced children (the
    last two have no pair); seeds 1, 5, 6 and 7 with placements partly full too."""
    rng = np.random.default_rng(seed + 900)
    n_c, n_p = int(rng.integers(10, 40)), int(rng.integers(4, 12))
    cap = rng.integers(1, 12, n_p)
    cap[0] = 0
    pairs = np.argwhere(rng.random((n_c - 2, n_p - 1)) < 0.6)  # none to the last placement
    ci, pi = pairs[:, 0], pairs[:, 1]
    cost = rng.choice([100, 100, 200, 250], len(pairs)) + 50 * (pi % 2)
    flow = Flow.solve(cap, UNPLACED, ci, pi, cost, n_c, tolerance=400)
    flow.tighten()
    assert flow.tolerance == 0
    assert flow.cost == pytest.approx(lp_optimum(ci, pi, cost, cap, n_c), abs=1e-6)
    assert_proven(flow, ci, pi, cost)
    # the slots hold exactly the children assigned, each once
    held = flow.slot_child[flow.slot_child >= 0]
    assert sorted(held) == sorted(np.flatnonzero(flow.assigned >= 0))
    assert (np.bincount(flow.assigned[flow.assigned >= 0], minlength=n_p) == flow.load).all()


@pytest.mark.parametrize("seed", range(6))
def test_an_exact_flow_loosened_then_tightened(seed: int) -> None:
    """An exact flow loosened to a tolerance takes new pairs by the auction, then ends at
    the optimum over every pair it kept."""
    ci, pi, cost, cap, n_c = random_instance(seed)
    first = np.random.default_rng(seed + 500).random(len(ci)) < 0.5
    flow = Flow.solve(cap, UNPLACED, ci[first], pi[first], cost[first], n_c)
    flow.loosen(30)
    flow.add(ci[~first], pi[~first], cost[~first], keep_within=10**9)
    assert flow.tolerance == 30 and flow.price is not None
    assert flow.cost <= lp_optimum(ci, pi, cost, cap, n_c) + n_c * 30
    flow.tighten()
    assert flow.cost == pytest.approx(lp_optimum(ci, pi, cost, cap, n_c), abs=1e-6)
    assert_proven(flow, ci, pi, cost)


@pytest.mark.parametrize("seed", range(4))
def test_kept_pairs_of_each_child(seed: int) -> None:
    """`_kept` keeps each child's pair in the flow and its k pairs of least reduced cost within
    a limit, the first of equals: as ranking every pair by (child, reduced cost, position)
    would."""
    rng = np.random.default_rng(seed)
    n_c, n_p = 50, 12
    size = rng.integers(0, n_p, n_c)
    ptr = np.r_[0, np.cumsum(size)].astype(np.int64)
    child = np.repeat(np.arange(n_c), size)
    place = np.concatenate([rng.permutation(n_p)[:k] for k in size]).astype(np.int64)
    pi = rng.integers(-3, 3, n_c + n_p + 1).astype(np.int64)
    cost = rng.integers(0, 6, int(ptr[-1])).astype(np.int64)
    rc = cost - pi[child] + pi[n_c + place]  # many equal
    assigned = np.where(size > 0, place[np.minimum(ptr[:-1], len(place) - 1)], -1)
    order = np.lexsort((np.arange(len(rc)), rc, child))
    rank = np.empty(len(rc), np.int64)
    rank[order] = np.arange(len(rc)) - ptr[child[order]]
    for k, within in ((1, 10), (3, 10), (8, 10), (3, 0), (8, -2)):
        kept = flow_module._kept(ptr, place, cost, pi, assigned, within, k)
        assert (kept == (((rank < k) & (rc <= within)) | (assigned[child] == place))).all()


@pytest.mark.parametrize("seed", range(4))
def test_pairs_sorted_and_merged(seed: int) -> None:
    """`pair_order` sorts pairs by child then placement, the first of equals first; `_merge`
    joins them, without repeats, to sorted pairs, keeping the costs of the pairs already there
    and of the first of equal new ones."""
    rng = np.random.default_rng(seed)
    n_c, n_p = 30, 20
    ci, pi = rng.integers(0, n_c, 400), rng.integers(0, n_p, 400)  # many repeats
    order = flow_module.pair_order(ci, pi, n_c, n_p)
    assert (order == np.lexsort((np.arange(400), pi, ci))).all()
    # pairs that come by child (as pricing finds them) are sorted within each child's run,
    # however long
    by_child = np.sort(np.r_[ci, np.full(200, 3)], kind="stable")
    places = rng.integers(0, n_p, len(by_child))
    expected = np.lexsort((np.arange(len(by_child)), places, by_child))
    assert (flow_module.pair_order(by_child, places, n_c, n_p) == expected).all()
    old = np.unique(rng.integers(0, n_c * n_p, 150)).astype(np.int64)
    old_cost = rng.integers(0, 99, len(old)).astype(np.int64)
    new = (ci * n_p + pi)[order].astype(np.int64)
    new_cost = rng.integers(0, 99, 400)[order].astype(np.int64)
    keys, cost = flow_module._merge(old, old_cost, new, new_cost)
    assert (keys == np.union1d(old, new)).all()
    expected = dict(zip(new[::-1].tolist(), new_cost[::-1].tolist(), strict=True))
    expected.update(zip(old.tolist(), old_cost.tolist(), strict=True))
    assert cost.tolist() == [expected[k] for k in keys.tolist()]


def test_group_by_sorts_keys_stably() -> None:
    key = np.random.default_rng(7).integers(0, 9, 200).astype(np.int64)
    order, ptr = flow_module.group_by(key, 10)
    assert (order == np.argsort(key, kind="stable")).all()
    assert (ptr == np.r_[0, np.cumsum(np.bincount(key, minlength=10))]).all()


@pytest.mark.parametrize("seed", range(4))
def test_solved_exactly_when_the_auction_runs_out_of_bids(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ci, pi, cost, cap, n_c = random_instance(seed)
    monkeypatch.setattr(flow_module, "_MAX_BIDS_PER_CHILD", 0)
    flow = Flow.solve(cap, UNPLACED, ci, pi, cost, n_c, tolerance=50)
    assert flow.tolerance == 0
    assert flow.cost == pytest.approx(lp_optimum(ci, pi, cost, cap, n_c), abs=1e-6)
    assert_proven(flow, ci, pi, cost)


@pytest.mark.parametrize(("unplaced", "expected"), [(10_000, 9_000), (8_000, 8_000)])
def test_a_long_chain_of_moves_beats_leaving_a_child_unplaced(unplaced: int, expected: int) -> None:
    """Four children, four places of one each. Placing everyone takes three moves of 3,000 (y,
    z and w each one place along), 9,000 in all; else x is left unplaced. OR-Tools solves with
    an unplaced cost of twice the dearest pair (6,000), where leaving x out is cheaper: the
    flow must still reach the optimum at the real cost."""
    x, y, z, w = range(4)
    ci = np.array([x, y, y, z, z, w, w])
    pi = np.array([0, 0, 1, 1, 2, 2, 3])
    cost = np.array([0, 0, 3_000, 0, 3_000, 0, 3_000])
    flow = Flow.solve(np.ones(4, np.int64), unplaced, ci, pi, cost, 4)
    assert flow.cost == expected
    assert (flow.assigned >= 0).sum() == (4 if expected == 9_000 else 3)
    assert_proven(flow, ci, pi, cost, unplaced)


def test_two_threads_racing_for_the_same_places_still_reach_the_optimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """3,000 children after 40 placements, halves drawn at random so both threads' children
    want the same places (and placements in random halves for the reverse passes): the bids
    collide, and the auction still ends with no place over its capacity, each child's cost its
    pair's, every child within the tolerance of its cheapest option, and `tighten` at the
    optimum of the exact flow."""
    rng = np.random.default_rng(3)
    n_c, n_p = 3_000, 40
    pairs = np.argwhere(rng.random((n_c, n_p)) < 0.5)
    ci, pi = pairs[:, 0], pairs[:, 1]
    cost = rng.integers(0, 3_000, len(pairs))
    cap = rng.integers(0, 150, n_p)
    best = Flow.solve(cap, UNPLACED, ci, pi, cost, n_c).cost
    monkeypatch.setattr(flow_module, "_PARALLEL_FROM", 1)
    monkeypatch.setattr(flow_module, "_PARALLEL_REVERSE_FROM", 1)
    monkeypatch.setattr(flow_module, "_potentials", None)  # the auction's prices suffice
    halves = (rng.random(n_c) < 0.5, rng.random(n_p) < 0.5)
    flow = Flow.solve(cap, UNPLACED, ci, pi, cost, n_c, tolerance=20, halves=halves)
    assert flow.tolerance == 20
    placed = flow.assigned >= 0
    assert (np.bincount(flow.assigned[placed], minlength=n_p) <= cap).all()
    key = np.flatnonzero(placed) * n_p + flow.assigned[placed]
    assert (flow.assigned_cost[placed] == flow.arc_cost[np.searchsorted(flow.keys, key)]).all()
    u, w = flow.duals()
    rc = flow.arc_cost - u[ci] + w[pi]
    assert rc.min() >= -20 and (rc[flow.assigned[ci] == pi] == 0).all()
    assert best <= flow.cost <= best + 20 * n_c
    flow.tighten()
    assert flow.cost == best


def test_after_two_threads_bids_slots_and_children_agree_again() -> None:
    """After two threads' bids: children 0 and 1 both believe they hold slot 0, which child 1
    won (child 0 is free again, and bids first); child 2 holds slot 1 with another pair's cost
    (set right); slot 2 names child 3, who moved on (freed); each placement's cheapest slots
    recomputed."""
    c_ptr = np.array([0, 1, 2, 4, 5], np.int64)  # children 0-3; placements 0 (slots 0, 1), 1
    arc_place = np.array([0, 0, 1, 0, 1], np.int64)
    arc_cost = np.array([10, 20, 30, 40, 50], np.int64)
    slot_ptr = np.array([0, 2, 3], np.int64)
    slot_place = np.array([0, 0, 1], np.int64)
    price = np.array([7, 3, 5], np.int64)
    low, second, at = (np.zeros(2, np.int64) for _ in range(3))
    holder = np.array([1, 2, 3], np.int64)
    slot_of = np.array([0, 0, 1, flow_module._UNPLACED], np.int64)
    held = np.array([10, 20, 999, 0], np.int64)
    queue = np.zeros(5, np.int64)
    state = (price, low, second, at, holder, slot_of, held)
    unhappy = flow_module._unhappy(
        (c_ptr, arc_place, arc_cost), (slot_ptr, slot_place), UNPLACED, state, 10**9, queue, True
    )
    assert unhappy == 1 and queue[0] == 0
    assert slot_of.tolist() == [flow_module._FREE, 0, 1, flow_module._UNPLACED]
    assert holder.tolist() == [1, 2, -1]
    assert held[1:].tolist() == [20, 40, UNPLACED]
    assert low.tolist() == [3, 5] and second.tolist() == [7, 2**62] and at.tolist() == [1, 2]


def test_warm_up_compiles_every_loop() -> None:
    """The solve's clock starts after `warm_up`, so it must compile (or load from the cache)
    every compiled loop `Flow` calls (the loops they call are compiled with them); in a fresh
    process, as other tests compile them too."""
    script = (
        "from optimiser import flow\n"
        "flow.warm_up()\n"
        "loops = ['_augment_all', '_potentials', '_auction_state', '_unhappy', '_forward',"
        " '_free_priced', '_reverse', '_least_potentials', '_kept', '_merge', '_order_by_child',"
        " 'group_by', '_basis', '_simplex']\n"
        "print([name for name in loops if not getattr(flow, name).signatures])\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
