"""RCC lookups: presets, reading and writing rccs.csv, and validation with contiguity warnings."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from geodata.adjacency import adjacency_graph
from geodata.england import load_england
from geodata.rcc import (
    GREATER_MANCHESTER,
    RccLookupError,
    check_lookup,
    default_lookup,
    preset_groups,
    proposed_lookup,
    read_lookup,
    regions_lookup,
    write_lookup,
)

CORNWALL, SCILLY, WIGHT = "E06000052", "E06000053", "E06000046"


def test_presets_are_the_two_pathfinders() -> None:
    name, gm = preset_groups("gm")
    assert name == "North West: Greater Manchester"
    england = load_england()
    assert {england.by_code(c).name for c in gm} == {
        "Bolton", "Bury", "Manchester", "Oldham", "Rochdale",
        "Salford", "Stockport", "Tameside", "Trafford", "Wigan",
    }  # fmt: skip
    name, se = preset_groups("south-east")
    assert name == "South East" and len(se) == 19
    assert "Kent" in {england.by_code(c).name for c in se}
    with pytest.raises(ValueError, match="known presets: gm, south-east"):
        preset_groups("north")


def test_default_and_region_lookups_cover_every_la() -> None:
    assert len(regions_lookup()) == 153 and len(set(regions_lookup().values())) == 9
    lookup = default_lookup()
    assert len(lookup) == 153 and len(set(lookup.values())) == 10
    assert {c for c, r in lookup.items() if r == "North West: Greater Manchester"} == set(
        GREATER_MANCHESTER
    )
    assert check_lookup(lookup).ok and not check_lookup(lookup).warnings


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    path = write_lookup(default_lookup(), tmp_path / "rccs.csv")
    assert path.read_text().splitlines()[0] == "la_code,rcc"
    assert read_lookup(path) == default_lookup()


def test_read_lookup_lists_every_problem_with_row_and_column(tmp_path: Path) -> None:
    rows = [f"{c},{r}" for c, r in default_lookup().items()]
    rows[0] = "E06999999,North East"  # unknown, so Hartlepool is missing too
    rows[1] = "E06000002,"  # empty RCC
    rows.append("E06000003,North East")  # repeated
    path = tmp_path / "rccs.csv"
    path.write_text("la_code,rcc\n" + "\n".join(rows) + "\n")
    with pytest.raises(RccLookupError) as err:
        read_lookup(path)
    problems = err.value.problems
    assert problems[0].startswith("rccs.csv row 2, column la_code: 'E06999999' is not one of")
    assert problems[1] == "rccs.csv row 3, column rcc: RCC name is empty"
    assert problems[2].startswith("rccs.csv row 155, column la_code: E06000003 (Redcar")
    assert "already in row 4" in problems[2]
    assert problems[3] == "rccs.csv: 1 LA(s) have no RCC: E06000001 (Hartlepool)"
    assert "4 problem(s)" in str(err.value)
    # A partial lookup is fine when asked for.
    partial = tmp_path / "gm.csv"
    partial.write_text("la_code,rcc\n" + "".join(f"{c},GM\n" for c in GREATER_MANCHESTER))
    assert read_lookup(partial, complete=False) == dict.fromkeys(GREATER_MANCHESTER, "GM")


def test_read_lookup_needs_both_columns(tmp_path: Path) -> None:
    path = tmp_path / "rccs.csv"
    path.write_text("code,region\nE06000001,North East\n")
    with pytest.raises(RccLookupError, match=r"missing column\(s\) la_code, rcc"):
        read_lookup(path)


def test_detached_parts_are_named_in_a_warning() -> None:
    lookup = default_lookup()
    lookup[CORNWALL] = "London"
    check = check_lookup(lookup)
    assert check.ok
    london = [w for w in check.warnings if w.startswith("RCC 'London'")]
    assert london == [
        "RCC 'London' is in 2 pieces: 33 LA(s) joined, detached: E06000052 (Cornwall)"
    ]
    # Scilly joins Cornwall only through the island link, so the South West splits too.
    south_west = [w for w in check.warnings if w.startswith("RCC 'South West'")]
    assert south_west and "E06000053 (Isles of Scilly)" in south_west[0]


def test_islands_are_detached_without_water_and_island_links() -> None:
    check = check_lookup(regions_lookup(), graph=adjacency_graph(water=False, islands=False))
    assert len(check.warnings) == 2
    assert "E06000046 (Isle of Wight)" in check.warnings[0]
    assert "E06000053 (Isles of Scilly)" in check.warnings[1]


def test_check_lookup_reports_unknown_and_missing_las() -> None:
    lookup = dict(list(default_lookup().items())[1:])
    lookup["E99999999"] = "Nowhere"
    check = check_lookup(lookup)
    assert not check.ok
    assert any("'E99999999' is not one of" in p for p in check.problems)
    assert any("E06000001 (Hartlepool)" in p for p in check.problems)


def test_proposed_lookup_when_shipped() -> None:
    shipped = resources.files("geodata").joinpath("data/rccs_proposed.csv").is_file()
    if not shipped:
        with pytest.raises(FileNotFoundError, match="not shipped"):
            proposed_lookup()
        return
    lookup = proposed_lookup()
    assert len(lookup) == 153
    gm = {lookup[c] for c in GREATER_MANCHESTER}
    assert len(gm) == 1 and sum(r in gm for r in lookup.values()) == 10
