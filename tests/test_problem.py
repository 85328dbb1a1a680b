"""The embedded England, and the typed problem's validation: every kind of input error is
reported at once, naming its file, row and column."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from geodata.adjacency import adjacency_graph, components, is_contiguous
from geodata.england import UnknownLAError, load_england
from geodata.rcc import default_lookup, preset_groups
from optimiser.errors import InputIssue, ProblemValidationError
from optimiser.problem import (
    Policy,
    default_substitutions,
    read_csv_table,
    read_policy,
    read_problem,
    validate_problem_frames,
    write_problem,
)

# ----------------------------------------------------------------------------- England


def test_england_has_153_las_and_looks_them_up() -> None:
    england = load_england()
    assert len(england) == 153
    assert england.by_code("E08000003").name == "Manchester"
    assert england.by_name("  manchester ").code == "E08000003"
    assert len(england.regions()) == 9
    assert sum(la.cla_31mar2024 for la in england.las) == 83_529
    assert len(england.region_members("E12000008")) == 19  # South East


def test_unknown_codes_and_names_suggest_near_misses() -> None:
    england = load_england()
    with pytest.raises(UnknownLAError, match=r"E08000003 \(Manchester\)"):
        england.check_code("E0800003")
    with pytest.raises(UnknownLAError, match="Manchester"):
        england.by_name("Manchster")
    with pytest.raises(UnknownLAError, match="not one of the 153"):
        england.check_code("X99")
    # reorganised and recoded LAs are named, not matched to near spellings
    with pytest.raises(UnknownLAError, match=r"Buckinghamshire.*2020: Buckinghamshire \(E06000"):
        england.check_code("E10000002")
    with pytest.raises(UnknownLAError, match=r"2025 code; .* E08000016 \(Barnsley\)"):
        england.check_code("E08000038")


def test_an_la_missing_from_the_lookup_is_one_problem_naming_the_rows_that_use_it(
    tmp_path: Path,
) -> None:
    kids = CHILDREN + "".join(f"C{i},E08000001,foster,7,F,,\n" for i in range(3, 12))
    kids += "C12,E08000003,foster,7,F,,\nC13,E08000001,foster,7,F,,\n"
    folder = write(tmp_path, kids)
    (folder / "rccs.csv").write_text("la_code,rcc\nE08000003,GM\n")
    assert issues_of(folder) == [
        "rccs.csv, column la_code: LA 'E08000001' (Bolton) is in no RCC, but used by "
        "children.csv in 10 rows (4-12, 14), placements.csv in 1 row (3): add it to one"
    ]


def test_a_file_that_cannot_be_read_leaves_the_others_checked(tmp_path: Path) -> None:
    folder = write(tmp_path, "", PLACEMENTS.replace(",2,600,", ",-2,600,"))
    found = issues_of(folder)
    assert found[0].startswith("children.csv: cannot read as CSV")
    assert found[1:] == ["placements.csv row 2, column capacity: -2 is below 0"]


def test_a_las_csv_may_override_only_some_las(tmp_path: Path) -> None:
    """An LA missing from las.csv keeps the embedded point (every row of it was 'not in the
    RCC lookup (rccs.csv)', though it was)."""
    folder = write(tmp_path)
    (folder / "las.csv").write_text(
        "code,name,region_code,region_name,easting,northing\n"
        "E08000001,Bolton,E12000002,North West,370000,409000\n"
    )
    p = read_problem(folder)
    las = p.las.set_index("code")
    assert las.loc["E08000001", "easting"] == 370000
    assert las.loc["E08000003", "name"] == "Manchester"


def test_adjacency_joins_the_islands_only_when_asked() -> None:
    codes = load_england().codes
    land = adjacency_graph(codes, water=False, islands=False)
    assert land["E06000053"] == frozenset()  # Isles of Scilly
    assert land["E06000046"] == frozenset()  # Isle of Wight
    assert len(components(codes, land)) > 1
    full = adjacency_graph(codes)
    assert "E06000052" in full["E06000053"] and "E10000014" in full["E06000046"]
    assert is_contiguous(codes, full)


def test_pathfinder_presets_and_default_lookup() -> None:
    name, gm = preset_groups("gm")
    assert name == "North West: Greater Manchester" and len(gm) == 10
    assert len(preset_groups("south-east")[1]) == 19
    lookup = default_lookup()
    assert len(lookup) == 153 and lookup["E08000003"] == name
    with pytest.raises(ValueError, match="unknown RCC preset"):
        preset_groups("midlands")


# ----------------------------------------------------------------------------- problem files

CHILDREN = """child_id,home_la,need,age,sex,sibling_group,current_placement
C1,E08000003,foster,7,F,,
C2,E08000003,residential,14,M,,P2
"""
PLACEMENTS = """placement_id,setting,la,capacity,weekly_cost,min_age,max_age,sexes
P1,foster_inhouse,E08000003,2,600,0,17,any
P2,residential_private,E08000001,3,6000,10,17,any
"""
RCCS = "la_code,rcc\nE08000003,GM\nE08000001,GM\n"


def write(folder: Path, children: str = CHILDREN, placements: str = PLACEMENTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "children.csv").write_text(children, encoding="utf-8")
    (folder / "placements.csv").write_text(placements, encoding="utf-8")
    (folder / "rccs.csv").write_text(RCCS, encoding="utf-8")
    return folder


def issues_of(folder: Path) -> list[str]:
    with pytest.raises(ProblemValidationError) as err:
        read_problem(folder)
    return [str(i) for i in err.value.issues]


def test_a_valid_folder_reads_with_defaults_filled(tmp_path: Path) -> None:
    p = read_problem(write(tmp_path))
    assert list(p.children["child_id"]) == ["C1", "C2"]
    manchester = p.las.set_index("code").loc["E08000003"]
    assert p.children.loc[0, "easting"] == manchester["easting"]  # home point defaults
    assert p.placements["capacity"].tolist() == [2, 3]
    assert p.rcc_of == {"E08000003": "GM", "E08000001": "GM"}


def test_round_trip_through_write_problem(tmp_path: Path) -> None:
    p = read_problem(write(tmp_path / "a"))
    write_problem(p, tmp_path / "b")
    q = read_problem(tmp_path / "b")
    pd.testing.assert_frame_equal(p.children, q.children)
    pd.testing.assert_frame_equal(p.placements, q.placements)
    assert q.policy == p.policy


@pytest.mark.parametrize(
    ("file", "bad", "expected"),
    [
        (
            "children",
            ("C2,E08000003", "C1,E08000003"),
            "children.csv row 3, column child_id: duplicate id 'C1' (first seen in row 2)",
        ),
        (
            "children",
            ("C1,E08000003", "C1,E08000099"),
            "children.csv row 2, column home_la: 'E08000099' is not one of the 153",
        ),
        ("children", ("foster,7", "fostering,7"), "children.csv row 2, column need: unknown need"),
        ("children", ("foster,7", "foster,18"), "children.csv row 2, column age: 18 is above 17"),
        (
            "children",
            ("foster,7", "foster,seven"),
            "children.csv row 2, column age: 'seven' is not a whole number",
        ),
        ("children", ("7,F", "7,X"), "children.csv row 2, column sex: unknown sex 'X'"),
        (
            "children",
            (",P2", ",P9"),
            "children.csv row 3, column current_placement: placement 'P9' does not exist",
        ),
        ("placements", ("P2,", "P1,"), "placements.csv row 3, column placement_id: duplicate id"),
        ("placements", ("2,600", "-2,600"), "placements.csv row 2, column capacity: -2 is below 0"),
        (
            "placements",
            ("2,600", "2,-600"),
            "placements.csv row 2, column weekly_cost: -600 is negative",
        ),
        (
            "placements",
            ("2,600", "2,£600"),
            "placements.csv row 2, column weekly_cost: '£600' is not a number",
        ),
        ("placements", ("2,600", "2,inf"), "row 2, column weekly_cost: 'inf' is not a number"),
        ("placements", ("2,600", "inf,600"), "row 2, column capacity: 'inf' is not a whole number"),
        ("placements", ("2,600", "1e20,600"), "row 2, column capacity: 1e20 is above 10000"),
        # float() read these as 10, 2, 900, 600 and 7: nothing is coerced
        ("placements", ("2,600", "1_0,600"), "row 2, column capacity: '1_0' is not a whole"),
        ("placements", ("2,600", "２,600"), "row 2, column capacity: '２' is not a whole number"),
        ("placements", ("2,600", "٩٠٠,600"), "row 2, column capacity: '٩٠٠' is not a whole"),
        ("placements", ("2,600", "2,6_00"), "row 2, column weekly_cost: '6_00' is not a number"),
        (
            "children",
            ("foster,7", "foster,٧"),
            "children.csv row 2, column age: '٧' is not a whole",
        ),
        (
            "placements",
            ("foster_inhouse", "foster_home"),
            "placements.csv row 2, column setting: unknown setting 'foster_home'",
        ),
        (
            "placements",
            ("3,6000,10,17", "3,6000,16,12"),
            "placements.csv row 3, column min_age: min_age 16 is above max_age",
        ),
        (
            "placements",
            ("0,17,any\nP2", "0,17,all\nP2"),
            "placements.csv row 2, column sexes: unknown sexes 'all'",
        ),
        (
            "placements",
            ("P2,residential_private,E08000001", "P2,residential_private,E08000010"),
            "rccs.csv, column la_code: LA 'E08000010' (Wigan) is in no RCC, but used by "
            "placements.csv in 1 row (3): add it to one",
        ),
    ],
)
def test_each_error_names_file_row_and_column(
    tmp_path: Path, file: str, bad: tuple[str, str], expected: str
) -> None:
    children, placements = CHILDREN, PLACEMENTS
    if file == "children":
        assert bad[0] in children
        children = children.replace(bad[0], bad[1], 1)
    else:
        assert bad[0] in placements
        placements = placements.replace(bad[0], bad[1], 1)
    found = issues_of(write(tmp_path, children, placements))
    assert any(expected in line for line in found), found


@pytest.mark.parametrize(
    ("easting", "northing", "column"),
    [("45002000", "400000", "easting"), ("-450017", "400000", "easting"), ("-2.24", "53.48", "")],
)
def test_points_outside_england_on_the_grid_are_errors(
    tmp_path: Path, easting: str, northing: str, column: str
) -> None:
    """A digit too many, a sign or a pasted latitude and longitude would have placed a child
    hundreds of miles away (and 1e300 crashed the solver)."""
    children = CHILDREN.replace("current_placement\n", "current_placement,easting,northing\n")
    children = children.replace(",,\nC2", f",,,{easting},{northing}\nC2").replace(
        ",P2\n", ",P2,,\n"
    )
    found = issues_of(write(tmp_path, children))
    assert all("children.csv row 2, column " in line for line in found), found
    assert all("outside England on the British National Grid" in line for line in found)
    assert any(f"column {column or 'northing'}: " in line for line in found)


def test_frames_in_memory_with_none_beside_a_bad_number(tmp_path: Path) -> None:
    """Frames built in code (not read from text) may hold None: reported with the bad number
    beside it, not raised as a TypeError."""
    p = read_problem(write(tmp_path))
    kids = p.children.astype(object)
    kids["easting"] = [None, "x"]
    with pytest.raises(ProblemValidationError) as err:
        validate_problem_frames(kids, p.placements.astype(object), p.las)
    assert [str(i) for i in err.value.issues] == [
        "children.csv row 2, column easting: 'None' is not a number",
        "children.csv row 3, column easting: 'x' is not a number",
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    children = CHILDREN.replace("foster,7,F", "fostr,19,Q")
    placements = PLACEMENTS.replace("2,600,0,17", "-1,-5,0,17")
    found = issues_of(write(tmp_path, children, placements))
    columns = {line.split("column ")[1].split(":")[0] for line in found}
    assert {"need", "age", "sex", "capacity", "weekly_cost"} <= columns


def test_missing_columns_files_and_rcc_lookup_problems(tmp_path: Path) -> None:
    folder = write(tmp_path, children=CHILDREN.replace(",sex,", ",gender,"))
    assert any(
        "children.csv row 1, column sex: required column is missing" in i for i in issues_of(folder)
    )
    (folder / "placements.csv").unlink()
    assert any("file not found" in i for i in issues_of(folder))
    folder = write(tmp_path / "b")
    (folder / "rccs.csv").write_text("la_code,rcc\nE08000003,GM\nE08000003,GM\nE99,X\n")
    found = issues_of(folder)
    assert any("rccs.csv row 3, column la_code: duplicate id" in i for i in found)
    assert any("rccs.csv row 4, column la_code: 'E99' is not one of the 153" in i for i in found)
    assert any("LA 'E08000001' (Bolton) is in no RCC, but used by placements" in i for i in found)
    # a header slip in rccs.csv is its own two problems, not one more per row of the others
    (folder / "rccs.csv").write_text("LA code,RCC name\nE08000003,GM\n")
    found = issues_of(folder)
    assert len(found) == 2 and all("rccs.csv row 1" in i for i in found), found


def test_policy_file_any_key_optional_and_errors_named(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"out_of_la": 50, "substitutions": {"secure": {"secure": 0}}}))
    policy = read_policy(path)
    assert policy.out_of_la == 50 and policy.distance_per_mile == Policy().distance_per_mile
    assert policy.substitutions["secure"] == {"secure": 0.0}
    # a need left out keeps its default table (all foster children were unplaced before)
    assert policy.substitutions["foster"] == default_substitutions()["foster"]
    path.write_text(json.dumps({"out_of_la": -1, "speed": 3, "substitutions": {"x": {}}}))
    with pytest.raises(ProblemValidationError) as err:
        read_policy(path)
    text = str(err.value)
    assert "policy.json, column out_of_la: must be a number >= 0" in text
    assert "column speed: unknown key" in text and "unknown need 'x'" in text
    bad = (
        '{"move": 1e999999, "out_of_rcc": 10000000000000000000000000000000000000000000' + "0" * 400
    )
    bad += ', "substitutions": {"secure": {"secure": NaN}, "residential": {"secure": Infinity}}}'
    path.write_text(bad)
    with pytest.raises(ProblemValidationError) as err:
        read_policy(path)
    text = str(err.value)
    assert "column move: must be finite" in text and "column out_of_rcc: " in text
    assert "secure->secure: must be finite" in text and "residential->secure: must be" in text


