"""SSDA903 import on hand-written returns: codes by year, census, DfE location, errors, supply."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from optimiser.errors import ProblemValidationError
from optimiser.ofsted import read_ofsted_providers
from optimiser.ssda903 import (
    DEFAULT_WEEKLY_COST,
    OUTSIDE_LOOKUP,
    ImportResult,
    code_map,
    import_903,
    read_postcodes,
    read_return,
)

FIXTURES = Path(__file__).parent / "fixtures" / "ssda903"
CLEAN = FIXTURES / "clean"
MILES = 1609.3  # metres per mile in the DfE's formula


def _miles(de: float, dn: float) -> float:
    return math.sqrt(de**2 + dn**2) / MILES


@pytest.fixture(scope="module")
def postcodes():  # type: ignore[no-untyped-def]
    return read_postcodes(FIXTURES / "postcodes.csv")


@pytest.fixture(scope="module")
def clean(postcodes) -> ImportResult:  # type: ignore[no-untyped-def]
    return import_903(
        CLEAN / "header.csv",
        CLEAN / "episodes.csv",
        la="E06000001",
        postcodes=postcodes,
        ofsted=read_ofsted_providers(FIXTURES / "ofsted.csv"),
    )


def _row(result: ImportResult, child: str) -> pd.Series:
    rows = result.census[result.census["child"] == child]
    assert len(rows) == 1, f"{child} should be in the census once"
    return rows.iloc[0]


def _messages(issues, file: str) -> dict[tuple[int | None, str | None], str]:  # type: ignore[no-untyped-def]
    return {(i.row, i.column): i.message for i in issues if i.file == file}


# ----------------------------------------------------------------------------- code lists


def test_code_map_follows_the_collection_years() -> None:
    y2023, y2024, y2025, y2026 = (code_map(y).place for y in (2023, 2024, 2025, 2026))
    assert "K3" not in y2023 and "K3" in y2024 and "K3" in y2026
    for withdrawn in ("H5", "P2", "Z1"):
        assert withdrawn in y2025 and withdrawn not in y2026
    for new in ("Z11", "Z12", "Z13", "Z14"):
        assert new not in y2025 and new in y2026
    assert (
        code_map(2023).place_message("K3")
        == "PLACE 'K3' is not valid in 2022/23 (valid from 2023/24)"
    )
    assert "withdrawn from 2025/26" in code_map(2026).place_message("H5")


# ----------------------------------------------------------------------------- census


def test_census_keeps_children_looked_after_on_31_march(clean: ImportResult) -> None:
    children = set(clean.census["child"])
    # C16 is on a short break (V3), C17 left in January, C21 ceased on the census date itself.
    assert children == {f"C{i:02d}" for i in (*range(1, 16), 18, 19, 20)}
    assert clean.report.counts["short breaks on the census date (excluded as by the DfE)"] == 1
    assert (clean.census["status"] == "ok").all()
    assert clean.report.ok


@pytest.mark.parametrize(
    ("child", "setting", "need", "allocatable"),
    [
        ("C01", "foster_inhouse", "foster", True),  # U4 PR1
        ("C02", "foster_ifa", "foster", True),  # U6 PR4
        ("C20", "foster_inhouse", "foster", True),  # U5, no provider: in-house, with a warning
        ("C03", "residential_private", "residential", True),  # K2 PR4
        ("C04", "residential_la", "residential", True),  # K2 PR1
        ("C05", "residential_private", "residential", True),  # R1 PR5
        ("C06", "secure", "secure", True),  # K1
        ("C07", "supported", "supported", True),  # K3 (2023/24)
        ("C08", "supported", "supported", True),  # H5
        ("C09", "supported", "supported", True),  # P2
        ("C10", "family_and_friends", "", False),  # U3
        ("C11", "placed_with_parents", "", False),  # P1
        ("C12", "placed_for_adoption", "", False),  # A4
        ("C13", "residential_school", "", False),  # S1
        ("C14", "temporary", "", False),  # T1
        ("C15", "other", "", False),  # Z1
        ("C18", "residential_private", "residential", True),  # second episode K2 is current
    ],
)
def test_setting_and_need_from_place_and_provider(
    clean: ImportResult, child: str, setting: str, need: str, allocatable: bool
) -> None:
    row = _row(clean, child)
    assert (row["setting"], row["need"], bool(row["allocatable"])) == (setting, need, allocatable)


def test_age_and_sex_on_the_census_date(clean: ImportResult) -> None:
    # C02 born 01/04/2010 is 13 on 31/03/2024 (birthday tomorrow); C03 born 31/03/2008 turns 16.
    assert _row(clean, "C02")[["age", "sex"]].tolist() == [13, "F"]
    assert _row(clean, "C03")[["age", "sex"]].tolist() == [16, "M"]
    assert _row(clean, "C12")["age"] == 1


def test_census_at_another_date(postcodes) -> None:  # type: ignore[no-untyped-def]
    result = import_903(
        CLEAN / "header.csv",
        CLEAN / "episodes.csv",
        la="E06000001",
        at=date(2023, 5, 1),
        postcodes=postcodes,
    )
    assert _row(result, "C18")["place"] == "U6"  # before the move to the children's home
    assert _row(result, "C17")["place"] == "U6"  # still looked after then
    assert "C02" not in set(result.census["child"])  # came into care in September


# ----------------------------------------------------------------------------- DfE location


@pytest.mark.parametrize(
    ("child", "placement_la", "location", "miles"),
    [
        ("C01", "E06000001", "inside", _miles(3000, 4000)),  # 5 km: 3.107 miles
        ("C02", "E06000002", "outside", _miles(30000, 40000)),  # 50 km: 31.069 miles
        ("C03", "E06000047", "outside", _miles(0, 15000)),  # 9.321 miles
        ("C05", "E08000035", "outside", _miles(-17000, -96000)),  # Leeds: 60.581 miles
        ("C06", "E10000017", "outside", _miles(-79000, -102000)),  # county code wins: 80.169
        ("C08", "W06000015", "outside", _miles(-129000, -354000)),  # Cardiff: 234.122 miles
        ("C11", "E06000001", "inside", 0.0),
    ],
)
def test_distance_and_location_as_the_dfe_derives_them(
    clean: ImportResult, child: str, placement_la: str, location: str, miles: float
) -> None:
    row = _row(clean, child)
    assert row["placement_la"] == placement_la
    assert row["location"] == location
    assert row["miles"] == pytest.approx(miles, abs=1e-9)
    assert row["distance"] == ("over_20" if miles > 20 else "20_or_less")


def test_hand_computed_miles_match_the_dfe_formula() -> None:
    assert _miles(3000, 4000) == pytest.approx(3.10694, abs=1e-5)
    assert _miles(-17000, -96000) == pytest.approx(60.5813, abs=1e-4)


def test_unknown_postcodes_stay_unknown(clean: ImportResult) -> None:
    for child in ("C09", "C12", "C14"):  # no PL_POST, no PL_POST, postcode not in the lookup
        row = _row(clean, child)
        assert (row["location"], row["distance"]) == ("unknown", "unknown")
        assert math.isnan(row["miles"])
    warnings = _messages(clean.report.warnings, "episodes.csv")
    assert warnings[(15, "PL_POST")] == "postcode not found in postcodes.csv"


def test_placement_location_table(clean: ImportResult) -> None:
    table = clean.location
    assert table.loc["Placed inside the LA"].tolist() == [7, 0, 0, 7]
    assert table.loc["Placed outside the LA"].tolist() == [2, 6, 0, 8]
    assert table.loc["Placement location unknown"].tolist() == [0, 0, 3, 3]
    assert table.loc["Total"].tolist() == [9, 6, 3, 18]


def test_baseline_indicators_by_la(clean: ImportResult) -> None:
    base = clean.baseline.set_index("la")
    assert list(base.index) == ["E06000001", "all"]
    la = base.loc["E06000001"]
    assert la["cla"] == 18 and la["allocatable"] == 12
    assert la["foster"] == 5  # U3, U4 x2, U5, U6: family and friends counted as the DfE does
    assert la["outside_la_over_20mi"] == 6 and la["inside_la_20mi_or_less"] == 7
    assert la["placed_with_parents"] == 1 and la["residential_schools"] == 1


def test_a_return_whose_every_child_has_an_error_is_reported_not_raised(tmp_path: Path) -> None:
    # no LA column and no --la: the one child has an error, so no placement is built
    (tmp_path / "header.csv").write_text("CHILD,SEX,DOB\nC01,1,01/01/2012\n")
    episodes = "CHILD,DECOM,LS,PLACE,PLACE_PROVIDER\nC01,01/06/2022,C2,U4,PR1\n"
    (tmp_path / "episodes.csv").write_text(episodes)
    result = import_903(tmp_path / "header.csv", tmp_path / "episodes.csv", year=2024)
    assert any("no responsible LA" in str(e) for e in result.report.errors)
    assert result.report.counts["placement units from today's placements"] == 0


def test_a_child_id_a_spreadsheet_would_run_is_named_in_the_903_file(tmp_path: Path) -> None:
    """It was refused later, as children.csv row 2, a file the import never wrote."""
    (tmp_path / "header.csv").write_text("CHILD,SEX,DOB\n=C01,1,01/01/2012\nC02,1,01/01/2012\n")
    episodes = "CHILD,DECOM,LS,PLACE,PLACE_PROVIDER\n=C01,01/06/2022,C2,U4,PR1\n"
    (tmp_path / "episodes.csv").write_text(episodes + "C02,01/06/2022,C2,U4,PR1\n")
    result = import_903(
        tmp_path / "header.csv", tmp_path / "episodes.csv", year=2024, la="Hartlepool"
    )
    found = {str(e) for e in result.report.errors}
    assert any(
        e.startswith("header.csv row 2, column CHILD: '=C01' starts with '='") for e in found
    )
    assert any(e.startswith("episodes.csv row 2, column CHILD: '=C01'") for e in found)
    assert set(result.problem.children["child_id"]) == {"C02"}  # type: ignore[union-attr]


def test_without_a_lookup_columns_are_used_else_unknown(tmp_path: Path) -> None:
    episodes = tmp_path / "episodes.csv"
    episodes.write_text(
        "CHILD,DECOM,LS,PLACE,PLACE_PROVIDER,PL_LA,PL_DISTANCE\n"
        "C01,01/06/2022,C2,U4,PR1,806,24.5\n"
        "C02,01/06/2022,C2,U4,PR1,,\n"
    )
    header = tmp_path / "header.csv"
    header.write_text("CHILD,SEX,DOB\nC01,1,01/01/2012\nC02,2,01/01/2012\n")
    result = import_903(header, episodes, la="E06000001", year=2024)
    one, two = _row(result, "C01"), _row(result, "C02")
    assert (one["placement_la"], one["location"], one["miles"]) == ("E06000002", "outside", 24.5)
    assert (two["location"], two["distance"]) == ("unknown", "unknown")


# ----------------------------------------------------------------------------- dirty files


def test_dirty_files_read_like_clean_ones(clean: ImportResult, postcodes) -> None:  # type: ignore[no-untyped-def]
    # BOM, CRLF, lower/mixed-case padded column names in another order, trailing empty
    # columns and rows, Excel dates (YYYY-MM-DD HH:MM:SS), SEX as 1.0, codes in lower case,
    # postcodes without spaces, LA as a DfE number and a name.
    dirty = import_903(FIXTURES / "dirty", FIXTURES / "dirty", postcodes=postcodes)
    assert dirty.report.ok
    cols = [c for c in clean.census.columns if c not in ("file", "row")]
    pd.testing.assert_frame_equal(dirty.census[cols], clean.census[cols])


# ----------------------------------------------------------------------------- errors


@pytest.fixture(scope="module")
def errors() -> ImportResult:
    return import_903(FIXTURES / "errors", FIXTURES / "errors", la="Hartlepool")


@pytest.mark.parametrize(
    ("file", "row", "column", "text"),
    [
        (
            "episodes_2023-24.csv",
            3,
            "DECOM",
            "overlaps an earlier episode of this child (episodes_2023-24.csv row 2)",
        ),
        (
            "episodes_2023-24.csv",
            4,
            "DECOM",
            "DECOM is after 31/03/2024, the end of the 2023/24 collection year",
        ),
        ("episodes_2023-24.csv", 7, "PLACE", "unknown PLACE code 'X9' for 2023/24"),
        ("episodes_2023-24.csv", 8, "PLACE", "'Z11' is not valid in 2023/24 (valid from 2025/26)"),
        ("episodes_2023-24.csv", 9, "LS", "'Q1' is not a valid LS code"),
        ("episodes_2023-24.csv", 10, "CHILD", "no header row for this child"),
        ("episodes_2023-24.csv", 11, "DEC", "DEC is before DECOM"),
        ("episodes_2022-23.csv", 2, "PLACE", "'K3' is not valid in 2022/23 (valid from 2023/24)"),
        ("header_2023-24.csv", 4, "SEX", "SEX '3' is not 1 or 2"),
        ("header_2023-24.csv", 5, "DOB", "DOB is not a date in dd/mm/YYYY"),
        ("header_2023-24.csv", 12, "DOB", "18 or over on the census date"),
    ],
)
def test_each_error_names_file_row_and_column(
    errors: ImportResult, file: str, row: int, column: str, text: str
) -> None:
    found = _messages(errors.report.errors, file)
    assert text in found.get((row, column), ""), f"{file} row {row} {column}: {found}"


def test_errors_are_reported_never_dropped(errors: ImportResult) -> None:
    assert len(errors.report.errors) == 11
    census = errors.census.set_index("child")
    in_error = {"E01", "E02", "E03", "E04", "E05", "E06", "E07", "E08", "E13"}  # E02: DECOM late
    assert set(census.index[census["status"] == "error"]) == in_error
    assert set(errors.report.excluded["child"]) == in_error
    assert set(errors.problem.children["child_id"]) == {"E10", "E11"}  # type: ignore[union-attr]
    warnings = _messages(errors.report.warnings, "episodes_2023-24.csv")
    assert warnings[(13, "RNE")] == "'Q' is not a valid RNE code in 2023/24"  # used anyway


def test_a_child_whose_age_does_not_fit_the_need_is_listed_not_imported(tmp_path: Path) -> None:
    """children.csv refuses a secure child under 10 and a supported one under 16: the import
    lists such a child (as it does any it cannot place) rather than failing as a whole."""
    (tmp_path / "header.csv").write_text("CHILD,SEX,DOB\nC01,1,01/01/2015\nC02,2,01/01/2012\n")
    episodes = "CHILD,DECOM,LS,PLACE,PLACE_PROVIDER\nC01,01/06/2023,C2,K1,PR1\n"
    episodes += "C02,01/06/2023,C2,U4,PR1\n"
    (tmp_path / "episodes.csv").write_text(episodes)
    result = import_903(tmp_path / "header.csv", tmp_path / "episodes.csv", la="E06000001")
    assert result.problem is not None
    assert list(result.problem.children["child_id"]) == ["C02"]
    (reason,) = result.report.excluded.loc[lambda d: d["child"] == "C01", "reason"]
    assert reason == "age outside the ages of the need (secure is for 10-17)"


def test_year_2025_26_codes(tmp_path: Path) -> None:
    result = import_903(FIXTURES / "y2026", FIXTURES / "y2026", la="805")
    assert result.report.counts["census date"] == "31/03/2026"
    bad = {(i.row, i.message) for i in result.report.errors}
    assert bad == {
        (3, "PLACE 'H5' is not valid in 2025/26 (withdrawn from 2025/26)"),
        (5, "PLACE 'P2' is not valid in 2025/26 (withdrawn from 2025/26)"),
        (6, "PLACE 'Z1' is not valid in 2025/26 (withdrawn from 2025/26)"),
    }
    census = result.census.set_index("child")
    assert census.loc["F01", "setting"] == "other" and census.loc["F01", "status"] == "ok"
    assert census.loc["F03", "setting"] == "supported"


def test_missing_required_column_is_reported(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text("CHILD,DOB\nC1,01/01/2010\n")
    (tmp_path / "episodes.csv").write_text("CHILD,DECOM,LS,PLACE\nC1,01/01/2023,C2,U4\n")
    with pytest.raises(ProblemValidationError) as err:
        read_return(tmp_path / "header.csv", tmp_path / "episodes.csv", la="E06000001")
    found = [(i.file, i.row, i.column) for i in err.value.issues]
    assert ("header.csv", 1, "SEX") in found, found


@pytest.mark.parametrize(
    ("header", "episodes", "expected"),
    [
        ("header.csv", "missing.csv", "missing.csv: file not found"),
        ("episodes.csv", "header.csv", "header.csv row 1, column DECOM: required column"),
        (".", ".", ": no header file: no CSV here has 'header' in its name"),
        ("header.csv", "empty.csv", "empty.csv: cannot read as CSV"),
        ("header.csv", "only_episodes.csv", "only_episodes.csv: no episode rows"),
        ("header.csv", "twice.csv", "twice.csv row 1, column PLACE: column appears 2 times"),
    ],
)
def test_unreadable_files_are_errors_not_tracebacks(
    tmp_path: Path, header: str, episodes: str, expected: str
) -> None:
    """Each raised a KeyError (or ValueError) after the file's problem was found."""
    (tmp_path / "header.csv").write_text((CLEAN / "header.csv").read_text())
    (tmp_path / "episodes.csv").write_text((CLEAN / "episodes.csv").read_text())
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "only_episodes.csv").write_text("CHILD,DECOM,RNE,LS,CIN,PLACE,PL_POST,DEC\n")
    (tmp_path / "twice.csv").write_text(
        "CHILD,DECOM,RNE,LS,CIN,PLACE,PL_POST,DEC,PLACE\nC1,01/01/2023,P,C2,N1,U4,,,K2\n"
    )
    folder = tmp_path / "no_names"
    folder.mkdir()
    (folder / "a.csv").write_text("x\n")
    base = {".": folder}
    with pytest.raises(ProblemValidationError) as err:
        import_903(
            base.get(header, tmp_path / header), base.get(episodes, tmp_path / episodes),
            la="E06000001",
        )  # fmt: skip
    assert any(expected in str(i) for i in err.value.issues), err.value.issues


