"""The compiled pricing loop computes every eligible pair's cost exactly as PairModel does."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from optimiser.allocation import CELL, _Groups, _price
from optimiser.pairs import COST_SCALE, PairModel
from optimiser.problem import Problem
from tests.test_allocation import small_problems


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems())
def test_priced_costs_equal_the_pair_model(p: Problem) -> None:
    model = PairModel.from_problem(p)
    blocks = _Groups.of((model.c_la, model.c_need), model.c_e, model.c_n, model.c_rcc, cell=CELL)
    groups = _Groups.of((model.p_la, model.p_setting), model.p_e, model.p_n, model.p_rcc, cell=CELL)
    rng = np.random.default_rng(model.n_children)
    w = rng.integers(0, 5_000_000, model.n_placements)

    def price(u: np.ndarray):  # type: ignore[no-untyped-def]
        return _price(
            model, blocks, groups, u, w, per_child=model.n_placements, block_budget=10**12
        )

    got = price(np.full(model.n_children, 2**50))  # every eligible pair improves
    ci, pi = np.meshgrid(np.arange(model.n_children), np.arange(model.n_placements), indexing="ij")
    pc = model.costs(ci.ravel(), pi.ravel())
    eligible = pc.eligible & (model.p_cap[pi.ravel()] > 0)
    expected = {
        (int(c), int(q)): int(v)
        for c, q, v in zip(
            ci.ravel()[eligible],
            pi.ravel()[eligible],
            model.scaled(pc.total[eligible]) + w[pi.ravel()[eligible]],
            strict=True,
        )
    }
    assert got.complete
    assert len(got.child) == len(expected)
    rc = {(int(c), int(q)) for c, q in zip(got.child, got.place, strict=True)}
    assert rc == set(expected)
    # the least value per child is its cheapest pair plus price (or U)
    least = np.full(model.n_children, p.policy.unplaced)
    for (c, _), v in expected.items():
        least[c] = min(least[c], v / COST_SCALE)
    np.testing.assert_allclose(got.least, least, rtol=0, atol=1e-9)
    # at u_c = one of the child's own values, exactly the pairs below it improve: every
    # value is computed to the unit
    u = np.full(model.n_children, 0, np.int64)
    for (c, _), v in sorted(expected.items(), key=lambda item: rng.random()):
        u[c] = v
    got = price(u)
    below = {pair for pair, v in expected.items() if v < u[pair[0]]}
    assert {(int(c), int(q)) for c, q in zip(got.child, got.place, strict=True)} == below
