"""Calibrated synthetic England reproduces the embedded facts and DESIGN.md section 6."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from geodata.england import UnknownLAError, load_england
from geodata.rcc import GREATER_MANCHESTER
from optimiser.problem import NEEDS, read_problem, write_problem
from optimiser.synthetic import pressure_by_region, synthesize

SECURE_HOSTS = {
    "South Gloucestershire": 24,
    "Peterborough": 4,
    "County Durham": 38,
    "Northumberland": 12,
    "Salford": 27,
    "St. Helens": 12,
    "Sheffield": 10,
    "Leeds": 24,
    "Devon": 8,
    "East Sussex": 7,
    "Hampshire": 16,
    "Lincolnshire": 12,
    "Nottinghamshire": 20,
}


@pytest.fixture(scope="module")
def national():  # type: ignore[no-untyped-def]
    return synthesize(seed=1)


@pytest.fixture(scope="module")
def facts() -> pd.DataFrame:
    return load_england().frame().set_index("code")


def _close(value: float, target: float, tolerance: float = 0.02) -> bool:
    return abs(value - target) <= tolerance * target


def test_national_demand_within_2_percent_of_the_facts(national, facts) -> None:
    need = national.children["need"].value_counts()
    assert _close(need["foster"], facts["foster_31mar2024"].sum() * 51 / 67)
    assert _close(need["residential"] + need["secure"], facts["residential_31mar2024"].sum())
    assert _close(need["supported"], facts["supported_31mar2024"].sum())
    assert _close(need["secure"], 100)
    assert _close(len(national.children), 42_591 + 8_704 + 6_067)


def test_national_supply_matches_the_facts(national) -> None:
    places = national.placements.groupby("setting")["capacity"].sum()
    homes = places["residential_la"] + places["residential_private"]
    assert homes == 10_818
    # About half of the 214 secure places are held for youth justice and not offered.
    assert places["secure"] == sum(math.ceil(p / 2) for p in SECURE_HOSTS.values()) == 108
    foster_places = places["foster_inhouse"] + places["foster_ifa"]
    foster_children = (national.children["need"] == "foster").sum()
    assert 1.05 <= foster_places / foster_children <= 1.10
    assert 0.4 <= places["foster_ifa"] / foster_places <= 0.55
    supported_children = (national.children["need"] == "supported").sum()
    assert supported_children <= places["supported"] <= 1.15 * supported_children


def test_age_sex_mix_and_uasc_shape(national) -> None:
    kids = national.children
    bands = np.bincount(np.digitize(kids["age"], [1, 5, 10, 16]), minlength=5) / len(kids)
    np.testing.assert_allclose(bands, [0.05, 0.14, 0.17, 0.38, 0.26], atol=0.01)
    assert abs((kids["sex"] == "M").mean() - 0.56) < 0.01
    assert kids.loc[kids["need"] == "supported", "age"].between(16, 17).all()
    assert kids.loc[kids["need"].isin(["residential", "secure"]), "age"].between(8, 17).all()
    assert (kids.loc[kids["need"] == "foster", "age"] < 10).mean() > 0.4
    # UASC (9%, mostly 16-17 boys) make older supported children mostly boys.
    assert (kids.loc[kids["need"] == "supported", "sex"] == "M").mean() > 0.65
    assert (kids.loc[kids["age"] < 10, "sex"] == "M").mean() < 0.55


def test_each_las_childrens_home_places_equal_the_facts(national, facts) -> None:
    homes = national.placements[national.placements["setting"].str.startswith("residential")]
    by = homes.groupby(["la", "setting", "provider"])["capacity"].sum()
    expected = pd.DataFrame(
        {
            ("residential_la", "local authority"): facts["la_run_places_2023"],
            ("residential_private", "private"): facts["private_places_2023"],
            ("residential_private", "voluntary"): facts["voluntary_places_2023"],
        }
    )
    got = by.unstack(["setting", "provider"]).reindex(
        index=facts.index, columns=expected.columns, fill_value=0
    )
    pdt.assert_frame_equal(got.fillna(0).astype(np.int64), expected, check_names=False)
    n_homes = homes.groupby("la").size().reindex(facts.index, fill_value=0)
    assert (n_homes == facts["childrens_homes_2023"]).all()
    assert set(facts.index[facts["childrens_home_places_2023"] == 0]).isdisjoint(homes["la"])


def test_places_by_sector_equal_ofsted_file(national, shared_file) -> None:
    ofsted = pd.read_csv(shared_file("data/ofsted_supply_by_la_2023.csv")).set_index("code")
    homes = national.placements[national.placements["setting"].str.startswith("residential")]
    la_run = homes[homes["setting"] == "residential_la"].groupby("la")["capacity"].sum()
    for sector, column in (("private", "private"), ("voluntary", "voluntary")):
        got = homes[homes["provider"] == sector].groupby("la")["capacity"].sum()
        want = ofsted[f"childrens_homes_{column}_places"]
        assert (got.reindex(want.index, fill_value=0) == want).all()
    want = ofsted["childrens_homes_la_run_places"]
    assert (la_run.reindex(want.index, fill_value=0) == want).all()


def test_childrens_homes_shape(national) -> None:
    homes = national.placements[national.placements["setting"].str.startswith("residential")]
    assert (homes["capacity"] >= 1).all()
    assert (homes["capacity"] <= 6).mean() > 0.97
    ranges = set(zip(homes["min_age"], homes["max_age"], strict=True))
    assert ranges == {(10, 17), (8, 17), (12, 17)}
    assert ((homes["min_age"] == 10).mean()) > 0.6
    single_sex = homes["sexes"].isin(["F", "M"]).mean()
    assert 0.05 < single_sex < 0.25


def test_secure_homes_at_their_13_host_las(national) -> None:
    england = load_england()
    secure = national.placements[national.placements["setting"] == "secure"]
    hosts = {england.by_name(name).code: places for name, places in SECURE_HOSTS.items()}
    assert dict(zip(secure["la"], secure["capacity"], strict=True)) == {
        code: math.ceil(p / 2) for code, p in hosts.items()
    }
    assert (secure["min_age"] == 10).all() and (secure["sexes"] == "any").all()


def test_pressure_is_real(national, facts) -> None:
    table = pressure_by_region(national)
    assert table.loc["London", "residential_gap"] > 0
    assert table.loc["South West", "residential_gap"] > 0
    assert table.loc["London", "secure_gap"] > 0
    nw_wm = table.loc[["North West", "West Midlands"], "residential_places"].sum()
    assert nw_wm / table.loc["England", "residential_places"] > 0.35
    kids = national.children
    res_demand = kids[kids["need"] == "residential"].groupby("home_la").size()
    homes = national.placements[national.placements["setting"].str.startswith("residential")]
    local = homes.groupby("la")["capacity"].sum().reindex(res_demand.index, fill_value=0)
    assert (res_demand > local).sum() >= 30
    foster_kids = kids[kids["need"] == "foster"].groupby("home_la").size()
    fp = national.placements[national.placements["setting"].str.startswith("foster")]
    foster_local = fp.groupby("la")["capacity"].sum().reindex(foster_kids.index, fill_value=0)
    assert (foster_kids > foster_local).sum() >= 20


def test_prices_per_setting(national) -> None:
    p = national.placements
    mean = (p["weekly_cost"] * p["capacity"]).groupby(p["setting"]).sum() / p.groupby("setting")[
        "capacity"
    ].sum()
    assert 550 <= mean["foster_inhouse"] <= 650
    assert 800 <= mean["foster_ifa"] <= 870
    assert 4700 <= mean["residential_la"] <= 5300
    private = p[(p["setting"] == "residential_private") & (p["provider"] == "private")]
    assert 5800 <= private["weekly_cost"].mean() <= 6400
    assert (private["weekly_cost"] > 10_000).sum() >= 50
    assert 7500 <= mean["secure"] <= 8500
    assert 1300 <= mean["supported"] <= 1700
    assert p.loc[p["setting"] == "foster_ifa", "weekly_cost"].between(550, 1000).all()


def test_foster_households_and_supported_units(national) -> None:
    p = national.placements
    foster = p[p["setting"].isin(["foster_inhouse", "foster_ifa"])]
    assert foster["capacity"].between(1, 3).all()
    assert (foster["sexes"] == "any").all()
    supported = p[p["setting"] == "supported"]
    assert supported["capacity"].between(1, 6).all()
    assert ((supported["min_age"] == 16) & (supported["max_age"] == 17)).all()


def test_sibling_groups(national) -> None:
    kids = national.children
    grouped = kids[kids["sibling_group"] != ""]
    sizes = grouped.groupby("sibling_group").size()
    assert sizes.between(2, 4).all()
    assert (grouped["need"] == "foster").all()
    assert (grouped.groupby("sibling_group")["home_la"].nunique() == 1).all()
    assert (grouped.groupby("sibling_group")[["easting", "northing"]].nunique() == 1).all().all()
    share = len(grouped) / (kids["need"] == "foster").sum()
    assert 0.15 <= share <= 0.35
    assert grouped["sibling_group"].str.fullmatch(r"SG\d{6}").all()


def test_ids_points_and_fresh_plan(national, facts) -> None:
    kids, places = national.children, national.placements
    assert kids["child_id"].str.fullmatch(r"C\d{7}").all() and kids["child_id"].is_unique
    assert places["placement_id"].str.fullmatch(r"P\d{6}").all()
    assert places["placement_id"].is_unique
    assert (kids["current_placement"] == "").all()
    la = facts.loc[kids["home_la"]]
    d_east = kids["easting"].to_numpy() - la["easting"].to_numpy()
    d_north = kids["northing"].to_numpy() - la["northing"].to_numpy()
    assert (np.hypot(d_east, d_north) <= 0.6 * np.sqrt(la["area_km2"].to_numpy()) * 1000 + 1).all()
    assert set(NEEDS) == set(kids["need"])


def test_suppressed_counts_are_imputed_small(national, facts) -> None:
    per_la = national.children.groupby("home_la").size()
    scilly = load_england().by_name("Isles of Scilly").code
    city = load_england().by_name("City of London").code
    assert scilly not in per_la.index  # no children looked after there
    assert 1 <= per_la[city] <= facts.loc[city, "cla_31mar2024"]


def test_deterministic_for_a_seed_and_different_across_seeds(national) -> None:
    again = synthesize(seed=1)
    pdt.assert_frame_equal(again.children, national.children)
    pdt.assert_frame_equal(again.placements, national.placements)
    other = synthesize(seed=2)
    assert not other.children["age"].equals(national.children["age"])
    assert not other.placements["weekly_cost"].equals(national.placements["weekly_cost"])
    # The facts do not depend on the seed.
    assert len(other.children) == len(national.children)


def test_scale_two_roughly_doubles(national) -> None:
    double = synthesize(seed=1, scale=2)
    assert len(double.children) / len(national.children) == pytest.approx(2, rel=0.01)
    for setting, places in double.placements.groupby("setting")["capacity"].sum().items():
        base = national.placements.loc[national.placements["setting"] == setting, "capacity"]
        assert places / base.sum() == pytest.approx(2, rel=0.02), setting


def test_no_sibling_groups_option() -> None:
    small = synthesize(seed=4, scale=0.1, sibling_groups=False)
    assert (small.children["sibling_group"] == "").all()
    assert len(small.children) == pytest.approx(0.1 * 57_392, rel=0.02)


def test_rcc_lookup_chooses_las() -> None:
    lookup = {code: "Greater Manchester" for code in GREATER_MANCHESTER}
    gm = synthesize(rccs=lookup)
    assert set(gm.children["home_la"]) == set(GREATER_MANCHESTER)
    assert set(gm.placements["la"]) <= set(GREATER_MANCHESTER)
    assert list(gm.las["rcc"].unique()) == ["Greater Manchester"]


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="scale must be a positive number"):
        synthesize(scale=0)
    with pytest.raises(UnknownLAError, match="E0600000X"):
        synthesize(rccs={"E0600000X": "Nowhere"})


def test_round_trip_through_csv(national, tmp_path: Path) -> None:
    write_problem(national, tmp_path)
    back = read_problem(tmp_path)
    pdt.assert_frame_equal(back.children, national.children)
    pdt.assert_frame_equal(back.placements, national.placements)
    pdt.assert_frame_equal(back.las, national.las)
    assert back.policy == national.policy


def test_tiny_scale_gives_an_empty_but_well_formed_problem() -> None:
    empty = synthesize(scale=1e-6)
    assert len(empty.children) == 0 and len(empty.placements) == 0
    assert len(empty.las) == 153