def test_a_census_date_before_every_episode_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProblemValidationError, match="no child is looked after on 01/01/2000"):
        import_903(
            CLEAN / "header.csv", CLEAN / "episodes.csv", la="E06000001", at=date(2000, 1, 1)
        )


def test_no_responsible_la_is_an_error(tmp_path: Path) -> None:
    ret = read_return(CLEAN / "header.csv", CLEAN / "episodes.csv")
    assert any("no responsible LA" in i.message for i in ret.errors)


# ----------------------------------------------------------------------------- several years / LAs


def test_several_years_and_las_together() -> None:
    result = import_903(FIXTURES / "years", FIXTURES / "years")
    assert result.report.ok
    assert result.report.counts["collection year"] == "2023/24"
    assert result.report.counts["episodes superseded by a later year's return"] == 2
    census = result.census.set_index("child_id")
    # Both LAs use CHILD 'A1', so ids are prefixed by the responsible LA; B1 left in February.
    assert sorted(census.index) == ["E06000001-A1", "E06000002-A1"]
    assert census.loc["E06000001-A1", "place"] == "K2"  # moved in the 2023/24 return
    assert census.loc["E06000002-A1", "place"] == "U4"  # second period of care


def test_earlier_census_from_several_years() -> None:
    result = import_903(FIXTURES / "years", FIXTURES / "years", year=2023)
    census = result.census.set_index("child_id")
    assert sorted(census.index) == ["A1", "B1"]  # Middlesbrough's A1 left on 01/03/2023
    assert census.loc["A1", "place"] == "U4" and census.loc["B1", "setting"] == "foster_ifa"


