"""POST /v1/datasets (CSV files, JSON rows or a synthetic England) and GET /v1/datasets/{id}."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from optimiser.errors import InputIssue, ProblemValidationError
from service.auth import PLANNER_ONLY, Principal, require_planner, require_reader
from service.schemas import DatasetIn, DatasetOut, ErrorOut
from service.settings import Settings
from service.store import Dataset, Store, new_id

router = APIRouter(tags=["datasets"])

_FILES = ("children.csv", "placements.csv", "rccs.csv", "las.csv", "policy.json")
_ARCHIVES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # a zip (and so .xlsx), and .xls
_ARCHIVE_TEXT = (
    "is a zip archive or an Excel workbook, not the file itself: send each CSV file as its "
    "own part (from Excel, save as 'CSV UTF-8')"
)
_CSV_EXAMPLE = "child_id,home_la,need,age,sex\nC1,E08000003,foster,9,F\n"

_OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/DatasetIn"},
                "examples": {
                    "synthetic": {
                        "summary": "A synthetic England at 5% scale",
                        "value": {"synthetic": {"seed": 1, "scale": 0.05}},
                    }
                },
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["children", "placements", "rccs"],
                    "properties": {
                        name.split(".")[0]: {"type": "string", "format": "binary"}
                        for name in _FILES
                    },
                },
                "examples": {
                    "csv": {
                        "summary": "The CSV files of `rcc validate` (children.csv shown)",
                        "value": {"children": _CSV_EXAMPLE},
                    }
                },
            },
        },
    }
}


def _out(ds: Dataset) -> DatasetOut:
    return DatasetOut(
        id=ds.id,
        created_at=ds.created_at,
        source=ds.source,
        children=ds.children,
        placements=ds.placements,
        places=ds.places,
        las=ds.las,
        rccs=ds.rccs,
        warnings=_detached(ds.folder),
        links={"self": f"/v1/datasets/{ds.id}"},
    )


@functools.lru_cache(maxsize=256)
def _detached(folder: str) -> list[str]:
    """Contiguity warnings for a dataset's rccs.csv (a dataset never changes: read once)."""
    from geodata.rcc import check_lookup
    from optimiser.problem import read_rccs

    path = Path(folder) / "rccs.csv"
    if not path.exists():  # (written with the dataset; gone only if its folder was removed)
        return []
    return list(check_lookup(read_rccs(path), complete=False).warnings)


def _too_many(children: int, settings: Settings) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"{children:,} children exceed the limit of {settings.max_children:,} per dataset",
    )


def _save(problem: Any, folder: Path) -> dict[str, int]:
    """Write the validated problem as the dataset folder; its counts for the record."""
    from optimiser.problem import write_problem

    write_problem(problem, folder)
    return {
        "children": len(problem.children),
        "placements": len(problem.placements),
        "places": int(problem.placements["capacity"].sum()),
        "las": len(problem.las),
        "rccs": int(problem.las["rcc"].nunique()),
    }


def _synthetic(spec: Any, folder: Path, settings: Settings) -> dict[str, int]:
    from optimiser.synthetic import children_count, synthesize

    children = children_count(spec.scale)
    if children > settings.max_children:
        raise _too_many(children, settings)
    problem = synthesize(seed=spec.seed, scale=spec.scale, sibling_groups=spec.sibling_groups)
    return _save(problem, folder)


def _from_folder(upload: Path, folder: Path, settings: Settings) -> dict[str, int]:
    """Validate uploaded files with `read_problem` (every issue at once) and keep them."""
    from optimiser.problem import read_problem

    with open(upload / "children.csv", "rb") as fh:
        rows = max(sum(1 for _ in fh) - 1, 0)
    if rows > settings.max_children:
        raise _too_many(rows, settings)
    return _save(read_problem(upload), folder)


def _rows_to_folder(body: DatasetIn, upload: Path) -> None:
    """JSON rows as the CSV files `read_problem` reads (text cells, blanks for None)."""
    missing = [k for k in ("children", "placements", "rccs") if getattr(body, k) is None]
    if missing:
        raise ProblemValidationError(
            [
                InputIssue("request", None, k, "required unless 'synthetic' is given")
                for k in missing
            ]
        )
    from optimiser.problem import CHILD_COLUMNS, PLACEMENT_COLUMNS

    for name, rows, columns in (
        ("children.csv", body.children, CHILD_COLUMNS),
        ("placements.csv", body.placements, PLACEMENT_COLUMNS),
    ):
        # no rows ([]) is a header alone, as in a CSV: no header was "no columns to parse"
        frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=columns)
        frame = frame.astype(object).where(frame.notna(), "")
        frame.to_csv(upload / name, index=False)
    rccs = pd.DataFrame({"la_code": list(body.rccs or {}), "rcc": list((body.rccs or {}).values())})
    rccs.to_csv(upload / "rccs.csv", index=False)
    if body.policy is not None:
        (upload / "policy.json").write_text(json.dumps(body.policy), encoding="utf-8")


