"""`rcc solve`, `rcc check` and `rcc demo` as a user runs them; the checker catches every
broken rule; indicators and today's-practice baseline on hand-made cases."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_allocation import child, place, problem
from typer.testing import CliRunner

from optimiser.allocation import solve
from optimiser.baseline import simulate_baseline
from optimiser.indicators import indicators
from optimiser.presolve import WHOLE, supply_shortfalls
from optimiser.problem import Problem, write_problem
from optimiser.run import run_solve
from optimiser.validate import check_allocation
from service.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("solve")
    data, out = root / "data", root / "out"
    synth = ["synth", "--out", str(data), "--scale", "0.02", "--no-siblings"]
    assert runner.invoke(app, synth).exit_code == 0
    result = runner.invoke(app, ["solve", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Today's practice" in result.output and "Optimised" in result.output
    assert "pts" in result.output  # changes of shares in percentage points
    return data, out


def _copy(result: Path, to: Path) -> Path:
    """A copy of a result folder, to tamper with."""
    to.mkdir()
    for f in result.iterdir():
        (to / f.name).write_bytes(f.read_bytes())
    return to


def test_solve_writes_every_file_and_the_summary(solved: tuple[Path, Path]) -> None:
    data, out = solved
    for name in (
        "allocation.csv",
        "unplaced.csv",
        "indicators_by_la.csv",
        "indicators_by_rcc.csv",
        "summary.json",
        "policy.json",
        "supply.csv",
        "rccs.csv",
    ):
        assert (out / name).is_file(), name
    # a byte order mark, so that Excel reads UTF-8 (an RCC named 'North East – Tees' showed
    # as 'North East â€“ Tees'); pandas and csv readers with utf-8-sig take it in their stride
    for table in out.glob("*.csv"):
        assert table.read_bytes().startswith(b"\xef\xbb\xbf"), table.name
    summary = json.loads((out / "summary.json").read_text())
    fields = ("children", "placed", "unplaced", "weekly_cost", "out_of_la", "out_of_la_pct")
    fields += ("over_20_miles", "over_20_miles_pct", "out_of_rcc", "out_of_rcc_pct")
    fields += ("mean_miles", "status", "objective", "bound", "solve_seconds")
    assert set(fields) <= set(summary)
    assert set(fields[:11]) <= set(summary["baseline"])
    # and DESIGN.md section 5's others: the cross, annual cost and median miles
    more = ("out_of_la_over_20_miles", "out_of_la_over_20_miles_pct", "annual_cost")
    for s in (summary, summary["baseline"]):
        assert set(more) | {"median_miles"} <= set(s)
        assert s["annual_cost"] == pytest.approx(52 * s["weekly_cost"], abs=0.01)
    children = pd.read_csv(data / "children.csv")
    allocation = pd.read_csv(out / "allocation.csv", keep_default_na=False)
    assert sorted(allocation["child_id"]) == sorted(children["child_id"])
    assert summary["children"] == len(children)
    assert summary["placed"] + summary["unplaced"] == len(children)
    by_la = pd.read_csv(out / "indicators_by_la.csv")  # named, with its RCC, for readers
    assert list(by_la.columns[:3]) == ["home_la", "la_name", "rcc"]
    las = pd.read_csv(data / "las.csv").set_index("code")
    assert (by_la["la_name"] == by_la["home_la"].map(las["name"])).all()
    lookup = pd.read_csv(data / "rccs.csv").set_index("la_code")["rcc"]
    assert (by_la["rcc"] == by_la["home_la"].map(lookup)).all()
    # placed and unplaced by need in each LA and RCC (DESIGN.md section 5), adding up to the
    # LA's, the RCC's and the national need's own figures
    national = pd.read_csv(out / "indicators_by_need.csv").set_index("need")
    for area, table in (
        ("home_la", by_la),
        ("home_rcc", pd.read_csv(out / "indicators_by_rcc.csv")),
    ):
        by_need = pd.read_csv(out / f"indicators_by_{area[5:]}_need.csv")
        assert list(by_need.columns[:2]) == [area, "la_name" if area == "home_la" else "need"]
        for column in ("children", "placed", "unplaced"):
            assert (by_need.groupby(area)[column].sum() == table.set_index(area)[column]).all()
            assert (by_need.groupby("need")[column].sum() == national[column]).all()
    policy = json.loads((out / "policy.json").read_text())
    assert set(policy) == {
        "distance_per_mile",
        "out_of_la",
        "out_of_rcc",
        "unplaced",
        "move",
        "sibling_split",
        "max_miles",
        "substitutions",
    }


def test_check_accepts_the_result_and_rejects_a_tampered_one(
    solved: tuple[Path, Path], tmp_path: Path
) -> None:
    _, out = solved
    ok = runner.invoke(app, ["check", str(out)])
    assert ok.exit_code == 0 and "valid" in ok.output
    bad = _copy(out, tmp_path / "bad")
    summary = json.loads((bad / "summary.json").read_text())
    summary["objective"] += 1000
    (bad / "summary.json").write_text(json.dumps(summary))
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 1 and "reported objective" in result.output


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        (None, "summary.json has no key objective"),
        ("4525100.7071", 'summary.json objective is "4525100.7071", not a number'),
        ("null", "summary.json objective is null, not a number"),
    ],
)
def test_check_fails_when_summary_has_no_objective_to_compare(
    solved: tuple[Path, Path], tmp_path: Path, objective: str | None, expected: str
) -> None:
    """Without the key, check said "valid ... objective recomputed" though it compared nothing;
    with a string it stopped with a TypeError traceback."""
    _, out = solved
    bad = _copy(out, tmp_path / "bad")
    summary = json.loads((bad / "summary.json").read_text())
    if objective is None:
        del summary["objective"]
    else:
        summary["objective"] = None if objective == "null" else objective
    (bad / "summary.json").write_text(json.dumps(summary))
    result = runner.invoke(app, ["check", str(bad)])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and expected in said, result.output
    # a failed check, not a crash (a TypeError also exits with 1)
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert "valid: every rule holds" not in said and "recomputed, equal" not in said


@pytest.mark.parametrize(
    ("file", "column", "value", "expected"),
    [
        ("allocation.csv", "miles", "99", "1 children with a wrong miles"),
        ("allocation.csv", "out_of_la", "FLIP", "1 children with a wrong out_of_la"),
        ("allocation.csv", "pair_cost", "1", "1 children with a wrong pair_cost"),
        ("summary.json", "out_of_la", 5, "summary.json out_of_la is 5, recomputed"),
        ("summary.json", "weekly_cost", 1.0, "summary.json weekly_cost is 1.0"),
        ("indicators_by_la.csv", "out_of_la", "999", "1 LAs with a wrong out_of_la"),
    ],
)
def test_check_recomputes_what_the_result_reports(
    solved: tuple[Path, Path], tmp_path: Path, file: str, column: str, value: object, expected: str
) -> None:
    """Edits that left the objective alone passed as 'valid' before."""
    _, out = solved
    bad = _copy(out, tmp_path / "bad")
    if file == "summary.json":
        summary = json.loads((bad / file).read_text())
        summary[column] = value
        (bad / file).write_text(json.dumps(summary))
    else:
        table = pd.read_csv(bad / file, dtype=str, keep_default_na=False)
        row = int((table.get("placement_id", pd.Series(["x"] * len(table))) != "").argmax())
        flipped = {"True": "False", "False": "True"}
        table.loc[row, column] = flipped[table.loc[row, column]] if value == "FLIP" else value
        table.to_csv(bad / file, index=False)
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 1 and expected in result.output, result.output


def test_compare_shows_every_rcc_figure_whole(solved: tuple[Path, Path], tmp_path: Path) -> None:
    _, out = solved
    again = _copy(out, tmp_path / "again")
    result = runner.invoke(app, ["compare", str(out), str(again)])
    assert result.exit_code == 0, result.output
    by_rcc = result.output.split("By RCC (B - A)")[1]
    assert "…" not in by_rcc and "weekly" in by_rcc  # in 80 columns, nothing cut short
    rccs = pd.read_csv(out / "indicators_by_rcc.csv")["home_rcc"]
    assert all(name.split()[0] in by_rcc for name in rccs)


def test_check_names_what_is_missing_or_malformed(
    solved: tuple[Path, Path], tmp_path: Path
) -> None:
    _, out = solved
    bad = _copy(out, tmp_path / "bad")
    allocation = pd.read_csv(bad / "allocation.csv", dtype=str, keep_default_na=False)
    allocation.drop(columns="placement_id").to_csv(bad / "allocation.csv", index=False)
    cases = [
        ("allocation.csv: no column placement_id", None),
        ("summary.json: not valid JSON", '{"objective": '),
        ("summary.json: not a JSON object", "[1, 2]"),
        ("summary.json not found", ""),
    ]
    for expected, text in cases:
        if text == "":
            (bad / "summary.json").unlink()
        elif text is not None:
            (bad / "summary.json").write_text(text)
        result = runner.invoke(app, ["check", str(bad)])
        said = "".join(result.output.split())  # a long path wraps anywhere
        assert result.exit_code == 1 and expected.replace(" ", "") in said, result.output
        assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("empty", "allocation.csv: cannot read as CSV: the file is empty"),
        ("ragged", "allocation.csv row 5: cannot read as CSV:"),
        ("windows", "valid: every rule holds"),  # Excel's plain CSV (Windows-1252) is read
    ],
)
def test_check_names_an_allocation_it_cannot_read(
    solved: tuple[Path, Path], tmp_path: Path, damage: str, said: str
) -> None:
    """An empty allocation.csv, a row longer than the header or one saved as Windows-1252
    ended rcc check in EmptyDataError, ParserError or UnicodeDecodeError tracebacks."""
    _, out = solved
    bad = _copy(out, tmp_path / "bad")
    text = (out / "allocation.csv").read_text(encoding="utf-8-sig")
    if damage == "empty":
        (bad / "allocation.csv").write_text("")
    elif damage == "ragged":
        lines = text.splitlines()
        lines[4] += ",extra"
        (bad / "allocation.csv").write_text("\n".join(lines) + "\n")
    else:  # a name with an accent, as Excel saves it (no rule reads the RCC's name)
        windows = text.replace(",North East,", ",Nörth East,").encode("cp1252")
        assert b"N\xf6rth" in windows
        (bad / "allocation.csv").write_bytes(windows)
    result = runner.invoke(app, ["check", str(bad)])
    flat = "".join(result.output.split())  # a long path wraps anywhere
    assert "".join(said.split()) in flat, result.output
    assert isinstance(result.exception, SystemExit) or result.exception is None
    assert result.exit_code == (0 if damage == "windows" else 1), result.output


def test_check_says_how_to_find_inputs_that_moved(
    solved: tuple[Path, Path], tmp_path: Path
) -> None:
    """With the problem folder moved, rcc check said only 'file not found'."""
    data, out = solved
    result = _copy(out, tmp_path / "result")
    summary = json.loads((result / "summary.json").read_text())
    summary["inputs"] = str(tmp_path / "moved-away")
    (result / "summary.json").write_text(json.dumps(summary))
    lost = runner.invoke(app, ["check", str(result)])
    assert lost.exit_code == 1 and "--inputs DIR" in " ".join(lost.output.split()), lost.output
    found = runner.invoke(app, ["check", str(result), "--inputs", str(data)])
    assert found.exit_code == 0, found.output
    # a summary.json recording no folder was said to record this one
    (result / "summary.json").write_text("{}")
    none = " ".join(runner.invoke(app, ["check", str(result)]).output.split())
    assert "summary.json records no problem folder, so rcc check read" in none, none
    assert "is the one summary.json records" not in none


def test_solve_with_a_policy_file_and_a_bad_one(solved: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = solved
    (tmp_path / "p.json").write_text(json.dumps({"max_miles": 10, "out_of_rcc": 5000}))
    result = runner.invoke(
        app, ["solve", str(data), "--policy", str(tmp_path / "p.json"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    allocation = pd.read_csv(tmp_path / "allocation.csv", keep_default_na=False)
    placed = allocation[allocation["placement_id"] != ""]
    assert (placed["miles"].astype(float) <= 10).all()
    late = runner.invoke(app, ["solve", str(data), "--time-limit", "-5"])
    assert late.exit_code == 2 and "-5.0 is not in the range x>=0" in " ".join(late.output.split())
    (tmp_path / "bad.json").write_text('{"max_miles": "far"}')
    result = runner.invoke(app, ["solve", str(data), "--policy", str(tmp_path / "bad.json")])
    assert result.exit_code == 1 and "max_miles" in result.output


def test_validate_prints_every_problem(tmp_path: Path) -> None:
    (tmp_path / "children.csv").write_text("child_id,home_la,need,age,sex\nC1,E0800003,x,3,F\n")
    (tmp_path / "placements.csv").write_text(
        "placement_id,setting,la,capacity,weekly_cost,min_age,max_age,sexes\n"
    )
    (tmp_path / "rccs.csv").write_text("la_code,rcc\nE08000003,GM\n")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "children.csv row 2, column home_la" in result.output
    assert "Did you mean E08000003 (Manchester)" in result.output
    assert "children.csv row 2, column need" in result.output
    # one line per problem; a long one wraps under its text, not at the terminal's edge
    lines = result.output.splitlines()[1:]
    assert any(line.startswith("    ") for line in lines)  # the list of needs wraps
    assert all(line.startswith(("  - ", "    ")) and line[4] != " " for line in lines)


# ----------------------------------------------------------------------------- pre-solve


def shortage() -> Problem:
    """Three secure children in North (Hartlepool, Stockton) with one secure place there and
    one in South; two fostered children in South with three foster places, one of them
    in-house in North."""
    kids = [child(f"s{i}", need="secure", age=14) for i in range(3)]
    kids += [child(f"f{i}", home_la="E06000002") for i in range(2)]
    places = [
        place("sec-north", setting="secure", capacity=1),
        place("sec-south", setting="secure", la="E06000002", capacity=1),
        place("ifa-south", setting="foster_ifa", la="E06000002", capacity=2),
        place("inhouse-north", capacity=1),
    ]
    return problem(kids, places)


def test_presolve_check_states_each_shortfall_by_rcc_and_need_with_numbers() -> None:
    found = {(s.area, s.need): s for s in supply_shortfalls(shortage())}
    # North: 3 secure against 1; England as a whole: 3 against 2; foster meets its need
    assert set(found) == {("North", "secure"), (WHOLE, "secure")}
    north = found["North", "secure"]
    assert (north.demand, north.places, north.gap) == (3, 1, 2)
    assert str(north).startswith("secure need 3 > available secure places 1 in RCC North")
    assert (found[WHOLE, "secure"].demand, found[WHOLE, "secure"].places) == (3, 2)
    # stated before the solve starts
    events: list[str] = []
    run_solve(
        shortage(),
        progress=events.append,
        checked=lambda shortfalls: events.append(f"{len(shortfalls)} shortfalls"),
    )
    assert events[0] == "2 shortfalls" and any("candidates" in e for e in events[1:])


def sharing() -> Problem:
    """Ten fostered children and five in supported accommodation (16) in North, with ten
    in-house foster places there and nothing else: each need alone fits, together five are
    short (supported children may use foster places). Besides, two secure children and one
    secure place: short on their own, and no more so beside the others."""
    kids = [child(f"f{i}") for i in range(10)]
    kids += [child(f"s{i}", need="supported", age=16) for i in range(5)]
    kids += [child(f"x{i}", need="secure", age=14) for i in range(2)]
    places = [place("inhouse", capacity=10), place("sec", setting="secure", capacity=1)]
    return problem(kids, places)


def test_presolve_check_finds_needs_short_together_on_shared_settings() -> None:
    """Counted per need, the ten foster places met foster and supported need alike, and the
    check said nothing while five children ended unplaced."""
    found = {(s.area, s.need): s for s in supply_shortfalls(sharing())}
    together = "foster and supported"
    # by hand: 10 + 5 children, 10 places that can take either; the secure group is its own,
    # so no line for secure with the others
    assert set(found) == {
        ("North", "secure"),
        (WHOLE, "secure"),
        ("North", together),
        (WHOLE, together),
    }
    for area in ("North", WHOLE):
        s = found[area, together]
        assert (s.needs, s.demand, s.places, s.gap) == (("foster", "supported"), 15, 10, 5)
    assert str(found["North", together]) == (
        "foster and supported need together 15 > 10 places that can take them (foster_inhouse, "
        "foster_ifa, supported) in RCC North: at least 5 children must be placed outside it, "
        "stepped up or left unplaced"
    )
    assert str(found[WHOLE, together]) == (
        "foster and supported need together 15 > 10 places that can take them (foster_inhouse, "
        "foster_ifa, residential_la, residential_private, supported) in the whole problem: at "
        "least 5 children cannot be placed anywhere in the problem and will be unplaced"
    )
    # the whole problem's count includes the step-ups: nothing lies outside it
    assert str(found[WHOLE, "secure"]) == (
        "secure need 2 > 1 places that can take it (secure) in the whole problem: at least "
        "1 child cannot be placed anywhere in the problem and will be unplaced"
    )
    result = solve(sharing())
    assert (result.assignments["placement_id"] == "").sum() == 5 + 1


def test_presolve_check_reports_the_group_that_adds_most() -> None:
    """Foster, residential and supported children in the whole problem, sharing residential
    places through step-ups: the three together fall short by more than foster and residential
    do, and only the three are reported; secure, short alone, is not reported again with them."""
    kids = [child(f"f{i}") for i in range(3)]
    kids += [child(f"r{i}", need="residential", age=12) for i in range(3)]
    kids += [child(f"s{i}", need="supported", age=16) for i in range(3)]
    kids += [child(f"x{i}", need="secure", age=14) for i in range(2)]
    places = [
        place("ifa", setting="foster_ifa", la="E06000002", capacity=2),
        place("home", setting="residential_la", la="E06000002", capacity=3),
        place("sa", setting="supported", la="E06000002", capacity=2),
        place("sec", setting="secure", capacity=1),
    ]
    found = {(s.area, s.need): s for s in supply_shortfalls(problem(kids, places))}
    whole = {need: s for (area, need), s in found.items() if area == WHOLE}
    # by hand: each need alone fits (foster 3 <= 5 foster and residential places,
    # residential 3 <= 3, supported 3 <= 7); foster and residential 6 > 5, short by 1; all
    # three 9 > 7, short by 2: more than any split shows, and it holds the pair
    assert set(whole) == {"secure", "foster, residential and supported"}
    assert (whole["foster, residential and supported"].gap, whole["secure"].gap) == (2, 1)


def test_solve_prints_the_shortfalls_before_solving_and_writes_them(tmp_path: Path) -> None:
    write_problem(shortage(), tmp_path / "in")
    result = runner.invoke(app, ["solve", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Before solving" in text and "│ North │ secure │ 3 │ 1 │ 2 │" in text
    written = pd.read_csv(tmp_path / "out" / "shortfalls.csv")
    assert written.to_dict("records") == [
        {"area": "North", "need": "secure", "demand": 3, "places": 1, "gap": 2},
        {"area": WHOLE, "need": "secure", "demand": 3, "places": 2, "gap": 1},
    ]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["unplaced"] == 1  # the third secure child: two secure places in all
    # and after the solve, who is unplaced and why
    assert "Unplaced children by need and reason" in text
    assert "│ secure │ eligible placements all full │ 1 │" in text


def test_solve_prints_and_writes_needs_short_together(tmp_path: Path) -> None:
    write_problem(sharing(), tmp_path / "in")
    result = runner.invoke(app, ["solve", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "│ North │ foster and supported │ 15 │ 10 │ 5 │" in text
    written = pd.read_csv(tmp_path / "out" / "shortfalls.csv")
    assert written.to_dict("records") == [
        {"area": "North", "need": "secure", "demand": 2, "places": 1, "gap": 1},
        {"area": WHOLE, "need": "secure", "demand": 2, "places": 1, "gap": 1},
        {"area": "North", "need": "foster and supported", "demand": 15, "places": 10, "gap": 5},
        {"area": WHOLE, "need": "foster and supported", "demand": 15, "places": 10, "gap": 5},
    ]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["unplaced"] == 6
    assert [s.split(" > ")[0] for s in summary["shortfalls"]] == [
        "secure need 2",
        "secure need 2",
        "foster and supported need together 15",
        "foster and supported need together 15",
    ]


def test_progress_lines_held_back_only_while_the_solve_is_short(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from service.cli import _progress_printer

    with _progress_printer(hold=0.05) as say:
        say("quick stage")
    time.sleep(0.2)
    assert "quick stage" not in capsys.readouterr().out  # a short solve prints none
    with _progress_printer(hold=0.05) as say:
        say("long first stage")
        time.sleep(0.5)  # still in that stage: its line is shown by now
        assert "long first stage" in capsys.readouterr().out
        say("next stage")
        assert "next stage" in capsys.readouterr().out
        say("a line too long for the terminal " * 4)  # wraps under its message, not its time
        lines = capsys.readouterr().out.splitlines()
        indent = lines[0].index("a line")  # after the time
        assert len(lines) > 1 and lines[0][:indent].strip().endswith("s")
        assert all(line[:indent].isspace() and not line[indent].isspace() for line in lines[1:])


# ----------------------------------------------------------------------------- checker


def test_checker_catches_each_broken_rule() -> None:
    p = problem(
        [child("a"), child("b"), child("c", need="secure")],
        [place("p1", capacity=1), place("teen", min_age=12)],
    )
    good = pd.DataFrame({"child_id": ["a", "b", "c"], "placement_id": ["p1", "", ""]})
    verdict = check_allocation(p, good, objective=600.0 + 2 * 10_000.0)
    assert verdict.ok, str(verdict)
    cases = {
        "more than once": pd.concat([good, good.iloc[:1]]),
        "neither placed nor unplaced": good.iloc[:2],
        "takes 2 children but has 1": good.assign(placement_id=["p1", "p1", ""]),
        "age outside": good.assign(placement_id=["p1", "teen", ""]),
        "setting not allowed": good.assign(placement_id=["p1", "", "teen"]),
    }
    for message, table in cases.items():
        assert message in str(check_allocation(p, table)), message
    assert "reported objective" in str(check_allocation(p, good, objective=1.0))
    assert "reported objective" in str(check_allocation(p, good, objective=float("nan")))
    # valid without a reported objective, and saying it compared none
    assert "no reported objective to compare" in str(check_allocation(p, good))
    assert "recomputed, equal to the reported one" in str(
        check_allocation(p, good, objective=600.0 + 2 * 10_000.0)
    )


def test_checker_names_the_children_and_rows_that_break_a_rule() -> None:
    """rcc check said '1 children are neither placed nor unplaced' or '1 pairs break the rule:
    setting not allowed for the need' and no child or row to look at."""
    p = problem(
        [child("a"), child("b"), child("c", need="secure")],
        [place("p1", capacity=1), place("teen", min_age=12)],
    )
    good = pd.DataFrame({"child_id": ["a", "b", "c"], "placement_id": ["p1", "", ""]})
    strangers = pd.DataFrame({"child_id": list("vwxyz"), "placement_id": ""})
    cases = {
        "1 children are neither placed nor unplaced: b": good.drop(index=1),
        "1 children appear more than once: a (row 5)": pd.concat([good, good.iloc[:1]]),
        "5 unknown children in the allocation: v (row 5), w (row 6), x (row 7) and 2 more": (
            pd.concat([good, strangers])  # labels 0-4 again: rows are counted, not labels
        ),
        "1 unknown placements used: nowhere (row 4)": good.assign(
            placement_id=["p1", "", "nowhere"]
        ),
        "1 pairs break the rule: setting not allowed for the need: c (row 4)": good.assign(
            placement_id=["p1", "", "teen"]
        ),
        "1 children with a wrong miles: a (row 2)": good.assign(miles=["7", "", ""]),
    }
    for message, table in cases.items():
        verdict = check_allocation(p, table)
        assert message in verdict.errors, verdict.errors


