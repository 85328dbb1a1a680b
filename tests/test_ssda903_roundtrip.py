"""Round trip synthetic England -> fake SSDA903 files -> `rcc import` -> validate -> solve."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geodata.distance import dfe_miles
from geodata.rcc import preset_groups
from optimiser.allocation import SolveStatus, solve
from optimiser.ofsted import read_ofsted_providers
from optimiser.problem import Problem, read_problem
from optimiser.ssda903 import (
    ImportResult,
    code_map,
    import_903,
    read_postcodes,
    write_import,
    write_ssda903,
)
from optimiser.synthetic import synthesize
from service.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "ssda903"


@pytest.fixture(scope="module")
def gm() -> Problem:
    name, members = preset_groups("gm")
    return synthesize(seed=2, scale=0.1, rccs={code: name for code in members})


@pytest.fixture(scope="module")
def files(gm: Problem, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("903")
    write_ssda903(gm, folder, year=2024, seed=5)
    return folder


@pytest.fixture(scope="module")
def imported(gm: Problem, files: Path) -> ImportResult:
    return import_903(
        files,
        files,
        postcodes=read_postcodes(files / "postcodes.csv"),
        ofsted=read_ofsted_providers(files / "ofsted_providers.csv"),
        rccs=gm.rcc_of,
    )


def test_fake_return_imports_without_issues(imported: ImportResult) -> None:
    assert imported.report.errors == ()
    assert imported.report.warnings == ()


def test_every_child_comes_back_with_age_sex_and_home(gm: Problem, imported: ImportResult) -> None:
    census = imported.census.set_index("child_id")
    kids = gm.children.set_index("child_id")
    assert set(kids.index) <= set(census.index)
    back = census.loc[kids.index]
    assert (back["age"].astype(int) == kids["age"]).all()
    assert (back["sex"] == kids["sex"]).all()
    assert (back["la"] == kids["home_la"]).all()
    # The extras (left care, short breaks, placed with parents, family and friends) are not
    # allocatable; every synthetic child placed today is.
    extras = census.drop(index=kids.index)
    assert set(extras["setting"]) <= {"placed_with_parents", "family_and_friends"}
    placed = back[back["setting"] != "other"]
    assert placed["allocatable"].all()
    assert len(imported.problem.children) == len(placed)  # type: ignore[union-attr]


def test_dfe_miles_equal_the_synthetic_points(gm: Problem, imported: ImportResult) -> None:
    kids = gm.children.set_index("child_id")
    located = imported.census.set_index("child_id").loc[kids.index]
    known = located["distance"] != "unknown"
    assert known.sum() > 0.9 * len(kids)
    expected = dfe_miles(
        kids["easting"].round()[known],
        kids["northing"].round()[known],
        located["pl_easting"][known],
        located["pl_northing"][known],
    )
    assert np.allclose(located["miles"][known], expected)


def test_ofsted_homes_keep_their_places(gm: Problem, imported: ImportResult) -> None:
    homes = gm.placements[
        gm.placements["setting"].isin(["residential_la", "residential_private", "secure"])
    ]
    supply = imported.ofsted_supply
    assert supply is not None
    assert len(supply) == len(homes)
    assert supply["registered_places"].sum() == homes["capacity"].sum()
    assert sorted(supply["setting"]) == sorted(homes["setting"])


def test_import_validates_and_solves(imported: ImportResult, tmp_path: Path) -> None:
    write_import(imported, tmp_path)
    problem = read_problem(tmp_path)
    assert len(problem.children) == len(imported.problem.children)  # type: ignore[union-attr]
    result = solve(problem, time_limit=30)
    assert result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert len(result.assignments) == len(problem.children)
    # Today's placements are all in the supply, so nobody need be unplaced.
    assert result.unplaced.empty


@pytest.mark.parametrize(("year", "supported", "other"), [(2023, "H5", "Z1"), (2026, "K3", "Z11")])
def test_fake_returns_use_the_codes_of_their_year(
    gm: Problem, tmp_path: Path, year: int, supported: str, other: str
) -> None:
    # Put every child who needs supported accommodation in a supported unit today.
    units = gm.placements.loc[gm.placements["setting"] == "supported", "placement_id"]
    needs = gm.children["need"] == "supported"
    current = gm.children["current_placement"].mask(needs, units.iloc[0])
    write_ssda903(
        replace(gm, children=gm.children.assign(current_placement=current)),
        tmp_path,
        year=year,
        seed=5,
    )
    stem = f"ssda903_{year - 1}-{year % 100:02d}"
    episodes = pd.read_csv(tmp_path / f"{stem}_episodes.csv", dtype=str, keep_default_na=False)
    assert supported in set(episodes["PLACE"])
    assert set(episodes["PLACE"]) <= code_map(year).place
    result = import_903(tmp_path, tmp_path, rccs=gm.rcc_of)
    assert result.report.errors == ()
    assert result.report.counts["census date"] == f"31/03/{year}"


# ----------------------------------------------------------------------------- command line


def test_rcc_import_writes_a_problem_that_validates(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    args = [
        "import",
        "--header",
        str(FIXTURES / "clean" / "header.csv"),
        "--episodes",
        str(FIXTURES / "clean" / "episodes.csv"),
        "--la",
        "Hartlepool",
        "--postcodes",
        str(FIXTURES / "postcodes.csv"),
        "--postcode-columns",
        "postcode=pcds,la=oscty+oslaua",
        "--ofsted",
        str(FIXTURES / "ofsted.csv"),
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in (
        "children.csv",
        "placements.csv",
        "rccs.csv",
        "las.csv",
        "census.csv",
        "baseline_indicators.csv",
        "placement_location.csv",
        "ofsted_supply.csv",
        "import_report.txt",
        "import_report.json",
    ):
        assert (out / name).exists(), name
    assert "Placed outside" in result.output
    public = pd.read_csv(out / "placement_location_public.csv", dtype=str, index_col=0)
    cells = public.to_numpy().ravel().tolist()
    assert "c" in cells
    assert all(c == "c" or not 1 <= int(c.replace(",", "")) <= 5 for c in cells), cells
    check = runner.invoke(app, ["validate", str(out)])
    assert check.exit_code == 0, check.output
    assert "11 children" in check.output  # C08, placed in Wales, is listed as excluded


def test_rcc_import_stops_on_errors_unless_told(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["import", "--header", str(FIXTURES / "errors"), "--episodes", str(FIXTURES / "errors")]
    base += ["--la", "E06000001"]
    strict = runner.invoke(app, [*base, "--out", str(tmp_path / "a")])
    assert strict.exit_code == 1
    assert (tmp_path / "a" / "import_report.txt").exists()
    assert not (tmp_path / "a" / "children.csv").exists()
    report = (tmp_path / "a" / "import_report.txt").read_text()
    assert "episodes_2023-24.csv row 7, column PLACE: unknown PLACE code 'X9'" in report
    lenient = runner.invoke(app, [*base, "--keep-going", "--out", str(tmp_path / "b")])
    assert lenient.exit_code == 0, lenient.output
    kids = pd.read_csv(tmp_path / "b" / "children.csv", dtype=str)
    assert sorted(kids["child_id"]) == ["E10", "E11"]


def test_rcc_import_bad_census_date(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "import",
            "--header",
            str(FIXTURES / "clean"),
            "--episodes",
            str(FIXTURES / "clean"),
            "--census-date",
            "2024-03-31",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1
    assert "is not dd/mm/YYYY" in result.output


# optimiser.baseline warns "Mean of empty slice" for LAs without children at small scales.
@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_rcc_synth_format_ssda903(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["synth", "--format", "ssda903", "--scale", "0.02", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {
        "ssda903_2023-24_header.csv",
        "ssda903_2023-24_episodes.csv",
        "postcodes.csv",
        "ofsted_providers.csv",
    }


def _import_args(out: Path, *extra: str) -> list[str]:
    clean = FIXTURES / "clean"
    return [
        "import", "--header", str(clean / "header.csv"), "--episodes", str(clean / "episodes.csv"),
        "--la", "E06000001", "--postcodes", str(FIXTURES / "postcodes.csv"), "--out", str(out),
        *extra,
    ]  # fmt: skip


def test_rcc_import_writes_points_snapped_to_a_1km_grid(tmp_path: Path) -> None:
    """children.csv, placements.csv and census.csv held exact postcode centroids, so a child's
    home postcode or a foster carer's was recoverable by reverse lookup."""
    runner = CliRunner()
    coarse, exact = tmp_path / "coarse", tmp_path / "exact"
    assert runner.invoke(app, _import_args(coarse)).exit_code == 0
    lookup = pd.read_csv(FIXTURES / "postcodes.csv")
    exact_points = set(zip(lookup["oseast1m"], lookup["osnrth1m"], strict=True))
    for name, columns in (
        ("children.csv", [("easting", "northing")]),
        ("placements.csv", [("easting", "northing")]),
        ("census.csv", [("home_easting", "home_northing"), ("pl_easting", "pl_northing")]),
    ):
        frame = pd.read_csv(coarse / name, encoding="utf-8-sig")
        for e, n in columns:
            points = frame[[e, n]].dropna()
            assert len(points) and ((points % 1000) == 500).all().all(), name
            assert not set(zip(points[e], points[n], strict=True)) & exact_points, name
    census = pd.read_csv(coarse / "census.csv", encoding="utf-8-sig").set_index("child")
    assert census.loc["C01", "miles"] == pytest.approx(5000 / 1609.3)  # measured exactly
    result = runner.invoke(app, _import_args(exact, "--grid-metres", "0"))
    assert "identify children's homes" in result.output
    kids = pd.read_csv(exact / "children.csv", encoding="utf-8-sig").set_index("child_id")
    assert (kids.loc["C01", "easting"], kids.loc["C01", "northing"]) == (447000, 530000)


def test_a_failed_reimport_removes_the_earlier_problem_files(tmp_path: Path) -> None:
    """A failed re-import into the same folder left the earlier children.csv and
    placements.csv, and `rcc validate` said OK."""
    runner = CliRunner()
    out = tmp_path / "out"
    assert runner.invoke(app, _import_args(out)).exit_code == 0
    (out / "notes.csv").write_text("mine\n")  # not the import's: kept
    errors = FIXTURES / "errors"
    args = ["import", "--header", str(errors), "--episodes", str(errors), "--la", "E06000001"]
    failed = runner.invoke(app, [*args, "--out", str(out)])
    assert failed.exit_code == 1
    assert "Removed" in failed.output and "children.csv" in failed.output
    names = {p.name for p in out.iterdir()}
    assert names == {"import_report.txt", "import_report.json", "notes.csv"}
    assert runner.invoke(app, ["validate", str(out)]).exit_code != 0
