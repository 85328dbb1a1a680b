"""The map files of a finished result: where each one lives, drawing one (written atomically),
and drawing the standard set once after a job is done (in a niced worker process)."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

log = logging.getLogger("rcc.jobs")

__all__ = ["STANDARD_KINDS", "draw_map", "draw_standard_maps", "map_path"]

# drawn for every finished scenario (whole result, internal and suppressed), "plan" with a plan
STANDARD_KINDS = ("out-of-area", "flows", "rccs", "sufficiency")


def map_path(folder: Path, kind: str, la: str | None, *, suppressed: bool) -> Path:
    """The cached HTML of one map of the result in `folder`."""
    return folder / "maps" / f"{kind}-{la or 'all'}-{'public' if suppressed else 'internal'}.html"


def draw_map(
    folder: Path,
    kind: str,
    la: str | None,
    *,
    suppressed: bool,
    threshold: int,
    scenario: str,
    geometry: Any,
    inputs: Any = None,
    shared: Any = None,
) -> Path:
    """Draw one map of the result in `folder` into its `map_path` (unless already there);
    `shared`: what the result's maps may show, when already decided (`maps.bundle.disclosures`).
    The file appears whole or not at all, so the read route and the worker may race."""
    from maps import MapSettings, Suppression, build_map, read_result, render_html

    path = map_path(folder, kind, la, suppressed=suppressed)
    if path.exists():
        return path
    settings = MapSettings(
        scenario=scenario,
        geometry=geometry,
        suppression=Suppression(threshold=threshold, enabled=suppressed),
    )
    if inputs is None:
        inputs = read_result(folder, plan=kind == "plan", plan_actions=folder / "plan")
    html = render_html(build_map(kind, inputs, settings=settings, la=la, shared=shared))
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path


def draw_standard_maps(spec: dict[str, Any]) -> None:
    """Worker entry point (a child process, niced): draw every standard map of a finished
    result, internal and suppressed, so no reader waits for a drawing."""
    from maps import MapSettings, Suppression, read_result
    from maps.bundle import disclosures
    from maps.geometry import MapGeometry
    from service.jobs import exit_with_parent

    exit_with_parent(spec.get("service_pid"))
    os.nice(int(spec.get("nice", 0)))
    folder = Path(spec["folder"])
    geometry = MapGeometry.hex()
    inputs = read_result(folder)
    kinds = list(STANDARD_KINDS)
    if (folder / "plan").is_dir():
        kinds.append("plan")
    # what the maps may show, decided once for all of them (plan actions do not enter it)
    threshold = int(spec["threshold"])
    try:
        shared = {
            s: disclosures(
                inputs, MapSettings(geometry=geometry, suppression=Suppression(threshold, s))
            )
            for s in (False, True)
        }
    except Exception as exc:  # left to the read route, which reports what went wrong
        log.warning("the maps of %s were not drawn: %s", folder.name, type(exc).__name__)
        return
    for kind in kinds:
        try:
            source = inputs
            if kind == "plan":
                source = read_result(folder, plan=True, plan_actions=folder / "plan")
            for suppressed in (False, True):
                draw_map(
                    folder,
                    kind,
                    None,
                    suppressed=suppressed,
                    threshold=threshold,
                    scenario=str(spec["name"]),
                    geometry=geometry,
                    inputs=source,
                    shared=shared[suppressed],
                )
        except Exception as exc:  # left to the read route, which reports what went wrong
            name = type(exc).__name__
            log.warning("drawing the %s map of %s failed: %s", kind, folder.name, name)
