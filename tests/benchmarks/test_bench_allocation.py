"""Allocation benchmark: our exact flow + pricing against a plain LP over every eligible pair
(HiGHS through OR-Tools), on the seeded synthetic England, and today's practice calibrated
against what councils recorded in 2024.

Run with `make bench` (or `pytest -o addopts="" -s tests/benchmarks/test_bench_allocation.py`).
Scales: RCC_BENCH_SCALES (default "0.5,1,2,5"); peer scales: RCC_BENCH_PEER_SCALES
(default "0.02,0.05"); repeats: RCC_BENCH_REPEATS (default 3, medians quoted). Each run is a
separate process so peak memory is its own.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

SCALES = [float(s) for s in os.environ.get("RCC_BENCH_SCALES", "0.5,1,2,5").split(",")]
PEER = [float(s) for s in os.environ.get("RCC_BENCH_PEER_SCALES", "0.02,0.05").split(",")]
REPEATS = int(os.environ.get("RCC_BENCH_REPEATS", "3"))

OURS = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from optimiser.problem import read_problem, write_problem
    from optimiser.run import run_solve, write_outputs
    from optimiser.synthetic import synthesize
    from optimiser.validate import check_allocation
    scale, siblings, folder = float(sys.argv[1]), sys.argv[2] == "1", Path(sys.argv[3])
    write_problem(synthesize(seed=1, scale=scale, sibling_groups=siblings), folder / "in")
    t0 = time.perf_counter()
    problem = read_problem(folder / "in")
    limit = None if sys.argv[4] == "none" else float(sys.argv[4])
    run = run_solve(problem, time_limit=limit, threads=os.cpu_count() or 1)  # as rcc solve
    write_outputs(run, folder / "out", inputs=folder / "in")
    total = time.perf_counter() - t0
    verdict = check_allocation(problem, run.result.assignments, objective=run.result.objective)
    s = run.summary()
    print(json.dumps({"children": len(problem.children), "total": total,
        "solve": run.result.wall_seconds, "status": run.result.status.value,
        "objective": run.result.objective, "gap": run.result.gap, "valid": verdict.ok,
        "out_of_la_pct": s["out_of_la_pct"], "over_20_miles_pct": s["over_20_miles_pct"],
        "baseline": s.get("baseline")}))
    """
)

PEER_LP = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from ortools.linear_solver import pywraplp
    from optimiser.pairs import PairModel
    from optimiser.synthetic import synthesize
    problem = synthesize(seed=1, scale=float(sys.argv[1]), sibling_groups=False)
    t0 = time.perf_counter()
    m = PairModel.from_problem(problem)
    ci, pi = np.meshgrid(np.arange(m.n_children), np.arange(m.n_placements), indexing="ij")
    pc = m.costs(ci.ravel(), pi.ravel())
    ci, pi, cost = ci.ravel()[pc.eligible], pi.ravel()[pc.eligible], pc.total[pc.eligible]
    lp = pywraplp.Solver.CreateSolver("HIGHS")
    x = [lp.NumVar(0, 1, "") for _ in range(len(ci))]
    y = [lp.NumVar(0, 1, "") for _ in range(m.n_children)]
    by_c = [[] for _ in range(m.n_children)]
    by_p = [[] for _ in range(m.n_placements)]
    for k, (c, q) in enumerate(zip(ci, pi)):
        by_c[c].append(k)
        by_p[q].append(k)
    for c in range(m.n_children):
        row = lp.Constraint(1, 1)
        row.SetCoefficient(y[c], 1)
        for k in by_c[c]:
            row.SetCoefficient(x[k], 1)
    for q in range(m.n_placements):
        if by_p[q]:
            row = lp.Constraint(0, int(m.p_cap[q]))
            for k in by_p[q]:
                row.SetCoefficient(x[k], 1)
    obj = lp.Objective()
    for k in range(len(ci)):
        obj.SetCoefficient(x[k], float(cost[k]))
    for c in range(m.n_children):
        obj.SetCoefficient(y[c], problem.policy.unplaced)
    built = time.perf_counter() - t0
    status = lp.Solve()
    print(json.dumps({"pairs": int(len(ci)), "build": built, "total": time.perf_counter() - t0,
        "objective": lp.Objective().Value(), "optimal": status == pywraplp.Solver.OPTIMAL}))
    """
)


def _run(script: str, *args: str) -> tuple[dict, float]:
    """Run a script in its own process; its JSON line and its peak memory in MB."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, out
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def _ours(scale: float, tmp: Path, *, siblings: bool = False, limit: float | None = None) -> dict:
    runs = []
    for i in range(REPEATS):
        args = (str(scale), "1" if siblings else "0", str(tmp / f"{i}"), str(limit or "none"))
        data, peak = _run(OURS, *args)
        assert data["valid"], "the independent checker rejected the allocation"
        runs.append({**data, "peak_mb": peak})
    med = {k: statistics.median(r[k] for r in runs) for k in ("total", "solve", "peak_mb", "gap")}
    return {**runs[0], **med}


