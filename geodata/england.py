"""The embedded England reference: the 153 children's-services LAs, their regions and facts."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources

import pandas as pd

__all__ = [
    "ATTRIBUTION",
    "LA",
    "OLD_CODES",
    "RECODED_2025",
    "England",
    "UnknownLAError",
    "load_england",
]

ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0. "
    "Source: Department for Education / Ofsted. Source: Office for National Statistics "
    "licensed under the Open Government Licence v.3.0. Contains OS data © Crown copyright "
    "and database right 2016."
)

_INT_COLUMNS = (
    "dfe_la_number",
    "child_population_0_17",
    "cla_31mar2024",
    "childrens_homes_2023",
    "childrens_home_places_2023",
    "la_run_places_2023",
    "private_places_2023",
    "voluntary_places_2023",
    "secure_places_2023",
    "foster_31mar2024",
    "residential_31mar2024",
    "supported_31mar2024",
    "outside_la_31mar2024",
    "over_20_miles_31mar2024",
)


class UnknownLAError(ValueError):
    """A code or name that is not one of the 153 English children's-services LAs."""


# Codes of LAs reorganised before 2024: old code -> (name, what replaced it).
OLD_CODES: dict[str, tuple[str, str]] = {
    "E06000028": ("Bournemouth", "2019: Bournemouth, Christchurch and Poole (E06000058)"),
    "E06000029": ("Poole", "2019: Bournemouth, Christchurch and Poole (E06000058)"),
    "E10000009": ("Dorset County Council", "2019: Dorset (E06000059)"),
    "E10000002": ("Buckinghamshire County Council", "2020: Buckinghamshire (E06000060)"),
    "E10000021": (
        "Northamptonshire",
        "2021: North Northamptonshire (E06000061) and West Northamptonshire (E06000062)",
    ),
    "E10000006": (
        "Cumbria",
        "2023: Cumberland (E06000063) and Westmorland and Furness (E06000064)",
    ),
    "E10000023": ("North Yorkshire County Council", "2023: North Yorkshire (E06000065)"),
    "E10000027": ("Somerset County Council", "2023: Somerset (E06000066)"),
}

# 2025 recodes after small boundary changes: new code -> the 2024 code the product uses.
RECODED_2025: dict[str, str] = {"E08000038": "E08000016", "E08000039": "E08000019"}


@dataclass(frozen=True, slots=True)
class LA:
    """One upper-tier LA with children's services duties, with its embedded facts."""

    code: str
    name: str
    region_code: str
    region_name: str
    dfe_la_number: int
    lat: float
    lon: float
    easting: float
    northing: float
    area_km2: float
    child_population_0_17: int
    cla_31mar2024: int
    childrens_homes_2023: int
    childrens_home_places_2023: int
    la_run_places_2023: int
    private_places_2023: int
    voluntary_places_2023: int
    secure_places_2023: int
    # DfE suppressed some small counts: None means "not published", never zero.
    foster_31mar2024: int | None
    residential_31mar2024: int | None
    supported_31mar2024: int | None
    outside_la_31mar2024: int | None
    over_20_miles_31mar2024: int | None


@dataclass(frozen=True)
class England:
    """The 153 LAs, looked up by GSS code or name."""

    las: tuple[LA, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(la.code for la in self.las)

    def __len__(self) -> int:
        return len(self.las)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    @property
    def _by_code(self) -> dict[str, LA]:
        return _index_by_code(self.las)

    def by_code(self, code: str) -> LA:
        """The LA with this GSS code; `UnknownLAError` with a suggestion otherwise."""
        self.check_code(code)
        return self._by_code[code.strip().upper()]

    def by_name(self, name: str) -> LA:
        """The LA with this name (case and surrounding spaces ignored)."""
        wanted = name.strip().casefold()
        for la in self.las:
            if la.name.casefold() == wanted:
                return la
        names = [la.name for la in self.las]
        near = difflib.get_close_matches(name.strip(), names, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise UnknownLAError(f"'{name}' is not the name of an English LA.{hint}")

    def check_code(self, code: str) -> str:
        """Return the normalised code, or raise `UnknownLAError` naming near misses."""
        norm = str(code).strip().upper()
        if norm in self._by_code:
            return norm
        raise UnknownLAError(self.unknown_code_message(code))

    def unknown_code_message(self, code: str) -> str:
        """'X is not one of the 153 ... Did you mean ...?' for a code that is not known."""
        norm = str(code).strip().upper()
        if norm in RECODED_2025:
            new = RECODED_2025[norm]
            named = f"{new} ({self._by_code[new].name})"
            return f"'{code}' is a 2025 code; this product uses 2024's: {named}"
        if norm in OLD_CODES:
            name, replaced = OLD_CODES[norm]
            return f"'{code}' is {name}'s old code, replaced in {replaced}"
        scored = sorted((_edits(norm, c), c) for c in self._by_code)
        near = [c for d, c in scored[:3] if d <= 2]
        hint = ""
        if near:
            named = ", ".join(f"{c} ({self._by_code[c].name})" for c in near)
            hint = f" Did you mean {named}?"
        return f"'{code}' is not one of the 153 English LA codes (GSS 2024).{hint}"

    def regions(self) -> dict[str, str]:
        """Region code -> region name, in the order regions first appear."""
        return {la.region_code: la.region_name for la in self.las}

    def region_members(self, region_code: str) -> tuple[str, ...]:
        return tuple(la.code for la in self.las if la.region_code == region_code)

    def frame(self) -> pd.DataFrame:
        """A fresh DataFrame of every LA, one row each, indexed by nothing (column `code`)."""
        return pd.DataFrame([asdict(la) for la in self.las])


def _edits(a: str, b: str) -> int:
    """Levenshtein distance: the typing slips between a code given and a real one."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@cache
def _index_by_code(las: tuple[LA, ...]) -> dict[str, LA]:
    return {la.code: la for la in las}


def _optional_int(value: object) -> int | None:
    return None if pd.isna(value) else int(value)  # type: ignore[call-overload]


@cache
def load_england() -> England:
    """Read the embedded `england_las.csv` (153 rows) into an `England`."""
    with resources.files("geodata").joinpath("data/england_las.csv").open("rb") as fh:
        df = pd.read_csv(fh, dtype={"code": str, "region_code": str})
    las = []
    for row in df.to_dict("records"):
        values = {k: (_optional_int(v) if k in _INT_COLUMNS else v) for k, v in row.items()}
        las.append(LA(**values))  # type: ignore[arg-type]
    return England(las=tuple(las))