def test_policy_in_windows_encodings(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_bytes(b'\xef\xbb\xbf{"out_of_la": 250}')  # UTF-8 with a byte order mark
    assert read_policy(path).out_of_la == 250
    path.write_bytes(b'{"out_of_la": 250, "note": "\xa3300"}')  # Windows-1252 pound sign
    with pytest.raises(ProblemValidationError, match=r"policy.json: not UTF-8 text"):
        read_policy(path)
    path.write_text('{"out_of_la": 250,}')
    with pytest.raises(ProblemValidationError, match=r"not valid JSON: .* line 1, column 19"):
        read_policy(path)


def test_policy_updated_changes_only_the_needs_given() -> None:
    """Scenario weights and API policies change a base policy: a need's table they leave out
    stays the base's, not the default and not empty."""
    base = Policy.from_json({"substitutions": {"foster": {"foster_ifa": 7}}})
    new = base.updated({"out_of_la": 1, "substitutions": {"secure": {"secure": 3}}}, source="x")
    assert new.out_of_la == 1 and new.move == base.move
    assert new.substitutions["foster"] == {"foster_ifa": 7.0}
    assert new.substitutions["secure"] == {"secure": 3.0}
    assert new.substitutions["supported"] == default_substitutions()["supported"]


def test_excel_csvs_get_a_hint_not_a_byte_offset(tmp_path: Path) -> None:
    """A semicolon-separated file reported its columns missing though they were there, and
    Windows-1252 text a byte position."""
    folder = write(tmp_path, children=CHILDREN.replace(",", ";"))
    found = issues_of(folder)
    assert any("children.csv row 1: columns are separated by semicolons" in i for i in found)
    (folder / "children.csv").write_text(CHILDREN)
    (folder / "placements.csv").write_bytes(PLACEMENTS.replace("P2,", "P2 \xa3,").encode("cp1252"))
    found = issues_of(folder)
    assert any("placements.csv row 3: not UTF-8 text" in i and "CSV UTF-8" in i for i in found)


def test_a_misspelt_column_is_an_error_not_ignored(tmp_path: Path) -> None:
    """'sibling group' and 'eastings' were ignored: siblings, current placements and home points
    silently lost."""
    children = CHILDREN.replace(
        "sibling_group,current_placement", "sibling group,current placement"
    )
    placements = PLACEMENTS.replace(",sexes", ",sexes,ofsted").replace(",any\n", ",any,Good\n")
    found = issues_of(write(tmp_path, children, placements))
    assert (
        "children.csv row 1, column sibling group: unknown column; did you mean 'sibling_group'? "
        "accepted columns: child_id, home_la, need, age, sex, sibling_group, current_placement, "
        "easting, northing" in found
    )
    assert any(
        "column current placement: unknown column; did you mean 'current_pl" in i for i in found
    )
    assert any(
        "placements.csv row 1, column ofsted: unknown column; did you mean" in i for i in found
    )
    folder = write(tmp_path / "b", CHILDREN.replace(",sex,", ",sex,note,").replace(",F,", ",F,x,"))
    folder.joinpath("children.csv").write_text(
        CHILDREN.replace(",sex,", ",sex,note,").replace(",F,", ",F,x,").replace(",M,", ",M,y,")
    )
    found = issues_of(folder)
    assert found == [
        "children.csv row 1, column note: unknown column; accepted columns: child_id, home_la, "
        "need, age, sex, sibling_group, current_placement, easting, northing"
    ]


def test_a_home_point_needs_both_coordinates(tmp_path: Path) -> None:
    """An easting without a northing was joined to the home LA's northing."""
    children = CHILDREN.replace("current_placement\n", "current_placement,easting,northing\n")
    children = children.replace(",,\nC2", ",,,450000,\nC2").replace(",P2\n", ",P2,,530000\n")
    found = issues_of(write(tmp_path, children))
    assert sorted(found) == [
        "children.csv row 2, column northing: northing is empty but easting is given: give "
        "both, or neither for the home LA's point",
        "children.csv row 3, column easting: easting is empty but northing is given: give "
        "both, or neither for the home LA's point",
    ]
    placements = PLACEMENTS.replace(",sexes\n", ",sexes,northing\n").replace(",any\n", ",any,\n")
    placements = placements.replace(",any,\nP2", ",any,400000\nP2")
    found = issues_of(write(tmp_path / "b", placements=placements))
    assert found == [
        "placements.csv row 2, column easting: easting is empty but northing is given: give "
        "both, or neither for the LA's point"
    ]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"unplaced": 1e15}, "column unplaced: 1,000,000,000,000,000 is above the limit of 10,0"),
        ({"distance_per_mile": 1e14}, "column distance_per_mile: 100,000,000,000,000 is above"),
        ({"substitutions": {"foster": {"foster_ifa": 2e7}}}, "foster->foster_ifa: 20,000,000 is"),
    ],
)
def test_money_too_large_for_integer_costs_is_an_error(
    tmp_path: Path, policy: dict[str, object], expected: str
) -> None:
    """1e15 unplaced overflowed int64 costs (a traceback) and a weekly cost of 1e16 made the
    objective negative; the limits leave 3 million children's objective inside int64."""
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    with pytest.raises(ProblemValidationError, match=expected):
        read_policy(path)
    assert Policy.from_json({"unplaced": 1e7, "distance_per_mile": 1e5, "max_miles": 1e9})
    found = issues_of(write(tmp_path / "p", placements=PLACEMENTS.replace("2,600", "2,1e16")))
    assert found == [
        "placements.csv row 2, column weekly_cost: 1e16 is above the limit of 10,000,000"
    ]


