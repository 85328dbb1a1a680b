"""Scenario change files, `rcc compare`, and the `rcc plan` command end to end on a small case."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from optimiser.errors import ProblemValidationError
from optimiser.forecast import care_review_rate
from optimiser.problem import (
    Problem,
    las_frame,
    read_problem,
    validate_problem_frames,
    write_problem,
)
from optimiser.scenario import apply_scenario, compare_folders, read_scenario, scenario_from_json
from service.cli import app

A, B, C = "E06000001", "E06000002", "E09000001"


def make_problem() -> Problem:
    las = las_frame({A: "North East", B: "North East", C: "London"})
    kids = pd.DataFrame(
        {
            "child_id": ["C1", "C2", "C3", "C4"],
            "home_la": [A, A, A, C],
            "need": ["residential", "residential", "residential", "foster"],
            "age": ["14", "15", "13", "6"],
            "sex": ["F", "M", "F", "M"],
        }
    )
    places = pd.DataFrame(
        {
            "placement_id": ["P1", "P2", "P3"],
            "setting": ["residential_private", "residential_private", "foster_ifa"],
            "la": [B, B, C],
            "capacity": ["2", "3", "1"],
            "weekly_cost": ["6000", "9000", "850"],
            "min_age": ["8", "8", "0"],
            "max_age": ["17", "17", "17"],
            "sexes": ["any", "any", "any"],
        }
    )
    typed_kids, typed_places = validate_problem_frames(kids, places, las)
    return Problem(children=typed_kids, placements=typed_places, las=las)


def test_apply_scenario_changes_supply_prices_weights_and_rccs() -> None:
    problem = make_problem()
    scenario = scenario_from_json(
        {
            "name": "test",
            "add_capacity": [
                {"la_code": A, "setting": "residential_la", "places": 4, "weekly_cost": 5000}
            ],
            "remove_capacity": [{"la_code": B, "setting": "residential_private", "places": 4}],
            "prices": [
                {"setting": "residential_private", "factor": 1.5},
                {"setting": "foster_ifa", "la_code": C, "weekly_cost": 900},
            ],
            "weights": {"out_of_la": 500},
            "rccs": {B: "Tees"},
            "growth": "care-review",
        }
    )
    changed = apply_scenario(problem, scenario)
    p = changed.placements.set_index("placement_id")
    assert p.loc["P2", "capacity"] == 0 and p.loc["P1", "capacity"] == 1  # costliest first
    assert p.loc["P1", "weekly_cost"] == 9000 and p.loc["P3", "weekly_cost"] == 900
    assert p.loc["SCN-1", "capacity"] == 4 and p.loc["SCN-1", "la"] == A
    assert (
        changed.policy.out_of_la == 500 and changed.policy.out_of_rcc == problem.policy.out_of_rcc
    )
    assert changed.rcc_of[B] == "Tees" and changed.rcc_of[A] == "North East"
    assert scenario.growth is not None and scenario.growth.rate == pytest.approx(care_review_rate())
    # The input problem is not modified.
    assert problem.placements["capacity"].sum() == 6 and problem.rcc_of[B] == "North East"


def test_scenario_errors_name_item_and_key(tmp_path: Path) -> None:
    path = tmp_path / "variant.json"
    path.write_text(
        json.dumps(
            {
                "add_capacity": [{"la_code": A, "setting": "castle", "places": -1}],
                "prices": [{"setting": "secure"}],
                "weights": {"out_of_la": "lots"},
                "colour": "blue",
            }
        )
    )
    with pytest.raises(ProblemValidationError) as info:
        read_scenario(path)
    text = str(info.value)
    assert "variant.json row 1, column add_capacity.setting: unknown setting 'castle'" in text
    assert "row 1, column add_capacity.places: must be a whole number from 0 to 10000" in text
    assert "row 1, column add_capacity.weekly_cost: required key is missing" in text
    assert "row 1, column prices: give exactly one of factor or weekly_cost" in text
    assert "column weights.out_of_la: must be a number" in text
    assert "column colour: unknown key" in text


def test_scenario_ids_and_rcc_names_a_spreadsheet_would_run_are_refused() -> None:
    """They reach the result CSVs as the inputs' do, which are refused the same way."""
    item = {"setting": "secure", "weekly_cost": 1, "places": 1, "la_code": A}
    data = {
        "add_capacity": [{**item, "placement_id": '=HYPERLINK("x")'}, {**item, "placement_id": 7}],
        "rccs": {A: "@North"},
    }
    with pytest.raises(ProblemValidationError) as info:
        scenario_from_json(data)
    text = str(info.value)
    assert "row 1, column add_capacity.placement_id: '=HYPERLINK(\"x\")' starts with '='" in text
    assert "row 2, column add_capacity.placement_id: must be a non-empty text id, got 7" in text
    assert "column rccs: '@North' starts with '@': a spreadsheet would run it" in text