def test_allocation_scales_and_peer(tmp_path: Path) -> None:
    rows = []
    for scale in sorted(set(PEER)):
        ours = _ours(scale, tmp_path / f"p{scale}")
        peer, peer_mb = _run(PEER_LP, str(scale))
        assert peer["optimal"]
        rel = abs(ours["objective"] - peer["objective"]) / abs(peer["objective"])
        rows.append(
            {
                "scale": scale,
                "children": ours["children"],
                "ours_total_s": round(ours["total"], 2),
                "ours_solve_s": round(ours["solve"], 2),
                "ours_peak_mb": round(ours["peak_mb"]),
                "status": ours["status"],
                "peer_pairs": peer["pairs"],
                "peer_total_s": round(peer["total"], 2),
                "peer_peak_mb": round(peer_mb),
                "speed_ratio": round(peer["total"] / ours["solve"], 1),
                "objective_rel_diff": f"{rel:.1e}",
            }
        )
        assert rel < 1e-6
    print("\nOurs (min-cost flow + dual pricing) vs plain LP over every eligible pair (HiGHS)")
    print(pd.DataFrame(rows).to_string(index=False))

    rows = []
    for scale in SCALES:
        ours = _ours(scale, tmp_path / f"s{scale}")
        rows.append(
            {
                "scale": scale,
                "children": ours["children"],
                "end_to_end_s": round(ours["total"], 2),
                "solve_s": round(ours["solve"], 2),
                "peak_mb": round(ours["peak_mb"]),
                "status": ours["status"],
                "gap": f"{ours['gap']:.2e}",
                "s_per_1k_children": round(1000 * ours["solve"] / ours["children"], 3),
            }
        )
    print(f"\nScaling, no sibling groups (median of {REPEATS}; end to end = rcc solve's work)")
    print(pd.DataFrame(rows).to_string(index=False))


def test_sibling_gap(tmp_path: Path) -> None:
    scale = float(os.environ.get("RCC_BENCH_SIBLING_SCALE", "1"))
    ours = _ours(scale, tmp_path, siblings=True, limit=60.0)
    print(
        f"\nSibling groups at scale {scale}: {ours['status']}, gap {ours['gap']:.3%}, "
        f"solve {ours['solve']:.1f}s, end to end {ours['total']:.1f}s, "
        f"{ours['peak_mb']:.0f} MB (medians of {REPEATS}; time limit 60 s)"
    )


def test_baseline_calibration(tmp_path: Path, shared_file) -> None:  # type: ignore[no-untyped-def]
    """Today's practice simulated on the embedded default against the DfE's 2024 figures."""
    real = pd.read_csv(shared_file("data/dfe_cla_by_la.csv"), dtype={"code": str})
    real = real[real["time_period"] == 2024].set_index("code")
    data, _ = _run(OURS, "1", "0", str(tmp_path), "none")
    base = data["baseline"]
    sim = pd.read_csv(tmp_path / "out" / "baseline_allocation.csv", dtype={"home_la": str})
    sim = sim[sim["placement_id"].notna()]
    by_la = sim.groupby("home_la").agg(
        out_of_la=("out_of_la", "mean"), over_20=("over_20_miles", "mean")
    )
    share = (real["placed_outside_la"] / real["cla_total"]).rename("real_out")
    far = (real["dist_over_20mi"] / real["cla_total"]).rename("real_far")
    joined = by_la.join(share).join(far).dropna()
    print("\nToday's practice (simulated) vs councils' 2024 records")
    print(
        pd.DataFrame(
            {
                "measure": ["out of LA %", "over 20 miles %"],
                "simulated": [base["out_of_la_pct"], base["over_20_miles_pct"]],
                "DfE 2024": [45.0, 22.0],
                "optimised": [data["out_of_la_pct"], data["over_20_miles_pct"]],
                "per-LA correlation": [
                    round(joined["out_of_la"].corr(joined["real_out"]), 3),
                    round(joined["over_20"].corr(joined["real_far"]), 3),
                ],
            }
        ).to_string(index=False)
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-o", "addopts=", "-s"]))