# ----------------------------------------------------------------------------- supply


def test_todays_placements_become_units(clean: ImportResult) -> None:
    problem = clean.problem
    assert problem is not None
    kids = problem.children.set_index("child_id")
    places = problem.placements.set_index("placement_id")
    assert len(kids) == 11  # and C08, placed in Wales, is listed among the excluded
    unit = places.loc[kids.loc["C02", "current_placement"]]
    assert (unit["setting"], unit["la"], unit["capacity"]) == ("foster_ifa", "E06000002", 1)
    assert unit["weekly_cost"] == DEFAULT_WEEKLY_COST["foster_ifa"]
    assert (unit["easting"], unit["northing"]) == (477000, 570000)
    assert kids.loc["C02", "easting"] == 447000  # the home postcode's point
    excluded = clean.report.excluded.set_index("child")
    assert excluded.loc["C08", "reason"].startswith("placed outside England")
    unknown = places.loc[kids.loc["C09", "current_placement"]]
    assert unknown["la"] == "E06000001"  # location unknown: put in the child's own LA


def test_ofsted_homes_link_by_urn(clean: ImportResult) -> None:
    problem = clean.problem
    assert problem is not None
    kids = problem.children.set_index("child_id")
    assert kids.loc["C03", "current_placement"] == kids.loc["C18", "current_placement"]
    home = problem.placements.set_index("placement_id").loc["URN-SC000001"]
    assert (home["setting"], home["la"], home["capacity"]) == (
        "residential_private",
        "E06000047",
        2,  # its two children from this import: its free places are unknown (one LA)
    )
    assert kids.loc["C06", "current_placement"] == "URN-SC000003"
    supply = clean.ofsted_supply.set_index("urn")  # type: ignore[union-attr]
    assert supply.loc["SC000003", "setting"] == "secure"
    assert set(supply.index) == {"SC000001", "SC000002", "SC000003", "SC000009"}