def test_scenario_values_are_checked_when_read_not_when_applied() -> None:
    """An unknown LA, min_age above max_age or an overflowing number of places was found only
    when applied (after the other errors were fixed), 10.7 was cut to 10 and 1e20 overflowed."""
    item = {"setting": "secure", "weekly_cost": 1, "places": 1e20, "la_code": "E99"}
    items = [item, {**item, "places": 2, "la_code": A, "min_age": 10.7}]
    items.append({**item, "places": 2, "la_code": "E10000002", "min_age": 16, "max_age": 12})
    with pytest.raises(ProblemValidationError) as info:
        scenario_from_json({"add_capacity": items})
    text = str(info.value)
    assert "row 1, column add_capacity.la_code: 'E99' is not one of the 153" in text
    assert "row 1, column add_capacity.places: must be a whole number from 0 to 10000" in text
    assert "row 2, column add_capacity.min_age: must be a whole age 0-17, got 10.7" in text
    assert "row 3, column add_capacity.la_code: 'E10000002' is Buckinghamshire" in text
    assert "row 3, column add_capacity.min_age: min_age 16 is above max_age 12" in text


def test_scenario_money_too_large_for_integer_costs_is_an_error() -> None:
    """Amounts and weights above the limits overflowed the int64 costs (COST_SCALE pence)."""
    item = {"la_code": A, "setting": "secure", "places": 1, "weekly_cost": 1e16}
    with pytest.raises(ProblemValidationError) as info:
        scenario_from_json({"add_capacity": [item], "weights": {"unplaced": 1e15}})
    text = str(info.value)
    assert "row 1, column add_capacity.weekly_cost: must be an amount from 0 to 10,000,000" in text
    assert "column weights.unplaced: 1,000,000,000,000,000 is above the limit of 10,0" in text
    factor = scenario_from_json({"prices": [{"setting": "residential_private", "factor": 5000}]})
    with pytest.raises(ProblemValidationError, match=r"row 1, column prices.factor: raises a "):
        apply_scenario(make_problem(), factor)


def test_scenario_cannot_remove_more_than_exists_or_name_unknown_las() -> None:
    problem = make_problem()
    too_many = scenario_from_json(
        {"remove_capacity": [{"la_code": B, "setting": "residential_private", "places": 9}]}
    )
    with pytest.raises(ProblemValidationError, match="has 5 residential_private places"):
        apply_scenario(problem, too_many)
    elsewhere = scenario_from_json({"rccs": {"E08000001": "Bolton alone"}})
    with pytest.raises(ProblemValidationError, match="'E08000001' is not an LA of the problem"):
        apply_scenario(problem, elsewhere)


