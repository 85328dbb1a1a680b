"""Folium maps of a result that work offline and apply small-number suppression."""

from maps.assets import MapAssetsMissingError
from maps.bundle import KINDS, build_map, write_maps
from maps.flows import flows_map
from maps.geometry import MapGeometry, load_geometry
from maps.inputs import MapInputError, MapInputs, read_result
from maps.out_of_area import out_of_area_map
from maps.rccs import rcc_map
from maps.style import MapSettings, render_html, save_map
from maps.sufficiency import plan_map, sufficiency_map
from maps.suppress import Suppression

__all__ = [
    "KINDS",
    "MapAssetsMissingError",
    "MapGeometry",
    "MapInputError",
    "MapInputs",
    "MapSettings",
    "Suppression",
    "build_map",
    "flows_map",
    "load_geometry",
    "out_of_area_map",
    "plan_map",
    "rcc_map",
    "read_result",
    "render_html",
    "save_map",
    "sufficiency_map",
    "write_maps",
]
