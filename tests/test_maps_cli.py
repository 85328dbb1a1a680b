"""`rcc map` end to end on a small synthetic England solved by `rcc solve`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_maps import parse_map, plan_actions_for
from test_maps_suppress import SMALL, _displayed_text
from typer.testing import CliRunner

from maps.assets import LEAFLET_DIR_ENV
from service.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def result_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`rcc synth --scale 0.02` solved by `rcc solve` (about 1,100 children)."""
    root = tmp_path_factory.mktemp("rcc-map")
    synth = runner.invoke(
        app, ["synth", "--out", str(root / "problem"), "--scale", "0.02", "--no-siblings"]
    )
    assert synth.exit_code == 0, synth.output
    solve = runner.invoke(
        app,
        [
            "solve",
            str(root / "problem"),
            "--out",
            str(root / "result"),
            "--no-baseline",
            "--time-limit",
            "30",
        ],
    )
    assert solve.exit_code == 0, solve.output
    return root / "result"


def _run(*args: str) -> Any:
    return runner.invoke(app, ["map", *args])


def _flat(text: str) -> str:
    """Console output with the terminal's line wrapping undone."""
    return " ".join(text.split())


@pytest.mark.parametrize("kind", ["out-of-area", "flows", "rccs", "sufficiency"])
def test_each_kind_is_written_next_to_the_result(result_dir: Path, kind: str) -> None:
    done = _run(str(result_dir), "--kind", kind)
    assert done.exit_code == 0, done.output
    path = result_dir / f"map-{kind}.html"
    assert str(path) in done.output.replace("\n", "")  # paths wrap without a space
    parsed = parse_map(path.read_text(encoding="utf-8"))
    assert parsed.layers and "rcc-legend" in parsed.panels
    assert result_dir.name in parsed.panels["rcc-title"]  # scenario defaults to the folder
    offenders = [t for t in _displayed_text(parsed) if SMALL.search(t)]
    assert offenders == [], offenders[:5]


def test_solved_allocation_counts_reach_the_map(result_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "internal.html"
    done = _run(str(result_dir), "--internal", "--out", str(out), "--scenario", "Baseline")
    assert done.exit_code == 0, done.output
    layer = parse_map(out.read_text(encoding="utf-8")).layers["Placed outside their LA"]
    allocation = pd.read_csv(result_dir / "allocation.csv", dtype={"out_of_la": bool})
    total = sum(int(f["properties"]["children"].replace(",", "")) for f in layer.features)
    assert total == len(allocation)  # every child is on the map, none dropped
    moved = sum(int(f["properties"]["out_of_la"].replace(",", "")) for f in layer.features)
    assert moved == int(allocation["out_of_la"].sum())


def test_one_council_flows_and_cdn(result_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "flows.html"
    done = _run(str(result_dir), "--kind", "flows", "--la", "E08000025", "--cdn", "--out", str(out))
    assert done.exit_code == 0, done.output
    html = out.read_text(encoding="utf-8")
    assert "Birmingham's children" in parse_map(html).panels["rcc-title"]
    assert 'src="https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js"' in html


def test_plan_kind_reads_plan_actions(result_dir: Path, tmp_path: Path) -> None:
    rccs = pd.read_csv(result_dir / "rccs.csv")
    plan = plan_actions_for(dict(zip(rccs["la_code"], rccs["rcc"], strict=True)))
    (tmp_path / "plan").mkdir()
    plan.to_csv(tmp_path / "plan" / "plan_actions.csv", index=False)
    missing = _run(str(result_dir), "--kind", "plan", "--out", str(tmp_path / "p.html"))
    assert missing.exit_code == 1 and "plan_actions.csv" in missing.output
    done = _run(
        str(result_dir),
        "--kind",
        "plan",
        "--plan",
        str(tmp_path / "plan"),
        "--out",
        str(tmp_path / "p.html"),
    )
    assert done.exit_code == 0, done.output
    layers = parse_map((tmp_path / "p.html").read_text(encoding="utf-8")).layers
    assert "Plan: open home" in layers and "Plan: recruit foster" in layers


def test_real_boundaries_option(result_dir: Path, tmp_path: Path, shared_file: Any) -> None:
    out = tmp_path / "real.html"
    geojson = shared_file("geodata/england_utla.geojson")
    done = _run(str(result_dir), "--boundaries", str(geojson), "--out", str(out))
    assert done.exit_code == 0, done.output
    assert out.stat().st_size < 3_000_000
    layer = parse_map(out.read_text(encoding="utf-8")).layers["Placed outside their LA"]
    assert len(layer.features) == 153


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "heatmap"], "--kind must be one of"),
        (["--kind", "rccs", "--la", "E08000025"], "applies to --kind flows only"),
        (["--kind", "out-of-area", "--level", "rcc"], "applies to --kind sufficiency and plan"),
        (["--kind", "flows", "--la", "E0800002"], "not one of the 153"),
        (["--level", "region", "--kind", "sufficiency"], "--level must be"),
    ],
)
def test_bad_options_are_explained(result_dir: Path, args: list[str], message: str) -> None:
    done = _run(str(result_dir), *args)
    assert done.exit_code == 1
    assert message in _flat(done.output)


