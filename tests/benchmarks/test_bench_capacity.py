"""Benchmark: the national five-year sufficiency plan over all 153 candidate LAs, by MIP solver.

Seeded (synthetic England, seed 1; Care Review growth). Each solver gets the same model, a
5-minute limit and a 1% relative-gap target; the table reports the proven gap, the time and the
ratio of each solver's time to SCIP's measured in the same run. Run with `make bench`.
"""

from __future__ import annotations

import time

import pytest

from optimiser.capacity import PlanOptions, build_plan_model, solve_plan
from optimiser.costs import PlanCosts
from optimiser.forecast import Growth, forecast_demand
from optimiser.synthetic import synthesize

SOLVERS = ("scip", "highs", "sat")
TIME_LIMIT = 300.0
TARGET_GAP = 0.01


@pytest.mark.slow
def test_bench_national_plan() -> None:
    problem = synthesize(seed=1)
    demand = forecast_demand(problem, years=5, growth=Growth.care_review())
    start = time.perf_counter()
    built = build_plan_model(problem, demand)
    build_seconds = time.perf_counter() - start
    print(f"\nnational plan model: {built.size}, built in {build_seconds:.1f} s")
    rows = []
    for solver in SOLVERS:
        options = PlanOptions(solver=solver, time_limit=TIME_LIMIT, relative_gap=TARGET_GAP)
        result = solve_plan(problem, demand, costs=PlanCosts(), options=options)
        rows.append((solver, result))
    scip_seconds = rows[0][1].parameters["mip_seconds"]
    print(
        f"{'solver':<7}{'status':<11}{'objective £m':>14}{'bound £m':>12}{'gap':>9}"
        f"{'mip s':>9}{'x scip':>8}{'unplaced':>10}{'out of LA':>11}"
    )
    for solver, r in rows:
        final = r.final_year("with_plan")
        print(
            f"{solver:<7}{r.status.value:<11}{r.objective / 1e6:>14,.1f}{r.bound / 1e6:>12,.1f}"
            f"{r.gap:>9.3%}{r.parameters['mip_seconds']:>9.1f}"
            f"{r.parameters['mip_seconds'] / scip_seconds:>8.2f}"
            f"{final['unplaced']:>10,.0f}{final['out_of_la']:>11,.0f}"
        )
    nothing = rows[0][1].final_year("without_plan")
    print(
        f"doing nothing, final year: unplaced {nothing['unplaced']:,.0f}, "
        f"out of LA {nothing['out_of_la']:,.0f}"
    )
    best = rows[0][1]
    assert best.objective <= best.objective_without_plan
