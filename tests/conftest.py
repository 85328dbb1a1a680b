"""Shared fixtures: paths to the real data beside the repository, skipped when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` beside the repository; tests that read real data skip without it."""
    if not SHARED.is_dir():
        pytest.skip(f"real data folder {SHARED} is absent (it sits beside the repo in CI)")
    return SHARED


@pytest.fixture(scope="session")
def shared_file(shared_dir: Path):  # type: ignore[no-untyped-def]
    """Return a function giving a file under ../shared, skipping when it is missing."""

    def get(relative: str) -> Path:
        path = shared_dir / relative
        if not path.exists():
            pytest.skip(f"{path} is absent")
        return path

    return get
