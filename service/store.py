"""Persistence: datasets, scenarios, jobs, results and hashed API keys in any SQLAlchemy
database (SQLite by default, PostgreSQL tested), with versioned migrations applied at start."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

__all__ = [
    "JOB_STATES",
    "MIGRATIONS",
    "ROLES",
    "ApiKey",
    "Dataset",
    "Job",
    "Scenario",
    "Store",
    "hash_key",
]

ROLES = ("planner", "council", "admin")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE_STATES = ("queued", "running")
FINAL_STATES = ("done", "failed", "cancelled")
KEY_CACHE_SECONDS = 5.0

metadata = MetaData()

schema_version = Table(
    "rcc_schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("applied_at", Float, nullable=False),
)
api_keys = Table(
    "rcc_api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("la", String(9)),
    Column("name", String(200), nullable=False, default=""),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
)
datasets = Table(
    "rcc_datasets",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("key_id", String(40), nullable=False),
    Column("idempotency_key", String(200)),
    Column("request_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("source", Text, nullable=False),
    Column("children", Integer, nullable=False),
    Column("placements", Integer, nullable=False),
    Column("places", Integer, nullable=False),
    Column("las", Integer, nullable=False),
    Column("rccs", Integer, nullable=False),
    Column("folder", Text, nullable=False),
    UniqueConstraint("key_id", "idempotency_key", name="uq_rcc_datasets_idem"),
)
scenarios = Table(
    "rcc_scenarios",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("dataset_id", String(40), nullable=False),
    Column("key_id", String(40), nullable=False),
    Column("idempotency_key", String(200)),
    Column("request_hash", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("request", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("key_id", "idempotency_key", name="uq_rcc_scenarios_idem"),
)
jobs = Table(
    "rcc_jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("scenario_id", String(40), nullable=False, unique=True),
    Column("key_id", String(40), nullable=False),
    Column("state", String(20), nullable=False),
    Column("progress", Text, nullable=False, default=""),
    Column("reason", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
)
results = Table(
    "rcc_results",
    metadata,
    Column("scenario_id", String(40), primary_key=True),
    Column("summary", Text, nullable=False),
    Column("indicators", Text, nullable=False),
    Column("folder", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
result_views = Table(
    "rcc_result_views",
    metadata,
    Column("scenario_id", String(40), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("body", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
_V1_TABLES = (api_keys, datasets, scenarios, jobs, results)


def _v1_tables(conn: Connection) -> None:
    for table in _V1_TABLES:
        table.create(conn)


_jobs_v2 = jobs.to_metadata(MetaData())  # a copy, so the index is not part of the v1 table
_job_queue_index = Index("ix_rcc_jobs_state_created", _jobs_v2.c.state, _jobs_v2.c.created_at)


def _v2_job_state_index(conn: Connection) -> None:
    _job_queue_index.create(conn)


def _v3_result_views(conn: Connection) -> None:
    result_views.create(conn)


MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (1, "api keys, datasets, scenarios, jobs, results", _v1_tables),
    (2, "index jobs by state for the queue", _v2_job_state_index),
    (3, "derived views of a result (suppressed indicator tables)", _v3_result_views),
)


def hash_key(secret: str) -> str:
    """SHA-256 of an API key: keys are 256-bit random, so a plain hash cannot be reversed."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass(frozen=True)
class ApiKey:
    id: str
    role: str
    la: str | None
    name: str
    created_at: float
    revoked_at: float | None


@dataclass(frozen=True)
class Dataset:
    id: str
    key_id: str
    created_at: float
    source: dict[str, Any]
    children: int
    placements: int
    places: int
    las: int
    rccs: int
    folder: str
    request_hash: str


@dataclass(frozen=True)
class Job:
    id: str
    scenario_id: str
    key_id: str
    state: str
    progress: str
    reason: str | None
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None


@dataclass(frozen=True)
class Scenario:
    id: str
    dataset_id: str
    key_id: str
    name: str
    request: dict[str, Any]
    created_at: float
    request_hash: str
    job: Job
    summary: dict[str, Any] | None
    result_folder: str | None