@pytest.mark.parametrize(
    ("file", "header", "expected"),
    [
        ("children", ("sex,", "sex,age,"), "children.csv row 1, column age: column appears 2 "),
        ("placements", ("la,", "la,LA ,"), "placements.csv row 1, column la: column appears 2 "),
    ],
)
def test_a_column_named_twice_is_an_error(
    tmp_path: Path, file: str, header: tuple[str, str], expected: str
) -> None:
    """pandas renamed the second 'la' 'la.1' and the first was used without a word."""
    text = CHILDREN if file == "children" else PLACEMENTS
    lines = text.splitlines(keepends=True)
    lines[0] = lines[0].replace(*header, 1)
    lines[1:] = [line.replace(",", ",5,", 1) for line in lines[1:]]  # a cell for the column
    text = "".join(lines)
    folder = write(tmp_path, **{file: text})  # type: ignore[arg-type]
    found = issues_of(folder)
    assert any(i.startswith(expected) and "keep one" in i for i in found), found


def test_a_need_must_fit_the_age(tmp_path: Path) -> None:
    """A supported child aged 3 and a secure child aged 2 were accepted (forecasts refused them)."""
    children = CHILDREN.replace("foster,7,F", "supported,3,F").replace("residential,14", "secure,2")
    found = issues_of(write(tmp_path, children))
    assert sorted(found) == [
        "children.csv row 2, column age: a supported child aged 3: supported is for children "
        "aged 16-17",
        "children.csv row 3, column age: a secure child aged 2: secure is for children aged 10-17",
    ]
    children = CHILDREN.replace("foster,7,F", "supported,16,F").replace(
        "residential,14", "secure,10"
    )
    assert len(read_problem(write(tmp_path / "b", children)).children) == 2


