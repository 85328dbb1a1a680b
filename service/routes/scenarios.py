"""Scenarios: POST runs an allocation as a job; GET its status, indicators, allocation,
unplaced children, maps; compare scenarios; cancel a job."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from sqlalchemy.exc import IntegrityError

from maps import read_result
from optimiser.errors import InputIssue, ProblemValidationError
from service.auth import PLANNER_ONLY, Principal, require_planner, require_reader
from service.cache import Body, BodyCache
from service.mapfiles import draw_map, map_path
from service.schemas import ErrorOut, RccSpec, ScenarioIn, ScenarioOut
from service.store import Dataset, Scenario, Store
from service.views import PUBLISHED_TABLES, compare, suppress_tables, suppressed_view

if TYPE_CHECKING:
    from optimiser.scenario import Scenario as Changes

router = APIRouter(tags=["scenarios"])

MAP_KINDS = ("out-of-area", "flows", "rccs", "sufficiency", "plan")


def _store(request: Request) -> Store:
    store: Store = request.app.state.service.store
    return store


def _out(sc: Scenario) -> ScenarioOut:
    base = f"/v1/scenarios/{sc.id}"
    links = {"self": base, "dataset": f"/v1/datasets/{sc.dataset_id}"}
    if sc.job.state in ("queued", "running"):
        links["cancel"] = f"{base}/cancel"
    if sc.job.state == "done":
        links.update(
            indicators=f"{base}/indicators?by=la",
            allocation=f"{base}/allocation",
            unplaced=f"{base}/unplaced",
            map=f"{base}/maps/out-of-area",
        )
        if sc.summary and "plan" in sc.summary:
            links.update(plan=f"{base}/plan", plan_map=f"{base}/maps/plan")
    return ScenarioOut(
        id=sc.id,
        name=sc.name,
        dataset_id=sc.dataset_id,
        state=sc.job.state,  # type: ignore[arg-type]
        progress=sc.job.progress,
        reason=sc.job.reason,
        attempts=sc.job.attempts,
        created_at=sc.created_at,
        started_at=sc.job.started_at,
        finished_at=sc.job.finished_at,
        summary=sc.summary,
        links=links,
    )


# links of a scenario to routes for planner and admin keys only
_PLANNER_LINKS = ("cancel", "allocation", "unplaced", "plan")

_RATE = re.compile(r"^-?\d+(\.\d+)?%?$")


def _growth_issue(value: Any, source: str, *, planned: bool) -> InputIssue | None:
    """Growth only with a plan, and only as flat, care-review or a rate (never a file name)."""
    if not planned:
        return InputIssue(
            source, None, "growth", 'growth applies to a sufficiency plan: add "plan": {}'
        )
    if isinstance(value, dict):
        return None  # {"rate": ..., "la_rates": {...}} is checked by scenario_from_json
    if isinstance(value, bool) or not (
        isinstance(value, int | float) or value in ("flat", "care-review") or _RATE.match(value)
    ):
        return InputIssue(
            source, None, "growth", f"use flat, care-review or an annual rate, not {value!r}"
        )
    from optimiser.forecast import parse_growth

    try:
        parse_growth(value)
    except ValueError as exc:
        return InputIssue(source, None, "growth", str(exc))
    return None


def _check_request(body: ScenarioIn, request: Request) -> None:
    """Everything checkable before the job runs (the dataset's LAs and placements, not its
    children): 422 listing every issue."""
    from optimiser.problem import Policy
    from optimiser.scenario import scenario_from_json

    state = request.app.state.service
    issues: list[InputIssue] = []
    dataset = state.store.get_dataset(body.dataset_id)
    if dataset is None:
        issues.append(InputIssue("request", None, "dataset_id", f"no dataset '{body.dataset_id}'"))
    if body.policy is not None:
        try:
            Policy.from_json(body.policy, source="policy")
        except ProblemValidationError as exc:
            issues.extend(exc.issues)
    if body.changes is not None:
        changes = dict(body.changes)
        if "growth" in changes:
            issue = _growth_issue(changes["growth"], "changes", planned=body.plan is not None)
            if issue is not None:
                issues.append(issue)
                changes.pop("growth")
        try:
            scenario = scenario_from_json(changes, source="changes")
        except ProblemValidationError as exc:
            issues.extend(exc.issues)
        else:
            if dataset is not None:
                issues.extend(_change_issues(dataset, scenario, body.rccs))
    if body.plan is not None:
        from optimiser.costs import parse_money

        issue = _growth_issue(body.plan.growth, "plan", planned=True)
        if issue is not None:
            issues.append(issue)
        try:  # (it refuses '1e400', which float() reads as no budget at all)
            parse_money(body.plan.capital_budget)
        except ValueError as exc:
            issues.append(InputIssue("plan", None, "capital_budget", str(exc)))
    if body.rccs is not None:
        ref = state.reference
        if body.rccs.lookup is not None:
            for code, rcc in body.rccs.lookup.items():
                if code not in ref.codes:
                    issues.append(InputIssue("rccs", None, code, "not an English LA code"))
                elif not rcc.strip():
                    issues.append(InputIssue("rccs", None, code, "RCC name is empty"))
            missing = sorted(_dataset_las(dataset) - set(body.rccs.lookup)) if dataset else []
            if missing:
                shown = ", ".join(missing[:10]) + (
                    f" and {len(missing) - 10} more" if len(missing) > 10 else ""
                )
                text = f"{len(missing)} LAs of the dataset have no RCC in the lookup: {shown}"
                issues.append(InputIssue("rccs", None, "lookup", text))
        elif body.rccs.preset not in ("dataset", *ref.presets):
            issues.append(
                InputIssue("rccs", None, "preset", f"'{body.rccs.preset}' is not shipped here")
            )
    if issues:
        raise ProblemValidationError(issues)


def _change_issues(dataset: Dataset, changes: Changes, rccs: RccSpec | None) -> list[InputIssue]:
    """What applying the changes to the dataset refuses (an LA not in its RCC lookup, more
    places removed than it has): a 422 now, not a job that fails later. Cheap: the changes
    touch only the placements and the LAs, so the children are not read."""
    from optimiser.problem import Problem, las_frame, read_rccs
    from optimiser.scenario import apply_scenario
    from service.jobs import lookup_for

    folder = Path(dataset.folder)
    lookup = lookup_for(rccs.model_dump() if rccs else None) or read_rccs(folder / "rccs.csv")
    placements = pd.read_csv(folder / "placements.csv", dtype=str, keep_default_na=False)
    placements = placements.astype({"capacity": "int64", "weekly_cost": "float64"})
    problem = Problem(children=pd.DataFrame(), placements=placements, las=las_frame(lookup))
    try:
        apply_scenario(problem, changes, source="changes")
    except ProblemValidationError as exc:
        return exc.issues
    return []


def _bad_query(column: str, message: str) -> ProblemValidationError:
    """A 422 for a query parameter, in the shape of every 422 (detail and issues)."""
    return ProblemValidationError([InputIssue("request", None, f"query.{column}", message)])


def _dataset_las(dataset: Dataset) -> set[str]:
    """The LAs a dataset's children and placements name (every one needs an RCC)."""
    folder = Path(dataset.folder)
    used: set[str] = set()
    for name, column in (("children.csv", "home_la"), ("placements.csv", "la")):
        frame = pd.read_csv(folder / name, usecols=[column], dtype=str, keep_default_na=False)
        used |= set(frame[column])
    return used


