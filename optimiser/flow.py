"""The transportation flow of the allocation, re-optimised in place as candidate pairs arrive.

Children c (supply 1), placements p (capacity cap_p) and a sink T. Arcs c->p (a candidate pair,
cost k_cp), c->T (unplaced, cost U) and p->T (capacity cap_p, cost 0). Potentials pi on the nodes
give reduced costs rc(i, j) = k_ij - pi_i + pi_j; a flow is optimal exactly when some pi makes
every residual arc's reduced cost non-negative, and then u_c = pi_c - pi_T and
w_p = max(0, pi_p - pi_T) are optimal dual prices (u_c - w_p <= k_cp, u_c <= U, w >= 0).

`Flow` keeps the flow and such potentials between rounds. When new pairs arrive, each child
with a new pair of negative reduced cost is taken out of its placement (its potential is reset
so all its arcs have rc >= 0, and the place it left owes a unit) and sent back by successive
shortest paths (Dijkstra over reduced costs, potentials updated after each path): the classic
primal-dual method, warm-started, so a round costs a few short searches instead of a new solve.
A flow solved from nothing without a tolerance is OR-Tools' min-cost flow's.

With a `tolerance`, the candidates are solved only to within it per child, by the forward/reverse
auction with epsilon-scaling (`_auction`, each place a slot with its own price; its passes on
two threads, one for each half of the children or places), warm-started from the last prices
and assignment: the first rounds of the allocation, where the prices still move by pounds, work
so, in a fraction of an exact solve's time; the potentials are exact for the flow with every
child's other options dearer by the tolerance. `tighten` then solves exactly, from there, by
primal network simplex (`_simplex`) from a strongly feasible tree close to those potentials
(`_basis`): at scale 1 in 0.14-0.24 s, where re-routing by shortest paths the children with a
cheaper option took 0.32-0.73 s (and OR-Tools afresh 1.9 s); at scale 5 3.7 and 6.3 s against
7.9 and 9.6 s.

The loops are compiled with numba; costs are integers (units of 1/COST_SCALE GBP).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

IntArray = NDArray[np.int64]
# the auction's arrays: pairs by child (c_ptr, placement, cost) or by placement (p_ptr, child,
# cost); slots (slot_ptr per placement, placement per slot); and its state: price per slot,
# least and second least price and the slot of the least per placement, child per slot, slot
# per child and the cost of each child's pair
Arcs = tuple[IntArray, IntArray, IntArray]
Slots = tuple[IntArray, IntArray]
AuctionState = tuple[IntArray, IntArray, IntArray, IntArray, IntArray, IntArray, IntArray]

_FREE = -2  # assigned[c]: a child waiting for a path (an excess of one)
_UNPLACED = -1
# how each node was reached on a shortest path (the arc from its predecessor)
_ARC, _LEAVE, _P_T, _T_P, _C_T, _T_C = 0, 1, 2, 3, 4, 5
_INF = np.int64(2**62)
# the auction's epsilon-scaling: the first phase's epsilon is the dearest pair / _EPS_FIRST,
# each next phase's _EPS_FACTOR times smaller, down to the tolerance
_EPS_FIRST, _EPS_FACTOR = 64, 4
# bids (forward and reverse) per child past which the auction gives way to an exact solve
_MAX_BIDS_PER_CHILD = 2_000
# free children from which a phase's forward pass runs on two threads, and free slots priced
# above 0 from which its reverse pass does (see `_auction`)
_PARALLEL_FROM, _PARALLEL_REVERSE_FROM = 2_000, 16


@njit(cache=True)
def _sift_up(heap_d: IntArray, heap_v: IntArray, pos: IntArray, i: int) -> None:
    d, v = heap_d[i], heap_v[i]
    while i > 0:
        parent = (i - 1) >> 1
        if heap_d[parent] <= d:
            break
        heap_d[i], heap_v[i] = heap_d[parent], heap_v[parent]
        pos[heap_v[i]] = i
        i = parent
    heap_d[i], heap_v[i] = d, v
    pos[v] = i


@njit(cache=True)
def _pop(heap_d: IntArray, heap_v: IntArray, pos: IntArray, size: int) -> int:
    """Remove the root of a heap of `size` entries; returns the node."""
    top = heap_v[0]
    pos[top] = -1
    size -= 1
    if size == 0:
        return top
    d, v = heap_d[size], heap_v[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap_d[child + 1] < heap_d[child]:
            child += 1
        if heap_d[child] >= d:
            break
        heap_d[i], heap_v[i] = heap_d[child], heap_v[child]
        pos[heap_v[i]] = i
        i = child
    heap_d[i], heap_v[i] = d, v
    pos[v] = i
    return top


@njit(cache=True)
def _tree_set(tree: IntArray, i: int, key: int | np.integer) -> None:
    """Set leaf i of a min segment tree (leaves at len(tree) // 2 ...) and fix its ancestors."""
    j = i + len(tree) // 2
    tree[j] = key
    j >>= 1
    while j >= 1:
        m = min(tree[2 * j], tree[2 * j + 1])
        if tree[j] == m:
            break
        tree[j] = m
        j >>= 1


@njit(cache=True)
def _tree_argmin(tree: IntArray) -> int:
    half = len(tree) // 2
    j = 1
    while j < half:
        j = 2 * j if tree[2 * j] <= tree[2 * j + 1] else 2 * j + 1
    return j - half


@njit(cache=True, nogil=True)
def group_by(key: IntArray, n: int) -> tuple[IntArray, IntArray]:
    """A counting sort of keys in 0..n-1: the positions in key order (stable) and where each
    key's run starts (numpy's stable argsort of 3 M pairs' placements took 0.32 s, this 0.03 s)."""
    ptr = np.zeros(n + 1, np.int64)
    for k in key:
        ptr[k + 1] += 1
    for i in range(n):
        ptr[i + 1] += ptr[i]
    fill = ptr[:-1].copy()
    order = np.empty(len(key), np.int64)
    for i in range(len(key)):
        order[fill[key[i]]] = i
        fill[key[i]] += 1
    return order, ptr


@njit(cache=True, nogil=True)
def _kept(
    ptr: IntArray,
    place: IntArray,
    arc_cost: IntArray,
    pi: IntArray,
    assigned: IntArray,
    within: int,
    best: int,
) -> NDArray[np.bool_]:
    """True for each child's pair in the flow and its `best` pairs of least reduced cost (the
    first of equals) within `within` (pairs by child: child c's are ptr[c]:ptr[c + 1], reduced
    costs against potentials `pi`)."""
    n_c = len(ptr) - 1
    keep = np.zeros(len(place), np.bool_)
    top_rc = np.empty(best + 1, np.int64)
    top_a = np.empty(best + 1, np.int64)
    for c in range(n_c):
        n = 0  # the least reduced costs so far, ascending, at most `best`
        for a in range(ptr[c], ptr[c + 1]):
            if assigned[c] == place[a]:
                keep[a] = True
            rc = arc_cost[a] - pi[c] + pi[n_c + place[a]]
            if rc > within or (n == best and rc >= top_rc[n - 1]):
                continue
            i = n
            while i > 0 and top_rc[i - 1] > rc:
                top_rc[i], top_a[i] = top_rc[i - 1], top_a[i - 1]
                i -= 1
            top_rc[i], top_a[i] = rc, a
            n = min(n + 1, best)
        for i in range(n):
            keep[top_a[i]] = True
    return keep


@njit(cache=True, nogil=True)
def _merge(
    keys: IntArray, cost: IntArray, more: IntArray, more_cost: IntArray
) -> tuple[IntArray, IntArray]:
    """Sorted distinct `keys` and sorted `more` (repeats allowed) as one sorted distinct array,
    with their costs (of equal keys, the first's: `keys`' before `more`'s)."""
    out = np.empty(len(keys) + len(more), np.int64)
    out_cost = np.empty(len(out), np.int64)
    i = j = n = 0
    while i < len(keys) or j < len(more):
        if j == len(more) or (i < len(keys) and keys[i] <= more[j]):
            k, c = keys[i], cost[i]
            i += 1
        else:
            k, c = more[j], more_cost[j]
            j += 1
        if n == 0 or out[n - 1] != k:
            out[n], out_cost[n] = k, c
            n += 1
    return out[:n], out_cost[:n]


@njit(cache=True, nogil=True)
def _order_by_child(ci: IntArray, pi: IntArray) -> tuple[IntArray, bool]:
    """Where pairs come by child already (as pricing finds them), the positions sorted by
    placement within each child's run, the first of equals first; False if they do not."""
    order = np.arange(len(ci))
    for i in range(1, len(ci)):
        if ci[i] < ci[i - 1]:
            return order, False
    start = 0
    for end in range(1, len(ci) + 1):
        if end < len(ci) and ci[end] == ci[start]:
            continue
        if end - start > 64:
            order[start:end] = start + np.argsort(pi[start:end], kind="mergesort")
        else:  # insertion sort: runs are short, and often sorted
            for j in range(start + 1, end):
                k = order[j]
                m = j
                while m > start and pi[order[m - 1]] > pi[k]:
                    order[m] = order[m - 1]
                    m -= 1
                order[m] = k
        start = end
    return order, True


def pair_order(ci: IntArray, pi: IntArray, n_children: int, n_places: int) -> IntArray:
    """The positions of pairs (ci, pi) sorted by child, then placement, the first of equals
    first, in time linear in the pairs: within each child's run where they come by child,
    else by two counting sorts (by placement, then stably by child); an argsort of
    keys ci x n_places + pi took 2.7 s in all of a solve at scale 5 (profiled)."""
    ci, pi = np.asarray(ci, np.int64), np.asarray(pi, np.int64)
    order, by_child = _order_by_child(ci, pi)
    if by_child:
        return order
    by_place = group_by(pi, n_places)[0]
    return by_place[group_by(ci[by_place], n_children)[0]]


def _pair_children(ptr: IntArray) -> IntArray:
    """The child of each pair, for pairs by child (child c's are ptr[c]:ptr[c + 1])."""
    return np.repeat(np.arange(len(ptr) - 1, dtype=np.int64), np.diff(ptr))


def distinct_pairs(
    ci: IntArray, pi: IntArray, n_children: int, n_places: int
) -> tuple[IntArray, IntArray]:
    """The distinct pairs among (ci, pi), sorted by child, then placement."""
    order = pair_order(ci, pi, n_children, n_places)
    ci, pi = np.asarray(ci, np.int64)[order], np.asarray(pi, np.int64)[order]
    first = np.r_[True, (ci[1:] != ci[:-1]) | (pi[1:] != pi[:-1])][: len(ci)]
    return ci[first], pi[first]


@njit(cache=True)
def _tree(n: int) -> IntArray:
    half = 1
    while half < n:
        half *= 2
    return np.full(2 * half, _INF, np.int64)


@njit(cache=True, nogil=True)
def _augment_all(
    n_c: int,
    c_ptr: IntArray,
    arc_place: IntArray,
    arc_cost: IntArray,
    cap: IntArray,
    unplaced_cost: int,
    assigned: IntArray,
    assigned_cost: IntArray,
    slot_ptr: IntArray,
    slot_child: IntArray,
    load: IntArray,
    pi: IntArray,
    deficit: IntArray,
    sources: IntArray,
) -> int:
    """Send each free child in `sources` along a shortest path (reduced costs) to a node that
    owes a unit, updating potentials after each path. Returns the number of residual arcs found
    with a negative reduced cost (0 unless the potentials were not valid).

    The sink's own arcs (T->p for every placement with children, T->c for every unplaced child)
    are visited lazily, cheapest first, from two segment trees keyed by potential: a search
    that passes through T relaxes only the few it needs."""
    n_p = len(cap)
    t_node = n_c + n_p
    n_nodes = t_node + 1
    lazy_p, lazy_c = n_nodes, n_nodes + 1  # heap entries: the next arc T->p, T->c
    dist = np.full(n_nodes, _INF, np.int64)
    pred = np.full(n_nodes, -1, np.int64)
    kind = np.zeros(n_nodes, np.int64)
    via = np.zeros(n_nodes, np.int64)
    pos = np.full(n_nodes + 2, -1, np.int64)
    done = np.zeros(n_nodes, np.bool_)
    heap_d = np.empty(n_nodes + 2, np.int64)
    heap_v = np.empty(n_nodes + 2, np.int64)
    touched = np.empty(n_nodes, np.int64)
    # T->p exists while p has children (rc = pi_p - pi_T), T->c while c is unplaced
    # (rc = pi_c - U - pi_T): keys pi_p and pi_c
    tree_p = _tree(n_p)
    for p in range(n_p):
        if load[p] > 0:
            _tree_set(tree_p, p, pi[n_c + p])
    tree_c = _tree(n_c)
    for c in range(n_c):
        if assigned[c] == _UNPLACED:
            _tree_set(tree_c, c, pi[c])
    # the residual arcs out of the node being settled: head, reduced cost, kind, arc or slot
    width = 2 + max(np.max(np.diff(c_ptr)) if n_c else 0, np.max(cap) if n_p else 0)
    out_h = np.empty(width, np.int64)
    out_rc = np.empty(width, np.int64)
    out_k = np.empty(width, np.int64)
    out_via = np.empty(width, np.int64)
    bad = 0
    for s in sources:
        dist[s] = 0
        heap_d[0], heap_v[0] = 0, s
        pos[s] = 0
        size = 1
        touched[0] = s
        n_touched = 1
        d_sink = _INF
        target = -1
        while size > 0:
            v = _pop(heap_d, heap_v, pos, size)
            size -= 1
            n_out = 0
            if v >= n_nodes:  # the next cheapest arc out of T
                tree = tree_p if v == lazy_p else tree_c
                i = _tree_argmin(tree)
                extra = 0 if v == lazy_p else unplaced_cost
                out_h[0] = n_c + i if v == lazy_p else i
                out_rc[0] = tree[i + len(tree) // 2] - pi[t_node] - extra
                out_k[0] = _T_P if v == lazy_p else _T_C
                out_via[0] = 0
                n_out = 1
                dv = d_sink
                u_from = t_node
                _tree_set(tree, i, _INF)  # restored after the search (its node is touched)
                if tree[1] < _INF:
                    heap_d[size] = max(d_sink + tree[1] - pi[t_node] - extra, d_sink)
                    heap_v[size] = v
                    size += 1
                    _sift_up(heap_d, heap_v, pos, size - 1)
            else:
                done[v] = True
                if deficit[v] > 0:
                    target = v
                    break
                dv = dist[v]
                u_from = v
                if v < n_c:  # child: its candidate pairs, and being unplaced
                    for a in range(c_ptr[v], c_ptr[v + 1]):
                        p = arc_place[a]
                        if assigned[v] != p:
                            out_h[n_out] = n_c + p
                            out_rc[n_out] = arc_cost[a] - pi[v] + pi[n_c + p]
                            out_k[n_out] = _ARC
                            out_via[n_out] = a
                            n_out += 1
                    if assigned[v] != _UNPLACED:
                        out_h[n_out] = t_node
                        out_rc[n_out] = unplaced_cost - pi[v] + pi[t_node]
                        out_k[n_out] = _C_T
                        n_out += 1
                elif v < t_node:  # placement: a child leaving it, or a free place
                    p = v - n_c
                    for slot in range(slot_ptr[p], slot_ptr[p + 1]):
                        h = slot_child[slot]
                        if h >= 0:
                            out_h[n_out] = h
                            out_rc[n_out] = -assigned_cost[h] - pi[v] + pi[h]
                            out_k[n_out] = _LEAVE
                            out_via[n_out] = slot
                            n_out += 1
                    if load[p] < cap[p]:
                        out_h[n_out] = t_node
                        out_rc[n_out] = -pi[v] + pi[t_node]
                        out_k[n_out] = _P_T
                        n_out += 1
                else:  # the sink: its arcs come lazily, cheapest first
                    d_sink = dv
                    for lazy, tree, extra in ((lazy_p, tree_p, 0), (lazy_c, tree_c, unplaced_cost)):
                        if tree[1] < _INF:
                            heap_d[size] = max(dv + tree[1] - pi[t_node] - extra, dv)
                            heap_v[size] = lazy
                            size += 1
                            _sift_up(heap_d, heap_v, pos, size - 1)
            for j in range(n_out):
                h, rc = out_h[j], out_rc[j]
                if rc < 0:
                    bad += 1
                    rc = 0
                nd = dv + rc
                if done[h] or nd >= dist[h]:
                    continue
                if dist[h] == _INF:
                    touched[n_touched] = h
                    n_touched += 1
                dist[h], pred[h], kind[h], via[h] = nd, u_from, out_k[j], out_via[j]
                if pos[h] < 0:
                    heap_d[size], heap_v[size] = nd, h
                    size += 1
                    _sift_up(heap_d, heap_v, pos, size - 1)
                else:
                    heap_d[pos[h]] = nd
                    _sift_up(heap_d, heap_v, pos, pos[h])
        # potentials: every node settled before the target rises by d_t - d_v
        d_t = dist[target]
        for k in range(n_touched):
            v = touched[k]
            if done[v] and dist[v] < d_t:
                pi[v] += d_t - dist[v]
        # the path, from the target back to the source: leaving arcs first, then arrivals
        v = target
        while v != s:
            k = kind[v]
            if k == _LEAVE:
                slot_child[via[v]] = -1
            elif k == _T_P:
                load[v - n_c] -= 1
            elif k == _T_C:
                assigned[v] = _FREE
            v = pred[v]
        v = target
        while v != s:
            k, u = kind[v], pred[v]
            if k == _ARC:
                p = v - n_c
                assigned[u] = p
                assigned_cost[u] = arc_cost[via[v]]
                for slot in range(slot_ptr[p], slot_ptr[p + 1]):
                    if slot_child[slot] < 0:
                        slot_child[slot] = u
                        break
            elif k == _P_T:
                load[u - n_c] += 1
            elif k == _C_T:
                assigned[u] = _UNPLACED
                assigned_cost[u] = unplaced_cost
            v = u
        deficit[target] -= 1
        # reset the search; the sink's trees take the touched nodes' new potentials and states
        for k in range(size):
            pos[heap_v[k]] = -1
        for k in range(n_touched):
            v = touched[k]
            dist[v] = _INF
            pos[v] = -1
            done[v] = False
            if v < n_c:
                if assigned[v] == _UNPLACED or tree_c[v + len(tree_c) // 2] != _INF:
                    _tree_set(tree_c, v, pi[v] if assigned[v] == _UNPLACED else _INF)
            elif v < t_node:
                key = pi[v] if load[v - n_c] > 0 else _INF
                if tree_p[v - n_c + len(tree_p) // 2] != key:
                    _tree_set(tree_p, v - n_c, key)
    return bad


@njit(cache=True)
def _cheapest_slots(
    p: int, slot_ptr: IntArray, price: IntArray, low: IntArray, second: IntArray, at: IntArray
) -> None:
    """The least and second least price among placement p's slots, and the slot of the least."""
    b1, b2, arg = _INF, _INF, -1
    for s in range(slot_ptr[p], slot_ptr[p + 1]):
        if price[s] < b1:
            b1, b2, arg = price[s], b1, s
        elif price[s] < b2:
            b2 = price[s]
    low[p], second[p], at[p] = b1, b2, arg


@njit(cache=True)
def _auction_state(
    slot_ptr: IntArray, price: IntArray, slot_of: IntArray
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Each slot's child (-1 when free), and each placement's least and second least slot
    price and the slot of the least."""
    holder = np.full(slot_ptr[-1], -1, np.int64)
    for c in range(len(slot_of)):
        if slot_of[c] >= 0:
            holder[slot_of[c]] = c
    n_p = len(slot_ptr) - 1
    low, second, at = np.empty(n_p, np.int64), np.empty(n_p, np.int64), np.empty(n_p, np.int64)
    for p in range(n_p):
        _cheapest_slots(p, slot_ptr, price, low, second, at)
    return holder, low, second, at


@njit(cache=True, nogil=True)
def _unhappy(
    arcs: Arcs,
    slots: Slots,
    unplaced_cost: int,
    state: AuctionState,
    eps: int,
    queue: IntArray,
    repair: bool,
) -> int:
    """Free every child further than `eps` from its cheapest option (and its slot), listing
    them at the start of `queue`; returns how many. With `repair` (after two threads' forward
    passes), first a slot and a child hold each other or neither (a child that lost its slot to
    the other thread's bid is free again), each placement's cheapest slots are recomputed, and
    each child's `held` is its pair's cost again."""
    c_ptr, arc_place, arc_cost = arcs
    slot_ptr, slot_place = slots
    price, low, second, at, holder, slot_of, held = state
    if repair:
        for s in range(len(holder)):
            if holder[s] >= 0 and slot_of[holder[s]] != s:
                holder[s] = -1
        for p in range(len(slot_ptr) - 1):
            _cheapest_slots(p, slot_ptr, price, low, second, at)
    n = 0
    for c in range(len(c_ptr) - 1):
        s = slot_of[c]
        if repair and s >= 0 and holder[s] != c:
            s = _FREE
        elif repair and s == _UNPLACED:
            held[c] = unplaced_cost
        best = unplaced_cost
        for a in range(c_ptr[c], c_ptr[c + 1]):
            best = min(best, arc_cost[a] + low[arc_place[a]])
            if repair and s >= 0 and arc_place[a] == slot_place[s]:
                held[c] = arc_cost[a]
        value = _INF if s == _FREE else held[c] + (price[s] if s >= 0 else 0)
        if value > best + eps:
            if s >= 0:
                holder[s] = -1
            slot_of[c] = _FREE
            queue[n] = c
            n += 1
    return n


@njit(cache=True, nogil=True)
def _forward(
    arcs: Arcs,
    slots: Slots,
    unplaced_cost: int,
    state: AuctionState,
    eps: int,
    queue: IntArray,
    n: int,
    max_bids: int,
) -> int:
    """The forward pass: the free children of `queue[:n]` (a ring) bid for their cheapest
    slots, each raising its price by the margin over the child's next best plus `eps`, and
    the child it displaces bids in turn; returns the bids made (it stops past `max_bids`).
    Two threads may run it at once on the same prices (see `_auction`): a child no longer free
    when its turn comes is skipped, and a displaced child that finds the ring full is left
    free for the serial pass after."""
    c_ptr, arc_place, arc_cost = arcs
    slot_ptr = slots[0]
    price, low, second, at, holder, slot_of, held = state
    size = len(queue)
    head, tail, waiting, bids = 0, n % size, n, 0
    while waiting > 0 and bids <= max_bids:
        c = queue[head]
        head = (head + 1) % size
        waiting -= 1
        if slot_of[c] != _FREE:
            continue
        bids += 1
        v1, v2, best_p, best_a = _INF, _INF, -1, -1
        for a in range(c_ptr[c], c_ptr[c + 1]):
            v = arc_cost[a] + low[arc_place[a]]
            if v < v1:
                v1, v2, best_p, best_a = v, v1, arc_place[a], a
            elif v < v2:
                v2 = v
        if unplaced_cost <= v1:
            slot_of[c], held[c] = _UNPLACED, unplaced_cost
            continue
        v2 = min(v2, np.int64(unplaced_cost), arc_cost[best_a] + second[best_p])
        s = at[best_p]
        price[s] += v2 - v1 + eps
        old = holder[s]
        holder[s], slot_of[c], held[c] = c, s, arc_cost[best_a]
        _cheapest_slots(best_p, slot_ptr, price, low, second, at)
        if old >= 0 and old != c:
            slot_of[old] = _FREE
            if waiting < size:
                queue[tail] = old
                tail = (tail + 1) % size
                waiting += 1
    return bids


@njit(cache=True)
def _free_priced(holder: IntArray, price: IntArray, stack: IntArray) -> int:
    """The free slots priced above 0, at the start of `stack`; returns how many."""
    top = 0
    for s in range(len(holder)):
        if holder[s] < 0 and price[s] > 0:
            stack[top] = s
            top += 1
    return top


@njit(cache=True, nogil=True)
def _reverse(
    by_place: Arcs,
    slots: Slots,
    state: AuctionState,
    eps: int,
    stack: IntArray,
    top: int,
    max_bids: int,
) -> int:
    """The reverse pass from the free slots priced above 0 of `stack[:top]` (see
    `_free_priced`): each lowers its price to win the child of another placement that gains
    most by moving, or falls to 0 when none gains more than `eps`; returns the bids made, or -1
    past `max_bids`. Two threads may run it at once (see `_auction`): a slot the other thread
    filled is skipped, and a slot freed when the stack is full is left for the serial pass."""
    p_ptr, p_child, p_cost = by_place
    slot_ptr, slot_place = slots
    price, low, second, at, holder, slot_of, held = state
    bids = 0
    while top > 0:
        top -= 1
        s = stack[top]
        if price[s] == 0 or holder[s] >= 0:
            continue  # a sibling's bid priced it at 0 (below), or the other thread filled it
        p = slot_place[s]
        b1, b2, best_c, best_k = -_INF, -_INF, -1, -1
        for k in range(p_ptr[p], p_ptr[p + 1]):
            c = p_child[k]
            if slot_of[c] >= 0 and slot_place[slot_of[c]] == p:
                continue  # in a place of p already: see below
            gain = held[c] + (price[slot_of[c]] if slot_of[c] >= 0 else 0) - p_cost[k]
            if gain > b1:
                b1, b2, best_c, best_k = gain, b1, c, k
            elif gain > b2:
                b2 = gain
        bids += 1
        if b1 <= eps:  # even at price 0 no child gains more than epsilon: free at 0
            price[s] = 0
        else:
            price[s] = b2 - eps if b2 > eps else 0
            old = slot_of[best_c]
            holder[s], slot_of[best_c], held[best_c] = best_c, s, p_cost[best_k]
            if old >= 0:
                holder[old] = -1
                if price[old] > 0 and top < len(stack):
                    stack[top] = old
                    top += 1
        # p's other places no dearer: their children then gain nothing by moving here, and
        # no child elsewhere gains more than epsilon at this price (moving children between
        # p's own places, each bid lowering a price by a little, was 62% of the reverse
        # bids' work at scale 1)
        for other in range(slot_ptr[p], slot_ptr[p + 1]):
            price[other] = min(price[other], price[s])
        _cheapest_slots(p, slot_ptr, price, low, second, at)
        if bids > max_bids:
            return -1
    return bids


def _on_two_threads(
    pass_: Callable[[IntArray, int, int], int],
    parts: tuple[IntArray, IntArray],
    size: int,
    max_bids: int,
) -> list[int]:
    """A forward or reverse pass on two threads at once, each from one part (children or
    slots) copied into a queue or stack of its own of `size`; the bids each made."""

    def run(part: IntArray) -> int:
        own = np.empty(size, np.int64)
        own[: len(part)] = part
        return pass_(own, len(part), max_bids)

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(run, parts))


def _auction(
    arcs: Arcs,
    by_place: Arcs,
    slot_ptr: IntArray,
    slot_place: IntArray,
    unplaced_cost: int,
    price: IntArray,
    phases: IntArray,
    slot_of: IntArray,
    held: IntArray,
    max_bids: int,
    halves: tuple[NDArray[np.bool_], NDArray[np.bool_]] | None = None,
) -> int:
    """The forward/reverse auction (Bertsekas and Castanon) with epsilon-scaling, over the
    candidate pairs (`arcs`: c_ptr, placement and cost by child; `by_place`: p_ptr, child and
    cost, the same pairs by placement), in place.

    Each slot of a placement has a price >= 0; a child's value for a slot is its pair's cost
    plus the price, for being unplaced the unplaced cost. A child without a slot bids for its
    cheapest slot, raising the price by its margin over its next best plus epsilon (and the
    slot's holder bids in turn); a free slot still priced above 0 lowers its price to win the
    child of another placement that gains most by moving, or falls to 0 when none would, and
    its placement's other slots fall with it (a child moving between places of one
    placement changes nothing but prices, by a little each time). Every phase (one per
    epsilon of `phases`) ends with each child within epsilon of its cheapest option and every
    free slot at price 0. `slot_of` (slot, _UNPLACED or _FREE) and `held` (the cost of the
    child's pair) may start from an assignment; returns the bids made, or -1 past `max_bids`.

    With `halves` (True or False per child, and per placement), a phase's forward pass
    starting with at least _PARALLEL_FROM free children runs on two threads, each from the
    free children of one half (the allocation halves England north and south, so the two
    seldom bid for one slot), on the same prices, without locks; and so does its reverse pass
    from at least _PARALLEL_REVERSE_FROM free slots priced above 0, each thread from the slots
    of one half of the placements. Two bids for one slot (or child) at once may leave a child
    believing it holds a slot the other won, or a price lower than a bid set: `_unhappy` then
    makes the slots and children agree again, and a serial forward pass from every child
    further than epsilon from its cheapest option and a serial reverse pass from every free
    slot priced above 0 restore what the phase guarantees (at scale 1, a few dozen children of
    2.6 M bids); after a phase but the last, the next phase's passes do. The prices, and so the
    assignment among equally cheap ones, then depend on the threads' timing."""
    n_c = len(arcs[0]) - 1
    holder, low, second, at = _auction_state(slot_ptr, price, slot_of)
    state = (price, low, second, at, holder, slot_of, held)
    slots = (slot_ptr, slot_place)
    queue = np.empty(n_c + 1, np.int64)
    stack = np.empty(int(slot_ptr[-1]) + 1, np.int64)
    bids, repair = 0, False  # repair: the last reverse pass ran on two threads
    for phase, eps in enumerate(int(e) for e in phases):
        n = _unhappy(arcs, slots, unplaced_cost, state, eps, queue, repair)
        if halves is not None and n >= _PARALLEL_FROM:
            free = queue[:n]
            forward = partial(_forward, arcs, slots, unplaced_cost, state, eps)
            parts = (free[halves[0][free]], free[~halves[0][free]])
            bids += sum(_on_two_threads(forward, parts, n_c + 1, max_bids - bids))
            n = _unhappy(arcs, slots, unplaced_cost, state, eps, queue, True)
        bids += _forward(arcs, slots, unplaced_cost, state, eps, queue, n, max_bids - bids)
        if bids > max_bids:
            return -1
        top = _free_priced(holder, price, stack)
        repair = False
        if halves is not None and top >= _PARALLEL_REVERSE_FROM:
            repair = True
            priced = stack[:top]
            north = halves[1][slot_place[priced]]
            reverse = partial(_reverse, by_place, slots, state, eps)
            parts = (priced[north], priced[~north])
            done = _on_two_threads(reverse, parts, len(stack), max_bids - bids)
            if min(done) < 0:
                return -1
            bids += sum(done)
            if phase < len(phases) - 1:
                continue
            n = _unhappy(arcs, slots, unplaced_cost, state, eps, queue, True)
            bids += _forward(arcs, slots, unplaced_cost, state, eps, queue, n, max_bids - bids)
            top = _free_priced(holder, price, stack)
        more = _reverse(by_place, slots, state, eps, stack, top, max_bids - bids)
        if more < 0:
            return -1
        bids += more
    return bids


@njit(cache=True, nogil=True)
def _potentials(
    n_c: int,
    c_ptr: IntArray,
    arc_place: IntArray,
    arc_cost: IntArray,
    cap: IntArray,
    unplaced_cost: int,
    assigned: IntArray,
    assigned_cost: IntArray,
    slot_ptr: IntArray,
    slot_child: IntArray,
    load: IntArray,
    shift: int = 0,
) -> IntArray:
    """Potentials proving an optimal flow optimal: minus the shortest distances in its residual
    graph from a virtual node joined to every node at cost 0 (label-correcting, first in first
    out); finite because an optimal flow leaves no negative cycle. With a `shift`, of the flow
    with each child's options other than its own dearer by it."""
    n_p = len(cap)
    t_node = n_c + n_p
    n_nodes = t_node + 1
    h = np.zeros(n_nodes, np.int64)
    queue = np.arange(n_nodes).astype(np.int64)
    ring = np.empty(n_nodes + 1, np.int64)
    ring[:n_nodes] = queue
    head, tail, count = 0, n_nodes, n_nodes
    queued = np.ones(n_nodes, np.bool_)
    for _ in range(200 * n_nodes):
        if count == 0:
            break
        v = ring[head]
        head = (head + 1) % len(ring)
        count -= 1
        queued[v] = False
        if v < n_c:
            for a in range(c_ptr[v], c_ptr[v + 1]):
                p = arc_place[a]
                if assigned[v] == p:
                    continue
                nd = h[v] + arc_cost[a] + shift
                if nd < h[n_c + p]:
                    h[n_c + p] = nd
                    if not queued[n_c + p]:
                        queued[n_c + p] = True
                        ring[tail] = n_c + p
                        tail = (tail + 1) % len(ring)
                        count += 1
            if assigned[v] != _UNPLACED and h[v] + unplaced_cost + shift < h[t_node]:
                h[t_node] = h[v] + unplaced_cost + shift
                if not queued[t_node]:
                    queued[t_node] = True
                    ring[tail] = t_node
                    tail = (tail + 1) % len(ring)
                    count += 1
        elif v < t_node:
            p = v - n_c
            for slot in range(slot_ptr[p], slot_ptr[p + 1]):
                c = slot_child[slot]
                if c >= 0 and h[v] - assigned_cost[c] < h[c]:
                    h[c] = h[v] - assigned_cost[c]
                    if not queued[c]:
                        queued[c] = True
                        ring[tail] = c
                        tail = (tail + 1) % len(ring)
                        count += 1
            if load[p] < cap[p] and h[v] < h[t_node]:
                h[t_node] = h[v]
                if not queued[t_node]:
                    queued[t_node] = True
                    ring[tail] = t_node
                    tail = (tail + 1) % len(ring)
                    count += 1
        else:
            for p in range(n_p):
                if load[p] > 0 and h[v] < h[n_c + p]:
                    h[n_c + p] = h[v]
                    if not queued[n_c + p]:
                        queued[n_c + p] = True
                        ring[tail] = n_c + p
                        tail = (tail + 1) % len(ring)
                        count += 1
            for c in range(n_c):
                if assigned[c] == _UNPLACED and h[v] - unplaced_cost < h[c]:
                    h[c] = h[v] - unplaced_cost
                    if not queued[c]:
                        queued[c] = True
                        ring[tail] = c
                        tail = (tail + 1) % len(ring)
                        count += 1
    if count:
        raise RuntimeError("potentials did not converge: the flow is not optimal")
    return -h


@njit(cache=True, nogil=True)
def _least_potentials(
    n_c: int,
    c_ptr: IntArray,
    arc_place: IntArray,
    arc_cost: IntArray,
    cap: IntArray,
    unplaced_cost: int,
    assigned: IntArray,
    assigned_cost: IntArray,
    slot_ptr: IntArray,
    slot_child: IntArray,
    load: IntArray,
    shift: int,
    phi: IntArray,
) -> tuple[IntArray, int]:
    """The potentials `_potentials` finds, given potentials `phi` already valid for the flow
    (every residual arc's reduced cost >= 0) but perhaps at placements with no place: one
    Dijkstra over reduced costs from the virtual node instead of label-correcting. Returns
    them and the number of arcs `phi` left negative (0 unless it was not valid; the potentials
    are then wrong)."""
    n_p = len(cap)
    t_node = n_c + n_p
    n_nodes = t_node + 1
    # no arc leaves a placement with no place: priced at least as high as every child, no
    # pair into it has a negative reduced cost
    phi = phi.copy()
    top = phi[t_node]
    for c in range(n_c):
        top = max(top, phi[c])
    for p in range(n_p):
        if cap[p] == 0:
            phi[n_c + p] = top
    root = np.min(phi)
    dist = phi - root  # the virtual node's arcs, in reduced costs
    done = np.zeros(n_nodes, np.bool_)
    pos = np.full(n_nodes, -1, np.int64)
    heap_d = np.empty(n_nodes, np.int64)
    heap_v = np.empty(n_nodes, np.int64)
    for v in range(n_nodes):
        heap_d[v], heap_v[v] = dist[v], v
        pos[v] = v
        _sift_up(heap_d, heap_v, pos, v)
    size = n_nodes
    bad = 0
    while size > 0:
        v = _pop(heap_d, heap_v, pos, size)
        size -= 1
        done[v] = True
        dv = dist[v]
        if v < n_c:  # its candidate pairs, then being unplaced
            n_out = c_ptr[v + 1] - c_ptr[v] + 1
        elif v < t_node:  # its slots' children leaving, then a free place
            n_out = cap[v - n_c] + 1
        else:  # the sink: unplaced children, placements with children
            n_out = n_nodes
        for j in range(n_out):
            h = -1
            if v < n_c:
                if j < n_out - 1:
                    a = c_ptr[v] + j
                    if assigned[v] == arc_place[a]:
                        continue
                    h, cost = n_c + arc_place[a], arc_cost[a] + shift
                elif assigned[v] != _UNPLACED:
                    h, cost = t_node, unplaced_cost + shift
            elif v < t_node:
                p = v - n_c
                if j < n_out - 1:
                    c = slot_child[slot_ptr[p] + j]
                    if c >= 0:
                        h, cost = c, -assigned_cost[c]
                elif load[p] < cap[p]:
                    h, cost = t_node, 0
            elif j < n_c:
                if assigned[j] == _UNPLACED:
                    h, cost = j, -unplaced_cost
            elif j < t_node and load[j - n_c] > 0:
                h, cost = j, 0
            if h < 0 or done[h]:
                continue
            rc = cost - phi[v] + phi[h]
            if rc < 0:
                bad += 1
                rc = 0
            if dv + rc < dist[h]:
                dist[h] = dv + rc
                heap_d[pos[h]] = dist[h]
                _sift_up(heap_d, heap_v, pos, pos[h])
    # distances in costs from the virtual node are dist + root - phi; potentials are minus them
    return phi - root - dist, bad


# ----------------------------------------------------------------------------- network simplex
# The flow over the candidates as a network: children 0..n_c-1, placements n_c.., the sink last
# (the tree's root). Arcs: the candidate pairs, then c->T (being unplaced), both with no
# capacity to speak of (a child sends one unit at most), then p->T (capacity cap_p). A spanning
# tree is kept as parent, the tree arc to it (pred), whether that arc points to the parent
# (up), and each node's children (first, then nxt / prv); state per arc: 0 in the tree, 1 at
# its lower bound, -1 at its upper bound.
_UNBOUNDED = np.int64(1 << 40)
_BLOCK = 32  # arcs searched at a time for one to enter the tree (best of the first block with any)


@njit(cache=True)
def _unlink(v: int, parent: IntArray, first: IntArray, nxt: IntArray, prv: IntArray) -> None:
    if prv[v] >= 0:
        nxt[prv[v]] = nxt[v]
    else:
        first[parent[v]] = nxt[v]
    if nxt[v] >= 0:
        prv[nxt[v]] = prv[v]


@njit(cache=True)
def _link(p: int, v: int, first: IntArray, nxt: IntArray, prv: IntArray) -> None:
    nxt[v], prv[v] = first[p], -1
    if first[p] >= 0:
        prv[first[p]] = v
    first[p] = v


@njit(cache=True)
def _relax(
    s: int, d: int, a: int, top: int, best: tuple[IntArray, IntArray, IntArray],
    heap: tuple[IntArray, IntArray, IntArray], size: int,
) -> int:  # fmt: skip
    """Placement s's group reached at distance d, by arc a from its member `top`; the heap's
    new size."""
    dist, arc, via = best
    heap_d, heap_v, pos = heap
    if d >= dist[s]:
        return size
    dist[s], arc[s], via[s] = d, a, top
    if pos[s] < 0:
        heap_v[size], pos[s] = s, size
        size += 1
    heap_d[pos[s]] = d
    _sift_up(heap_d, heap_v, pos, pos[s])
    return size


@njit(cache=True)
def _basis(
    n_c: int, network: Arcs, cap: IntArray, flow: IntArray, pot: IntArray,
    by_place: tuple[IntArray, IntArray], slots: tuple[IntArray, IntArray], c_arc: IntArray,
) -> tuple[IntArray, IntArray, NDArray[np.bool_], IntArray]:  # fmt: skip
    """A strongly feasible spanning tree for `flow` (every tree arc can carry more toward the
    root: network simplex then never cycles), close to the potentials `pot`.

    Every arc with flow is strictly between its bounds, so in the tree: an unplaced child hangs
    from the root, a placed one from its placement, and a placement with free places but some
    children from the root. The other placements, each with its children, hang from the root
    by a shortest path (reduced costs at `pot`, those below 0 taken as 0) of arcs able to send
    toward it: p->T with places free, or from one of its children, then p from that child.
    Returns parent, pred, up and the tree's potentials."""
    tail, head, cost = network
    p_ptr, p_arc = by_place
    slot_ptr, slot_child = slots
    n_nodes = len(pot)
    root = n_nodes - 1
    ct = len(tail) - root  # the first c->T arc; then the p->T arcs
    pt = ct + n_c
    parent = np.full(n_nodes, -1, np.int64)
    pred = np.full(n_nodes, -1, np.int64)
    up = np.ones(n_nodes, np.bool_)
    best = (np.full(n_nodes, _INF, np.int64), np.full(n_nodes, -1, np.int64),
            np.full(n_nodes, -1, np.int64))  # fmt: skip
    dist, arc, via = best
    heap = (np.empty(n_nodes, np.int64), np.empty(n_nodes, np.int64),
            np.full(n_nodes, -1, np.int64))  # fmt: skip
    done = np.zeros(n_nodes, np.bool_)
    size = 0
    for v in range(n_c, root):  # partly full: p->T in the tree
        a = pt + v - n_c
        if 0 < flow[a] < cap[a]:
            size = _relax(v, -1, a, v, best, heap, size)
    for v in range(root):
        a = ct + v if v < n_c else pt + v - n_c
        rc = max(cost[a] - pot[v] + pot[root], 0)
        if v < n_c and c_arc[v] >= 0:
            size = _relax(head[c_arc[v]], rc, a, v, best, heap, size)
        elif v >= n_c and flow[a] < cap[a]:
            size = _relax(v, rc, a, v, best, heap, size)
    tree_pi = pot.copy()
    for c in range(n_c):
        if c_arc[c] < 0:  # unplaced
            parent[c], pred[c] = root, ct + c
            tree_pi[c] = cost[ct + c] + pot[root]
    while size > 0:
        s = _pop(heap[0], heap[1], heap[2], size)
        size -= 1
        done[s] = True
        top, a = via[s], arc[s]
        parent[top], pred[top] = head[a], a
        tree_pi[top] = cost[a] + tree_pi[head[a]]
        if top != s:  # the placement from its child
            parent[s], pred[s], up[s] = top, c_arc[top], False
            tree_pi[s] = tree_pi[top] - cost[c_arc[top]]
        for k in range(slot_ptr[s - n_c], slot_ptr[s - n_c + 1]):
            c = slot_child[k]
            if c >= 0 and c != top:
                parent[c], pred[c] = s, c_arc[c]
                tree_pi[c] = cost[c_arc[c]] + tree_pi[s]
        for k in range(p_ptr[s - n_c], p_ptr[s - n_c + 1]):
            a = p_arc[k]
            x = tail[a]
            if flow[a] == 0 and c_arc[x] >= 0 and not done[head[c_arc[x]]]:
                rc = max(cost[a] - pot[x] + pot[s], 0)
                size = _relax(head[c_arc[x]], dist[s] + rc, a, x, best, heap, size)
    for v in range(n_c, root):  # placements with no place: hung from the root, in no cycle
        if not done[v]:
            parent[v], pred[v], tree_pi[v] = root, pt + v - n_c, tree_pi[root]
    return parent, pred, up, tree_pi


@njit(cache=True)
def _simplex(
    network: Arcs,
    cap: IntArray,
    flow: IntArray,
    state: IntArray,
    tree: tuple[IntArray, IntArray, NDArray[np.bool_]],
    pi: IntArray,
) -> int:
    """Primal network simplex from a strongly feasible tree (Cunningham's rule: the last
    blocking arc of the cycle leaves), the entering arc the most violating of the first block
    of `_BLOCK` arcs with any; `flow`, `state`, the tree and `pi` in place. Returns the pivots."""
    tail, head, cost = network
    parent, pred, up = tree
    n_nodes, n_arcs = len(parent), len(tail)
    first = np.full(n_nodes, -1, np.int64)
    nxt = np.full(n_nodes, -1, np.int64)
    prv = np.full(n_nodes, -1, np.int64)
    for v in range(n_nodes):
        if parent[v] >= 0:
            _link(parent[v], v, first, nxt, prv)
    mark = np.zeros(n_nodes, np.int64)
    stack = np.empty(n_nodes, np.int64)
    start, pivots = 0, 0
    while True:
        e, worst, scanned = -1, 0, 0
        while scanned < n_arcs and e < 0:
            end = min(start + _BLOCK, n_arcs)
            for a in range(start, end):
                v = state[a] * (cost[a] - pi[tail[a]] + pi[head[a]])
                if v < worst:
                    e, worst = a, v
            scanned += end - start
            start = end % n_arcs
        if e < 0:
            return pivots
        pivots += 1
        # the cycle: along e (its flow up from the lower bound, or down from the upper), then
        # the tree path back, which meets the path from its first node at `join`
        if state[e] == 1:
            one, two, delta = tail[e], head[e], cap[e] - flow[e]
        else:
            one, two, delta = head[e], tail[e], flow[e]
        x, y = one, two
        mark[x], mark[y] = 2 * pivots, 2 * pivots + 1
        join = -1
        while join < 0:  # up from both ends, a step at a time, to the first node both pass
            if parent[x] >= 0:
                x = parent[x]
                if mark[x] == 2 * pivots + 1:
                    join = x
                    break
                mark[x] = 2 * pivots
            if parent[y] >= 0:
                y = parent[y]
                if mark[y] == 2 * pivots:
                    join = y
                    break
                mark[y] = 2 * pivots + 1
        # the leaving arc: the last of the least room, in the cycle's order from `join`
        out, side = -1, 0
        v = one
        while v != join:
            r = flow[pred[v]] if up[v] else cap[pred[v]] - flow[pred[v]]
            if r < delta:
                delta, out, side = r, v, 1
            v = parent[v]
        v = two
        while v != join:
            r = cap[pred[v]] - flow[pred[v]] if up[v] else flow[pred[v]]
            if r <= delta:
                delta, out, side = r, v, 2
            v = parent[v]
        if delta:
            flow[e] += delta if state[e] == 1 else -delta
            v = one  # the path from the join down to one, against the tree's direction
            while v != join:
                flow[pred[v]] += -delta if up[v] else delta
                v = parent[v]
            v = two
            while v != join:
                flow[pred[v]] += delta if up[v] else -delta
                v = parent[v]
        if side == 0:  # e itself reached its other bound
            state[e] = -state[e]
            continue
        leaving = pred[out]
        state[leaving] = 1 if flow[leaving] == 0 else -1
        state[e] = 0
        # the subtree below the leaving arc hangs again from e's end inside it, q
        q, r_ = (one, two) if side == 1 else (two, one)
        rc = cost[e] - pi[tail[e]] + pi[head[e]]
        shift = rc if q == tail[e] else -rc
        v, new_parent, new_pred, new_up = q, r_, e, tail[e] == q
        while True:
            old_parent, old_pred, old_up = parent[v], pred[v], up[v]
            _unlink(v, parent, first, nxt, prv)
            parent[v], pred[v], up[v] = new_parent, new_pred, new_up
            _link(new_parent, v, first, nxt, prv)
            if v == out:
                break
            v, new_parent, new_pred, new_up = old_parent, v, old_pred, not old_up
        stack[0], top = q, 1
        while top:
            top -= 1
            x = stack[top]
            pi[x] += shift
            c = first[x]
            while c >= 0:
                stack[top] = c
                top += 1
                c = nxt[c]


@dataclass
class Flow:
    """An optimal flow over the candidate pairs so far, with potentials proving it optimal."""

    n_children: int
    cap: IntArray
    unplaced_cost: int
    keys: IntArray  # candidate pairs, child * n_placements + placement, sorted
    arc_cost: IntArray
    assigned: IntArray  # placement per child, -1 unplaced
    assigned_cost: IntArray
    slot_ptr: IntArray
    slot_child: IntArray
    load: IntArray
    pi: IntArray
    tolerance: int = 0  # >0: the assignment is within this of the optimum per child
    price: IntArray | None = None  # the auction's slot prices while tolerance > 0
    # the children and the placements in two halves: a two-thread auction
    halves: tuple[NDArray[np.bool_], NDArray[np.bool_]] | None = None

    @classmethod
    def solve(
        cls,
        cap: IntArray,
        unplaced_cost: int,
        ci: IntArray,
        pi: IntArray,
        cost: IntArray,
        n_children: int,
        *,
        tolerance: int = 0,
        halves: tuple[NDArray[np.bool_], NDArray[np.bool_]] | None = None,
    ) -> Flow:
        """The optimal flow over pairs (ci, pi) with integer costs, from nothing; or with a
        `tolerance`, an assignment within it of each child's cheapest option at prices that
        say so (`tighten` makes it optimal), by an auction on two threads given `halves` (a
        bool per child and per placement: two halves that seldom want the same places)."""
        n_p = len(cap)
        cap = np.asarray(cap, np.int64)
        slot_ptr = np.r_[0, np.cumsum(cap)].astype(np.int64)
        flow = cls(
            n_children=n_children,
            cap=cap,
            unplaced_cost=int(unplaced_cost),
            keys=np.zeros(0, np.int64),
            arc_cost=np.zeros(0, np.int64),
            assigned=np.full(n_children, _FREE, np.int64),
            assigned_cost=np.zeros(n_children, np.int64),
            slot_ptr=slot_ptr,
            slot_child=np.full(int(slot_ptr[-1]), -1, np.int64),
            load=np.zeros(n_p, np.int64),
            pi=np.zeros(n_children + n_p + 1, np.int64),
            tolerance=tolerance,
            halves=halves,
        )
        flow._insert(ci, pi, cost)
        flow._solve_afresh()
        return flow

    def _solve_afresh(self) -> None:
        if self.tolerance:
            self._approximate()
        else:
            self._restart()

    def _approximate(self) -> None:
        """Solve the current candidates to within `tolerance` per child by the auction
        (`_auction`), from the current prices and assignment, with potentials exact for the
        flow with each child's other options dearer by the tolerance (so, like the optimum's,
        the least such: the auction's own prices are high, and price in far more pairs);
        solved exactly instead should the auction exceed its budget of bids."""
        n_c, n_p = self.n_children, self.n_placements
        graph = self._graph(self.tolerance)  # its arrays are updated in place below
        _, c_ptr, place = graph[:3]
        by_place, p_ptr = group_by(place, n_p)
        slot_of = np.where(self.assigned == _UNPLACED, _UNPLACED, _FREE).astype(np.int64)
        slots = np.flatnonzero(self.slot_child >= 0)
        slot_of[self.slot_child[slots]] = slots
        if self.price is None:
            self.price = np.repeat(self.duals()[1], self.cap)
        slot_place = np.repeat(np.arange(n_p, dtype=np.int64), self.cap)
        phases = [self.tolerance]
        while phases[-1] * _EPS_FACTOR <= int(self.arc_cost.max(initial=0)) // _EPS_FIRST:
            phases.append(phases[-1] * _EPS_FACTOR)
        bids = _auction(
            (c_ptr, place, self.arc_cost),
            (p_ptr, _pair_children(c_ptr)[by_place], self.arc_cost[by_place]),
            self.slot_ptr, slot_place, self.unplaced_cost, self.price,
            np.array(phases[::-1], np.int64), slot_of, self.assigned_cost,
            _MAX_BIDS_PER_CHILD * n_c, self.halves,
        )  # fmt: skip
        if bids < 0:
            self.tolerance, self.price = 0, None
            self._restart()
            return
        placed = slot_of >= 0
        self.assigned[:] = _UNPLACED
        self.assigned[placed] = slot_place[slot_of[placed]]
        self.load[:] = np.bincount(self.assigned[placed], minlength=n_p)
        self.slot_child[:] = -1
        self.slot_child[slot_of[placed]] = np.flatnonzero(placed)
        # the auction's prices are valid potentials (placements at their cheapest slot's), from
        # which one Dijkstra finds the least
        phi = np.zeros(len(self.pi), np.int64)
        phi[:n_c][placed] = self.price[slot_of[placed]]
        phi[:n_c] += self.assigned_cost
        room = self.cap > 0
        phi[n_c:-1][room] = np.minimum.reduceat(self.price, self.slot_ptr[:-1][room])
        self.pi[:], bad = _least_potentials(*(*graph, phi))
        if bad:
            self.pi[:] = _potentials(*graph)

    def tighten(self) -> None:
        """The optimum over the current candidates, from an assignment within `tolerance`, by
        network simplex (`_network_simplex`). The auction's potentials are nearly the
        optimum's, so many pairs are nearly as cheap as the children's own: shortest paths from
        each child with a cheaper option search wide there, where the simplex's pivots stay
        local."""
        if not self.tolerance:
            return
        self.tolerance, self.price = 0, None
        self._network_simplex()

    def _network_simplex(self) -> None:
        """The optimum over the candidates by network simplex (`_simplex`), from the current
        assignment, in a tree close to the current potentials (`_basis`); then the least
        potentials for it (`_least_potentials`), as after the auction: the simplex's own are
        those of its last tree, which price in more pairs, and the shortest paths of the next
        rounds search wider from them (scale 1: 13,389 pairs and 5 s against 5,076 and 0.5 s)."""
        n_c, n_p = self.n_children, self.n_placements
        ci, pi = self.pairs()
        live = self.cap[pi] > 0  # no flow ever runs to a placement with no place
        ci, pi, cost = ci[live], pi[live], self.arc_cost[live]
        on = self.assigned[ci] == pi
        network = (
            np.concatenate([ci, np.arange(n_c + n_p, dtype=np.int64)]),
            np.concatenate([n_c + pi, np.full(n_c + n_p, n_c + n_p, np.int64)]),
            np.concatenate([cost, np.full(n_c, self.unplaced_cost), np.zeros(n_p, np.int64)]),
        )
        # no pair's own capacity: the duals then price every pair (a child sends 1 at most)
        cap = np.concatenate([np.full(len(ci) + n_c, _UNBOUNDED), self.cap])
        flow = np.concatenate([on, self.assigned == _UNPLACED, self.load]).astype(np.int64)
        by_place, p_ptr = group_by(pi, n_p)
        c_arc = np.full(n_c, -1, np.int64)
        c_arc[ci[on]] = np.flatnonzero(on)
        parent, pred, up, pot = _basis(
            n_c, network, cap, flow, self.pi, (p_ptr, by_place),
            (self.slot_ptr, self.slot_child), c_arc,
        )  # fmt: skip
        state = np.where(flow == 0, 1, -1).astype(np.int64)
        state[pred[pred >= 0]] = 0
        _simplex(network, cap, flow, state, (parent, pred, up), pot)
        used = flow[: len(ci)] > 0
        self._seat(ci[used], pi[used], cost[used])
        self.pi[:], bad = _least_potentials(*self._graph(0, pot))
        if bad:
            raise RuntimeError(f"network simplex potentials invalid on {bad} arcs")

    def _seat(self, ci: IntArray, pi: IntArray, cost: IntArray) -> None:
        """Children `ci` in placements `pi` at `cost` (each child once), the others unplaced;
        the children fill their placements' slots in placement order."""
        self.assigned[:] = _UNPLACED
        self.assigned[ci] = pi
        self.assigned_cost[:] = self.unplaced_cost
        self.assigned_cost[ci] = cost
        self.load[:] = np.bincount(pi, minlength=self.n_placements)
        order = np.argsort(pi, kind="stable")
        rank = np.arange(len(order)) - np.repeat(np.r_[0, np.cumsum(self.load)[:-1]], self.load)
        self.slot_child[:] = -1
        self.slot_child[self.slot_ptr[pi[order]] + rank] = ci[order]

    def _gaining(self, ci: IntArray, pi: IntArray, cost: IntArray) -> NDArray[np.bool_]:
        """Each child with a pair among (ci, pi, cost) of negative reduced cost."""
        rc = cost - self.pi[ci] + self.pi[self.n_children + pi]
        return np.bincount(ci[rc < 0], minlength=self.n_children) > 0

    def loosen(self, tolerance: int) -> None:
        """Solve within `tolerance` again from the next pairs added: the auction, from the
        current assignment with the flow's prices."""
        self.tolerance, self.price = tolerance, None

    def _restart(self) -> None:
        """Solve again from nothing over the current candidates: OR-Tools' min-cost flow
        (cost scaling), then potentials from its residual graph.

        OR-Tools solves with a smaller unplaced cost U' (twice the dearest pair), which it
        solves markedly faster than with a penalty far above every pair. Its flow, less the
        children it leaves unplaced, has no negative cycle at the real cost U >= U' (no arc
        enters those children; every other cycle costs at least what it cost at U'), so it has
        potentials, and those children are then sent by shortest paths at the real cost."""
        n_c, n_p = self.n_children, self.n_placements
        sink = n_c + n_p
        ci, pi = self.pairs()
        children = np.arange(n_c, dtype=np.int64)
        quick = min(self.unplaced_cost, 2 * int(self.arc_cost.max(initial=0)))
        mcf = min_cost_flow.SimpleMinCostFlow()
        mcf.add_arcs_with_capacity_and_unit_cost(
            np.concatenate([ci, children, n_c + np.arange(n_p)]),
            np.concatenate([n_c + pi, np.full(n_c, sink), np.full(n_p, sink)]),
            np.concatenate([np.ones(len(ci) + n_c, np.int64), self.cap]),
            np.concatenate([self.arc_cost, np.full(n_c, quick), np.zeros(n_p, np.int64)]),
        )
        supplies = np.zeros(sink + 1, np.int64)
        supplies[:n_c] = 1
        supplies[sink] = -n_c
        mcf.set_nodes_supplies(np.arange(sink + 1), supplies)
        status = mcf.solve()
        if status != mcf.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed with status {status}")
        used = mcf.flows(np.arange(len(ci))) > 0
        self._seat(ci[used], pi[used], self.arc_cost[used])
        if quick < self.unplaced_cost:
            self.assigned[self.assigned == _UNPLACED] = _FREE
        self.pi[:] = _potentials(*self._graph())
        free = np.flatnonzero(self.assigned == _FREE)
        if len(free):
            deficit = np.zeros(len(self.pi), np.int64)
            deficit[-1] = len(free)
            self._route(free, deficit)

    @property
    def n_placements(self) -> int:
        return len(self.cap)

    def _insert(self, ci: IntArray, pi: IntArray, cost: IntArray) -> None:
        """Add pairs not yet among the candidates (keeping them sorted by child)."""
        order = pair_order(ci, pi, self.n_children, self.n_placements)
        key = np.asarray(ci, np.int64)[order] * self.n_placements + np.asarray(pi)[order]
        more_cost = np.asarray(cost, np.int64)[order]
        self.keys, self.arc_cost = _merge(self.keys, self.arc_cost, key, more_cost)

    def _csr(self) -> tuple[IntArray, IntArray]:
        """Where each child's pairs start (and the end), and each pair's placement."""
        start = np.arange(self.n_children + 1, dtype=np.int64) * self.n_placements
        ptr = np.searchsorted(self.keys, start).astype(np.int64)
        return ptr, self.keys - np.repeat(start[:-1], np.diff(ptr))

    def _graph(self, *more: Any) -> tuple[Any, ...]:
        """The flow's arrays as its compiled loops take them (the candidates by child, then
        the placements' capacities, the assignment and the slots), then `more`."""
        ptr, place = self._csr()
        return (
            self.n_children, ptr, place, self.arc_cost, self.cap, self.unplaced_cost,
            self.assigned, self.assigned_cost, self.slot_ptr, self.slot_child, self.load, *more,
        )  # fmt: skip

    def _min_potential(self, kids: IntArray) -> IntArray:
        """For children with no flow: the largest potential keeping all their arcs' reduced
        costs non-negative, min(U + pi_T, min_p cost + pi_p)."""
        n_c = self.n_children
        child, place = self.pairs()
        value = self.arc_cost + self.pi[n_c + place]
        best = np.full(n_c, self.unplaced_cost + self.pi[-1], np.int64)
        np.minimum.at(best, child, value)
        return best[kids]

    def _route(self, sources: IntArray, deficit: IntArray) -> None:
        self.pi[sources] = self._min_potential(sources)
        bad = _augment_all(*self._graph(self.pi, deficit, sources))
        if bad:
            raise RuntimeError(f"flow potentials invalid on {bad} arcs")

    def add(
        self,
        ci: IntArray,
        pi: IntArray,
        cost: IntArray,
        *,
        keep_within: int,
        keep_best: int | None = None,
        exactly: bool = False,
    ) -> int:
        """Add candidate pairs and re-optimise; returns how many children were re-routed.

        Within a tolerance, the auction solves afresh (all children count as re-routed), each
        child first keeping its `keep_best` pairs of least reduced cost within `keep_within`,
        and its pair in the flow, as pairs dear at the current prices seldom return and every
        pair kept slows the auction (pricing brings back any that would); with `exactly`, every
        pair stays and the flow is solved exactly from here on, as by `tighten` but with the
        new pairs in the same one solve. An exact flow re-routes the children with a new pair
        of negative reduced cost by shortest paths, however many (at scale 5, after `tighten`,
        996,586 new pairs took 19 s, where OR-Tools afresh over the pruned pairs took 24 s)."""
        if self.tolerance and not exactly:
            self._prune(keep_within, keep_best)
        self._insert(ci, pi, cost)
        if self.tolerance:
            if exactly:  # pruning by prices within a tolerance dropped pairs the optimum needs
                self.tighten()
            else:
                self._approximate()
            return self.n_children
        dirty = np.flatnonzero(self._gaining(ci, pi, cost))
        self._reroute(dirty)
        return len(dirty)

    def _reroute(self, dirty: IntArray) -> None:
        """Take children out of their placements (or being unplaced) and send them back by
        shortest paths."""
        if len(dirty) == 0:
            return
        n_c = self.n_children
        deficit = np.zeros(len(self.pi), np.int64)
        old = self.assigned[dirty]
        placed = old >= 0
        np.add.at(deficit, n_c + old[placed], 1)
        deficit[-1] += int((~placed).sum())
        self.assigned[dirty] = _FREE
        taken = np.isin(self.slot_child, dirty)
        self.slot_child[taken] = -1
        self._route(dirty, deficit)

    def _prune(self, keep_within: int, keep_best: int | None) -> None:
        """Keep each child's pair in the flow and its `keep_best` pairs of least reduced cost
        within `keep_within` (the pair in the flow among them)."""
        ptr, place = self._csr()
        best = int(np.diff(ptr).max(initial=0)) if keep_best is None else keep_best
        keep = _kept(ptr, place, self.arc_cost, self.pi, self.assigned, keep_within, best)
        self.keys, self.arc_cost = self.keys[keep], self.arc_cost[keep]

    def pairs(self) -> tuple[IntArray, IntArray]:
        """The candidate pairs (child, placement)."""
        ptr, place = self._csr()
        return _pair_children(ptr), place

    def duals(self) -> tuple[IntArray, IntArray]:
        """u_c per child and w_p >= 0 per placement (integers), with u_c - w_p <= cost(c, p)
        for every candidate pair and u_c <= U, tight where flow runs."""
        t = self.pi[-1]
        return self.pi[: self.n_children] - t, np.maximum(self.pi[self.n_children : -1] - t, 0)

    @property
    def cost(self) -> int:
        return int(self.assigned_cost.sum())


def warm_up() -> None:
    """Compile the flow's loops (or load them from numba's cache) on a tiny problem: twenty
    children, two placements, then one pair more, cheaper than child 1's (cost 1), which
    re-routes it; and the same within a tolerance (the auction, and the pruning of pairs when
    it solves afresh), then exactly."""
    n = 20
    kids = np.arange(n, dtype=np.int64)
    for tolerance in (0, 1):
        flow = Flow.solve(
            np.array([n, n], np.int64), 1_000, kids, kids % 2, kids % 7, n, tolerance=tolerance
        )
        one = np.zeros(1, np.int64)
        flow.add(kids[1:2], one, one, keep_within=0, keep_best=1)
        flow.tighten()
