"""Today's-practice baseline against a brute-force reading of its rules (optimiser/baseline.py,
module docstring): on random problems with near ties, current placements and siblings, and with
the councils' nearest-place lists cut short, the compiled simulation places every child exactly
where searching every placement for every child does."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_allocation import HOME, problem, random_child, random_place

from geodata.distance import METRES_PER_MILE
from optimiser import baseline
from optimiser.baseline import simulate_baseline
from optimiser.pairs import PairModel
from optimiser.problem import SETTINGS, Problem
from optimiser.validate import check_allocation

IN_HOUSE = {SETTINGS.index("foster_inhouse"), SETTINGS.index("residential_la")}


def reference(p: Problem, *, seed: int, offers: int) -> list[str]:
    """The placement id of each child ("" when unplaced), by the docstring's rules with every
    free placement looked at for every child; the order in which councils place their children
    is the simulation's own (`_order`, the seeded draw)."""
    m = PairModel.from_problem(p)
    pol = p.policy
    free = m.p_cap.copy()
    assigned = np.full(m.n_children, -1)
    group_place: dict[int, int] = {}

    def miles(c: int, q: int) -> float:
        return math.hypot(m.c_e[c] - m.p_e[q], m.c_n[c] - m.p_n[q]) / METRES_PER_MILE

    def eligible(c: int, q: int) -> bool:
        return (
            not math.isnan(m.substitution[m.c_need[c], m.p_setting[q]])
            and m.p_min_age[q] <= m.c_age[c] <= m.p_max_age[q]
            and m.p_sexes[q] in (2, int(m.c_male[c]))  # any, or the child's sex (0 F, 1 M)
            and (pol.max_miles is None or miles(c, q) <= pol.max_miles)
        )

    def cheapest_of_nearest(c: int, candidates: list[int], k: int) -> int:
        """Of the k nearest (to 0.1 mile as numpy rounds, then price, then index), the
        cheapest; the nearer of equal prices."""
        near = sorted(candidates, key=lambda q: (np.round(miles(c, q), 1), m.p_weekly[q], q))
        return min(near[:k], key=lambda q: m.p_weekly[q], default=-1)

    order = baseline._order(m, seed)
    for c in order:  # every child in an eligible current placement keeps it, before the rest
        q = m.c_current[c]
        if q >= 0 and free[q] > 0 and eligible(c, q):
            assigned[c] = q
            free[q] -= 1
            if m.c_group[c] >= 0:
                group_place.setdefault(int(m.c_group[c]), q)
    for c in order:
        if assigned[c] >= 0:
            continue
        usable = [q for q in range(m.n_placements) if free[q] > 0 and eligible(c, q)]
        sub = m.substitution[m.c_need[c]]
        own = [q for q in usable if m.p_setting[q] in IN_HOUSE and m.p_la[q] == m.c_la[c]]
        choice = next((q for q in (group_place.get(m.c_group[c], -1),) if q in usable), -1)
        for candidates, k in (
            ([q for q in own if sub[m.p_setting[q]] == 0], 1),
            ([q for q in usable if sub[m.p_setting[q]] == 0], offers),
            ([q for q in usable if sub[m.p_setting[q]] > 0], offers),
        ):
            if choice < 0:
                choice = cheapest_of_nearest(c, candidates, k)
        if choice >= 0:
            assigned[c] = choice
            free[choice] -= 1
            if m.c_group[c] >= 0:
                group_place.setdefault(int(m.c_group[c]), choice)
    ids = p.placements["placement_id"].to_numpy()
    return ["" if a < 0 else str(ids[a]) for a in assigned]


@st.composite
def markets(draw: st.DrawFn) -> Problem:
    """Children and placements on a grid of twentieths of a mile (many places equally near to
    the tenth of a mile the councils compare), three prices (equal offers), scarce places."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    n_c, n_p = draw(st.integers(1, 30)), draw(st.integers(1, 25))

    def grid() -> float:
        return float(rng.integers(-60, 61)) * METRES_PER_MILE / 20

    kids = [
        random_child(
            rng,
            i,
            sibling_group=str(rng.choice(["", "", "g1", "g2"])),
            current_placement=f"p{rng.integers(0, n_p)}" if rng.random() < 0.2 else "",
            easting=HOME[0] + grid(),
            northing=HOME[1] + grid(),
        )
        for i in range(n_c)
    ]
    places = [
        random_place(
            rng,
            j,
            easting=HOME[0] + grid(),
            northing=HOME[1] + grid(),
            capacity=int(rng.integers(0, 3)),
            weekly_cost=float(rng.choice([600.0, 800.0, 5000.0])),
        )
        for j in range(n_p)
    ]
    return problem(kids, places, max_miles=float(rng.choice([2.0, 1e9])))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets(), st.sampled_from([1, 2, 3, 40]), st.integers(1, 4), st.integers(0, 99))
def test_the_simulation_places_every_child_where_searching_everything_does(
    p: Problem, offers: int, listed: int, seed: int
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        # lists of the `listed` places nearest each council: cut short, refilled, and the whole
        # tier searched when a list proves nothing
        patch.setattr(baseline, "_LOCAL_LEAST", listed)
        patch.setattr(baseline, "_LOCAL_PER_LA", 0)
        got = simulate_baseline(p, seed=seed, offers=offers)
    placed = got.assignments.set_index("child_id")["placement_id"]
    assert placed[p.children["child_id"]].tolist() == reference(p, seed=seed, offers=offers)
    verdict = check_allocation(p, got.assignments, objective=got.objective)
    assert verdict.ok, str(verdict)


def test_a_child_keeps_its_current_placement_whoever_is_placed_first() -> None:
    """A child was pushed out of its own one-place home (and left unplaced) when a child placed
    before it took that place first: today's practice then did not reproduce today's
    placements. Whichever council's turn comes first, the home is the nearest place for both."""
    from test_allocation import child, place, problem

    p = problem(
        [
            child("settled", need="residential", current_placement="home"),
            child("newcomer", need="residential", home_la="E06000002"),
        ],
        [
            place("home", setting="residential_private", capacity=1),
            place("far", setting="residential_private", miles=30.0, capacity=1),
        ],
    )
    for seed in range(8):  # whichever council's turn comes first
        placed = simulate_baseline(p, seed=seed).assignments.set_index("child_id")
        assert placed.loc["settled", "placement_id"] == "home"
        assert placed.loc["newcomer", "placement_id"] == "far"
