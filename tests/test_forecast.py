"""Demand forecasts: growth scenarios, whole-child rounding, imported files and their errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from optimiser.errors import ProblemValidationError
from optimiser.forecast import (
    AGE_BANDS,
    Growth,
    age_band,
    base_demand,
    care_review_rate,
    children_for_year,
    forecast_demand,
    parse_growth,
    read_forecast,
)
from optimiser.problem import Problem, las_frame, validate_problem_frames

A, B = "E06000001", "E06000002"


def make_problem(rows: list[tuple[str, str, int]]) -> Problem:
    las = las_frame({A: "North East", B: "North East"})
    kids = pd.DataFrame(
        [
            {"child_id": f"C{i}", "home_la": la, "need": n, "age": str(age), "sex": "MF"[i % 2]}
            for i, (la, n, age) in enumerate(rows)
        ]
    )
    places = pd.DataFrame(
        columns=[
            "placement_id",
            "setting",
            "la",
            "capacity",
            "weekly_cost",
            "min_age",
            "max_age",
            "sexes",
        ]
    )
    typed_kids, typed_places = validate_problem_frames(kids, places, las)
    return Problem(children=typed_kids, placements=typed_places, las=las)


PROBLEM = make_problem(
    [
        (A, "foster", 0),
        (A, "foster", 3),
        (A, "foster", 12),
        (A, "residential", 15),
        (B, "supported", 16),
        (B, "supported", 17),
        (B, "foster", 7),
    ]
)


def test_age_bands_are_dfe_groups() -> None:
    ages = pd.Series([0, 1, 4, 5, 9, 10, 15, 16, 17])
    assert list(age_band(ages)) == [
        "0",
        "1-4",
        "1-4",
        "5-9",
        "5-9",
        "10-15",
        "10-15",
        "16-17",
        "16-17",
    ]
    assert set(age_band(ages)) == set(AGE_BANDS)


def test_care_review_rate_reaches_100k_by_2032() -> None:
    rate = care_review_rate()
    assert 83_630 * (1 + rate) ** 8 == pytest.approx(100_000)
    assert rate == pytest.approx(0.0226, abs=1e-4)


def test_flat_forecast_repeats_today() -> None:
    demand = forecast_demand(PROBLEM, years=3)
    assert sorted(demand["year"].unique()) == [2025, 2026, 2027]
    today = base_demand(PROBLEM).set_index(["la_code", "need", "age_band"])["children"]
    for _, part in demand.groupby("year"):
        assert part.set_index(["la_code", "need", "age_band"])["children"].equals(today)


def test_growth_keeps_whole_children_and_la_totals() -> None:
    big = make_problem([(A, "foster", age) for age in range(18)] * 10 + [(B, "foster", 5)] * 7)
    demand = forecast_demand(big, years=5, growth=Growth("10%", 0.10, {B: 0.0}))
    totals = demand.groupby(["year", "la_code"])["children"].sum().unstack()
    for t, year in enumerate(range(2025, 2030), start=1):
        assert totals.loc[year, A] == round(180 * 1.1**t)
        assert totals.loc[year, B] == 7
    assert (demand["children"] >= 0).all()
    assert demand["children"].dtype.kind == "i"


def test_parse_growth() -> None:
    assert parse_growth("flat").rate == 0
    assert parse_growth("care-review").rate == pytest.approx(care_review_rate())
    assert parse_growth("2%").rate == pytest.approx(0.02)
    assert parse_growth("0.015").rate == pytest.approx(0.015)
    with pytest.raises(ValueError, match="unknown growth 'fast'"):
        parse_growth("fast")
    with pytest.raises(ValueError, match="above -100%"):
        parse_growth("-1.5")


def test_per_la_rates_file(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text("la_code,rate\nE06000001,0.5\n")
    growth = parse_growth(str(path))
    demand = forecast_demand(PROBLEM, years=1, growth=growth)
    totals = demand.groupby("la_code")["children"].sum()
    assert totals[A] == 6 and totals[B] == 3
    path.write_text("la_code,rate\nE06000001,lots\n")
    with pytest.raises(ProblemValidationError, match=r"rates.csv row 2, column rate"):
        parse_growth(str(path))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "forecast.csv"
    path.write_text(text)
    return path


def test_read_forecast_round_trip(tmp_path: Path) -> None:
    demand = forecast_demand(PROBLEM, years=2, growth=Growth("5%", 0.05))
    path = tmp_path / "forecast.csv"
    demand.to_csv(path, index=False)
    back = read_forecast(path, problem=PROBLEM)
    assert back.equals(demand)
    assert read_forecast(path, problem=PROBLEM, years=1)["year"].unique().tolist() == [2025]


def test_read_forecast_names_file_row_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "year,la_code,need,age_band,children\n"
        "2025,E06000001,foster,0,1\n"
        "2025,E99999999,foster,0,1\n"
        "2025,E06000002,flying,5-9,1\n"
        "2025,E06000002,foster,20-30,1\n"
        "2025,E06000002,foster,5-9,-2\n"
        "2025,E06000002,foster,1-4,1.5\n"
        "20x5,E06000002,foster,1-4,1\n"
        "2025,E06000001,foster,0,3\n",
    )
    with pytest.raises(ProblemValidationError) as info:
        read_forecast(path, problem=PROBLEM)
    text = str(info.value)
    assert "forecast.csv row 3, column la_code: 'E99999999' is not an LA" in text
    assert "row 4, column need: unknown need 'flying'" in text
    assert "row 5, column age_band: unknown age band '20-30'" in text
    assert "row 6, column children: '-2' is not a count" in text
    assert "row 7, column children: '1.5' is not a whole number" in text
    assert "row 8, column year: '20x5' is not a year" in text
    assert "row 9, column age_band: repeats an earlier row" in text


def test_read_forecast_missing_column_and_missing_la(tmp_path: Path) -> None:
    with pytest.raises(ProblemValidationError, match="row 1, column children: required column"):
        read_forecast(write(tmp_path, "year,la_code,need,age_band\n"), problem=PROBLEM)
    path = write(tmp_path, "year,la_code,need,age_band,children\n2025,E06000001,foster,0,4\n")
    with pytest.raises(ProblemValidationError, match="E06000002 has 3 children today"):
        read_forecast(path, problem=PROBLEM)


def test_children_for_year_matches_the_cells() -> None:
    demand = forecast_demand(PROBLEM, years=2, growth=Growth("100%", 1.0))
    final = demand[demand["year"] == 2026]
    kids = children_for_year(PROBLEM, final, seed=3)
    counted = (
        kids.assign(age_band=age_band(kids["age"]))
        .groupby(["home_la", "need", "age_band"])
        .size()
        .rename("children")
    )
    expected = final.set_index(["la_code", "need", "age_band"])["children"]
    expected.index = expected.index.rename(["home_la", "need", "age_band"])
    assert counted.sort_index().equals(expected[expected > 0].sort_index())
    assert kids["child_id"].is_unique
    assert set(PROBLEM.children["child_id"]) <= set(kids["child_id"])
    again = children_for_year(PROBLEM, final, seed=3)
    assert again.equals(kids)


def test_children_for_year_fresh_cells_and_shrinking() -> None:
    final = pd.DataFrame(
        {
            "year": 2026,
            "la_code": [A, B],
            "need": ["secure", "supported"],
            "age_band": ["10-15", "16-17"],
            "children": [2, 1],
        }
    )
    kids = children_for_year(PROBLEM, final)
    assert len(kids) == 3
    secure = kids[kids["need"] == "secure"]
    assert list(secure["age"]) == [12, 12] and set(secure["home_la"]) == {A}
    assert len(kids[kids["need"] == "supported"]) == 1


def test_rcc_plan_reads_an_imported_forecast(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from optimiser.problem import write_problem
    from service.cli import app

    write_problem(PROBLEM, tmp_path / "problem")
    demand = forecast_demand(PROBLEM, years=2, growth=Growth("50%", 0.5))
    demand.to_csv(tmp_path / "forecast.csv", index=False)
    out = tmp_path / "plan"
    args = ["plan", str(tmp_path / "problem"), "--forecast", str(tmp_path / "forecast.csv")]
    result = CliRunner().invoke(app, [*args, "--time-limit", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    by_year = pd.read_csv(out / "plan_by_year.csv")
    children = by_year[by_year["plan"] == "without_plan"].set_index("year")["children"]
    assert children.to_dict() == demand.groupby("year")["children"].sum().to_dict()
    (tmp_path / "forecast.csv").write_text(
        "year,la_code,need,age_band,children\n2025,X,foster,0,1\n"
    )
    bad = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert bad.exit_code == 1
    assert "forecast.csv row 2, column la_code" in " ".join(bad.output.split())


def test_read_forecast_refuses_gaps_and_past_years(tmp_path: Path) -> None:
    """A forecast of 2025, 2030 and 2035 (or of 1985-1987) was accepted and planned: running
    costs were charged for every calendar year from opening but placements only for the years
    in the file. Years must now be consecutive and not before the census year."""
    demand = forecast_demand(PROBLEM, years=3)
    gaps = demand.assign(year=demand["year"].map({2025: 2025, 2026: 2030, 2027: 2035}))
    gaps.to_csv(tmp_path / "gaps.csv", index=False)
    with pytest.raises(ProblemValidationError) as info:
        read_forecast(tmp_path / "gaps.csv", problem=PROBLEM)
    first_2030 = int(gaps.index[gaps["year"] == 2030][0]) + 2
    text = str(info.value)
    where = f"gaps.csv row {first_2030}, column year: "
    assert where + "year 2030 follows 2025 with no rows for 2026-2029: a forecast's years" in text
    assert "year 2035 follows 2030" in text
    past = demand.assign(year=demand["year"] - 40)
    past.to_csv(tmp_path / "past.csv", index=False)
    with pytest.raises(ProblemValidationError, match=r"past.csv row 2, column year: year 1985 is "):
        read_forecast(tmp_path / "past.csv", problem=PROBLEM)
    (tmp_path / "now.csv").write_text(demand.assign(year=demand["year"] - 1).to_csv(index=False))
    assert read_forecast(tmp_path / "now.csv", problem=PROBLEM)["year"].min() == 2024


def test_plan_model_refuses_demand_with_gaps_between_years() -> None:
    """The plan model assumed one step per year; demand given directly must say so too."""
    from optimiser.capacity import build_plan_model

    demand = forecast_demand(PROBLEM, years=2)
    demand = demand.assign(year=demand["year"].map({2025: 2025, 2026: 2027}))
    with pytest.raises(ValueError, match=r"consecutive years, got \[2025, 2027\]"):
        build_plan_model(PROBLEM, demand)


def test_growth_rounding_keeps_national_totals_of_each_need() -> None:
    """Each small (LA, need) total was rounded alone, which biased growth down: one secure child
    in each of two LAs at 30% a year stayed 1 + 1 = 2 in the first year instead of 2.6 -> 3.
    The national total now follows the rate, each need within one child of it, and the LAs
    share them by largest remainders."""
    problem = make_problem([(A, "secure", 14), (B, "secure", 15), *[(A, "foster", 3)] * 5])
    demand = forecast_demand(problem, years=5, growth=Growth("30%", 0.3))
    by_need = demand.groupby(["year", "need"])["children"].sum().unstack()
    for t, year in enumerate(range(2025, 2030), start=1):
        assert by_need.loc[year].sum() == round(7 * 1.3**t)
        assert abs(by_need.loc[year, "secure"] - 2 * 1.3**t) < 1
        assert abs(by_need.loc[year, "foster"] - 5 * 1.3**t) < 1
    assert list(by_need["secure"]) == [3, 3, 4, 6, 7]  # 2.6, 3.38, 4.39, 5.71, 7.43
    la = demand.groupby(["year", "la_code"])["children"].sum().unstack()
    assert (la[A] - la[B]).ge(0).all()  # A's secure child and five foster children
    assert (demand["children"] >= 0).all()
    again = forecast_demand(problem, years=5, growth=Growth("30%", 0.3))
    assert again.equals(demand)


@pytest.mark.parametrize("years", [0, -1, 11])
def test_years_out_of_range_are_refused_with_and_without_a_forecast_file(
    tmp_path: Path, years: int
) -> None:
    """`--years 0` or `-1` with `--forecast` silently planned every year of the file (a slice
    `[:0 or None]`, `[:-1]`), and `--years 100` ran out of memory with a traceback."""
    demand = forecast_demand(PROBLEM, years=2)
    demand.to_csv(tmp_path / "forecast.csv", index=False)
    message = rf"years must be at least 1 and at most 10, got {years}"
    with pytest.raises(ValueError, match=message):
        read_forecast(tmp_path / "forecast.csv", problem=PROBLEM, years=years)
    with pytest.raises(ValueError, match=message):
        forecast_demand(PROBLEM, years=years)
    long = forecast_demand(PROBLEM, years=10)
    long = pd.concat([long, long[long["year"] == 2034].assign(year=2035)], ignore_index=True)
    long.to_csv(tmp_path / "long.csv", index=False)
    with pytest.raises(ProblemValidationError, match=r"column year: the forecast runs 11 years"):
        read_forecast(tmp_path / "long.csv", problem=PROBLEM)
    assert read_forecast(tmp_path / "long.csv", problem=PROBLEM, years=10)["year"].max() == 2034


def test_rcc_plan_names_the_forecast_with_no_children_and_refuses_an_empty_budget(
    tmp_path: Path,
) -> None:
    """A forecast of zero children was reported as 'children.csv has no rows', and
    `--capital-budget ""` (or "1e400") silently meant no limit."""
    from typer.testing import CliRunner

    from optimiser.problem import write_problem
    from service.cli import app

    write_problem(PROBLEM, tmp_path / "problem")
    demand = forecast_demand(PROBLEM, years=2).assign(children=0)
    demand.to_csv(tmp_path / "zero.csv", index=False)
    args = ["plan", str(tmp_path / "problem"), "--out", str(tmp_path / "out")]
    zero = CliRunner().invoke(app, [*args, "--forecast", str(tmp_path / "zero.csv")])
    assert zero.exit_code == 1
    assert "zero.csv has none in any year" in " ".join(zero.output.split())
    empty = CliRunner().invoke(app, [*args, "--capital-budget", ""])
    assert empty.exit_code == 1
    assert "an empty amount" in " ".join(empty.output.split())
    huge = CliRunner().invoke(app, [*args, "--capital-budget", "1e400"])  # (inf: no limit)
    assert huge.exit_code == 1
    assert "'1e400' is too large an amount" in " ".join(huge.output.split())


def test_rcc_plan_reports_running_out_of_memory_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--years 100` ended in a MemoryError traceback; a solver's failure is a clear error."""
    from typer.testing import CliRunner

    import optimiser.capacity
    from optimiser.problem import write_problem
    from service.cli import app

    def out_of_memory(*_args: object, **_kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(optimiser.capacity, "solve_plan", out_of_memory)
    write_problem(PROBLEM, tmp_path / "problem")
    args = ["plan", str(tmp_path / "problem"), "--years", "2", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "the plan ran out of memory (2 years)" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_read_forecast_refuses_ages_a_need_does_not_cover(tmp_path: Path) -> None:
    """Supported children aged 0 and secure children aged 1-4 were accepted and planned."""
    path = write(
        tmp_path,
        "year,la_code,need,age_band,children\n"
        "2025,E06000001,supported,0,1\n"
        "2025,E06000001,secure,1-4,2\n"
        "2025,E06000001,secure,10-15,1\n"
        "2025,E06000002,supported,16-17,2\n"
        "2025,E06000002,residential,5-9,1\n",
    )
    with pytest.raises(ProblemValidationError) as info:
        read_forecast(path, problem=PROBLEM)
    text = str(info.value)
    assert "row 2, column age_band: supported children aged 0: supported covers only " in text
    assert "row 3, column age_band: secure children aged 1-4: secure covers only age bands " in text
    assert "row 4" not in text and "row 5" not in text and "row 6" not in text


def test_forecast_files_number_rows_past_blank_lines(tmp_path: Path) -> None:
    """Blank lines were dropped before numbering: each error named a row above its own."""
    path = tmp_path / "rates.csv"
    path.write_text(
        "la_code,rate\n\nE06000001,lots\n\nE06000002,0.1\nE06000002,0.1\ne06000003,0.01\n"
    )
    with pytest.raises(ProblemValidationError) as info:
        parse_growth(str(path))
    assert sorted(str(i)[:45] for i in info.value.issues) == [
        "rates.csv row 3, column rate: 'lots' is not a",
        "rates.csv row 6, column la_code: LA listed tw",
        "rates.csv row 7, column la_code: 'e06000003' ",
    ]
    assert "Did you mean E06000003 (Redcar and Cleveland)" in str(info.value)
    text = "year,la_code,need,age_band,children\n\n2025,E06000001,foster,0,1\n\n"
    with pytest.raises(ProblemValidationError, match=r"forecast.csv row 5, column la_code: 'E9"):
        read_forecast(write(tmp_path, text + "2025,E99999999,foster,0,1\n"), problem=PROBLEM)
    demand = forecast_demand(PROBLEM, years=2)
    gap = demand.assign(year=demand["year"].map({2025: 2025, 2026: 2027})).to_csv(index=False)
    first_2027 = int(demand.index[demand["year"] == 2026][0]) + 3  # one blank line above it
    with pytest.raises(ProblemValidationError, match=rf"row {first_2027}, column year: year 2027"):
        read_forecast(write(tmp_path, gap.replace("\n", "\n\n", 1)), problem=PROBLEM)
