"""The geodata package exports its public API lazily, without importing geopandas up front."""

from __future__ import annotations

import subprocess
import sys
from importlib import import_module

import geodata


def test_every_exported_name_resolves_to_its_module() -> None:
    for name, module in geodata._EXPORTS.items():
        assert getattr(geodata, name) is getattr(import_module(f"geodata.{module}"), name)
    assert "hex_polygons" in dir(geodata)


def test_importing_england_does_not_load_geopandas() -> None:
    code = "import sys, geodata.england; print('geopandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
