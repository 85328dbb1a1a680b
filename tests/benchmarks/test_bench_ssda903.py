"""Benchmark: importing an SSDA903 return, against just parsing its CSVs with pandas.

Seeded (synthetic England, seed 1, written as a 2023/24 return with seed 1) at three scales.
For each, the table gives the rows, the seconds of `import_903` (read, check, census, derive,
build the problem) and of the peer, plain `pandas.read_csv` of the same header, episodes and
postcode files, and their ratio. Run with `make bench`.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from optimiser.ofsted import read_ofsted_providers
from optimiser.ssda903 import import_903, read_postcodes, write_ssda903
from optimiser.synthetic import synthesize

SCALES = (0.1, 0.3, 1.0)


def _peer(folder: Path) -> float:
    start = time.perf_counter()
    for path in sorted(folder.glob("*.csv")):
        pd.read_csv(path, dtype=str, keep_default_na=False)
    return time.perf_counter() - start


@pytest.mark.slow
def test_bench_ssda903_import(tmp_path: Path) -> None:
    print(
        f"\n{'scale':>6}{'children':>10}{'episodes':>10}{'import s':>10}"
        f"{'read_csv s':>12}{'ratio':>8}"
    )
    for scale in SCALES:
        folder = tmp_path / f"s{scale}"
        problem = synthesize(seed=1, scale=scale)
        with warnings.catch_warnings():  # optimiser.baseline: LAs with no children (small scales)
            warnings.simplefilter("ignore", RuntimeWarning)
            write_ssda903(problem, folder, year=2024, seed=1)
        peer = _peer(folder)
        start = time.perf_counter()
        result = import_903(
            folder,
            folder,
            postcodes=read_postcodes(folder / "postcodes.csv"),
            ofsted=read_ofsted_providers(folder / "ofsted_providers.csv"),
        )
        seconds = time.perf_counter() - start
        assert result.report.ok
        episodes = result.report.counts["episode rows"]
        print(
            f"{scale:>6}{len(problem.children):>10,}{episodes:>10,}{seconds:>10.2f}"
            f"{peer:>12.2f}{seconds / peer:>8.1f}"
        )
