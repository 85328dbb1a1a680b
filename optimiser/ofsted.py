"""Read Ofsted's list of registered providers: children's homes and secure homes with their places.

Ofsted publishes the list as a spreadsheet whose column names change a little from release to
release ("Places" or "Number of registered places", "Provision type" or "Provider type"), so
columns are matched by normalised name. Every row that cannot be used is reported, never skipped
in silence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from geodata.england import England, load_england
from optimiser.errors import InputIssue, ProblemValidationError
from optimiser.textcsv import read_text_csv

__all__ = [
    "OFSTED_COLUMNS",
    "OfstedProviders",
    "la_resolver",
    "normalise_urn",
    "read_ofsted_providers",
]

# Normalised column name -> accepted spellings (lower case, non-alphanumerics as "_").
OFSTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "urn": ("urn", "unique_reference_number", "provider_urn"),
    "provision_type": ("provision_type", "provider_type", "type_of_provision", "setting_type"),
    "subtype": ("provider_subtype", "provision_subtype", "subtype"),
    "sector": ("sector", "provider_sector", "ownership"),
    "places": (
        "number_of_registered_places",
        "registered_places",
        "places",
        "max_users",
        "maximum_users",
    ),
    "la": (
        "local_authority",
        "local_authority_name",
        "la_name",
        "la",
        "la_code",
        "local_authority_code",
    ),
    "status": ("registration_status", "status"),
    "rating": (
        "overall_effectiveness",
        "overall_experiences_and_progress_of_children_and_young_people",
        "latest_overall_effectiveness",
        "rating",
    ),
}
_REQUIRED = ("urn", "provision_type", "places", "la")
_INACTIVE = ("resign", "cancel", "closed", "suspend", "refused")


@dataclass(frozen=True)
class OfstedProviders:
    """Children's homes and secure children's homes from an Ofsted provider list.

    `homes` has one row per usable provider: `urn` (normalised), `setting` (`residential_la`,
    `residential_private` or `secure`), `la` (GSS code), `places` (int), `sector`, `rating`,
    `row` (spreadsheet row). `ignored` counts the rows left out by reason (other provision
    types, short-break-only homes, inactive registrations); rows with bad values are in `issues`.
    """

    homes: pd.DataFrame
    ignored: Mapping[str, int] = field(default_factory=dict)
    issues: tuple[InputIssue, ...] = ()
    source: str = "ofsted.csv"


def normalise_urn(values: pd.Series) -> pd.Series:
    """URNs as text: upper case, no spaces, Excel's trailing '.0' removed."""
    text = values.astype(str).str.strip().str.upper().str.replace(r"\s+", "", regex=True)
    return text.str.replace(r"^(\d+)\.0$", r"\1", regex=True)


def _plain_key(name: str) -> str:
    text = name.casefold().replace("&", " and ").replace("st.", "st ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _name_key(name: str) -> str:
    text = name.casefold().replace("&", " and ").replace("st.", "st ")
    text = re.sub(r"[^a-z0-9]+", " ", text)
    drop = {"city", "of", "county", "council", "the", "royal", "borough", "london", "metropolitan"}
    return " ".join(w for w in text.split() if w not in drop)


def la_resolver(england: England | None = None) -> dict[str, str]:
    """Map GSS codes, DfE LA numbers and (normalised) LA names to GSS codes.

    Keys are upper-case codes, DfE numbers as text, and `_name_key` forms of names, so
    "Bristol, City of", "City of Bristol" and "bristol" all resolve to E06000023.
    """
    england = england or load_england()
    out: dict[str, str] = {}
    for la in england.las:
        out[la.code] = la.code
        out[str(la.dfe_la_number)] = la.code
        for key in (_name_key(la.name), _plain_key(la.name)):
            if key:
                out.setdefault(key, la.code)
    return out


def resolve_las(values: pd.Series, resolver: Mapping[str, str]) -> pd.Series:
    """GSS code for each value (code, DfE number or name), "" where it does not resolve.

    Each distinct value is resolved once, so a million rows of a few LAs cost a few lookups.
    """
    text = values.astype(str).str.strip()
    found = {v: _resolve_one(v, resolver) for v in pd.unique(text)}
    return text.map(found).astype(str)


def _resolve_one(value: str, resolver: Mapping[str, str]) -> str:
    code = re.sub(r"^(\d+)\.0$", r"\1", value.upper())
    return resolver.get(code) or _by_name(value, resolver)


def _by_name(name: str, resolver: Mapping[str, str]) -> str:
    """Code of an LA name, also written "Bristol, City of" or "City of Bristol"."""
    head, _, tail = name.partition(",")
    for candidate in (name, f"{tail} {head}"):
        for key in (_plain_key(candidate), _name_key(candidate)):
            if key and key in resolver:
                return resolver[key]
    return ""


def _normalise_header(name: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).replace("\ufeff", "").strip().lower()).strip("_")