def test_compare_folders(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, unplaced, cost in ((a, 10, 1000.0), (b, 4, 1500.0)):
        folder.mkdir()
        summary = {"unplaced": unplaced, "weekly_cost": cost, "solver": "x", "baseline": {"x": 1}}
        (folder / "summary.json").write_text(json.dumps(summary))
        pd.DataFrame(
            {"home_rcc": ["R1", "R2"], "unplaced": [unplaced, 1], "out_of_la": [3, 2]}
        ).to_csv(folder / "indicators_by_rcc.csv", index=False)
    national, by_rcc = compare_folders(a, b)
    diff = national.set_index("indicator")["diff"]
    assert diff["unplaced"] == -6 and diff["weekly_cost"] == 500 and diff["baseline.x"] == 0
    assert by_rcc is not None
    assert by_rcc.set_index("rcc").loc["R1", "unplaced"] == -6
    with pytest.raises(ValueError, match=r"neither summary\.json"):
        compare_folders(a, tmp_path)
    # an RCC only B has (a scenario's new one) is a row, not dropped
    pd.DataFrame({"home_rcc": ["R1", "R3"], "unplaced": [4, 2], "out_of_la": [3, 0]}).to_csv(
        b / "indicators_by_rcc.csv", index=False
    )
    _, by_rcc = compare_folders(a, b)
    assert by_rcc is not None
    rows = by_rcc.set_index("rcc")
    assert rows["unplaced"].to_dict() == {"R1": -6, "R2": -1, "R3": 2}
    assert rows["unplaced"].sum() == -5  # the rows add up to the national difference
    # a plan against an allocation: refused, not a week's cost less five years'
    plan = tmp_path / "plan"
    plan.mkdir()
    (plan / "plan_summary.json").write_text(json.dumps({"weekly_cost": 1}))
    with pytest.raises(ValueError, match=r"written by rcc solve and .* by rcc plan"):
        compare_folders(a, plan)


def test_rcc_plan_and_compare_commands(tmp_path: Path) -> None:
    problem = make_problem()
    folder = tmp_path / "problem"
    write_problem(problem, folder)
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"prices": [{"setting": "residential_private", "factor": 2}]}))
    runner = CliRunner()
    outs = []
    for name, extra in (("base", []), ("dear", ["--scenario", str(scenario)])):
        out = tmp_path / name
        args = ["plan", str(folder), "--years", "3", "--growth", "flat", "--time-limit", "20"]
        result = runner.invoke(app, [*args, "--capital-budget", "2m", "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
        outs.append(out)
    base = outs[0]
    assert "North East: plan actions" in result.output
    # every action is named whole in the terminal's table (80 columns here), not cut short
    shown = pd.read_csv(outs[1] / "plan_actions.csv")
    assert len(shown) and all(f" {action} " in result.output for action in shown["action"])
    actions = pd.read_csv(base / "plan_actions.csv")
    assert list(actions.columns[:2]) == ["year", "opens"]
    assert {"rcc", "la_code", "action", "units", "places", "capital", "weekly_running"} <= set(
        actions.columns
    )
    by_year = pd.read_csv(base / "plan_by_year.csv")
    assert set(by_year["plan"]) == {"with_plan", "without_plan"} and len(by_year) == 6
    summary = json.loads((base / "plan_summary.json").read_text())
    assert summary["capital_budget"] == 2_000_000 and summary["years"] == [2025, 2026, 2027]
    assert summary["with_plan"]["unplaced"] <= summary["without_plan"]["unplaced"]
    assert summary["capital_total"] <= 2_000_000
    # The final-year folder is a complete problem that `rcc solve` (read_problem) accepts.
    checked = read_problem(base / "final_year")
    assert checked.placements["placement_id"].is_unique
    assert len(checked.placements) == len(pd.read_csv(base / "placements_with_plan.csv"))
    compared = runner.invoke(app, ["compare", str(outs[0]), str(outs[1])])
    assert compared.exit_code == 0, compared.output
    assert "objective" in compared.output


def test_rcc_plan_reports_bad_inputs(tmp_path: Path) -> None:
    write_problem(make_problem(), tmp_path)
    result = CliRunner().invoke(app, ["plan", str(tmp_path), "--capital-budget", "lots"])
    assert result.exit_code == 1
    assert "'lots' is not an amount" in result.output
    unknown = CliRunner().invoke(app, ["plan", str(tmp_path), "--solver", "bogus"])
    assert unknown.exit_code == 1 and "solver 'bogus' is not available" in unknown.output
    assert unknown.exception is None or isinstance(unknown.exception, SystemExit)
    negative = CliRunner().invoke(app, ["plan", str(tmp_path), "--gap", "-1"])
    assert negative.exit_code == 1 and "relative_gap must be >= 0" in negative.output
    # one year: nothing decided can open within it, and the user is told so
    args = ["plan", str(tmp_path), "--years", "1", "--out", str(tmp_path / "one")]
    one = CliRunner().invoke(app, args)
    assert one.exit_code == 0, one.output
    assert "nothing the plan decides opens within 1 year(s)" in " ".join(one.output.split())


def test_rcc_scenario_writes_a_variant_problem(tmp_path: Path) -> None:
    folder = tmp_path / "problem"
    write_problem(make_problem(), folder)
    change = tmp_path / "scenario.json"
    change.write_text(
        json.dumps(
            {
                "add_capacity": [
                    {"la_code": A, "setting": "residential_la", "places": 3, "weekly_cost": 5000}
                ]
            }
        )
    )
    out = tmp_path / "variant"
    result = CliRunner().invoke(app, ["scenario", str(folder), str(change), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "(+3 places)" in " ".join(result.output.split())
    variant = read_problem(out)
    assert int(variant.placements["capacity"].sum()) == 9
    change.write_text(json.dumps({"add_capacity": [{"la_code": A}]}))
    bad = CliRunner().invoke(app, ["scenario", str(folder), str(change), "--out", str(out)])
    assert bad.exit_code == 1
    assert "add_capacity.setting: required key is missing" in " ".join(bad.output.split())


def test_compare_warns_when_plans_cover_different_years(tmp_path: Path) -> None:
    """`rcc compare` of a five-year and a three-year plan printed differences of different
    final years without a word; the help never gave units or the forecast's age bands."""
    from service.cli import app

    for name, years in (("five", [2025, 2026, 2027, 2028, 2029]), ("three", [2025, 2026, 2027])):
        (tmp_path / name).mkdir()
        summary = {"years": years, "capital_total": 1.0, "with_plan": {"unplaced": 1}}
        (tmp_path / name / "plan_summary.json").write_text(json.dumps(summary))
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "five"), str(tmp_path / "three")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Warning:" in text and "plans 2025-2029 and" in text and "plans 2025-2027" in text
    same = CliRunner().invoke(app, ["compare", str(tmp_path / "five"), str(tmp_path / "five")])
    assert "Warning" not in same.output
    helped = " ".join(CliRunner().invoke(app, ["plan", "--help"]).output.split())
    assert "age_band 0, 1-4, 5-9, 10-15 or 16-17" in helped
    assert "weekly_running (GBP a week added" in helped and "capital (one-off GBP)" in helped


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("x\n1\n", "indicators_by_rcc.csv: none of the columns children, unplaced"),
        ("", "indicators_by_rcc.csv: cannot read as CSV: the file is empty"),
        ("home_rcc,unplaced\nR1,1\nR2,many\n", "indicators_by_rcc.csv row 3, column unplaced:"),
    ],
)
def test_compare_names_an_indicators_file_it_cannot_use(
    tmp_path: Path, text: str, said: str
) -> None:
    """A malformed indicators_by_rcc.csv ended rcc compare in 'zip() argument 2 is shorter'
    (a traceback), an empty one in 'No columns to parse from file' naming no file."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps({"unplaced": 1}))
        (tmp_path / name / "indicators_by_rcc.csv").write_text("home_rcc,unplaced\nR1,1\n")
    (tmp_path / "b" / "indicators_by_rcc.csv").write_text(text)
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    flat = "".join(result.output.split())  # a long path wraps anywhere
    assert "".join(f"Error: {tmp_path / 'b'}/{said}".split()) in flat, result.output


def test_plan_warns_when_the_forecast_has_fewer_years_than_asked(tmp_path: Path) -> None:
    """rcc plan --forecast with a one-year file and the default --years 5 planned one year
    without a word (and the note on a horizon too short to open anything never showed)."""
    write_problem(make_problem(), tmp_path / "problem")
    forecast = tmp_path / "forecast.csv"
    forecast.write_text(
        "year,la_code,need,age_band,children\n"
        f"2025,{A},residential,10-15,3\n2025,{C},foster,5-9,1\n"
    )
    args = ["plan", str(tmp_path / "problem"), "--forecast", str(forecast), "--time-limit", "20"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "plan")])
    assert result.exit_code == 0, result.output
    said = "".join(result.output.split())  # a long path wraps anywhere
    assert f"Warning:{forecast}has1year(s),fewerthan--years5:planning1year(s)" in said, said
    assert "nothingtheplandecidesopenswithin1year(s)" in said
    assert json.loads((tmp_path / "plan" / "plan_summary.json").read_text())["years"] == [2025]


def test_rcc_scenario_says_it_does_not_apply_growth(tmp_path: Path) -> None:
    """rcc scenario wrote the problem with a scenario.json's growth quietly left out."""
    write_problem(make_problem(), tmp_path / "problem")
    scenario = tmp_path / "scenario.json"
    for growth, warned in ((None, False), (0.05, True)):
        scenario.write_text(json.dumps({"name": "x"} | ({"growth": growth} if growth else {})))
        args = ["scenario", str(tmp_path / "problem"), str(scenario)]
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
        assert result.exit_code == 0, result.output
        said = " ".join(result.output.split())
        assert ("'growth' is not applied by rcc scenario" in said) == warned, said