@router.post(
    "/scenarios",
    status_code=202,
    response_model=ScenarioOut,
    summary="Run an allocation for a dataset with an RCC lookup, policy and capacity changes",
    responses={
        **PLANNER_ONLY,
        409: {"description": "Idempotency-Key reused with a different body"},
        422: {"description": "Invalid request, each issue named", "model": ErrorOut},
        429: {"description": "Too many queued or running jobs for this key"},
    },
)
def create_scenario(
    body: ScenarioIn,
    request: Request,
    response: Response,
    who: Annotated[Principal, Depends(require_planner)],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ScenarioOut:
    state = request.app.state.service
    store: Store = state.store
    payload = body.model_dump(mode="json")
    request_hash = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    if idempotency_key:
        earlier = store.scenario_by_idempotency(who.key_id, idempotency_key)
        if earlier is not None:
            return _same(earlier, request_hash, response)
    _check_request(body, request)
    active = store.active_jobs(who.key_id)
    if active >= state.settings.max_jobs_per_key:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"this key has {active} scenarios queued or running (limit "
            f"{state.settings.max_jobs_per_key}); wait for one to finish",
            headers={"Retry-After": "5"},
        )
    try:
        sc = store.add_scenario(
            dataset_id=body.dataset_id,
            key_id=who.key_id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            name=body.name or "scenario",
            request=payload,
        )
    except IntegrityError:
        earlier = store.scenario_by_idempotency(who.key_id, idempotency_key or "")
        if earlier is None:
            raise
        return _same(earlier, request_hash, response)
    state.runner.wake()
    response.headers["Location"] = f"/v1/scenarios/{sc.id}"
    return _out(sc)


