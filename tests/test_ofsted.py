"""Ofsted provider lists: column spellings, provision types, sectors, LA names, bad rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from optimiser.errors import ProblemValidationError
from optimiser.ofsted import la_resolver, read_ofsted_providers, resolve_las

FIXTURES = Path(__file__).parent / "fixtures" / "ssda903"


def test_reads_children_and_secure_homes() -> None:
    providers = read_ofsted_providers(FIXTURES / "ofsted.csv")
    homes = providers.homes.set_index("urn")
    assert list(homes.index) == ["SC000001", "SC000002", "SC000003", "SC000009"]
    assert homes.loc["SC000001", ["setting", "la", "places"]].tolist() == [
        "residential_private",
        "E06000047",
        4,
    ]
    assert homes.loc["SC000002", "setting"] == "residential_la"  # Local Authority sector
    assert homes.loc["SC000003", "setting"] == "secure"
    assert homes.loc["SC000009", ["setting", "la"]].tolist() == ["residential_private", "E06000010"]
    assert homes.loc["SC000002", "rating"] == "Outstanding"
    assert providers.ignored == {
        "other provision types": 1,
        "short-break-only homes": 1,
        "inactive registrations": 1,
    }


def test_bad_rows_are_reported_with_row_and_original_column() -> None:
    providers = read_ofsted_providers(FIXTURES / "ofsted.csv")
    found = {(i.row, i.column): i.message for i in providers.issues}
    assert found == {
        (8, "Number of registered places"): "'three' is not a whole number of places: not added",
        (9, "Local authority"): "'Atlantis' is not an English LA name or code: provider not added",
    }


def test_other_column_spellings_and_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "providers.csv"
    text = (
        "Provider Type,urn,Places,Local Authority,Sector\n"
        "Children’s Home, SC1 ,3.0,Westminster,Voluntary\n"
        "Secure Children's Home,SC2,8,E10000017,Local Authority\n"
        ",,,,\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    homes = read_ofsted_providers(path).homes
    assert homes[["urn", "setting", "la", "places"]].values.tolist() == [
        ["SC1", "residential_private", "E09000033", 3],
        ["SC2", "secure", "E10000017", 8],
    ]


def test_missing_columns_are_named(tmp_path: Path) -> None:
    """A list without its required columns was a warning and the import went on without it."""
    path = tmp_path / "providers.csv"
    path.write_text("URN,Sector\nSC1,Private\n")
    with pytest.raises(ProblemValidationError) as caught:
        read_ofsted_providers(path)
    assert {(i.file, i.column) for i in caught.value.issues} == {
        ("providers.csv", "provision_type"),
        ("providers.csv", "places"),
        ("providers.csv", "la"),
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "missing.csv: cannot open"),
        (b"", "missing.csv: cannot read as CSV: the file is empty"),
        (b"PK\x03\x04\x14\x00binary", "missing.csv: is an Excel workbook, not a CSV file"),
        (b'URN,Provision type\nSC1,"Children home\n', 'missing.csv row 2: a quoted value (")'),
    ],
)
def test_a_missing_or_unreadable_list_is_an_error(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    """A missing, empty, binary or ragged list was a warning (or a traceback) and exit 0."""
    path = tmp_path / "missing.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ProblemValidationError) as caught:
        read_ofsted_providers(path)
    (issue,) = caught.value.issues
    assert str(issue).startswith(expected), str(issue)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Bristol, City of", "E06000023"),
        ("City of Bristol", "E06000023"),
        ("London, City of", "E09000001"),
        ("City of London", "E09000001"),
        ("St Helens", "E08000013"),
        ("Bournemouth, Christchurch & Poole", "E06000058"),
        ("805", "E06000001"),
        ("805.0", "E06000001"),
        ("e06000001", "E06000001"),
        ("Cardiff", ""),
        ("", ""),
    ],
)
def test_la_names_numbers_and_codes_resolve(text: str, code: str) -> None:
    assert resolve_las(pd.Series([text]), la_resolver()).iat[0] == code


def test_without_a_sector_column_the_report_says_homes_are_taken_as_private(
    tmp_path: Path,
) -> None:
    """A local authority's home became residential_private (and its price) without a word."""
    path = tmp_path / "providers.csv"
    path.write_text("Provider Type,URN,Places,Local Authority\nChildren's Home,SC1,3,Westminster\n")
    providers = read_ofsted_providers(path)
    assert providers.homes["setting"].tolist() == ["residential_private"]
    (issue,) = providers.issues
    assert issue.column == "sector" and "taken as private" in issue.message