def _find_columns(columns: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, spellings in OFSTED_COLUMNS.items():
        for spelling in spellings:
            if spelling in columns:
                found[key] = spelling
                break
    return found


def _setting(kind: str, sector: str) -> str:
    if kind == "secure":
        return "secure"
    return "residential_la" if ("local" in sector or "health" in sector) else "residential_private"


def read_ofsted_providers(path: Path | str) -> OfstedProviders:
    """Read an Ofsted provider list CSV; keep active children's homes and secure homes.

    A missing or unreadable file, or one without the required columns, raises
    `ProblemValidationError` naming the file (and the columns); rows that cannot be used are
    in `issues`.

    A children's home run by a local or health authority becomes `residential_la`, a private or
    voluntary one `residential_private`; a secure children's home `secure` whatever its sector.
    Short-break-only homes and inactive registrations are counted in `ignored`.
    """
    path = Path(path)
    issues: list[InputIssue] = []
    raw, _ = read_text_csv(path)
    original = {_normalise_header(c): str(c).replace("\ufeff", "").strip() for c in raw.columns}
    raw.columns = [_normalise_header(c) for c in raw.columns]
    raw = raw.apply(lambda s: s.astype(str).str.strip())
    rows = pd.Series(np.arange(len(raw)) + 2, index=raw.index)
    blank = (raw == "").all(axis=1)
    raw, rows = raw[~blank], rows[~blank]
    cols = _find_columns(list(raw.columns))
    missing = [
        InputIssue(path.name, 1, key, f"required column is missing ({spellings})")
        for key in _REQUIRED
        if key not in cols
        for spellings in [" or ".join(f"'{s}'" for s in OFSTED_COLUMNS[key][:2])]
    ]
    if missing:
        raise ProblemValidationError(missing)

    def col(key: str) -> pd.Series:
        return raw[cols[key]] if key in cols else pd.Series("", index=raw.index)

    if "sector" not in cols:  # a local authority's home is priced as its own, not bought in
        spellings = " or ".join(f"'{s}'" for s in OFSTED_COLUMNS["sector"][:2])
        text = f"no sector column ({spellings}): every children's home is taken as private"
        issues.append(InputIssue(path.name, 1, "sector", text))

    kind_text = (col("provision_type") + " " + col("subtype")).str.casefold()
    kind_text = kind_text.str.replace("’", "'").str.replace("'", "")
    kind = np.where(
        kind_text.str.contains("secure"),
        "secure",
        np.where(kind_text.str.contains("childrens home"), "childrens_home", "other"),
    )
    kind = pd.Series(kind, index=raw.index)
    short_break = kind_text.str.contains("short break")
    status = col("status").str.casefold()
    inactive = status.apply(lambda s: any(w in s for w in _INACTIVE))
    ignored = {
        "other provision types": int((kind == "other").sum()),
        "short-break-only homes": int(((kind != "other") & short_break).sum()),
        "inactive registrations": int(((kind != "other") & ~short_break & inactive).sum()),
    }
    keep = (kind != "other") & ~short_break & ~inactive

    urn = normalise_urn(col("urn"))
    places = pd.to_numeric(col("places").str.replace(",", ""), errors="coerce")
    la = resolve_las(col("la"), la_resolver())
    bad_urn = keep & (urn == "")
    bad_places = keep & (places.isna() | (places < 0) | (places != np.floor(places.fillna(0))))
    bad_la = keep & (la == "")
    dup = keep & urn.duplicated(keep="first") & (urn != "")
    for mask, key, message in (
        (bad_urn, "urn", lambda v: "URN is empty: provider not added"),
        (bad_places, "places", lambda v: f"'{v}' is not a whole number of places: not added"),
        (
            bad_la,
            "la",
            lambda v: f"'{v}' is not an English LA name or code: provider not added",
        ),
        (dup, "urn", lambda v: f"URN '{v}' appears twice: the later row is not added"),
    ):
        values = urn if key == "urn" else col(key)
        for row, value in zip(rows[mask], values[mask], strict=True):
            issues.append(InputIssue(path.name, int(row), original[cols[key]], message(value)))
    usable = keep & ~bad_urn & ~bad_places & ~bad_la & ~dup
    sector = col("sector").str.casefold()
    homes = pd.DataFrame(
        {
            "urn": urn[usable],
            "setting": [_setting(k, s) for k, s in zip(kind[usable], sector[usable], strict=True)],
            "la": la[usable],
            "places": places[usable].astype(np.int64),
            "sector": col("sector")[usable],
            "rating": col("rating")[usable],
            "row": rows[usable].astype(np.int64),
        }
    ).reset_index(drop=True)
    return OfstedProviders(homes, ignored, tuple(issues), path.name)