def _same(earlier: Scenario, request_hash: str, response: Response) -> ScenarioOut:
    if earlier.request_hash != request_hash:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "this Idempotency-Key was used with a different request body"
        )
    response.headers["Location"] = f"/v1/scenarios/{earlier.id}"
    return _out(earlier)


def _scenario(request: Request, scenario_id: str) -> Scenario:
    sc = _store(request).get_scenario(scenario_id)
    if sc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no scenario '{scenario_id}'")
    return sc


def _done(request: Request, scenario_id: str) -> Scenario:
    return _check_done(_scenario(request, scenario_id))


def _check_done(sc: Scenario) -> Scenario:
    if sc.job.state != "done" or sc.result_folder is None:
        why = f": {sc.job.reason}" if sc.job.reason else ""
        raise HTTPException(status.HTTP_409_CONFLICT, f"scenario '{sc.id}' is {sc.job.state}{why}")
    return sc


async def _finished(request: Request, scenario_id: str) -> Scenario:
    """The done scenario (404, 409 otherwise): from memory once read (a finished scenario
    never changes), else from the database in the thread pool."""
    sc = _store(request).cached_scenario(scenario_id)
    if sc is None:
        sc = await run_in_threadpool(_scenario, request, scenario_id)
    return _check_done(sc)


@router.get(
    "/scenarios/compare",
    summary="Indicator differences between scenarios (each against the first)",
    responses={
        **PLANNER_ONLY,
        404: {"description": "No such scenario"},
        409: {"description": "Not done"},
    },
)
def compare_scenarios(
    request: Request,
    _who: Annotated[Principal, Depends(require_planner)],
    ids: Annotated[str, Query(description="Comma-separated scenario ids, e.g. a,b")],
    by: Annotated[Literal["rcc", "la"], Query()] = "rcc",
) -> dict[str, Any]:
    names = [i.strip() for i in ids.split(",") if i.strip()]
    if len(names) < 2 or len(names) > 10:
        raise _bad_query("ids", "give 2 to 10 scenario ids")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:  # its columns would overwrite each other
        raise _bad_query("ids", f"give each scenario once ({', '.join(repeated)} repeated)")
    tables, datasets = [], []
    for sid in names:
        datasets.append(_done(request, sid).dataset_id)
        tables.append(_store(request).indicators(sid) or {})
    out = compare(names, tables, key=by)
    if len(set(datasets)) > 1:  # the same changes on other children: differences mix both
        named = ", ".join(f"{n}: {d}" for n, d in zip(names, datasets, strict=True))
        out["warnings"] = [f"the scenarios are of different datasets ({named})"]
    return out


