"""Calibrated synthetic England: children and placements built from the embedded LA facts.

`synthesize(seed=..., scale=...)` returns a `Problem` whose totals reproduce the published facts
of `geodata/data/england_las.csv` (DfE children looked after at 31 March 2024; Ofsted children's
homes 2023) and whose unpublished detail (ages, sexes, points, prices, foster households) is drawn
from a seeded numpy Generator, so the same seed always gives the same problem.

FACTS (taken as published, per LA, multiplied by `scale` with largest-remainder rounding so every
total is `round(scale * fact)`):
- children in foster placements (`foster_31mar2024`), in secure and children's homes
  (`residential_31mar2024`), in supported accommodation (`supported_31mar2024`);
- children's homes (`childrens_homes_2023`) and their places by sector (`la_run_places_2023`,
  `private_places_2023`, `voluntary_places_2023`): at scale 1 every LA has exactly its places;
- the 13 secure children's homes at their host LAs with their places (`secure_places_2023`);
- national shares of DESIGN.md section 6: age mix (under 1 5%, 1-4 14%, 5-9 17%, 10-15 38%,
  16-17 26%), 56% boys, unaccompanied asylum-seeking children (UASC) 9%, family and friends
  carers about 16 of the 67 foster points, about 100 children in secure homes on the day, about
  half of secure places contracted to youth justice, the weekly prices of section 6.

ASSUMPTIONS (documented guesses where nothing is published per LA):
- Demand is only the allocatable groups: foster children minus family and friends carers (51/67
  of each LA's foster count: DfE does not publish the kinship split by LA), children's homes,
  secure, and supported (16-17). Placed with parents, adoption and "other" are not allocated.
- Suppressed counts (None in the facts) become 3 children, or fewer when the LA's total CLA
  leaves less room after its published groups (Isles of Scilly, with no CLA, gets none).
- Secure children are 100 of the national 8,704 in secure and children's homes (the same share
  of whatever is synthesised), split over LAs in proportion to their residential count; the rest
  of each LA's count needs a children's home.
- Age mix by need: supported children are 16-17; residential children 8-17 (mostly 13-17);
  foster children take what is left of the national mix, so the three needs together reproduce
  section 6. UASC (no column: they shape age and sex only) are chosen among 14-17-year-olds,
  mostly supported and foster 16-17s, 95% boys; other children are boys with the probability
  that makes 56% overall.
- Sibling groups: about 30% of foster children aged 0-15 are drawn into groups of 2 (60%),
  3 (28%) or 4 (12%) with the same home LA, need and home point, ids "SG000001".
- Home points: normal around the LA's representative point with sd 0.3 * sqrt(area), clipped to
  a radius of 0.6 * sqrt(area) (no polygons are shipped, so a coastal point may fall offshore).
- No child has a current placement: the allocation is a fresh plan.
- Children's homes: each LA's homes are split over its sectors in proportion to places over the
  national mean home size by sector (LA 4.5, private 3.6, voluntary 5.2 places, Ofsted 2023);
  each sector's places are spread over its homes (1-6 places each, larger only where the facts
  need it); ages 10-17 (70%), 8-17 (20%) or 12-17 (10%); 8% boys only, 5% girls only.
- Secure homes take 10-17-year-olds of either sex; only their welfare places (half, rounded up:
  108 of 214 nationally) are offered, the rest being held for youth justice.
- Foster supply is `FOSTER_SLACK` (7%) above foster demand nationally. In-house places are each
  LA's foster demand times an in-house share drawn around 58% (sd 12%), so some LAs are short;
  independent fostering agency (IFA) places make up the rest and are spread by child population
  (half own, half the mean of neighbouring LAs) weighted towards cheaper regions, so they do not
  sit where the demand is. Households have 1-3 places (45/40/15%) and take ages 0-17 (70%),
  0-10 (15%) or 11-17 (15%).
- Supported accommodation (16-17) is 5% above supported demand nationally, spread 60% by demand
  and 40% by child population, in units of 1-6 places.
- Weekly prices (GBP): in-house foster ~600, IFA ~835 (550-1,000), LA home ~5,000, private home
  lognormal with mean ~6,100 and a tail above 10,000, voluntary home ~5,500, secure ~8,000,
  supported ~1,500, times a regional factor (London 1.12, South East 1.06, East of England 1.03,
  South West 1.0, elsewhere 0.96). Placement points are spread like home points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geodata.adjacency import adjacency_graph
from geodata.england import load_england
from geodata.rcc import default_lookup
from optimiser.problem import (
    CHILD_COLUMNS,
    NEEDS,
    PLACEMENT_COLUMNS,
    SETTINGS,
    Policy,
    Problem,
    las_frame,
)

__all__ = [
    "FAMILY_AND_FRIENDS_SHARE",
    "FOSTER_SLACK",
    "SECURE_CHILDREN",
    "children_count",
    "pressure_by_region",
    "synthesize",
]

FAMILY_AND_FRIENDS_SHARE = 16 / 67  # of foster placements (DESIGN.md section 6)
SECURE_CHILDREN = 100  # children in secure children's homes on 31 March (national)
NATIONAL_RESIDENTIAL = 8704  # sum of residential_31mar2024 over the 153 LAs
FOSTER_SLACK = 0.07  # national foster places above foster demand
SUPPORTED_SLACK = 0.05
IMPUTED_COUNT = 3  # a suppressed DfE cell is 1-5 children
UASC_SHARE = 0.09
BOYS_SHARE = 0.56
UASC_BOYS = 0.95

# National age mix of CLA (DESIGN.md section 6) by band: <1, 1-4, 5-9, 10-15, 16-17.
AGE_BANDS = ((0, 0), (1, 4), (5, 9), (10, 15), (16, 17))
AGE_MIX = np.array([0.05, 0.14, 0.17, 0.38, 0.26])

REGION_PRICE_FACTOR = {
    "London": 1.12,
    "South East": 1.06,
    "East of England": 1.03,
    "South West": 1.0,
}
OTHER_REGION_PRICE_FACTOR = 0.96
MEAN_HOME_SIZE = {"la": 4.5, "private": 3.6, "voluntary": 5.2}


@dataclass(frozen=True)
class _LAs:
    """The facts of the LAs being synthesised, as aligned numpy arrays."""

    codes: np.ndarray
    region: np.ndarray
    easting: np.ndarray
    northing: np.ndarray
    area_km2: np.ndarray
    population: np.ndarray
    price_factor: np.ndarray


def synthesize(
    *,
    seed: int = 1,
    scale: float = 1.0,
    rccs: Mapping[str, str] | None = None,
    sibling_groups: bool = True,
) -> Problem:
    """A calibrated synthetic England (see the module docstring for facts and assumptions).

    `scale` multiplies demand and supply; `rccs` (LA code -> RCC) chooses the LAs synthesised
    and their RCCs (default `geodata.rcc.default_lookup()`, all 153 LAs).
    """
    if not (isinstance(scale, int | float) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    lookup = dict(rccs) if rccs is not None else default_lookup()
    england = load_england()
    for code in lookup:
        england.check_code(code)
    facts = england.frame()
    facts = facts[facts["code"].isin(lookup)].reset_index(drop=True)
    las = _la_arrays(facts)
    demand_rng, sibling_rng, supply_rng, price_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    demand = _demand_counts(facts, scale)
    children = _children(las, demand, demand_rng)
    if sibling_groups:
        children = _add_sibling_groups(children, sibling_rng)
    placements = pd.concat(
        [
            _childrens_homes(facts, las, scale, supply_rng),
            _secure_homes(facts, las, scale, supply_rng),
            _foster_households(facts, las, demand, supply_rng),
            _supported_units(las, demand, supply_rng),
        ],
        ignore_index=True,
    )
    placements = _finish_placements(placements, las, price_rng)
    return Problem(
        children=children[list(CHILD_COLUMNS)],
        placements=placements[list(PLACEMENT_COLUMNS)],
        las=las_frame(lookup),
        policy=Policy(),
    )


def children_count(scale: float) -> int:
    """How many children `synthesize(scale=scale)` makes (of every LA), without making them."""
    return int(_demand_counts(load_england().frame(), scale).sum())


# ----------------------------------------------------------------------------- helpers


def _apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to `weights` summing to `total` (largest remainder, ties by order).

    Integer weights whose sum is `total` come back unchanged.
    """
    w = np.asarray(weights, dtype=float)
    if total <= 0 or w.sum() <= 0:
        return np.zeros(len(w), dtype=np.int64)
    exact = w * (total / w.sum())
    base = np.floor(exact + 1e-9).astype(np.int64)
    short = total - int(base.sum())
    if short > 0:
        order = np.argsort(-(exact - base), kind="stable")
        base[order[:short]] += 1
    return base