def _check_synthetic(body: DatasetIn) -> None:
    """A synthetic England makes its own rows, RCC lookup and policy: rows or a policy sent
    with it were dropped without a word (even invalid ones)."""
    given = [
        k for k in ("children", "placements", "rccs", "policy") if getattr(body, k) is not None
    ]
    if body.synthetic is not None and given:
        text = "cannot be combined with 'synthetic' (it makes its own rows, RCCs and policy)"
        raise ProblemValidationError([InputIssue("request", None, k, text) for k in given])


def _as_sent(exc: ProblemValidationError, upload: Path) -> ProblemValidationError:
    """Issues naming a file by the name it was sent as, not by its path in the server's
    temporary folder (as a policy.json that is not JSON was named)."""
    folder = f"{upload}/"
    return ProblemValidationError(
        [
            replace(i, file=i.file.removeprefix(folder), message=i.message.replace(folder, ""))
            for i in exc.issues
        ]
    )


_SEEN = re.compile(r"first seen in row (\d+)")
_USED_BY = re.compile(r"\b(children|placements)\.csv in \d+ rows? \(([^)]*)\)")


def _item_words(text: str, stem: str) -> str:
    """Rows named in a message as the JSON items they are: 'first seen in row 2' as
    'children[0]', 'children.csv in 2 rows (4-5)' as 'children[2]-[3]'."""
    text = _SEEN.sub(lambda m: f"first seen in {stem}[{int(m[1]) - 2}]", text)
    item = functools.partial(re.sub, r"\d+", lambda n: f"[{int(n[0]) - 2}]")
    return _USED_BY.sub(lambda m: m[1] + item(m[2]), text)


def _as_items(exc: ProblemValidationError, body: DatasetIn) -> ProblemValidationError:
    """Issues of JSON rows named by what was sent: `children[0]`, the RCC lookup's LA code and
    `policy`, not a row of a CSV file the user never sent."""
    codes = list(body.rccs or {})
    named = []
    for i in exc.issues:
        stem = i.file.removesuffix(".csv").removesuffix(".json")
        message = _item_words(i.message, stem)
        if stem in ("children", "placements") and i.row is not None and i.row > 1:
            i = InputIssue(f"{stem}[{i.row - 2}]", None, i.column, message)
        elif stem == "rccs" and i.row is not None and i.row > 1:  # the lookup's row-th key
            i = InputIssue(stem, None, codes[i.row - 2], message)
        elif stem == "rccs":  # la_code, rcc: columns of a file the lookup was written as
            i = InputIssue(stem, None, None, message)
        else:  # a key of children or placements (the header's column), or the policy
            i = InputIssue(stem, None, i.column, message)
        named.append(i)
    return ProblemValidationError(named)


async def _multipart(request: Request, upload: Path) -> str:
    """Save the uploaded files; returns a hash of their names and contents."""
    # a body cut off before its closing boundary loses its last part without a word
    params = request.headers.get("content-type", "").split(";")[1:]
    named = {
        k.strip().lower(): v.strip().strip('"') for k, _, v in (p.partition("=") for p in params)
    }
    boundary = named.get("boundary", "")
    body = await request.body()  # kept: the form below is parsed from it
    if boundary and not body.rstrip().endswith(f"--{boundary}--".encode()):
        text = "the upload ended before its closing boundary (cut off?): send it again"
        raise ProblemValidationError([InputIssue("request", None, None, text)])
    # room for each file twice, so a repeated or unknown part is named rather than counted
    most = 2 * len(_FILES)
    try:
        form = await request.form(max_files=most, max_fields=most)
    except StarletteHTTPException as exc:  # its 400 for a body it cannot parse (no boundary)
        text = f"cannot read the multipart/form-data body: {exc.detail}"
        raise ProblemValidationError([InputIssue("request", None, None, text)]) from None
    digest = hashlib.sha256()
    try:
        # a part is named after its file, with or without the extension
        unknown = [k for k in form if k not in _FILES and f"{k}.csv" not in _FILES]
        unknown = [k for k in unknown if f"{k}.json" not in _FILES]
        if unknown:
            raise ProblemValidationError(
                [
                    InputIssue("request", None, k, f"unknown part; send {', '.join(_FILES)}")
                    for k in unknown
                ]
            )
        repeated, archive = [], []
        for name in _FILES:
            stem = name.split(".")[0]
            parts = form.getlist(stem) + form.getlist(name)
            if len(parts) > 1:  # one was used and the other dropped without a word
                sent = [stem] * len(form.getlist(stem)) + [name] * len(form.getlist(name))
                text = f"sent {len(parts)} times (parts {', '.join(sent)}); send each file once"
                repeated.append(InputIssue(name, None, None, text))
                continue
            if not parts:
                continue
            part = parts[0]
            # (text that is not UTF-8 is left to the reader: it names the row, and the fix)
            data = await part.read() if isinstance(part, UploadFile) else part.encode("utf-8")
            if data.startswith(_ARCHIVES):  # the reader would say "not UTF-8 text"
                archive.append(InputIssue(name, None, None, _ARCHIVE_TEXT))
                continue
            (upload / name).write_bytes(data)
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        if repeated or archive:
            raise ProblemValidationError(repeated + archive)
    finally:
        await form.close()
    missing = [n for n in _FILES[:3] if not (upload / n).exists()]
    if missing:
        raise ProblemValidationError(
            [InputIssue(n, None, None, "file missing from the upload") for n in missing]
        )
    return digest.hexdigest()