@router.get(
    "/scenarios/{scenario_id}",
    response_model=ScenarioOut,
    summary="A scenario's state (queued, running, done, failed, cancelled), progress, summary",
    responses={404: {"description": "No such scenario"}},
)
def get_scenario(
    scenario_id: str, request: Request, who: Annotated[Principal, Depends(require_reader)]
) -> ScenarioOut:
    out = _out(_scenario(request, scenario_id))
    if who.suppressed:  # councils read indicators and maps, not the run's national summary
        out.summary = None
    if who.role == "council":  # nor links to what answers them 403
        drop = (*_PLANNER_LINKS, "plan_map") if who.la else _PLANNER_LINKS
        out.links = {k: v for k, v in out.links.items() if k not in drop}
        if who.la and "map" in out.links:  # a bound key's map: the flows of its own children
            out.links["map"] = f"/v1/scenarios/{out.id}/maps/flows"
    return out


@router.post(
    "/scenarios/{scenario_id}/cancel",
    response_model=ScenarioOut,
    summary="Cancel a queued or running scenario",
    responses={
        **PLANNER_ONLY,
        404: {"description": "No such scenario"},
        409: {"description": "Finished"},
    },
)
def cancel_scenario(
    scenario_id: str, request: Request, who: Annotated[Principal, Depends(require_planner)]
) -> ScenarioOut:
    sc = _scenario(request, scenario_id)
    store = _store(request)
    if not store.fail_job(sc.job.id, f"cancelled by key {who.key_id}", state="cancelled"):
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"scenario '{scenario_id}' is already {sc.job.state}"
        )
    request.app.state.service.runner.wake()
    return _out(_scenario(request, scenario_id))


def _council_la(who: Principal, la: str | None) -> str | None:
    """A bound council key reads its own LA only: 403 for another."""
    if who.role != "council" or who.la is None:
        return la
    if la is not None and la != who.la:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"this council key may read {who.la} only, not {la}"
        )
    return who.la


@router.get(
    "/scenarios/{scenario_id}/indicators",
    summary="DfE indicators nationally, by LA, RCC or need (council keys: suppressed), and "
    "by need within each LA or RCC (planners)",
    responses={
        403: {"description": "by=la_need or rcc_need with a council key"},
        404: {"description": "No such scenario"},
        409: {"description": "Not done"},
    },
)
async def get_indicators(
    scenario_id: str,
    request: Request,
    who: Annotated[Principal, Depends(require_reader)],
    by: Annotated[
        Literal["national", "la", "rcc", "need", "la_need", "rcc_need"], Query()
    ] = "national",
    la: Annotated[
        str | None, Query(description="One LA (GSS code); implies by=la unless by=la_need")
    ] = None,
) -> Response:
    """Async: once a scenario's body has been served it is a memory lookup, no thread hop."""
    if who.suppressed and by not in PUBLISHED_TABLES:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"by={by} is for planner and admin keys: each need in each area holds counts too "
            "small to publish; council keys read by=la, rcc, need or national",
        )
    await _finished(request, scenario_id)
    la = _council_la(who, la)
    if la is not None and la not in request.app.state.service.reference.codes:
        raise _bad_query("la", f"'{la}' is not an LA code")
    if (la is not None and by != "la_need") or (who.role == "council" and who.la is not None):
        by = "la"
    bodies: BodyCache = request.app.state.service.bodies
    key = ("indicators", scenario_id, by, la, who.suppressed)
    body = bodies.get(key)
    if body is None:
        body = await run_in_threadpool(
            _indicator_body, request, scenario_id, by, la, suppressed=who.suppressed
        )
        bodies.put(key, body)
    return body.response(request.headers, media_type="application/json")


def _indicator_body(
    request: Request, scenario_id: str, by: str, la: str | None, *, suppressed: bool
) -> Body:
    rows = _indicator_rows(request, scenario_id, by, suppressed=suppressed)
    if la is not None:  # an LA without children has no row (as its flows map shows none)
        rows = [r for r in rows if r.get("home_la") == la]
    body = {"scenario": scenario_id, "by": by, "suppressed": suppressed, "rows": rows}
    text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Body.of(text.encode())


