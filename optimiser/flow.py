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
Started from nothing, the same routine solves the whole restricted problem.

The loops are compiled with numba; costs are integers (units of 1/COST_SCALE GBP).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

IntArray = NDArray[np.int64]

_FREE = -2  # assigned[c]: a child waiting for a path (an excess of one)
_UNPLACED = -1
# how each node was reached on a shortest path (the arc from its predecessor)
_ARC, _LEAVE, _P_T, _T_P, _C_T, _T_C = 0, 1, 2, 3, 4, 5
_INF = np.int64(2**62)
# Re-routing a child is a shortest-path search; past this share of children with better pairs,
# solving afresh (most children take their cheapest free pair at once) is quicker (measured).
_RESTART_SHARE = 0.1


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
    with a negative reduced cost (0 unless the potentials were not valid)."""
    n_p = len(cap)
    t_node = n_c + n_p
    n_nodes = t_node + 1
    dist = np.full(n_nodes, _INF, np.int64)
    pred = np.full(n_nodes, -1, np.int64)
    kind = np.zeros(n_nodes, np.int64)
    via = np.zeros(n_nodes, np.int64)
    pos = np.full(n_nodes, -1, np.int64)
    done = np.zeros(n_nodes, np.bool_)
    heap_d = np.empty(n_nodes, np.int64)
    heap_v = np.empty(n_nodes, np.int64)
    touched = np.empty(n_nodes, np.int64)
    bad = 0
    # the unplaced children (arcs T->c), listed once each, compacted now and then
    unplaced_list = np.empty(n_c, np.int64)
    listed = np.zeros(n_c, np.bool_)
    n_unplaced = 0
    for c in range(n_c):
        if assigned[c] == _UNPLACED:
            unplaced_list[n_unplaced] = c
            listed[c] = True
            n_unplaced += 1
    for s in sources:
        n_touched = 0
        size = 0
        dist[s] = 0
        heap_d[0], heap_v[0] = 0, s
        pos[s] = 0
        size = 1
        touched[n_touched] = s
        n_touched += 1
        target = -1
        while size > 0:
            v = _pop(heap_d, heap_v, pos, size)
            size -= 1
            done[v] = True
            if deficit[v] > 0:
                target = v
                break
            dv = dist[v]
            # the residual arcs out of v: (head, reduced cost, kind, via)
            if v < n_c:
                for a in range(c_ptr[v], c_ptr[v + 1]):
                    p = arc_place[a]
                    if assigned[v] == p:
                        continue
                    h = n_c + p
                    rc = arc_cost[a] - pi[v] + pi[h]
                    if rc < 0:
                        bad += 1
                        rc = 0
                    nd = dv + rc
                    if nd < dist[h] and not done[h]:
                        if dist[h] == _INF:
                            touched[n_touched] = h
                            n_touched += 1
                        dist[h], pred[h], kind[h], via[h] = nd, v, _ARC, a
                        if pos[h] < 0:
                            heap_d[size], heap_v[size] = nd, h
                            size += 1
                            _sift_up(heap_d, heap_v, pos, size - 1)
                        else:
                            heap_d[pos[h]] = nd
                            _sift_up(heap_d, heap_v, pos, pos[h])
                if assigned[v] != _UNPLACED:
                    rc = unplaced_cost - pi[v] + pi[t_node]
                    if rc < 0:
                        bad += 1
                        rc = 0
                    nd = dv + rc
                    h = t_node
                    if nd < dist[h] and not done[h]:
                        if dist[h] == _INF:
                            touched[n_touched] = h
                            n_touched += 1
                        dist[h], pred[h], kind[h], via[h] = nd, v, _C_T, 0
                        if pos[h] < 0:
                            heap_d[size], heap_v[size] = nd, h
                            size += 1
                            _sift_up(heap_d, heap_v, pos, size - 1)
                        else:
                            heap_d[pos[h]] = nd
                            _sift_up(heap_d, heap_v, pos, pos[h])
            elif v < t_node:
                p = v - n_c
                for slot in range(slot_ptr[p], slot_ptr[p + 1]):
                    h = slot_child[slot]
                    if h < 0:
                        continue
                    rc = -assigned_cost[h] - pi[v] + pi[h]
                    if rc < 0:
                        bad += 1
                        rc = 0
                    nd = dv + rc
                    if nd < dist[h] and not done[h]:
                        if dist[h] == _INF:
                            touched[n_touched] = h
                            n_touched += 1
                        dist[h], pred[h], kind[h], via[h] = nd, v, _LEAVE, slot
                        if pos[h] < 0:
                            heap_d[size], heap_v[size] = nd, h
                            size += 1
                            _sift_up(heap_d, heap_v, pos, size - 1)
                        else:
                            heap_d[pos[h]] = nd
                            _sift_up(heap_d, heap_v, pos, pos[h])
                if load[p] < cap[p]:
                    rc = -pi[v] + pi[t_node]
                    if rc < 0:
                        bad += 1
                        rc = 0
                    nd = dv + rc
                    h = t_node
                    if nd < dist[h] and not done[h]:
                        if dist[h] == _INF:
                            touched[n_touched] = h
                            n_touched += 1
                        dist[h], pred[h], kind[h], via[h] = nd, v, _P_T, 0
                        if pos[h] < 0:
                            heap_d[size], heap_v[size] = nd, h
                            size += 1
                            _sift_up(heap_d, heap_v, pos, size - 1)
                        else:
                            heap_d[pos[h]] = nd
                            _sift_up(heap_d, heap_v, pos, pos[h])
            else:
                for p in range(n_p):
                    if load[p] == 0:
                        continue
                    h = n_c + p
                    rc = -pi[t_node] + pi[h]
                    if rc < 0:
                        bad += 1
                        rc = 0
                    nd = dv + rc
                    if nd < dist[h] and not done[h]:
                        if dist[h] == _INF:
                            touched[n_touched] = h
                            n_touched += 1
                        dist[h], pred[h], kind[h], via[h] = nd, v, _T_P, 0
                        if pos[h] < 0:
                            heap_d[size], heap_v[size] = nd, h
                            size += 1
                            _sift_up(heap_d, heap_v, pos, size - 1)
                        else:
                            heap_d[pos[h]] = nd
                            _sift_up(heap_d, heap_v, pos, pos[h])
                for k in range(n_unplaced):
                    h = unplaced_list[k]
                    if assigned[h] != _UNPLACED:
                        continue
                    rc = -unplaced_cost - pi[t_node] + pi[h]
                    if rc < 0:
                        bad += 1
                        rc = 0
                    nd = dv + rc
                    if nd < dist[h] and not done[h]:
                        if dist[h] == _INF:
                            touched[n_touched] = h
                            n_touched += 1
                        dist[h], pred[h], kind[h], via[h] = nd, v, _T_C, 0
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
                if not listed[u]:
                    unplaced_list[n_unplaced] = u
                    listed[u] = True
                    n_unplaced += 1
            v = u
        deficit[target] -= 1
        # reset the search state
        for k in range(n_touched):
            v = touched[k]
            dist[v] = _INF
            pos[v] = -1
            done[v] = False
        if n_unplaced > 64:
            m = 0
            for k in range(n_unplaced):
                c = unplaced_list[k]
                if assigned[c] == _UNPLACED:
                    unplaced_list[m] = c
                    m += 1
                else:
                    listed[c] = False
            n_unplaced = m
    return bad


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

    @classmethod
    def solve(
        cls,
        cap: IntArray,
        unplaced_cost: int,
        ci: IntArray,
        pi: IntArray,
        cost: IntArray,
        n_children: int,
    ) -> Flow:
        """The optimal flow over pairs (ci, pi) with integer costs, from nothing."""
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
        )
        flow._insert(ci, pi, cost)
        flow._restart()
        return flow

    def _restart(self) -> None:
        """Solve again from nothing over the current candidates."""
        self.assigned[:] = _FREE
        self.slot_child[:] = -1
        self.load[:] = 0
        self.pi[:] = 0
        deficit = np.zeros(len(self.pi), np.int64)
        deficit[-1] = self.n_children
        self._route(np.arange(self.n_children, dtype=np.int64), deficit)

    @property
    def n_placements(self) -> int:
        return len(self.cap)

    def _insert(self, ci: IntArray, pi: IntArray, cost: IntArray) -> None:
        """Add pairs not yet among the candidates (keeping them sorted by child)."""
        key, first = np.unique(ci.astype(np.int64) * self.n_placements + pi, return_index=True)
        cost = np.asarray(cost, np.int64)[first]
        at = np.asarray(np.searchsorted(self.keys, key), np.int64)
        new = np.r_[self.keys, -1][at] != key
        self.keys = np.insert(self.keys, at[new], key[new])
        self.arc_cost = np.insert(self.arc_cost, at[new], cost[new])

    def _csr(self) -> tuple[IntArray, IntArray]:
        child = self.keys // self.n_placements
        ptr = np.r_[0, np.cumsum(np.bincount(child, minlength=self.n_children))]
        return ptr.astype(np.int64), self.keys % self.n_placements

    def _min_potential(self, kids: IntArray) -> IntArray:
        """For children with no flow: the largest potential keeping all their arcs' reduced
        costs non-negative, min(U + pi_T, min_p cost + pi_p)."""
        n_c = self.n_children
        place = self.keys % self.n_placements
        value = self.arc_cost + self.pi[n_c + place]
        best = np.full(n_c, self.unplaced_cost + self.pi[-1], np.int64)
        np.minimum.at(best, self.keys // self.n_placements, value)
        return best[kids]

    def _route(self, sources: IntArray, deficit: IntArray) -> None:
        self.pi[sources] = self._min_potential(sources)
        ptr, place = self._csr()
        bad = _augment_all(
            self.n_children,
            ptr,
            place,
            self.arc_cost,
            self.cap,
            self.unplaced_cost,
            self.assigned,
            self.assigned_cost,
            self.slot_ptr,
            self.slot_child,
            self.load,
            self.pi,
            deficit,
            sources,
        )
        if bad:
            raise RuntimeError(f"flow potentials invalid on {bad} arcs")

    def add(self, ci: IntArray, pi: IntArray, cost: IntArray) -> int:
        """Add candidate pairs and re-optimise; returns how many children were re-routed
        (all of them when so many had better pairs that solving afresh is quicker)."""
        n_c = self.n_children
        rc = cost - self.pi[ci] + self.pi[n_c + pi]
        self._insert(ci, pi, cost)
        dirty = np.unique(ci[rc < 0])
        if len(dirty) == 0:
            return 0
        if len(dirty) > _RESTART_SHARE * n_c:
            self._restart()
            return n_c
        deficit = np.zeros(len(self.pi), np.int64)
        old = self.assigned[dirty]
        placed = old >= 0
        np.add.at(deficit, n_c + old[placed], 1)
        deficit[-1] += int((~placed).sum())
        self.assigned[dirty] = _FREE
        taken = np.isin(self.slot_child, dirty)
        self.slot_child[taken] = -1
        self._route(dirty, deficit)
        return len(dirty)

    def pairs(self) -> tuple[IntArray, IntArray]:
        """The candidate pairs (child, placement)."""
        return self.keys // self.n_placements, self.keys % self.n_placements

    def duals(self) -> tuple[IntArray, IntArray]:
        """u_c per child and w_p >= 0 per placement (integers), with u_c - w_p <= cost(c, p)
        for every candidate pair and u_c <= U, tight where flow runs."""
        t = self.pi[-1]
        return self.pi[: self.n_children] - t, np.maximum(self.pi[self.n_children : -1] - t, 0)

    @property
    def cost(self) -> int:
        return int(self.assigned_cost.sum())