class Store:
    """All reads and writes of the service's tables; one instance per app (thread-safe)."""

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.url = url
        self.schema = schema
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(engine, "connect", _sqlite_pragmas)
        if schema:
            engine = engine.execution_options(schema_translate_map={None: schema})
        self.engine: Engine = engine
        # finished results never change: keep the most recent indicator tables in memory
        self._indicators: OrderedDict[str, dict[str, list[dict[str, Any]]]] = OrderedDict()
        self._indicators_lock = threading.Lock()
        # live keys for a few seconds (revocation here is immediate; by another process within
        # KEY_CACHE_SECONDS), and scenarios in a final state (they never change again)
        self._keys: dict[str, tuple[float, ApiKey]] = {}
        self._final: OrderedDict[str, Scenario] = OrderedDict()

    # ------------------------------------------------------------------------- schema

    def migrate(self) -> list[int]:
        """Apply every migration newer than the database's version; returns those applied."""
        applied: list[int] = []
        with self.engine.begin() as conn:
            if self.schema and conn.dialect.name == "postgresql":
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            schema_version.create(conn, checkfirst=True)
        for version, name, step in MIGRATIONS:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(81920260)"))
                done = conn.execute(
                    select(schema_version.c.version).where(schema_version.c.version == version)
                ).first()
                if done:
                    continue
                step(conn)
                conn.execute(
                    insert(schema_version).values(version=version, name=name, applied_at=now())
                )
                applied.append(version)
        return applied

    def version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 0)

    def drop_all(self) -> None:
        """Remove every table (and the schema on PostgreSQL): used by tests to clean up."""
        with self.engine.begin() as conn:
            if self.schema and conn.dialect.name == "postgresql":
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            else:
                metadata.drop_all(conn)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # ------------------------------------------------------------------------- keys

    def create_key(self, role: str, *, la: str | None = None, name: str = "") -> tuple[ApiKey, str]:
        """A new key: returns its record and the secret (shown once; only its hash is kept)."""
        if role not in ROLES:
            raise ValueError(f"unknown role '{role}'; use one of {', '.join(ROLES)}")
        if la is not None and role != "council":
            raise ValueError("only council keys are bound to an LA")
        secret = f"rcc_{secrets.token_urlsafe(32)}"
        key = ApiKey(new_id("key"), role, la, name, now(), None)
        with self._tx() as conn:
            conn.execute(
                insert(api_keys).values(
                    id=key.id,
                    role=role,
                    la=la,
                    name=name,
                    key_hash=hash_key(secret),
                    created_at=key.created_at,
                )
            )
        return key, secret

    def list_keys(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).mappings()
            return [_key(r) for r in rows]

    def revoke_key(self, key_id: str) -> bool:
        self._keys.clear()
        with self._tx() as conn:
            res = conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now())
            )
            return bool(res.rowcount)

    def key_by_secret(self, secret: str) -> ApiKey | None:
        """The live (not revoked) key with this secret, or None."""
        digest = hash_key(secret)
        cached = self._keys.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(api_keys).where(
                        api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        key = _key(row)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[digest] = (time.monotonic() + KEY_CACHE_SECONDS, key)
        return key

    # ------------------------------------------------------------------------- datasets

    def add_dataset(
        self,
        *,
        dataset_id: str,
        key_id: str,
        idempotency_key: str | None,
        request_hash: str,
        source: dict[str, Any],
        counts: dict[str, int],
        folder: str,
    ) -> Dataset:
        values = {
            "id": dataset_id,
            "key_id": key_id,
            "idempotency_key": idempotency_key,
            "request_hash": request_hash,
            "created_at": now(),
            "source": json.dumps(source),
            "folder": folder,
            **{k: int(counts[k]) for k in ("children", "placements", "places", "las", "rccs")},
        }
        with self._tx() as conn:
            conn.execute(insert(datasets).values(**values))
        found = self.get_dataset(dataset_id)
        assert found is not None
        return found

    def get_dataset(self, dataset_id: str) -> Dataset | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(datasets).where(datasets.c.id == dataset_id)).mappings().first()
            )
        return _dataset(row) if row else None

    def dataset_by_idempotency(self, key_id: str, idem: str) -> Dataset | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(datasets).where(
                        datasets.c.key_id == key_id, datasets.c.idempotency_key == idem
                    )
                )
                .mappings()
                .first()
            )
        return _dataset(row) if row else None

    # ------------------------------------------------------------------------- scenarios

    def add_scenario(
        self,
        *,
        dataset_id: str,
        key_id: str,
        idempotency_key: str | None,
        request_hash: str,
        name: str,
        request: dict[str, Any],
    ) -> Scenario:
        """The scenario and its queued job, in one transaction (nothing accepted is lost)."""
        sid = new_id("sc")
        stamp = now()
        with self._tx() as conn:
            conn.execute(
                insert(scenarios).values(
                    id=sid,
                    dataset_id=dataset_id,
                    key_id=key_id,
                    idempotency_key=idempotency_key,
                    request_hash=request_hash,
                    name=name,
                    request=json.dumps(request),
                    created_at=stamp,
                )
            )
            conn.execute(
                insert(jobs).values(
                    id=new_id("job"),
                    scenario_id=sid,
                    key_id=key_id,
                    state="queued",
                    progress="waiting for a free worker",
                    attempts=0,
                    created_at=stamp,
                )
            )
        found = self.get_scenario(sid)
        assert found is not None
        return found

    def get_scenario(self, scenario_id: str) -> Scenario | None:
        final = self._final.get(scenario_id)
        if final is not None:
            return final
        query = (
            select(
                scenarios,
                *[c.label(f"job_{c.name}") for c in jobs.c],
                results.c.summary,
                results.c.folder.label("result_folder"),
            )
            .join(jobs, jobs.c.scenario_id == scenarios.c.id)
            .outerjoin(results, results.c.scenario_id == scenarios.c.id)
            .where(scenarios.c.id == scenario_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        found = _scenario(row)
        if found.job.state in FINAL_STATES:
            with self._indicators_lock:
                self._final[scenario_id] = found
                while len(self._final) > 1024:
                    self._final.popitem(last=False)
        return found

    def cached_scenario(self, scenario_id: str) -> Scenario | None:
        """A scenario in a final state already read once (memory only, no query); else None.
        Final scenarios never change, so request handlers use this without a thread hop."""
        return self._final.get(scenario_id)

    def scenario_by_idempotency(self, key_id: str, idem: str) -> Scenario | None:
        with self.engine.connect() as conn:
            sid = conn.execute(
                select(scenarios.c.id).where(
                    scenarios.c.key_id == key_id, scenarios.c.idempotency_key == idem
                )
            ).scalar()
        return self.get_scenario(sid) if sid else None

    def indicators(self, scenario_id: str) -> dict[str, list[dict[str, Any]]] | None:
        """The stored indicator tables of a finished scenario: national, la, rcc, need."""
        with self._indicators_lock:
            if scenario_id in self._indicators:
                self._indicators.move_to_end(scenario_id)
                return self._indicators[scenario_id]
        with self.engine.connect() as conn:
            raw = conn.execute(
                select(results.c.indicators).where(results.c.scenario_id == scenario_id)
            ).scalar()
        if not raw:
            return None
        tables: dict[str, list[dict[str, Any]]] = json.loads(raw)
        with self._indicators_lock:
            self._indicators[scenario_id] = tables
            while len(self._indicators) > 64:
                self._indicators.popitem(last=False)
        return tables

    def result_view(self, scenario_id: str, name: str) -> Any | None:
        """A stored view of a finished result (e.g. `indicators:suppressed:5`), or None."""
        with self.engine.connect() as conn:
            raw = conn.execute(
                select(result_views.c.body).where(
                    result_views.c.scenario_id == scenario_id, result_views.c.name == name
                )
            ).scalar()
        return json.loads(raw) if raw else None

    def add_result_view(self, scenario_id: str, name: str, data: Any) -> None:
        """Store a view derived after the job finished (a view already stored is kept)."""
        try:
            with self._tx() as conn:
                conn.execute(insert(result_views).values(_view_row(scenario_id, name, data)))
        except IntegrityError:
            pass  # stored meanwhile by another request: the same data

    # ------------------------------------------------------------------------- jobs

    def active_jobs(self, key_id: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(jobs)
                    .where(jobs.c.key_id == key_id, jobs.c.state.in_(ACTIVE_STATES))
                ).scalar()
                or 0
            )

    def get_job(self, job_id: str) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return _job(row) if row else None

    def claim_next(self) -> Job | None:
        """Move the oldest queued job to running and return it (None when the queue is empty)."""
        for _ in range(5):
            with self._tx() as conn:
                row = (
                    conn.execute(
                        select(jobs.c.id, jobs.c.attempts)
                        .where(jobs.c.state == "queued")
                        .order_by(jobs.c.created_at, jobs.c.id)
                        .limit(1)
                    )
                    .mappings()
                    .first()
                )
                if row is None:
                    return None
                res = conn.execute(
                    update(jobs)
                    .where(jobs.c.id == row["id"], jobs.c.state == "queued")
                    .values(
                        state="running",
                        started_at=now(),
                        attempts=row["attempts"] + 1,
                        progress="starting",
                    )
                )
            if res.rowcount:
                return self.get_job(row["id"])
        return None

    def set_progress(self, job_id: str, progress: str) -> None:
        with self._tx() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == "running")
                .values(progress=progress[:500])
            )

    def finish_job(
        self,
        job: Job,
        *,
        summary: dict[str, Any],
        indicators: dict[str, list[dict[str, Any]]],
        folder: str,
        views: dict[str, Any] | None = None,
    ) -> bool:
        """Store the result (and its derived `views`) and mark the job done in one transaction
        (False if cancelled)."""
        with self._tx() as conn:
            res = conn.execute(
                update(jobs)
                .where(jobs.c.id == job.id, jobs.c.state == "running")
                .values(state="done", progress="done", finished_at=now(), reason=None)
            )
            if not res.rowcount:
                return False
            conn.execute(
                insert(results).values(
                    scenario_id=job.scenario_id,
                    summary=json.dumps(summary),
                    indicators=json.dumps(indicators),
                    folder=folder,
                    created_at=now(),
                )
            )
            if views:
                conn.execute(
                    insert(result_views),
                    [_view_row(job.scenario_id, name, data) for name, data in views.items()],
                )
        return True

    def fail_job(self, job_id: str, reason: str, *, state: str = "failed") -> bool:
        """Mark a queued or running job failed (or cancelled) with its reason."""
        with self._tx() as conn:
            res = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state.in_(ACTIVE_STATES))
                .values(state=state, reason=reason[:2000], finished_at=now(), progress=state)
            )
            return bool(res.rowcount)

    def requeue_interrupted(self, *, max_attempts: int) -> tuple[list[str], list[str]]:
        """After a restart: running jobs go back to the queue, or fail after `max_attempts`
        starts. Returns (re-queued ids, failed ids)."""
        requeued: list[str] = []
        failed: list[str] = []
        with self._tx() as conn:
            rows = conn.execute(
                select(jobs.c.id, jobs.c.attempts).where(jobs.c.state == "running")
            ).all()
            for row in rows:
                job_id, attempts = str(row[0]), int(row[1])
                if attempts >= max_attempts:
                    conn.execute(
                        update(jobs)
                        .where(jobs.c.id == job_id)
                        .values(
                            state="failed",
                            finished_at=now(),
                            progress="failed",
                            reason=f"interrupted by {attempts} service restarts; not retried",
                        )
                    )
                    failed.append(job_id)
                else:
                    conn.execute(
                        update(jobs)
                        .where(jobs.c.id == job_id)
                        .values(
                            state="queued",
                            started_at=None,
                            progress="re-queued after a service restart interrupted it",
                        )
                    )
                    requeued.append(job_id)
        return requeued, failed