def _indicator_rows(
    request: Request, scenario_id: str, by: str, *, suppressed: bool
) -> list[dict[str, Any]]:
    """Stored rows, or their stored council-facing copy (made when the job finished; made
    once here, and stored, only for a result finished under another suppression threshold)."""
    state = request.app.state.service
    store: Store = state.store
    if not suppressed:
        rows: list[dict[str, Any]] = (store.indicators(scenario_id) or {}).get(by, [])
        return rows
    name = suppressed_view(state.settings.suppression_threshold)
    tables: dict[str, list[dict[str, Any]]] | None = store.result_view(scenario_id, name)
    if tables is None:
        threshold = state.settings.suppression_threshold
        sc = _done(request, scenario_id)
        maps = read_result(Path(sc.result_folder or ""))
        tables = suppress_tables(
            store.indicators(scenario_id) or {}, threshold=threshold, maps=maps
        )
        store.add_result_view(scenario_id, name, tables)
    return tables.get(by, [])


def _records(path: Path, start: int = 0, stop: int | None = None) -> tuple[list[Any], int]:
    """Rows start..stop of one of the result's CSVs as JSON values, and how many rows it has:
    empty cells null, True/False booleans, numbers numbers; ids (`*_id`, `*_group`) and codes
    stay text, as written."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    chunk = frame.iloc[start:stop]
    columns: dict[str, list[Any]] = {}
    for col in chunk.columns:
        cells = chunk[col]
        filled = cells != ""
        typed: pd.Series = cells.where(filled, None)
        if not col.endswith(("_id", "_group")) and filled.any():
            if set(cells[filled]) <= {"True", "False"}:
                typed = cells.map({"True": True, "False": False, "": None})
            else:
                number = pd.to_numeric(cells[filled], errors="coerce")
                if number.notna().all():
                    whole = bool((number % 1 == 0).all()) and "." not in "".join(cells)
                    cast = int if whole else float
                    typed = pd.Series([cast(v) for v in number], index=number.index)
                    typed = typed.reindex(cells.index).astype(object).where(filled, None)
        columns[col] = typed.tolist()
    rows = [dict(zip(columns, v, strict=True)) for v in zip(*columns.values(), strict=True)]
    return rows, len(frame)


def _table_response(path: Path, *, fmt: str, page: int, size: int, name: str) -> Response:
    if fmt == "csv":
        return FileResponse(path, media_type="text/csv", filename=name)
    rows, total = _records(path, (page - 1) * size, page * size)
    body = {"page": page, "size": size, "total": total, "rows": rows}
    return Response(json.dumps(body, allow_nan=False), media_type="application/json")


@router.get(
    "/scenarios/{scenario_id}/allocation",
    summary="The allocation, one row per child (CSV stream, or paginated JSON)",
    response_class=StreamingResponse,
    responses={
        **PLANNER_ONLY,
        200: {"content": {"text/csv": {}, "application/json": {}}},
        404: {"description": "No such scenario"},
        409: {"description": "Not done"},
    },
)
def get_allocation(
    scenario_id: str,
    request: Request,
    _who: Annotated[Principal, Depends(require_planner)],
    format: Annotated[Literal["csv", "json"], Query()] = "csv",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    size: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> Response:
    sc = _done(request, scenario_id)
    size = min(size, request.app.state.service.settings.max_page_size)
    path = Path(sc.result_folder or "") / "allocation.csv"
    return _table_response(path, fmt=format, page=page, size=size, name=f"{sc.id}-allocation.csv")


@router.get(
    "/scenarios/{scenario_id}/unplaced",
    summary="Children left unplaced (the sufficiency gap), with the reason",
    response_class=StreamingResponse,
    responses={
        **PLANNER_ONLY,
        200: {"content": {"text/csv": {}, "application/json": {}}},
        404: {"description": "No such scenario"},
        409: {"description": "Not done"},
    },
)
def get_unplaced(
    scenario_id: str,
    request: Request,
    _who: Annotated[Principal, Depends(require_planner)],
    format: Annotated[Literal["csv", "json"], Query()] = "json",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    size: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> Response:
    sc = _done(request, scenario_id)
    size = min(size, request.app.state.service.settings.max_page_size)
    path = Path(sc.result_folder or "") / "unplaced.csv"
    return _table_response(path, fmt=format, page=page, size=size, name=f"{sc.id}-unplaced.csv")


@router.get(
    "/scenarios/{scenario_id}/plan",
    summary="The sufficiency plan's summary and actions (new homes, carers, secure beds)",
    responses={
        **PLANNER_ONLY,
        404: {"description": "No such scenario"},
        409: {"description": "No plan"},
    },
)
def get_plan(
    scenario_id: str, request: Request, _who: Annotated[Principal, Depends(require_planner)]
) -> dict[str, Any]:
    sc = _done(request, scenario_id)
    folder = Path(sc.result_folder or "") / "plan"
    if not folder.is_dir() or sc.summary is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"scenario '{scenario_id}' was run without a plan"
        )
    actions, _ = _records(folder / "plan_actions.csv")
    return {"summary": sc.summary.get("plan"), "actions": actions}


def _map_body(
    sc: Scenario, kind: str, la: str | None, *, suppressed: bool, request: Request
) -> Body:
    """The map's HTML: drawn when the job finished (standard maps) or on first request (one
    council's flows), once per (kind, LA, suppression), and kept in the result folder."""
    state = request.app.state.service
    folder = Path(sc.result_folder or "")
    if kind == "plan" and not (folder / "plan").is_dir():
        raise HTTPException(status.HTTP_409_CONFLICT, f"scenario '{sc.id}' was run without a plan")
    path = map_path(folder, kind, la, suppressed=suppressed)
    if not path.exists():
        with state.map_locks_guard:
            lock = state.map_locks.setdefault(str(path), threading.Lock())
        with lock:
            draw_map(
                folder,
                kind,
                la,
                suppressed=suppressed,
                threshold=state.settings.suppression_threshold,
                scenario=sc.name,
                geometry=state.reference.geometry,
            )
    return Body.of(path.read_bytes())


