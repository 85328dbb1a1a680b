"""The FastAPI application: `create_app(settings)` wires settings, store, job runner and the
reference data (loaded once in the lifespan) to the versioned routes under /v1."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optimiser.errors import InputIssue, ProblemValidationError
from service.cache import BodyCache
from service.jobs import JobRunner
from service.reference import Reference, load_reference
from service.settings import Settings
from service.store import Store

__all__ = ["ServiceState", "create_app", "get_settings"]

log = logging.getLogger("rcc.service")


@dataclass
class ServiceState:
    """What the routes share, built once in the lifespan."""

    settings: Settings
    store: Store
    runner: JobRunner
    reference: Reference
    bodies: BodyCache  # response bodies of finished results
    map_locks: dict[str, threading.Lock] = field(default_factory=dict)  # one drawing per file
    map_locks_guard: threading.Lock = field(default_factory=threading.Lock)


def get_settings(request: Request) -> Settings:
    """The app's settings (a FastAPI dependency; override it in tests)."""
    settings: Settings = request.app.state.service.settings
    return settings


class _TooLarge(Exception):
    pass


class UploadLimit:
    """413 for request bodies over the limit, by Content-Length or by counting a stream."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = chunked = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = value
        if length is not None and length.isdigit():
            if int(length) > self.limit:
                await self._reject(send)
                return
            # the HTTP server holds the body to its declared length: nothing to count
            await self.app(scope, receive, send)
            return
        if chunked is None:  # no body (most reads)
            await self.app(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body larger than the upload limit of {self.limit:,} bytes"},
            status_code=413,
        )
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - JSONResponse never reads
    return {"type": "http.disconnect"}


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemValidationError)
    issues = [
        {"file": i.file, "row": i.row, "column": i.column, "message": i.message} for i in exc.issues
    ]
    return JSONResponse(
        {"detail": f"{len(issues)} problem(s) in the inputs", "issues": issues}, status_code=422
    )


def _request_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422s (a body or query that does not fit the schema) in the one shape
    every 422 has: `detail` and `issues` of file ("request"), row, column, message."""
    assert isinstance(exc, RequestValidationError)
    issues = [
        InputIssue("request", None, ".".join(str(p) for p in e["loc"]), e["msg"])
        for e in exc.errors()
    ]
    return _validation_error(request, ProblemValidationError(issues))


def _document(app: FastAPI) -> None:
    """The OpenAPI document as the service answers: every 422 as ErrorOut (the shape
    `_request_error` gives FastAPI's own, not its HTTPValidationError), and DatasetIn (and the
    models it uses) among the components, as POST /v1/datasets reads JSON or multipart itself
    and FastAPI does not list its JSON model."""
    from service.schemas import DatasetIn

    base = app.openapi
    error = {"$ref": "#/components/schemas/ErrorOut"}  # listed by the routes that upload

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = base()
            extra = DatasetIn.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(extra.pop("$defs", {}))
            schemas["DatasetIn"] = extra
            for operation in (op for ops in spec["paths"].values() for op in ops.values()):
                invalid = operation.get("responses", {}).get("422")
                if invalid is not None:
                    invalid["content"] = {"application/json": {"schema": error}}
                    if invalid.get("description") == "Validation Error":
                        invalid["description"] = "Invalid request, each issue named"
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


# Swagger UI for /docs, served by the service itself so the page works offline (FastAPI's
# default loads it from a CDN): the npm package, fetched by `make api-assets` into a
# gitignored folder (never committed)
SWAGGER_UI = Path(__file__).resolve().parent / "assets" / "vendor" / "swagger-ui"
_SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


def _docs_page(app: FastAPI, title: str) -> None:
    """GET /docs: Swagger UI from SWAGGER_UI when installed, else (with a warning in the log)
    from the CDN FastAPI uses, which needs the internet."""
    page = functools.partial(get_swagger_ui_html, openapi_url=app.openapi_url or "", title=title)
    if all((SWAGGER_UI / name).is_file() for name in _SWAGGER_FILES):
        app.mount("/docs/assets", StaticFiles(directory=SWAGGER_UI), name="docs-assets")
        js, css, icon = (f"/docs/assets/{name}" for name in _SWAGGER_FILES)
        page = functools.partial(
            page, swagger_js_url=js, swagger_css_url=css, swagger_favicon_url=icon
        )
    else:
        log.warning("Swagger UI is not installed (make api-assets): /docs loads it from a CDN")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return page()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service for these settings (default: read from RCC_* environment variables)."""
    from service.routes import datasets, reference, scenarios

    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.resolved_database_url(), schema=settings.database_schema)
        store.migrate()
        runner = JobRunner(store, settings)
        bodies = BodyCache(settings.read_cache_mb * 1_000_000)
        app.state.service = ServiceState(settings, store, runner, load_reference(), bodies)
        runner.start()
        log.info("service ready (schema version %d)", store.version())
        try:
            yield
        finally:
            runner.stop()
            store.dispose()

    title = "RCC placement sufficiency service"
    app = FastAPI(
        title=title,
        version="1",
        summary="Capacity scenarios for planners; out-of-area maps and indicators for councils.",
        lifespan=lifespan,
        responses={401: {"description": "Missing or unknown API key"}},
        docs_url=None,  # `_docs_page`, which works offline
        redoc_url=None,  # (ReDoc would load from a CDN too)
    )
    app.add_exception_handler(ProblemValidationError, _validation_error)
    app.add_exception_handler(RequestValidationError, _request_error)
    for module in (scenarios, reference, datasets):  # routes are matched in order: hot first
        app.include_router(module.router, prefix="/v1")
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(UploadLimit, limit=settings.upload_limit)

    _document(app)
    _docs_page(app, title)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, Any]:
        return {"status": "ok"}

    return app
