"""`rcc synth` writes a problem that `rcc validate` accepts, invoked as a user would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pandas as pd
import typer
from typer.testing import CliRunner

from service.cli import app

runner = CliRunner()


def test_synth_output_is_accepted_by_validate(tmp_path: Path) -> None:
    out = tmp_path / "england"
    result = runner.invoke(app, ["synth", "--out", str(out), "--seed", "3", "--scale", "0.2"])
    assert result.exit_code == 0, result.output
    assert "Children by need" in result.output and "Places by setting" in result.output
    for name in ("children.csv", "placements.csv", "rccs.csv", "las.csv", "policy.json"):
        assert (out / name).is_file(), name
    las = pd.read_csv(out / "las.csv")
    assert list(las.columns[:6]) == [
        "code",
        "name",
        "region_code",
        "region_name",
        "easting",
        "northing",
    ]
    assert len(las) == 153
    checked = runner.invoke(app, ["validate", str(out)])
    assert checked.exit_code == 0, checked.output
    children = pd.read_csv(out / "children.csv", keep_default_na=False)
    assert f"{len(children):,} children" in checked.output
    assert (children["sibling_group"] != "").any()
    assert "Warning" not in checked.output  # the shipped grouping: every RCC in one piece


def test_validate_warns_of_an_rcc_in_pieces(tmp_path: Path) -> None:
    """A user's rccs.csv was never checked for contiguity (issue 4 promises a warning naming
    the detached parts): Cornwall put into the North East is now named, as a warning."""
    out = tmp_path / "england"
    assert runner.invoke(app, ["synth", "--out", str(out), "--scale", "0.02"]).exit_code == 0
    rccs = pd.read_csv(out / "rccs.csv", encoding="utf-8-sig", dtype=str)
    rccs.loc[rccs["la_code"] == "E06000052", "rcc"] = "North East"
    rccs.to_csv(out / "rccs.csv", index=False)
    checked = runner.invoke(app, ["validate", str(out)])
    assert checked.exit_code == 0, checked.output
    said = " ".join(checked.output.split())
    assert "Warning: " in said and "RCC 'North East' is in 2 pieces" in said
    assert "E06000052 (Cornwall)" in said and "OK:" in said


def test_scenario_warns_when_its_moves_split_an_rcc(tmp_path: Path) -> None:
    """`rcc scenario` may move LAs between RCCs; an RCC left in pieces is named as a warning."""
    out = tmp_path / "england"
    assert runner.invoke(app, ["synth", "--out", str(out), "--scale", "0.02"]).exit_code == 0
    change = tmp_path / "move.json"
    change.write_text('{"rccs": {"E06000052": "North East"}}', encoding="utf-8")
    moved = runner.invoke(app, ["scenario", str(out), str(change), "--out", str(tmp_path / "v")])
    assert moved.exit_code == 0, moved.output
    said = " ".join(moved.output.split())
    assert "Warning: " in said and "RCC 'North East' is in 2 pieces" in said
    assert "E06000052 (Cornwall)" in said and "Wrote" in said


def test_synth_no_siblings_and_seed(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    args = ["--scale", "0.05", "--no-siblings"]
    assert runner.invoke(app, ["synth", "--out", str(a), "--seed", "7", *args]).exit_code == 0
    assert runner.invoke(app, ["synth", "--out", str(b), "--seed", "7", *args]).exit_code == 0
    kids = pd.read_csv(a / "children.csv", keep_default_na=False)
    assert (kids["sibling_group"] == "").all()
    assert (a / "children.csv").read_bytes() == (b / "children.csv").read_bytes()
    assert (a / "placements.csv").read_bytes() == (b / "placements.csv").read_bytes()


def test_synth_rejects_zero_scale_and_explains_options(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["synth", "--out", str(tmp_path), "--scale", "0"])
    assert bad.exit_code == 2  # a usage error, refused before any work
    assert "is not above 0" in " ".join(bad.output.replace("│", " ").split())
    helped = runner.invoke(app, ["synth", "--help"])
    assert helped.exit_code == 0
    for option in ("--out", "--seed", "--scale", "--no-siblings"):
        assert option in helped.output


def test_no_flag_is_shown_as_taking_a_value() -> None:
    """Every command's help, sub-commands' too: typer 0.29 printed "<bool>" beside each flag
    (`--no-siblings <bool>`), as if it took a value; it is pinned below that."""

    def paths(command: click.Command, prefix: list[str]) -> Iterator[list[str]]:
        yield prefix
        for name, sub in getattr(command, "commands", {}).items():
            yield from paths(sub, [*prefix, name])

    checked = 0
    for path in paths(typer.main.get_command(app), []):
        helped = runner.invoke(app, [*path, "--help"])
        assert helped.exit_code == 0, path
        assert "<bool>" not in helped.output, path
        checked += 1
    assert checked > 10  # every command was reached