def test_an_unclosed_quote_is_named_at_its_spreadsheet_row(tmp_path: Path) -> None:
    """pandas says "EOF inside string starting at row 2" (counting from 0 with the header):
    the issue was file-wide, quoting pandas; it is row 3, in words a user acts on."""
    path = tmp_path / "children.csv"
    path.write_text(
        'child_id,home_la,need,age,sex\nC0,E06000001,foster,9,F\n"C1,E06000001,foster,9,F\n'
        "C2,E06000001,foster,9,F\n",
        encoding="utf-8",
    )
    issues: list[InputIssue] = []
    assert read_csv_table(path, issues) is None
    (issue,) = issues
    assert (issue.file, issue.row) == ("children.csv", 3)
    assert issue.message == 'a quoted value (") that starts on this row is never closed'


def test_a_value_running_over_lines_is_an_error_at_its_row(tmp_path: Path) -> None:
    """Two stray quotes in a column made rows 2-4 one quoted value: the children of rows 3
    and 4 vanished and the folder validated."""
    children = CHILDREN + 'C3,E08000003,foster,7,F,x",\nC4,E08000003,foster,7,F,,\n'
    children = children.replace("foster,7,F,,", 'foster,7,F,"SG 5,', 1)
    found = issues_of(write(tmp_path, children))
    assert found == [
        "children.csv row 2, column sibling_group: a value runs over lines 2-4, and no value "
        'holds a line break: a stray double quote (") opens a value that takes in the rows up '
        "to the next one; remove the quote"
    ]