@pytest.mark.parametrize(("vacancy", "free"), [(0.0, [0, 0]), (0.5, [2, 2]), (1.0, [2, 5])])
def test_ofsted_free_places_of_a_partial_import_are_not_assumed(
    postcodes, vacancy: float, free: list[int]
) -> None:  # type: ignore[no-untyped-def]
    """One council's import offered every place of every home as free but those of its own
    children (548 of 551 nationally), though other councils' children live in them."""
    result = import_903(
        CLEAN / "header.csv", CLEAN / "episodes.csv", la="E06000001", postcodes=postcodes,
        ofsted=read_ofsted_providers(FIXTURES / "ofsted.csv"), ofsted_vacancy=vacancy,
    )  # fmt: skip
    supply = result.ofsted_supply.set_index("urn")  # type: ignore[union-attr]
    # SC000001: 4 places, 2 children of this import; SC000009: 5 places, none of them
    assert supply.loc["SC000001", ["registered_places", "linked_children"]].tolist() == [4, 2]
    assert supply.loc[["SC000001", "SC000009"], "free_places"].tolist() == free
    homes = result.problem.placements.set_index("placement_id")  # type: ignore[union-attr]
    assert homes.loc[["URN-SC000001", "URN-SC000009"], "capacity"].tolist() == [
        2 + free[0],
        free[1],
    ]
    (line,) = [k for k in result.report.counts if str(k).startswith("Ofsted places offered")]
    assert f"{vacancy:.0%} of registered places" in line