def now() -> float:
    return time.time()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _view_row(scenario_id: str, name: str, data: Any) -> dict[str, Any]:
    return {"scenario_id": scenario_id, "name": name, "body": json.dumps(data), "created_at": now()}


def _key(r: Any) -> ApiKey:
    return ApiKey(r["id"], r["role"], r["la"], r["name"], r["created_at"], r["revoked_at"])


def _dataset(r: Any) -> Dataset:
    return Dataset(
        id=r["id"],
        key_id=r["key_id"],
        created_at=r["created_at"],
        source=json.loads(r["source"]),
        children=r["children"],
        placements=r["placements"],
        places=r["places"],
        las=r["las"],
        rccs=r["rccs"],
        folder=r["folder"],
        request_hash=r["request_hash"],
    )


def _job(r: Any, prefix: str = "") -> Job:
    return Job(
        id=r[f"{prefix}id"],
        scenario_id=r[f"{prefix}scenario_id"],
        key_id=r[f"{prefix}key_id"],
        state=r[f"{prefix}state"],
        progress=r[f"{prefix}progress"] or "",
        reason=r[f"{prefix}reason"],
        attempts=r[f"{prefix}attempts"],
        created_at=r[f"{prefix}created_at"],
        started_at=r[f"{prefix}started_at"],
        finished_at=r[f"{prefix}finished_at"],
    )


def _scenario(r: Any) -> Scenario:
    return Scenario(
        id=r["id"],
        dataset_id=r["dataset_id"],
        key_id=r["key_id"],
        name=r["name"],
        request=json.loads(r["request"]),
        created_at=r["created_at"],
        request_hash=r["request_hash"],
        job=_job(r, "job_"),
        summary=json.loads(r["summary"]) if r["summary"] else None,
        result_folder=r["result_folder"],
    )