@router.get(
    "/scenarios/{scenario_id}/maps/{kind}",
    summary="A folium map of the result (out-of-area, flows, rccs, sufficiency); ?la= for "
    "one council's flows",
    response_class=HTMLResponse,
    responses={
        403: {"description": "A council key asking for another LA"},
        404: {"description": "No such scenario"},
        409: {"description": "Not done"},
    },
)
async def get_map(
    scenario_id: str,
    kind: Literal["out-of-area", "flows", "rccs", "sufficiency", "plan"],
    request: Request,
    who: Annotated[Principal, Depends(require_reader)],
    la: Annotated[str | None, Query(description="Flows of one council's children")] = None,
    public: Annotated[bool, Query(description="Planners: suppress small numbers")] = False,
) -> Response:
    """Async: a map already served is a memory lookup, no thread hop and no file read."""
    sc = await _finished(request, scenario_id)
    la = _council_la(who, la)
    if la is not None and kind != "flows":
        if who.role == "council" and who.la is not None:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"a council key bound to {who.la} reads the flows map of its own children",
            )
        raise _bad_query("la", "?la= applies to the flows map only")
    state = request.app.state.service
    if la is not None and la not in state.reference.codes:
        raise _bad_query("la", f"'{la}' is not an LA code")
    suppressed = who.suppressed or public
    key = ("map", scenario_id, kind, la, suppressed)
    body = state.bodies.get(key)
    if body is None:
        body = await run_in_threadpool(
            _map_body, sc, kind, la, suppressed=suppressed, request=request
        )
        state.bodies.put(key, body)
    return body.response(request.headers, media_type="text/html; charset=utf-8")


__all__ = ["MAP_KINDS", "router"]