def test_a_national_import_offers_registered_places_less_its_children(
    postcodes, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """With a child of every English LA in the census, every home's occupants are known."""
    from geodata.england import load_england

    others = [c for c in load_england().codes if c != "E06000001"]
    for name, extra in (
        ("header.csv", {"CHILD": others, "SEX": "1", "DOB": "01/01/2012"}),
        ("episodes.csv", {"CHILD": others, "DECOM": "01/06/2022", "LS": "C2", "PLACE": "P1"}),
    ):
        own = pd.read_csv(CLEAN / name, dtype=str, keep_default_na=False).assign(LA="E06000001")
        rows = pd.DataFrame(extra).assign(LA=others)
        pd.concat([own, rows]).fillna("").to_csv(tmp_path / name, index=False)
    result = import_903(
        tmp_path / "header.csv", tmp_path / "episodes.csv", postcodes=postcodes,
        ofsted=read_ofsted_providers(FIXTURES / "ofsted.csv"),
    )  # fmt: skip
    supply = result.ofsted_supply.set_index("urn")  # type: ignore[union-attr]
    assert supply.loc[["SC000001", "SC000009"], "free_places"].tolist() == [2, 5]


def test_rcc_lookup_limits_the_problem(postcodes) -> None:  # type: ignore[no-untyped-def]
    lookup = {"E06000001": "Tees", "E06000002": "Tees", "E06000047": "Tees"}
    result = import_903(
        CLEAN / "header.csv",
        CLEAN / "episodes.csv",
        la="E06000001",
        postcodes=postcodes,
        ofsted=read_ofsted_providers(FIXTURES / "ofsted.csv"),
        rccs=lookup,
    )
    problem = result.problem
    assert problem is not None
    kids = problem.children.set_index("child_id")
    places = problem.placements.set_index("placement_id")
    # Leeds and the Lancashire secure home are outside the lookup: their occupants keep a
    # one-place unit there, in an RCC of its own, so today's practice has them out of RCC.
    for child, la in (("C05", "E08000035"), ("C06", "E10000017")):
        unit = places.loc[kids.loc[child, "current_placement"]]
        assert (unit["la"], unit["capacity"]) == (la, 1)
        assert problem.rcc_of[la] == OUTSIDE_LOOKUP
    assert {la for la, rcc in problem.rcc_of.items() if rcc != OUTSIDE_LOOKUP} == set(lookup)
    assert len(kids) == 11  # every child still there but C08, placed in Wales
    assert result.report.counts["Ofsted homes outside the RCC lookup (not added)"] == 2


def test_more_children_than_registered_places_and_type_mismatch(tmp_path: Path) -> None:
    header = tmp_path / "header.csv"
    header.write_text("CHILD,SEX,DOB\n" + "".join(f"K{i},1,01/01/2010\n" for i in range(6)))
    episodes = tmp_path / "episodes.csv"
    rows = [f"K{i},01/01/2024,C2,K2,PR4,SC000001\n" for i in range(5)]
    rows.append("K5,01/01/2024,C2,K2,PR4,SC000003\n")  # a secure home, says Ofsted
    episodes.write_text("CHILD,DECOM,LS,PLACE,PLACE_PROVIDER,URN\n" + "".join(rows))
    result = import_903(
        header,
        episodes,
        la="E06000001",
        ofsted=read_ofsted_providers(FIXTURES / "ofsted.csv"),
    )
    problem = result.problem
    assert problem is not None
    home = problem.placements.set_index("placement_id").loc["URN-SC000001"]
    assert home["capacity"] == 5  # 4 registered places, 5 children living there
    found = {(i.file, i.row, i.column): i.message for i in result.report.warnings}
    assert "capacity raised to 5" in found[("ofsted.csv", 2, "places")]
    assert "differ" in found[("episodes.csv", 7, "URN")]
    supply = result.ofsted_supply.set_index("urn")  # type: ignore[union-attr]
    assert supply.loc["SC000001", "free_places"] == 0


def test_postcode_lookup_columns_are_configurable(tmp_path: Path) -> None:
    path = tmp_path / "lookup.csv"
    path.write_text("Post Code,East,North,UTLA\nts1 1aa,447000,530000,E06000001\n")
    lookup = read_postcodes(
        path,
        columns={"postcode": "Post Code", "easting": "East", "northing": "North", "la": "UTLA"},
    )
    assert lookup.frame.loc["TS11AA"].tolist() == [447000, 530000, "E06000001"]
    with pytest.raises(ProblemValidationError) as caught:
        read_postcodes(path)
    assert {i.column for i in caught.value.issues} == {"postcode"}  # "East" etc. are known


def test_todays_practice_reproduces_the_imported_placements(postcodes) -> None:  # type: ignore[no-untyped-def]
    """Children placed outside the RCC lookup had no current placement, so `rcc solve`'s
    today's practice simulated one for them (placed inside the RCC): its out-of-LA and
    out-of-RCC counts were not the import's."""
    from optimiser.baseline import simulate_baseline

    lookup = {"E06000001": "Tees", "E06000002": "Tees", "E06000047": "Tees"}
    result = import_903(
        CLEAN / "header.csv", CLEAN / "episodes.csv", la="E06000001", postcodes=postcodes,
        rccs=lookup,
    )  # fmt: skip
    assert result.problem is not None
    today = simulate_baseline(result.problem).assignments.set_index("child_id")
    census = result.census.set_index("child_id").loc[today.index]
    known = census["location"] != "unknown"
    assert today["placement_la"][known].tolist() == census["placement_la"][known].tolist()
    assert today["out_of_la"][known].tolist() == (census["location"][known] == "outside").tolist()
    out_of_rcc = census["placement_la"].map(lookup).fillna("elsewhere") != "Tees"
    assert today["out_of_rcc"][known].tolist() == out_of_rcc[known].tolist()
    assert out_of_rcc[known].sum() == 2  # Leeds and the Lancashire secure home
    counts = {k.split(" (")[0]: v for k, v in result.report.counts.items()}
    assert counts["children placed in LAs outside the RCC lookup"] == 2
    assert counts["children whose placement location is unknown"] == (~known).sum() == 1  # C09


@pytest.mark.parametrize(
    "decom", ["31/02/2023", "03/15/2023", "45000", "2023-03-15T00:00:00", "01/01/23", "01/04/2024"]
)
def test_a_child_whose_open_episode_has_a_bad_decom_is_counted_with_an_error(
    tmp_path: Path, decom: str
) -> None:
    """The child vanished from the census (an unreadable or too-late DECOM is never on or before
    the census date), so it was neither counted nor listed among the excluded children."""
    (tmp_path / "header.csv").write_text("CHILD,SEX,DOB\nA1,1,01/01/2012\nB1,2,01/01/2012\n")
    episodes = "CHILD,DECOM,LS,PLACE,PLACE_PROVIDER\nA1,01/06/2022,C2,U4,PR1\n"
    (tmp_path / "episodes.csv").write_text(episodes + f"B1,{decom},C2,U4,PR1\n")
    result = import_903(tmp_path / "header.csv", tmp_path / "episodes.csv", la="E06000001")
    assert _row(result, "B1")["status"] == "error"
    assert list(result.report.excluded["child"]) == ["B1"]
    assert (
        result.report.counts["children looked after on the census date (short breaks excluded)"]
        == 2
    )
    assert result.report.counts["children with errors"] == 1


def test_the_report_counts_add_up_to_the_children_in_the_header(clean: ImportResult) -> None:
    """The report had 5 header rows and 4 children looked after with no line for the child who
    had left care, so its counts did not add up."""
    counts = clean.report.counts
    assert counts["header rows"] == (
        counts["children looked after on the census date (short breaks excluded)"]
        - counts["of which with episodes but no header row"]
        + counts["short breaks on the census date (excluded as by the DfE)"]
        + counts["children in the header not looked after on the census date"]
    )
    assert counts["children in the header not looked after on the census date"] == 2  # C17, C21


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "lookup.csv: cannot read as CSV: the file is empty"),
        (b"PK\x03\x04\x14\x00\xff\xfe binary", "lookup.csv: is an Excel workbook"),
        (
            b'pcds,oseast1m,osnrth1m,oslaua\n"TS1 1AA,447000\n',
            'lookup.csv row 2: a quoted value (")',
        ),
        (  # pandas renamed the second "pcds.1" and the first was used without a word
            b"pcds,oseast1m,osnrth1m,oslaua,PCDS \nTS1 1AA,447000,530000,E06000001,TS2 2AA\n",
            "lookup.csv row 1, column pcds: column appears 2 times in the header (columns 1, 5)",
        ),
    ],
)
def test_an_unreadable_postcode_lookup_is_one_error_naming_it(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    """An empty, binary or ragged lookup raised a pandas traceback."""
    path = tmp_path / "lookup.csv"
    path.write_bytes(content)
    with pytest.raises(ProblemValidationError) as caught:
        read_postcodes(path)
    (issue,) = caught.value.issues
    assert str(issue).startswith(expected), str(issue)


def test_a_windows_1252_postcode_lookup_reads(tmp_path: Path) -> None:
    """Excel's plain CSV (Windows-1252, a 'é' in a name) raised UnicodeDecodeError."""
    path = tmp_path / "lookup.csv"
    path.write_bytes(
        "pcds,oseast1m,osnrth1m,oslaua,name\nTS1 1AA,447000,530000,E06000001,Café\n".encode(
            "cp1252"
        )
    )
    assert read_postcodes(path).frame.loc["TS11AA", "la"] == "E06000001"


def test_an_nspl_lookup_gives_the_county_not_the_district(tmp_path: Path) -> None:
    """The NSPL's county column `cty` was not read: a Lancashire child placed in Burnley got the
    district E07000117 and was called placed outside England."""
    path = tmp_path / "nspl.csv"
    path.write_text(
        "pcds,oseast1m,osnrth1m,cty,laua\n"
        "BB1 1AA,368000,428000,E10000017,E07000117\n"
        "TS1 1AA,447000,530000,E99999999,E06000001\n"
    )
    assert read_postcodes(path).frame["la"].tolist() == ["E10000017", "E06000001"]
    path.write_text("postcode,easting,northing,lad\nBB1 1AA,368000,428000,E07000117\n")
    with pytest.raises(ProblemValidationError) as caught:
        read_postcodes(path)
    (issue,) = caught.value.issues
    assert (issue.file, issue.column) == ("nspl.csv", "lad")
    assert "lower-tier district codes" in issue.message


@pytest.mark.parametrize(("sep", "name"), [("\t", "tabs"), (";", "semicolons")])
def test_tab_or_semicolon_separated_returns_read_with_a_warning(
    tmp_path: Path, sep: str, name: str
) -> None:
    """Every required column was reported missing: the file was read as one column."""
    for file in ("header.csv", "episodes.csv"):
        text = (CLEAN / file).read_text().replace(",", sep)
        (tmp_path / file).write_text(text)
    result = import_903(tmp_path / "header.csv", tmp_path / "episodes.csv", la="E06000001")
    assert result.report.ok
    assert len(result.census) == 18
    found = {(i.file, i.row): i.message for i in result.report.warnings}
    assert found[("header.csv", 1)] == f"columns are separated by {name}, not commas: read as such"


def test_episodes_without_a_place_provider_column_are_warned_of(tmp_path: Path) -> None:
    """Without the column an IFA foster child was classed in-house with no warning."""
    (tmp_path / "header.csv").write_text("CHILD,SEX,DOB\nA1,1,01/01/2012\n")
    (tmp_path / "episodes.csv").write_text("CHILD,DECOM,LS,PLACE\nA1,01/06/2022,C2,U4\n")
    result = import_903(tmp_path / "header.csv", tmp_path / "episodes.csv", la="E06000001")
    assert _row(result, "A1")["setting"] == "foster_inhouse"
    (warning,) = [w for w in result.report.warnings if w.column == "PLACE_PROVIDER"]
    assert (warning.file, warning.row) == ("episodes.csv", 1)
    assert "foster care is taken as in-house" in warning.message


def test_errors_never_repeat_a_date_or_a_postcode(tmp_path: Path) -> None:
    """A shifted row printed a date of birth ("SEX '15/05/2012' is not 1 or 2") and a home
    postcode ("'TS11AA' is not a valid REC code") into the report and the terminal."""
    (tmp_path / "header.csv").write_text(
        "CHILD,SEX,DOB\nA1,15/05/2012,1\nA2,45000,01/01/2012\nA3,3,01/01/2012\n"
    )
    (tmp_path / "episodes.csv").write_text(
        "CHILD,DECOM,LS,PLACE,PLACE_PROVIDER,REC\n"
        "A1,01/06/2022,C2,U4,PR1,TS1 1AA\nA2,01/06/2022,C2,U4,PR1,\nA3,01/06/2022,C2,U4,PR1,\n"
    )
    result = import_903(tmp_path / "header.csv", tmp_path / "episodes.csv", la="E06000001")
    text = result.report.to_text()
    for secret in ("15/05/2012", "45000", "TS1 1AA", "TS11AA"):
        assert secret not in text
    found = _messages([*result.report.errors, *result.report.warnings], "header.csv")
    assert found[(2, "SEX")] == "SEX '(a date, not repeated here)' is not 1 or 2"
    assert found[(4, "SEX")] == "SEX '3' is not 1 or 2"  # a code is still quoted
    rec = _messages(result.report.warnings, "episodes.csv")[(2, "REC")]
    assert rec == "'(a postcode, not repeated here)' is not a valid REC code in 2023/24"


def test_a_census_date_after_the_return_is_an_error() -> None:
    """A census on 30/06/2024 from the 2023/24 return was accepted silently, though the return
    cannot know who left care or came into it after 31 March."""
    with pytest.raises(ProblemValidationError) as caught:
        import_903(
            CLEAN / "header.csv", CLEAN / "episodes.csv", la="E06000001", at=date(2024, 6, 30)
        )
    assert str(caught.value.issues[-1]) == (
        "--census-date: census date 30/06/2024 is after 31/03/2024, the end of the 2023/24 "
        "return: give a date within it or a later year's return"
    )


@pytest.mark.parametrize(
    ("name", "year", "expected"),
    [
        ("903_episodes_export_2024-05-10.csv", None, 2024),  # a date is no year: the default
        ("903_episodes_export_2024-05-10.csv", 2025, 2025),
        ("episodes_2023-24.csv", 2025, 2025),  # the explicit year wins over the name
        ("episodes_202425.csv", None, 2025),
        ("episodes_2024_25.csv", None, 2025),
    ],
)
def test_collection_year_from_names_and_year(
    tmp_path: Path, name: str, year: int | None, expected: int
) -> None:
    """A date in a file name became its collection year, and --year could not override a year
    in a name: codes were checked against one year and the census taken in another."""
    (tmp_path / "header.csv").write_text("CHILD,SEX,DOB\nA1,1,01/01/2012\n")
    (tmp_path / name).write_text("CHILD,DECOM,LS,PLACE,PLACE_PROVIDER\nA1,01/06/2022,C2,U4,PR1\n")
    ret = read_return(tmp_path / "header.csv", tmp_path / name, year=year, la="E06000001")
    assert ret.year == expected
    assert set(ret.episodes["_year"]) == {expected}


def test_rows_keep_their_numbers_after_blank_lines_and_values_never_span_lines(
    tmp_path: Path,
) -> None:
    """Blank lines were dropped before numbering (the PLACE error below was reported at row 4),
    and two stray quotes made the rows between them one value."""
    lines = (CLEAN / "episodes.csv").read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace(",U6,", ",X9,")  # C02, row 3 without blank lines
    (tmp_path / "header.csv").write_text((CLEAN / "header.csv").read_text())
    (tmp_path / "episodes.csv").write_text("".join([lines[0], "\n", lines[1], "\n", *lines[2:]]))
    result = import_903(tmp_path / "header.csv", tmp_path / "episodes.csv", la="E06000001")
    assert _messages(result.report.errors, "episodes.csv") == {
        (5, "PLACE"): "unknown PLACE code 'X9' for 2023/24"
    }
    lines[2] = lines[2].replace(",TS1 1AA,", ',"TS1 1AA,')
    lines[5] = lines[5].replace(",TS1 1AA,", ',TS1 1AA",')
    (tmp_path / "episodes.csv").write_text("".join(lines))
    with pytest.raises(ProblemValidationError) as caught:
        import_903(tmp_path / "header.csv", tmp_path / "episodes.csv", la="E06000001")
    (issue,) = caught.value.issues
    assert str(issue).startswith(
        "episodes.csv row 3, column HOME_POST: a value runs over lines 3-6, and no value holds"
    ), str(issue)
    (tmp_path / "lookup.csv").mkdir()  # "cannot open: Is a directory"
    with pytest.raises(ProblemValidationError, match=r"lookup.csv: is a folder, not a file"):
        read_postcodes(tmp_path / "lookup.csv")
