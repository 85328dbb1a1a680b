"""Benchmark: K=20 RCCs over 153 LAs, GM locked and both pathfinders locked (seeded).

Prints time to the first feasible partition, the best objective at 60 s and at the budget, the
proven bound and gap, and ratios against the spanning-tree baseline and the nine regions
measured in the same run. Budget per scenario: $RCC_BENCH_REGIONS_SECONDS (default 120; set
300 for the 5-minute target figure).
"""

from __future__ import annotations

import os
import time

import pytest

from geodata.rcc import regions_lookup
from optimiser.regions import (
    Request,
    baseline_partition,
    england_instance,
    evaluate,
    preset_locks,
    propose,
)

BUDGET = float(os.environ.get("RCC_BENCH_REGIONS_SECONDS", "120"))
THREADS = int(os.environ.get("RCC_BENCH_THREADS", "2"))


def best_at(trace: tuple[tuple[float, float], ...], seconds: float) -> float | None:
    found = [value for t, value in trace if t <= seconds]
    return max(found) if found else None


@pytest.mark.parametrize("lock", ["gm", "gm,south-east"])
def test_bench_regions_k20(lock: str) -> None:
    inst = england_instance()
    request = Request(k=20, locks=preset_locks(lock), time_limit=BUDGET, threads=THREADS, seed=1)
    start = time.perf_counter()
    baseline = baseline_partition(inst, request)
    baseline_seconds = time.perf_counter() - start
    assert baseline is not None
    base = evaluate(inst, baseline, locks=request.locks)
    regions = evaluate(inst, regions_lookup())
    proposal = propose(inst, request)
    score = proposal.score
    assert score.rccs["contiguous"].all()
    assert score.max_balance_deviation <= request.tolerance + 1e-9
    at60 = best_at(proposal.trace, 60.0)
    first = proposal.first_feasible_seconds
    rows = [
        ("locks", lock),
        ("budget s / threads", f"{BUDGET:g} / {THREADS}"),
        ("status", proposal.status.value),
        ("first feasible s", f"{first:.1f}" if first is not None else "warm start only"),
        ("best objective at 60 s (model)", f"{at60:.3f}" if at60 is not None else "none"),
        ("best objective at budget (exact)", f"{proposal.objective:.3f}"),
        ("proven bound", "none" if proposal.bound is None else f"{proposal.bound:.3f}"),
        ("gap", "none" if proposal.gap is None else f"{proposal.gap:.2%}"),
        ("wall s", f"{proposal.wall_seconds:.1f}"),
        ("baseline objective (best of draws)", f"{base.objective:.3f} in {baseline_seconds:.1f} s"),
        ("nine regions objective", f"{regions.objective:.3f}"),
        ("ratio objective proposal / baseline", f"{proposal.objective / base.objective:.3f}"),
        ("ratio objective proposal / regions", f"{proposal.objective / regions.objective:.3f}"),
    ]
    for name, s in (("proposal", score), ("baseline", base), ("regions", regions)):
        rows.append(
            (
                f"{name}: res % / secure % / mean mi / max mi / balance %",
                f"{s.self_sufficiency['residential']:.2f} / {s.self_sufficiency['secure']:.2f} / "
                f"{s.mean_miles:.2f} / {s.max_internal_miles:.0f} / "
                f"{100 * s.max_balance_deviation:.1f}",
            )
        )
    width = max(len(r[0]) for r in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