def _scaled(counts: np.ndarray, scale: float) -> np.ndarray:
    """Counts times `scale`, rounded so that their sum is `round(scale * sum)`."""
    counts = np.asarray(counts, dtype=float)
    return _apportion(counts, round(scale * counts.sum()))


def _la_arrays(facts: pd.DataFrame) -> _LAs:
    region = facts["region_name"].to_numpy(dtype=object)
    factor = np.array([REGION_PRICE_FACTOR.get(r, OTHER_REGION_PRICE_FACTOR) for r in region])
    return _LAs(
        codes=facts["code"].to_numpy(dtype=object),
        region=region,
        easting=facts["easting"].to_numpy(dtype=float),
        northing=facts["northing"].to_numpy(dtype=float),
        area_km2=facts["area_km2"].to_numpy(dtype=float),
        population=facts["child_population_0_17"].to_numpy(dtype=float),
        price_factor=factor,
    )


def _points(
    las: _LAs, la_index: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Points spread around each LA's point (sd 0.3 sqrt(area), clipped at 0.6 sqrt(area))."""
    side = np.sqrt(las.area_km2[la_index]) * 1000.0
    offset = rng.normal(0.0, 1.0, size=(len(la_index), 2)) * (0.3 * side)[:, None]
    radius = np.hypot(offset[:, 0], offset[:, 1])
    limit = 0.6 * side
    shrink = np.where(radius > limit, limit / np.maximum(radius, 1e-9), 1.0)
    offset *= shrink[:, None]
    easting = np.round(las.easting[la_index] + offset[:, 0])
    northing = np.round(las.northing[la_index] + offset[:, 1])
    return easting, northing


def _split_places(
    places: int, homes: int, rng: np.random.Generator, *, most: int = 6
) -> np.ndarray:
    """Sizes of `homes` homes holding exactly `places` places, each 1..most where possible."""
    cap = max(most, math.ceil(places / homes))
    sizes = 1 + rng.multinomial(places - homes, np.full(homes, 1.0 / homes))
    while (over := sizes > cap).any():
        excess = int((sizes[over] - cap).sum())
        sizes[over] = cap
        room = (cap - sizes).astype(float)
        sizes += rng.multinomial(excess, room / room.sum())
    return sizes.astype(np.int64)


def _household_sizes(
    total: int, rng: np.random.Generator, *, sizes: tuple[int, ...], probs: tuple[float, ...]
) -> np.ndarray:
    """Units of the given sizes (drawn with `probs`) holding exactly `total` places."""
    if total <= 0:
        return np.zeros(0, dtype=np.int64)
    mean = float(np.dot(sizes, probs))
    draw = rng.choice(np.array(sizes), size=int(total / mean * 1.3) + 10, p=np.array(probs))
    while draw.sum() < total:
        draw = np.concatenate([draw, rng.choice(np.array(sizes), size=10, p=np.array(probs))])
    cum = np.cumsum(draw)
    n = int(np.searchsorted(cum, total)) + 1
    out = draw[:n].astype(np.int64)
    out[-1] -= int(cum[n - 1]) - total
    return out


# ----------------------------------------------------------------------------- demand


def _impute(facts: pd.DataFrame) -> pd.DataFrame:
    """The three allocatable CLA counts per LA with suppressed cells imputed (see docstring)."""
    cols = ["foster_31mar2024", "residential_31mar2024", "supported_31mar2024"]
    raw = facts[cols].astype(float)
    missing = raw.isna()
    room = (facts["cla_31mar2024"] - raw.fillna(0).sum(axis=1)).clip(lower=0)
    per_cell = np.minimum(IMPUTED_COUNT, room // missing.sum(axis=1).clip(lower=1))
    filled = raw.where(~missing, np.broadcast_to(per_cell.to_numpy()[:, None], raw.shape))
    return filled.astype(np.int64)


def _demand_counts(facts: pd.DataFrame, scale: float) -> np.ndarray:
    """Children per LA and need, shape (LAs, len(NEEDS)), columns in NEEDS order."""
    counts = _impute(facts)
    foster = _scaled(counts["foster_31mar2024"] * (1 - FAMILY_AND_FRIENDS_SHARE), scale)
    residential_all = _scaled(counts["residential_31mar2024"].to_numpy(), scale)
    secure_total = round(residential_all.sum() * SECURE_CHILDREN / NATIONAL_RESIDENTIAL)
    secure = _apportion(residential_all, secure_total)
    supported = _scaled(counts["supported_31mar2024"].to_numpy(), scale)
    by_need = {
        "foster": foster,
        "residential": residential_all - secure,
        "secure": secure,
        "supported": supported,
    }
    return np.column_stack([by_need[n] for n in NEEDS])


def _age_probabilities(demand: np.ndarray) -> dict[str, np.ndarray]:
    """Probability of each single year 0-17 per need, so that the needs together give AGE_MIX."""
    totals = dict(zip(NEEDS, demand.sum(axis=0).astype(float), strict=True))
    years = np.arange(18)
    supported = np.where(years >= 16, 0.5, 0.0)
    residential = np.zeros(18)
    residential[8:10] = 0.015
    residential[10:13] = 0.06
    residential[13:16] = 0.14
    residential[16:18] = 0.185
    residential /= residential.sum()
    secure = np.where(years >= 10, 1.0, 0.0) * np.where(years >= 13, 3.0, 1.0)
    secure /= secure.sum()
    band_of = np.zeros(18, dtype=np.int64)
    for b, (lo, hi) in enumerate(AGE_BANDS):
        band_of[lo : hi + 1] = b
    everyone = sum(totals.values())
    others = (
        totals["supported"] * supported
        + totals["residential"] * residential
        + totals["secure"] * secure
    )
    band_left = np.maximum(
        AGE_MIX * everyone - np.bincount(band_of, weights=others, minlength=len(AGE_BANDS)), 0.0
    )
    band_size = np.bincount(band_of, minlength=len(AGE_BANDS))
    if band_left.sum() <= 0:  # no demand at all: any mix will do, take the national one
        band_left = AGE_MIX
    foster = band_left[band_of] / band_size[band_of]
    foster /= foster.sum()
    return {"foster": foster, "residential": residential, "secure": secure, "supported": supported}


def _uasc_weights(need: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Relative chance of being an unaccompanied asylum-seeking child, by need and age."""
    w = np.zeros(len(need))
    older = age >= 16
    w[(need == "supported") & older] = 3.0
    w[(need == "foster") & older] = 2.0
    w[(need == "foster") & (age >= 14) & ~older] = 0.8
    w[(need == "residential") & older] = 0.3
    return w


def _children(las: _LAs, demand: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """One row per child: home LA, need, age, sex and home point (no sibling groups yet)."""
    la_index = np.repeat(np.repeat(np.arange(len(las.codes)), len(NEEDS)), demand.ravel())
    need = np.repeat(np.tile(np.array(NEEDS, dtype=object), len(las.codes)), demand.ravel())
    n = len(need)
    age = np.zeros(n, dtype=np.int64)
    for name, probs in _age_probabilities(demand).items():
        mask = need == name
        age[mask] = rng.choice(18, size=int(mask.sum()), p=probs)
    weights = _uasc_weights(need, age)
    k = min(round(UASC_SHARE * n), int((weights > 0).sum()))
    keys = np.where(weights > 0, np.log(np.maximum(weights, 1e-300)), -np.inf)
    keys = keys + rng.gumbel(size=n)
    uasc = np.zeros(n, dtype=bool)
    if k > 0:
        uasc[np.argpartition(-keys, k - 1)[:k]] = True
    share_uasc = k / n if n else 0.0
    base_boys = (BOYS_SHARE - share_uasc * UASC_BOYS) / (1 - share_uasc)
    boy = rng.random(n) < np.where(uasc, UASC_BOYS, base_boys)
    easting, northing = _points(las, la_index, rng)
    width = max(7, len(str(n)))
    return pd.DataFrame(
        {
            "child_id": [f"C{i:0{width}d}" for i in range(1, n + 1)],
            "home_la": las.codes[la_index],
            "need": need,
            "age": age,
            "sex": np.where(boy, "M", "F").astype(object),
            "sibling_group": np.full(n, "", dtype=object),
            "current_placement": np.full(n, "", dtype=object),
            "easting": easting,
            "northing": northing,
        }
    )


def _add_sibling_groups(children: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Draw sibling groups of 2-4 foster children aged 0-15 sharing home LA and home point."""
    eligible = np.flatnonzero(
        (children["need"].to_numpy() == "foster") & (children["age"].to_numpy() <= 15)
    )
    chosen = eligible[rng.random(len(eligible)) < 0.3]
    if len(chosen) < 2:
        return children
    la = children["home_la"].to_numpy()[chosen]
    la_rank = pd.factorize(la, sort=False)[0]
    noisy_age = children["age"].to_numpy()[chosen] + rng.normal(0.0, 2.0, size=len(chosen))
    order = np.lexsort((noisy_age, la_rank))
    chosen, la_rank = chosen[order], la_rank[order]
    sizes = rng.choice([2, 3, 4], size=len(chosen) // 2 + 1, p=[0.6, 0.28, 0.12])
    draw = np.repeat(np.arange(len(sizes)), sizes)[: len(chosen)]
    piece = pd.factorize(pd.MultiIndex.from_arrays([la_rank, draw]))[0]
    piece_size = np.bincount(piece)[piece]
    keep = piece_size >= 2
    members, piece = chosen[keep], pd.factorize(piece[keep])[0]
    out = children.copy()
    ids = np.array([f"SG{g + 1:06d}" for g in range(int(piece.max()) + 1 if len(piece) else 0)])
    out.loc[members, "sibling_group"] = ids[piece]
    first = members[np.unique(piece, return_index=True)[1]]
    for axis in ("easting", "northing"):
        out.loc[members, axis] = out[axis].to_numpy()[first][piece]
    return out


# ----------------------------------------------------------------------------- supply


def _placements(
    las: _LAs,
    la_index: np.ndarray,
    setting: str,
    capacity: np.ndarray,
    *,
    min_age: np.ndarray | int,
    max_age: np.ndarray | int,
    sexes: np.ndarray | str = "any",
    provider: np.ndarray | str,
) -> pd.DataFrame:
    n = len(la_index)
    return pd.DataFrame(
        {
            "setting": np.full(n, setting, dtype=object),
            "la_index": la_index.astype(np.int64),
            "capacity": np.asarray(capacity, dtype=np.int64),
            "min_age": np.broadcast_to(np.asarray(min_age, dtype=np.int64), n),
            "max_age": np.broadcast_to(np.asarray(max_age, dtype=np.int64), n),
            "sexes": np.broadcast_to(np.asarray(sexes, dtype=object), n),
            "provider": np.broadcast_to(np.asarray(provider, dtype=object), n),
        }
    )


def _sector_homes(facts: pd.DataFrame, scale: float) -> pd.DataFrame:
    """Homes and places per LA and sector (la, private, voluntary), scaled."""
    places = facts[["la_run_places_2023", "private_places_2023", "voluntary_places_2023"]]
    p = places.to_numpy(dtype=np.int64)
    homes_total = facts["childrens_homes_2023"].to_numpy(dtype=np.int64)
    sizes = np.array([MEAN_HOME_SIZE["la"], MEAN_HOME_SIZE["private"], MEAN_HOME_SIZE["voluntary"]])
    homes = np.zeros_like(p)
    for i in range(len(p)):
        has = p[i] > 0
        homes[i, has] = 1
        extra = homes_total[i] - int(has.sum())
        room = np.maximum(p[i] - homes[i], 0)
        while extra > 0 and room.sum() > 0:
            weight = np.where(room > 0, p[i] / sizes, 0.0)
            add = np.minimum(_apportion(weight, extra), room)
            if add.sum() == 0:
                add[np.argmax(room)] = 1
            homes[i] += add
            room -= add
            extra -= int(add.sum())
    sp = _scaled(p.ravel(), scale).reshape(p.shape)
    sh = _scaled(homes.ravel(), scale).reshape(p.shape)
    sh = np.clip(sh, np.where(sp > 0, 1, 0), sp)
    return pd.DataFrame(
        {
            "la_index": np.repeat(np.arange(len(p)), 3),
            "sector": np.tile(["la", "private", "voluntary"], len(p)),
            "homes": sh.ravel(),
            "places": sp.ravel(),
        }
    )


def _childrens_homes(
    facts: pd.DataFrame, las: _LAs, scale: float, rng: np.random.Generator
) -> pd.DataFrame:
    """Each LA's children's homes by sector with exactly its places (scaled)."""
    cells = _sector_homes(facts, scale)
    cells = cells[cells["places"] > 0]
    sizes = [
        _split_places(int(p), int(h), rng)
        for p, h in zip(cells["places"], cells["homes"], strict=True)
    ]
    n_homes = cells["homes"].to_numpy()
    la_index = np.repeat(cells["la_index"].to_numpy(), n_homes)
    sector = np.repeat(cells["sector"].to_numpy(), n_homes)
    capacity = np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64)
    n = len(la_index)
    ages = rng.choice(3, size=n, p=[0.7, 0.2, 0.1])
    sexes = rng.choice(np.array(["any", "M", "F"], dtype=object), size=n, p=[0.87, 0.08, 0.05])
    frame = _placements(
        las,
        la_index,
        "residential_private",
        capacity,
        min_age=np.array([10, 8, 12])[ages],
        max_age=17,
        sexes=sexes,
        provider=np.where(sector == "la", "local authority", sector).astype(object),
    )
    frame.loc[sector == "la", "setting"] = "residential_la"
    return frame


def _secure_homes(
    facts: pd.DataFrame, las: _LAs, scale: float, rng: np.random.Generator
) -> pd.DataFrame:
    """The secure children's homes at their host LAs, offering only their welfare places."""
    places = _scaled(facts["secure_places_2023"].to_numpy(), scale)
    welfare = np.ceil(places / 2).astype(np.int64)
    host = np.flatnonzero(welfare > 0)
    return _placements(
        las, host, "secure", welfare[host], min_age=10, max_age=17, provider="local authority"
    )


def _foster_households(
    facts: pd.DataFrame, las: _LAs, demand: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """In-house and IFA fostering households of 1-3 places (see the module docstring)."""
    foster = demand[:, NEEDS.index("foster")].astype(float)
    inhouse_share = np.clip(rng.normal(0.58, 0.12, size=len(foster)), 0.3, 0.85)
    inhouse = np.round(foster * inhouse_share).astype(np.int64)
    total = round(foster.sum() * (1 + FOSTER_SLACK))
    ifa_total = max(total - int(inhouse.sum()), 0)
    graph = adjacency_graph(list(las.codes))
    position = {c: i for i, c in enumerate(las.codes)}
    neighbour_pop = np.array(
        [
            np.mean([las.population[position[m]] for m in graph[c] if m in position] or [p])
            for c, p in zip(las.codes, las.population, strict=True)
        ]
    )
    cheapness = 1.0 / las.price_factor**4
    weight = (0.5 * las.population + 0.5 * neighbour_pop) * cheapness
    weight *= rng.lognormal(0.0, 0.3, size=len(weight))
    ifa = _apportion(weight, ifa_total)
    frames = []
    for setting, per_la, provider in (
        ("foster_inhouse", inhouse, "local authority"),
        ("foster_ifa", ifa, None),
    ):
        sizes = [
            _household_sizes(int(t), rng, sizes=(1, 2, 3), probs=(0.45, 0.4, 0.15)) for t in per_la
        ]
        la_index = np.repeat(np.arange(len(per_la)), [len(s) for s in sizes])
        n = len(la_index)
        band = rng.choice(3, size=n, p=[0.7, 0.15, 0.15])
        who = (
            np.full(n, provider, dtype=object)
            if provider
            else rng.choice(
                np.array(["private", "voluntary"], dtype=object), size=n, p=[0.85, 0.15]
            )
        )
        frames.append(
            _placements(
                las,
                la_index,
                setting,
                np.concatenate(sizes) if sizes else np.zeros(0),
                min_age=np.array([0, 0, 11])[band],
                max_age=np.array([17, 10, 17])[band],
                provider=who,
            )
        )
    return pd.concat(frames, ignore_index=True)


def _supported_units(las: _LAs, demand: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Supported accommodation for 16-17-year-olds in units of 1-6 places."""
    need = demand[:, NEEDS.index("supported")].astype(float)
    total = round(need.sum() * (1 + SUPPORTED_SLACK))
    pop_share = las.population / las.population.sum()
    weight = 0.6 * need + 0.4 * pop_share * need.sum()
    weight *= rng.lognormal(0.0, 0.25, size=len(weight))
    per_la = _apportion(weight, total)
    sizes = [
        _household_sizes(
            int(t), rng, sizes=(1, 2, 3, 4, 5, 6), probs=(0.3, 0.2, 0.2, 0.15, 0.1, 0.05)
        )
        for t in per_la
    ]
    la_index = np.repeat(np.arange(len(per_la)), [len(s) for s in sizes])
    provider = rng.choice(
        np.array(["private", "voluntary", "local authority"], dtype=object),
        size=len(la_index),
        p=[0.7, 0.2, 0.1],
    )
    return _placements(
        las,
        la_index,
        "supported",
        np.concatenate(sizes) if sizes else np.zeros(0),
        min_age=16,
        max_age=17,
        provider=provider,
    )


def _weekly_prices(
    setting: np.ndarray, provider: np.ndarray, factor: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Weekly price per place (DESIGN.md section 6): a spread around each setting's typical
    price, times the regional factor, clipped to the setting's plausible range."""
    n = len(setting)
    z = rng.normal(0.0, 1.0, size=n)
    voluntary_home = (setting == "residential_private") & (provider == "voluntary")
    # name -> (mask, price before the regional factor, lowest, highest)
    table = {
        "foster_inhouse": (setting == "foster_inhouse", 600 * np.exp(0.12 * z), 420, 900),
        "foster_ifa": (setting == "foster_ifa", 835 + 95 * z, 550, 1000),
        "residential_la": (setting == "residential_la", 5000 * np.exp(0.15 * z), 3200, 8500),
        # Private homes: lognormal, median 5,800 and sigma 0.38: mean ~6,200, ~8% over 10,000.
        "private home": (
            (setting == "residential_private") & ~voluntary_home,
            5800 * np.exp(0.38 * z),
            3000,
            25000,
        ),
        "voluntary home": (voluntary_home, 5500 * np.exp(0.2 * z), 3000, 12000),
        "secure": (setting == "secure", 8000 * np.exp(0.08 * z), 6500, 10000),
        "supported": (setting == "supported", 1500 * np.exp(0.3 * z), 700, 4000),
    }
    price = np.zeros(n)
    for mask, values, lowest, highest in table.values():
        price[mask] = np.clip(values[mask] * factor[mask], lowest, highest)
    return np.round(price)


def _finish_placements(frame: pd.DataFrame, las: _LAs, rng: np.random.Generator) -> pd.DataFrame:
    """Order by LA and setting, add ids, points and weekly prices."""
    setting_rank = frame["setting"].map({s: i for i, s in enumerate(SETTINGS)})
    frame = (
        frame.assign(_rank=setting_rank)
        .sort_values(["la_index", "_rank"], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )
    la_index = frame["la_index"].to_numpy()
    setting = frame["setting"].to_numpy()
    provider = frame["provider"].to_numpy()
    price = _weekly_prices(setting, provider, las.price_factor[la_index], rng)
    easting, northing = _points(las, la_index, rng)
    width = max(6, len(str(len(frame))))
    return frame.assign(
        placement_id=[f"P{i:0{width}d}" for i in range(1, len(frame) + 1)],
        la=las.codes[la_index],
        easting=easting,
        northing=northing,
        weekly_cost=price,
        ofsted_rating=np.full(len(frame), "", dtype=object),
    ).drop(columns="la_index")


# ----------------------------------------------------------------------------- reporting


def pressure_by_region(problem: Problem) -> pd.DataFrame:
    """Children by need against places by setting group, per region (and an England row).

    Columns: children and places for foster (`foster_inhouse` + `foster_ifa`), residential
    (children's homes), secure and supported, and `residential_gap` / `secure_gap` (children
    minus places, positive when local supply cannot meet local demand).
    """
    region_of = dict(zip(problem.las["code"], problem.las["region_name"], strict=True))
    group = {
        "foster_inhouse": "foster",
        "foster_ifa": "foster",
        "residential_la": "residential",
        "residential_private": "residential",
        "secure": "secure",
        "supported": "supported",
    }
    kids = problem.children.assign(region=problem.children["home_la"].map(region_of))
    kids_table = kids.groupby(["region", "need"]).size().unstack(fill_value=0)
    places = problem.placements.assign(
        region=problem.placements["la"].map(region_of),
        group=problem.placements["setting"].map(group),
    )
    places_table = places.groupby(["region", "group"])["capacity"].sum().unstack(fill_value=0)
    out = pd.DataFrame(index=sorted(set(region_of.values())))
    for need in NEEDS:
        out[f"{need}_children"] = kids_table.get(need, pd.Series(dtype=int))
        out[f"{need}_places"] = places_table.get(need, pd.Series(dtype=int))
    out = out.fillna(0).astype(np.int64)
    out.loc["England"] = out.sum()
    out["residential_gap"] = out["residential_children"] - out["residential_places"]
    out["secure_gap"] = out["secure_children"] - out["secure_places"]
    out.index.name = "region"
    return out