def test_indicators_follow_the_dfe_definitions() -> None:
    table = pd.DataFrame(
        {
            "child_id": list("abcd"),
            "home_la": ["L1", "L1", "L1", "L2"],
            "home_rcc": ["R"] * 4,
            "need": ["foster"] * 4,
            "setting": ["foster_ifa", "foster_ifa", "", "foster_inhouse"],
            "placement_id": ["p", "q", "", "r"],
            "miles": [30.0, 5.0, np.nan, 20.0],
            "out_of_la": [True, False, False, True],
            "out_of_rcc": [True, False, False, False],
            "over_20_miles": [True, False, False, False],
            "weekly_cost": [800.0, 700.0, 0.0, 600.0],
        }
    )
    nat = indicators(table).iloc[0]
    assert (nat["children"], nat["placed"], nat["unplaced"]) == (4, 3, 1)
    assert nat["out_of_la"] == 2 and nat["out_of_la_pct"] == pytest.approx(66.67)
    assert nat["over_20_miles"] == 1 and nat["out_of_la_over_20_miles"] == 1  # 20 is not over
    assert nat["weekly_cost"] == 2100 and nat["annual_cost"] == 2100 * 52
    assert nat["mean_miles"] == pytest.approx(55 / 3, abs=0.01) and nat["median_miles"] == 20
    by_la = indicators(table, by="la").set_index("home_la")
    assert by_la.loc["L2", "out_of_la_pct"] == 100.0 and by_la.loc["L1", "unplaced"] == 1