@router.post(
    "/datasets",
    status_code=201,
    response_model=DatasetOut,
    summary="Upload a problem (CSV files or JSON rows) or make a synthetic England",
    openapi_extra=_OPENAPI_BODY,
    responses={
        **PLANNER_ONLY,
        409: {"description": "Idempotency-Key reused with a different body"},
        413: {"description": "Upload or dataset too large", "model": ErrorOut},
        415: {"description": "Neither application/json nor multipart/form-data"},
        422: {
            "description": "Invalid inputs, each issue with file, row, column",
            "model": ErrorOut,
        },
    },
)
async def create_dataset(
    request: Request,
    response: Response,
    who: Annotated[Principal, Depends(require_planner)],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> DatasetOut:
    state = request.app.state.service
    settings: Settings = state.settings
    store: Store = state.store
    # a media type is case-insensitive (Application/JSON); its parameters follow a ';'
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    dataset_id = new_id("ds")
    folder = settings.data_dir / "datasets" / dataset_id
    with tempfile.TemporaryDirectory(dir=settings.data_dir) as tmp:
        upload = Path(tmp)
        if media_type == "multipart/form-data":
            request_hash = await _multipart(request, upload)
            source: dict[str, Any] = {"kind": "upload"}
            body = None
        elif media_type == "application/json":
            raw = await request.body()
            try:
                body = DatasetIn.model_validate_json(raw)
            except ValidationError as exc:
                raise _pydantic_422(exc) from None
            _check_synthetic(body)
            request_hash = hashlib.sha256(
                json.dumps(body.model_dump(), sort_keys=True).encode()
            ).hexdigest()
            source = (
                {"kind": "synthetic", **body.synthetic.model_dump()}
                if body.synthetic
                else {"kind": "json"}
            )
        else:
            raise HTTPException(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                "send application/json or multipart/form-data",
            )
        if idempotency_key:
            earlier = store.dataset_by_idempotency(who.key_id, idempotency_key)
            if earlier is not None:
                return _same(earlier, request_hash)
        try:
            if body is not None and body.synthetic is not None:
                counts = await run_in_threadpool(_synthetic, body.synthetic, folder, settings)
            else:
                if body is not None:
                    _rows_to_folder(body, upload)
                try:
                    counts = await run_in_threadpool(_from_folder, upload, folder, settings)
                except ProblemValidationError as exc:
                    exc = _as_sent(exc, upload)
                    raise (_as_items(exc, body) if body is not None else exc) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    try:
        ds = store.add_dataset(
            dataset_id=dataset_id,
            key_id=who.key_id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            source=source,
            counts=counts,
            folder=str(folder.resolve()),
        )
    except IntegrityError:  # a concurrent request with the same Idempotency-Key won
        shutil.rmtree(folder, ignore_errors=True)
        earlier = store.dataset_by_idempotency(who.key_id, idempotency_key or "")
        if earlier is None:
            raise
        return _same(earlier, request_hash)
    response.headers["Location"] = f"/v1/datasets/{ds.id}"
    return _out(ds)


def _same(earlier: Dataset, request_hash: str) -> DatasetOut:
    if earlier.request_hash != request_hash:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "this Idempotency-Key was used with a different request body",
        )
    return _out(earlier)


def _pydantic_422(exc: ValidationError) -> ProblemValidationError:
    issues: list[InputIssue] = []
    cells = set()
    for e in exc.errors():
        loc = e["loc"]
        if len(loc) == 4 and loc[0] in ("children", "placements") and isinstance(loc[1], int):
            # a cell none of text, number or null: one issue, not one per type it is not
            if loc[:3] not in cells:
                cells.add(loc[:3])
                text = f"must be text, a number or null, not {json.dumps(e['input'])}"
                issues.append(InputIssue(f"{loc[0]}[{loc[1]}]", None, str(loc[2]), text))
            continue
        issues.append(InputIssue("request", None, ".".join(str(p) for p in loc) or None, e["msg"]))
    return ProblemValidationError(issues)


@router.get(
    "/datasets/{dataset_id}",
    response_model=DatasetOut,
    summary="A dataset's counts and source (council keys: no counts of children or places)",
    responses={404: {"description": "No such dataset"}},
)
def get_dataset(
    dataset_id: str,
    request: Request,
    who: Annotated[Principal, Depends(require_reader)],
) -> DatasetOut:
    ds = request.app.state.service.store.get_dataset(dataset_id)
    if ds is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dataset '{dataset_id}'")
    out = _out(ds)
    if who.suppressed:  # exact small counts, as the scenario's summary (councils read the
        out.children = out.placements = out.places = None  # suppressed indicators instead)
    return out