def test_rows_keep_their_numbers_after_blank_lines(tmp_path: Path) -> None:
    """Blank lines were dropped before numbering: an error on line 6 after two blank lines was
    reported as row 4. A row of only commas is a row of empty values, still checked."""
    lines = CHILDREN.splitlines(keepends=True)
    children = "".join([lines[0], "\n", lines[1], "  \r\n", lines[2]])
    placements = PLACEMENTS.replace("P1,", "\nP1,").replace("2,600", "2,x")
    placements += "\n,,,,,,,\nP3,foster_ifa,E08000003,1,700,0,17,any\n\n"
    found = issues_of(write(tmp_path, children, placements))
    assert "placements.csv row 3, column weekly_cost: 'x' is not a number" in found
    assert "placements.csv row 6, column placement_id: id is empty" in found
    assert sum(" row 6," in line for line in found) == len(found) - 1, found
    p = read_problem(write(tmp_path / "b", children))
    assert p.children["child_id"].tolist() == ["C1", "C2"]
    assert p.children.index.tolist() == [0, 1]


def test_a_folder_named_as_a_file_is_an_issue_not_a_traceback(tmp_path: Path) -> None:
    """IsADirectoryError was raised from pandas."""
    folder = write(tmp_path)
    (folder / "children.csv").unlink()
    (folder / "children.csv").mkdir()
    assert issues_of(folder) == ["children.csv: is a folder, not a file"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"PK\x03\x04\x14\x00\xca\xfe", "children.csv: is an Excel workbook, not a CSV file"),
        (CHILDREN.replace(",", "\t").encode(), "children.csv row 1: columns are separated by tabs"),
    ],
)
def test_a_workbook_or_tab_separated_file_says_so(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    """A workbook was 'not UTF-8 text (byte b'\\xca' ...)', tabs an unknown column
    'child_id\\thome_la...' and five missing ones."""
    folder = write(tmp_path)
    (folder / "children.csv").write_bytes(content)
    (issue,) = issues_of(folder)
    assert issue.startswith(expected), issue


@pytest.mark.parametrize(
    ("file", "bad", "row", "column", "value"),
    [
        (
            "children.csv",
            ("C1,", '"=HYPERLINK(""http://x.test"",""C1"")",'),
            2,
            "child_id",
            '=HYPERLINK("http://x.test","C1")',
        ),
        ("children.csv", ("7,F,,", "7,F,@SUM(1),"), 2, "sibling_group", "@SUM(1)"),
        ("children.csv", (",P2\n", ",+P2\n"), 3, "current_placement", "+P2"),
        ("placements.csv", ("P1,", "-P1,"), 2, "placement_id", "-P1"),
        ("rccs.csv", ("E08000001,GM", "E08000001,=GM"), 3, "rcc", "=GM"),
    ],
)
def test_ids_and_names_a_spreadsheet_would_run_are_refused(
    tmp_path: Path, file: str, bad: tuple[str, str], row: int, column: str, value: str
) -> None:
    """They were written verbatim to allocation.csv, where Excel ran =HYPERLINK(...)."""
    folder = write(tmp_path)
    text = (folder / file).read_text()
    assert bad[0] in text
    (folder / file).write_text(text.replace(*bad, 1))
    found = [i for i in issues_of(folder) if f", column {column}: " in i]
    assert found[0] == (
        f"{file} row {row}, column {column}: '{value}' starts with '{value[0]}': a spreadsheet "
        "would run it as a formula; "
        "ids and names must start with a letter or digit"
    ), found
