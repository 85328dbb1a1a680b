"""RCC districting on the embedded England: pre-checks, the baseline, the shipped proposal, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geodata.adjacency import is_contiguous
from geodata.rcc import GREATER_MANCHESTER, proposed_lookup, regions_lookup
from optimiser.errors import InfeasibleRequestError
from optimiser.regions import (
    Lock,
    ProposalStatus,
    Request,
    baseline_partition,
    check_request,
    compare,
    england_instance,
    evaluate,
    preset_locks,
    propose,
    write_outputs,
)
from service.cli import app


def test_england_instance_keeps_every_child() -> None:
    inst = england_instance()
    assert len(inst) == 153
    assert sum(inst.cla) == 83_529
    # Suppressed small counts are taken as 3, never dropped.
    assert min(inst.demand["residential"]) >= 3
    assert sum(inst.demand["secure"]) == pytest.approx(150.0)
    assert all(is_contiguous([c], inst.graph) for c in inst.codes)


def test_pathfinder_presets_lock_the_right_las() -> None:
    gm, se = preset_locks("gm,south-east")
    assert gm.name == "North West: Greater Manchester"
    assert gm.members == GREATER_MANCHESTER
    assert len(se.members) == 19


def test_within_regions_with_gm_locked_names_the_north_east() -> None:
    request = Request(k=20, within_regions=True, locks=preset_locks("gm"))
    with pytest.raises(InfeasibleRequestError, match=r"County Durham \(North East\)"):
        check_request(england_instance(), request)


def test_locking_every_la_into_fewer_groups_than_k_is_refused() -> None:
    inst = england_instance()
    everything = (Lock("England", inst.codes),)
    with pytest.raises(InfeasibleRequestError, match="only 0 LAs are unlocked"):
        check_request(inst, Request(k=2, locks=everything))


@pytest.mark.parametrize("lock", ["gm", "gm,south-east"])
def test_england_baseline_is_contiguous_balanced_and_keeps_locks(lock: str) -> None:
    inst = england_instance()
    request = Request(k=20, locks=preset_locks(lock), baseline_draws=3)
    lookup = baseline_partition(inst, request)
    assert lookup is not None
    score = evaluate(inst, lookup, locks=request.locks)
    assert score.rccs.shape[0] == 20
    assert score.rccs["contiguous"].all()
    assert score.max_balance_deviation <= 0.25 + 1e-9
    for locked in request.locks:
        assert {lookup[c] for c in locked.members} == {locked.name}


def test_shipped_proposal_is_a_valid_k20_partition_with_gm_locked() -> None:
    inst = england_instance()
    lookup = proposed_lookup()
    locks = preset_locks("gm")
    score = evaluate(inst, lookup, locks=locks)
    assert set(lookup) == set(inst.codes)
    assert score.rccs.shape[0] == 20
    assert score.rccs["contiguous"].all()
    assert score.max_balance_deviation <= 0.25 + 1e-9
    assert {lookup[c] for c in GREATER_MANCHESTER} == {"North West: Greater Manchester"}
    assert sum(v == "North West: Greater Manchester" for v in lookup.values()) == 10
    # The proposal beats the spanning-tree baseline and the nine regions on the objective and
    # on residential and secure self-sufficiency, and is far better balanced than the regions.
    table = compare(
        inst,
        {
            "proposal": lookup,
            "regions": regions_lookup(),
            "baseline": baseline_partition(inst, Request(k=20, locks=locks)) or {},
        },
        locks={"proposal": locks, "baseline": locks},
    )
    by = table.set_index("grouping")
    for other in ("baseline", "regions"):
        for col in ("objective", "residential_self_sufficiency_pct", "secure_self_sufficiency_pct"):
            assert by.loc["proposal", col] > by.loc[other, col], (other, col)
    assert (
        by.loc["proposal", "max_balance_deviation_pct"]
        < by.loc["regions", "max_balance_deviation_pct"]
    )


def test_cli_refuses_an_infeasible_request_plainly() -> None:
    result = CliRunner().invoke(app, ["rccs", "propose", "--k", "200"])
    assert result.exit_code == 1
    assert "K larger than the LAs" in result.output
    assert "Traceback" not in result.output


def test_warm_start_only_reports_no_bound_and_the_limit_is_cp_sats_own(tmp_path: Path) -> None:
    """When CP-SAT found nothing in time, a meaningless "bound" below the objective was
    reported (bound 14.448 for objective 141.467, gap 89.79%); and the warm start's seconds
    were taken out of --time-limit ("CP-SAT ... stops after 0 s")."""
    said: list[str] = []
    request = Request(locks=preset_locks("gm"), time_limit=0.01, threads=1, baseline_draws=2)
    proposal = propose(england_instance(), request, progress=said.append)
    assert proposal.status is ProposalStatus.WARM_START
    assert proposal.bound is None and proposal.gap is None
    assert any(line.endswith("stops after 0.01 s") for line in said), said
    write_outputs(tmp_path, proposal, compare(england_instance(), {"p": proposal.lookup}))
    meta = json.loads((tmp_path / "proposal.json").read_text())
    assert meta["bound"] is None and meta["gap"] is None
    assert meta["objective"] == pytest.approx(proposal.objective)


def test_cli_header_only_lock_csv_warns_and_no_stale_allocation_table(tmp_path: Path) -> None:
    """A header-only lock CSV was accepted silently; a second run into the same --out left the
    first run's allocation_comparison.csv beside a different proposal; a warm start only
    printed a "bound" and gap CP-SAT had not proved."""
    locks = tmp_path / "locks.csv"
    locks.write_text("la_code,rcc\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "allocation_comparison.csv").write_text("grouping,children\nproposal,1\n")
    args = ["rccs", "propose", "--lock", "gm", "--lock-csv", str(locks), "--time-limit", "0"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "locks.csv has no rows under its header: nothing is locked from it" in said
    assert "bound none, gap none" in said
    assert not (out / "allocation_comparison.csv").exists()
    assert (out / "rccs.csv").exists()


def test_allocation_table_fits_80_columns() -> None:
    """The --allocation table was pandas' plain text, eleven columns wrapped at 80."""
    import pandas as pd
    from rich.console import Console

    from service.cli import _allocation_table

    alloc = pd.DataFrame(
        {
            "grouping": ["proposal", "nine regions", "spanning-tree baseline"],
            "status": ["OPTIMAL"] * 3,
            "seconds": [12.34, 11.0, 13.5],
            "children": [14347] * 3,
            "placed": [14000, 13990, 13980],
            "unplaced": [347, 357, 367],
            "out_of_la_pct": [11.26, 12.5, 12.9],
            "over_20_miles_pct": [3.78, 4.1, 4.4],
            "out_of_rcc_pct": [2.1, 1.4, 2.6],
            "weekly_cost": [21_345_678.9, 21_400_000.0, 21_500_000.0],
            "mean_miles": [8.73, 9.1, 9.4],
        }
    )
    console = Console(width=80, record=True)
    console.print(_allocation_table(alloc))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "£21,345,679" in text and "11.3" in text and "spanning-tree" in text
    assert "optimal" in text