def test_an_out_that_cannot_be_written_is_one_line(result_dir: Path, tmp_path: Path) -> None:
    """--out naming a folder ended in IsADirectoryError, a path under /proc (for root) in
    FileNotFoundError, both with a traceback."""
    done = _run(str(result_dir), "--out", str(tmp_path))
    assert done.exit_code == 1 and isinstance(done.exception, SystemExit)
    said = "".join(done.output.split())  # a long path wraps anywhere
    assert f"Error:cannotwrite{tmp_path}:Isadirectory" in said, done.output


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("empty", "allocation.csv: the file is empty (no header row)"),
        ("ragged", "allocation.csv: cannot read as CSV: Error tokenizing data."),
        ("windows", "allocation.csv: not UTF-8 text (byte"),
    ],
)
def test_an_allocation_that_cannot_be_read_is_named(
    result_dir: Path, tmp_path: Path, damage: str, said: str
) -> None:
    """'Error: No columns to parse from file', a codec or a tokenizing error named no file."""
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in result_dir.iterdir():
        if f.is_file():
            (bad / f.name).write_bytes(f.read_bytes())
    lines = (result_dir / "allocation.csv").read_text(encoding="utf-8-sig").splitlines()
    if damage == "empty":
        (bad / "allocation.csv").write_text("")
    elif damage == "ragged":
        lines[4] += ",extra"
        (bad / "allocation.csv").write_text("\n".join(lines) + "\n")
    else:
        lines[4] += "\u00e9"  # an accent in the last column, saved as Windows-1252
        (bad / "allocation.csv").write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    done = _run(str(bad), "--out", str(tmp_path / "m.html"))
    assert done.exit_code == 1 and isinstance(done.exception, SystemExit), done.output
    flat = "".join(done.output.split())  # a long path wraps anywhere
    assert "".join(f"Error: {bad}/{said}".split()) in flat, done.output


def test_not_a_result_folder(tmp_path: Path) -> None:
    done = _run(str(tmp_path))
    assert done.exit_code == 1
    assert "allocation.csv: not found" in done.output.replace("\n", "")


def test_missing_leaflet_is_explained(
    result_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LEAFLET_DIR_ENV, str(tmp_path))
    done = _run(str(result_dir), "--out", str(tmp_path / "x.html"))
    assert done.exit_code == 1
    assert "make map-assets" in _flat(done.output)
    assert not (tmp_path / "x.html").exists()


def test_boundaries_code_column_option(result_dir: Path, tmp_path: Path, shared_file: Any) -> None:
    """The boundary error told `rcc map` users to pass --code-column, which map did not have."""
    import geopandas as gpd

    frame = gpd.read_file(shared_file("geodata/england_utla.geojson"))
    renamed = tmp_path / "renamed.geojson"
    frame.rename(columns={"code": "la"}).assign(la=frame["code"].str.lower()).to_file(renamed)
    unnamed = tmp_path / "unnamed.geojson"
    frame.assign(code=frame["name"]).to_file(unnamed)
    done = _run(str(result_dir), "--boundaries", str(unnamed), "--out", str(tmp_path / "u.html"))
    assert done.exit_code == 1
    assert "unnamed.geojson: no column holds" in _flat(done.output)
    out = tmp_path / "renamed.html"
    args = ["--boundaries", str(renamed), "--code-column", "la", "--out", str(out)]
    done = _run(str(result_dir), *args)
    assert done.exit_code == 0, done.output
    assert (
        len(parse_map(out.read_text(encoding="utf-8")).layers["Placed outside their LA"].features)
        == 153
    )


def test_partial_boundaries_are_reported_and_noted(
    result_dir: Path, tmp_path: Path, shared_file: Any
) -> None:
    import json

    data = json.loads(shared_file("geodata/england_utla.geojson").read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if f["properties"]["code"] != "E10000030"]
    partial = tmp_path / "partial.geojson"
    partial.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "partial.html"
    done = _run(str(result_dir), "--boundaries", str(partial), "--out", str(out))
    assert done.exit_code == 0, done.output
    assert "E10000030 (Surrey)" in _flat(done.output)
    parsed = parse_map(out.read_text(encoding="utf-8"))
    assert "no shape on this map" in parsed.panels["rcc-note"]
    assert "E10000030" in parsed.panels["rcc-note"]
    assert len(parsed.layers["Placed outside their LA"].features) == 152