def test_baseline_uses_in_house_first_then_the_nearest_place() -> None:
    kids = [child("a"), child("b")]
    places = [
        place("ifa-near", setting="foster_ifa", miles=1, weekly_cost=800.0),
        place("inhouse-far", miles=15, weekly_cost=600.0),
    ]
    got = simulate_baseline(problem(kids, places), offers=1).assignments
    assert set(got["placement_id"]) == {"inhouse-far", "ifa-near"}
    first = got.set_index("child_id")["placement_id"]
    # whichever child goes first takes the council's own in-house carer
    assert "inhouse-far" in set(first)


def test_baseline_searches_short_local_lists_exactly_as_the_whole_country(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each council's list of nearest places is a shortcut (cut short, refilled as places
    fill, the whole tier searched when it proves nothing): lists of 5 must place every child
    exactly where searching every placement each time does."""
    from optimiser import baseline
    from optimiser.synthetic import synthesize

    problem = synthesize(seed=3, scale=0.03, sibling_groups=False)
    monkeypatch.setattr(baseline, "_LOCAL_LEAST", 10**9)  # every list holds its whole tier
    everything = simulate_baseline(problem).assignments["placement_id"]
    monkeypatch.setattr(baseline, "_LOCAL_LEAST", 5)
    monkeypatch.setattr(baseline, "_LOCAL_PER_LA", 0)
    short = simulate_baseline(problem).assignments["placement_id"]
    assert (everything != "").sum() > 1_000
    assert (short == everything).all()


def test_write_csv_writes_what_pandas_writes(tmp_path: Path) -> None:
    """The outputs' quicker writer, byte for byte pandas' `to_csv(index=False)` (with a byte
    order mark, for Excel): missing values empty, floats as repr, booleans, and text that needs
    quoting."""
    from optimiser.run import write_csv

    frame = pd.DataFrame(
        {
            "child_id": ["C1", "C2", None, "C4"],
            "miles": [0.1 + 0.2, np.nan, 12.0, 1e-7],
            "out_of_la": [True, False, True, False],
            "age": [3, 17, 0, 9],
            "reason": ["", 'no place, "secure"', "line\nbreak", float("nan")],
        }
    )
    write_csv(frame, tmp_path / "ours.csv")
    frame.to_csv(tmp_path / "pandas.csv", index=False, encoding="utf-8-sig")
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


@pytest.mark.parametrize(
    "command", [["solve", "DATA"], ["synth"], ["plan", "DATA"], ["scenario", "DATA", "S"]]
)
def test_an_out_that_is_a_file_is_refused_before_any_work(
    tmp_path: Path, command: list[str]
) -> None:
    """`rcc solve --out FILE` solved for its whole time, then raised FileExistsError."""
    taken = tmp_path / "taken"
    taken.write_text("")
    (tmp_path / "scenario.json").write_text("{}")
    paths = {"DATA": str(tmp_path), "S": str(tmp_path / "scenario.json")}
    result = runner.invoke(app, [*(paths.get(a, a) for a in command), "--out", str(taken)])
    assert result.exit_code == 2
    assert "is a file; give a folder" in re.sub(r"[\s│]+", " ", result.output)
    inside = runner.invoke(app, ["synth", "--out", str(taken / "below")])
    assert inside.exit_code == 2
    assert "cannot make or write a folder" in re.sub(r"[\s│]+", " ", inside.output)


def test_validate_writes_every_problem_when_asked(tmp_path: Path) -> None:
    """Over 200 problems were cut with no way to see the rest."""
    data = tmp_path / "data"
    assert runner.invoke(app, ["synth", "--out", str(data), "--scale", "0.01"]).exit_code == 0
    children = pd.read_csv(data / "children.csv", dtype=str, keep_default_na=False)
    children.assign(age="x").to_csv(data / "children.csv", index=False)
    result = runner.invoke(app, ["validate", str(data)])
    assert result.exit_code == 1 and "--issues FILE.csv" in " ".join(result.output.split())
    table = tmp_path / "issues.csv"
    assert runner.invoke(app, ["validate", str(data), "--issues", str(table)]).exit_code == 1
    issues = pd.read_csv(table)
    assert list(issues.columns) == ["file", "row", "column", "message"]
    assert len(issues) == len(children) > 200 and (issues["column"] == "age").all()
    # fixed: the file is written again, header only (an old one listed rows long since fixed)
    children.to_csv(data / "children.csv", index=False)
    assert runner.invoke(app, ["validate", str(data), "--issues", str(table)]).exit_code == 0
    assert pd.read_csv(table).empty and list(pd.read_csv(table).columns) == list(issues.columns)


@pytest.mark.parametrize("command", ["synth", "demo"])
@pytest.mark.parametrize("scale", ["0", "-1"])
def test_a_scale_of_no_children_is_refused_on_the_command_line(
    tmp_path: Path, command: str, scale: str
) -> None:
    """rcc demo --scale 0 ended in a traceback (synth's help said 0 was allowed)."""
    result = runner.invoke(app, [command, "--out", str(tmp_path / "x"), "--scale", scale])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "is not above 0" in re.sub(r"[\s│]+", " ", result.output), result.output


def test_a_second_solve_removes_what_it_does_not_write(tmp_path: Path) -> None:
    """rcc solve --no-baseline into an earlier result's folder left that run's
    baseline_allocation.csv beside the new allocation."""
    write_problem(shortage(), tmp_path / "in")
    solve_into = ["solve", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    assert runner.invoke(app, solve_into).exit_code == 0
    assert (tmp_path / "out" / "baseline_allocation.csv").is_file()
    (tmp_path / "out" / "mine.csv").write_text("kept\n")
    again = runner.invoke(app, [*solve_into, "--no-baseline"])
    assert again.exit_code == 0, again.output
    assert not (tmp_path / "out" / "baseline_allocation.csv").exists()
    assert (tmp_path / "out" / "mine.csv").read_text() == "kept\n"  # not rcc solve's
    said = " ".join(again.output.split())
    assert "Removed baseline_allocation.csv: an earlier solve's, not written this time" in said


def test_a_demo_without_a_plan_removes_an_earlier_demos_plan(tmp_path: Path) -> None:
    """rcc demo --no-plan into an earlier demo's folder left that demo's plan and plan map
    beside maps of the new allocation."""
    out = tmp_path / "demo"
    (out / "plan" / "final_year").mkdir(parents=True)
    (out / "maps").mkdir()
    for earlier in ("plan/plan_summary.json", "plan/final_year/children.csv", "maps/map-plan.html"):
        (out / earlier).write_text("earlier\n")
    (out / "plan" / "mine.txt").write_text("kept\n")
    demo = ["demo", "--out", str(out), "--scale", "0.005", "--no-plan", "--time-limit", "10"]
    result = runner.invoke(app, demo)
    assert result.exit_code == 0, result.output
    assert (out / "maps" / "map-flows.html").is_file()
    assert not (out / "maps" / "map-plan.html").exists()
    assert not (out / "plan" / "final_year").exists()
    assert [p.name for p in (out / "plan").iterdir()] == ["mine.txt"]  # not the demo's
    said = " ".join(result.output.split())
    assert "maps/map-plan.html: an earlier demo's, not written this time" in said


@pytest.mark.skipif(
    not Path("/proc/self").is_dir() or os.geteuid() != 0, reason="root under Linux's /proc"
)
@pytest.mark.parametrize(
    "command", [["solve", "DATA"], ["synth"], ["plan", "DATA"], ["scenario", "DATA", "S"]]
)
def test_an_out_that_cannot_be_made_is_refused_before_any_work(
    tmp_path: Path, command: list[str]
) -> None:
    """Under /proc, where os.access lets root write, rcc solve solved for its whole time, then
    raised FileNotFoundError."""
    write_problem(shortage(), tmp_path)
    (tmp_path / "scenario.json").write_text("{}")
    paths = {"DATA": str(tmp_path), "S": str(tmp_path / "scenario.json")}
    result = runner.invoke(app, [*(paths.get(a, a) for a in command), "--out", "/proc/x/y"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    said = re.sub(r"[\s│]+", " ", result.output)
    assert "cannot make or write a folder in '/proc'" in said, result.output


@pytest.mark.parametrize(
    ("command", "taken"),
    [
        (["solve", "DATA"], "allocation.csv"),
        (["synth", "--scale", "0.005"], "children.csv"),
        (["scenario", "DATA", "S"], "placements.csv"),
    ],
)
def test_a_file_that_cannot_be_written_is_one_line_naming_it(
    tmp_path: Path, command: list[str], taken: str
) -> None:
    """An OSError while writing ended in a traceback after the whole solve."""
    write_problem(shortage(), tmp_path / "in")
    (tmp_path / "scenario.json").write_text("{}")
    (tmp_path / "out" / taken).mkdir(parents=True)  # a folder where the file goes
    paths = {"DATA": str(tmp_path / "in"), "S": str(tmp_path / "scenario.json")}
    args = [*(paths.get(a, a) for a in command), "--out", str(tmp_path / "out")]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    said = "".join(result.output.split())
    assert f"Error:cannotwrite{tmp_path / 'out' / taken}:Isadirectory" in said, result.output


def test_a_data_folder_that_cannot_be_made_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RCC_DATA_DIR under a file (or /proc) ended rcc keys list in a traceback."""
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("RCC_DATA_DIR", str(tmp_path / "file" / "data"))
    monkeypatch.delenv("RCC_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["keys", "list"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    said = " ".join(result.output.split())
    assert "cannot make the data folder" in said and "(RCC_DATA_DIR)" in said, result.output


def test_validate_issues_file_in_a_new_folder_with_whole_row_numbers(tmp_path: Path) -> None:
    """--issues in a folder not yet made raised OSError, a folder IsADirectoryError; and the
    row numbers were written as 4.0 once any issue had none."""
    data = tmp_path / "data"
    write_problem(shortage(), data)
    children = pd.read_csv(data / "children.csv", dtype=str, keep_default_na=False)
    children.loc[2, "age"] = "x"  # row 4
    children.to_csv(data / "children.csv", index=False)
    (data / "rccs.csv").write_text("la_code,rcc\n")  # its LAs in no RCC: no row
    table = tmp_path / "new" / "issues.csv"
    result = runner.invoke(app, ["validate", str(data), "--issues", str(table)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    rows = table.read_text(encoding="utf-8-sig").splitlines()
    assert "children.csv,4,age," in "\n".join(rows), rows
    assert any(line.startswith("rccs.csv,,la_code,") for line in rows), rows
    folder = runner.invoke(app, ["validate", str(data), "--issues", str(tmp_path)])
    assert folder.exit_code == 2 and "Traceback" not in folder.output
    assert "is a folder; give a file name" in re.sub(r"[\s│]+", " ", folder.output)


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--port", "99999", "Invalid value for '--port'"),
        ("--port", "0", "Invalid value for '--port'"),
        ("--log-level", "bogus", "'bogus' is not one of critical, error, warning, info"),
    ],
)
def test_serve_refuses_a_port_or_log_level_uvicorn_cannot_use(
    option: str, value: str, said: str
) -> None:
    """rcc serve --port 99999 ended in OverflowError, --log-level bogus in KeyError."""
    result = runner.invoke(app, ["serve", option, value])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert said in re.sub(r"[\s│]+", " ", result.output)


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["rccs", "propose", "--threads", "0"], "Invalid value for '--threads'"),
        (["synth", "--out", "OUT", "--seed", "-1"], "Invalid value for '--seed'"),
        (["demo", "--out", "OUT", "--seed", "-1"], "Invalid value for '--seed'"),
        (["map", "DATA", "--code-column", "code"], "'--code-column': names a column of the"),
        (["demo", "--out", "OUT", "--code-column", "code"], "give --boundaries too"),
        (["solve", "DATA", "--out", "DATA"], "is the problem folder: its rccs.csv and policy"),
        (["scenario", "DATA", "S", "--out", "DATA"], "is the problem folder: its CSVs and"),
    ],
)
def test_options_that_would_be_ignored_or_do_harm_are_usage_errors(
    tmp_path: Path, command: list[str], said: str
) -> None:
    """rccs propose --threads 0 was taken (solve --threads 0 refused); synth --seed -1 said
    'expected non-negative integer' naming no option; --code-column without --boundaries was
    ignored; solve --out DIR and scenario --out DIR wrote over the problem folder DIR."""
    write_problem(shortage(), tmp_path / "data")
    (tmp_path / "scenario.json").write_text("{}")
    paths = {"DATA": tmp_path / "data", "S": tmp_path / "scenario.json", "OUT": tmp_path / "o"}
    before = {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()}
    result = runner.invoke(app, [str(paths.get(a, a)) for a in command])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert said in re.sub(r"[\s│]+", " ", result.output), result.output
    assert {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()} == before
    assert not (tmp_path / "o").exists()
