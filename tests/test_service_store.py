"""The service's store on SQLite and on PostgreSQL (127.0.0.1:5432, database `test`, when it
answers): migrations, hashed keys, the job queue, results, restart re-queueing, idempotency."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from service.cli import app
from service.store import MIGRATIONS, Store, api_keys

PG_URL = os.environ.get(
    "RCC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reason() -> str | None:
    """None when PostgreSQL answers, else why the PostgreSQL cases are skipped."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"no PostgreSQL at {PG_URL}: {str(exc).strip()[:200]}"
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'rcc.sqlite3'}")
    else:
        reason = _postgres_reason()
        if reason:
            pytest.skip(reason)
        s = Store(PG_URL, schema=f"rcc_test_{secrets.token_hex(6)}")  # one schema per test
    s.migrate()
    try:
        yield s
    finally:
        s.drop_all()
        s.dispose()


def _dataset(store: Store, tmp_path: Path, *, key_id: str = "key_a") -> str:
    ds = store.add_dataset(
        dataset_id=f"ds_{secrets.token_hex(4)}",
        key_id=key_id,
        idempotency_key=None,
        request_hash="h",
        source={"kind": "synthetic", "seed": 1},
        counts={"children": 10, "placements": 4, "places": 12, "las": 3, "rccs": 1},
        folder=str(tmp_path),
    )
    return ds.id


def test_migrations_are_versioned_and_idempotent(store: Store) -> None:
    assert store.version() == MIGRATIONS[-1][0]
    assert store.migrate() == []  # nothing left to apply
    names = set(inspect(store.engine).get_table_names(schema=store.schema))
    assert {
        "rcc_api_keys",
        "rcc_datasets",
        "rcc_scenarios",
        "rcc_jobs",
        "rcc_results",
        "rcc_result_views",
    } <= names
    indexes = {i["name"] for i in inspect(store.engine).get_indexes("rcc_jobs", store.schema)}
    assert "ix_rcc_jobs_state_created" in indexes


def test_keys_list_shows_long_names_whole_in_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RCC_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("RCC_DATABASE_URL", raising=False)
    name = "Manchester City Council children's services placements commissioning team"
    runner = CliRunner()
    create = ["keys", "create", "--role", "council", "--la", "E08000003", "--name", name]
    made = runner.invoke(app, create)
    assert made.exit_code == 0, made.output
    lines = runner.invoke(app, ["keys", "list"]).output.splitlines()
    assert max(map(len, lines)) <= 80
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["id", "role"])
    column = lines[header].index(" name") + 1
    row = lines[header + 2]
    assert row.split()[:3] == [made.output.split()[3], "council", "E08000003"]
    assert row.split()[5] == "live"
    shown = "".join(line[column:] for line in lines[header + 2 :])
    assert "".join(shown.split()) == "".join(name.split())


def test_keys_hashed_bound_and_revoked(store: Store) -> None:
    key, secret = store.create_key("council", la="E08000003", name="Manchester")
    assert store.key_by_secret(secret) == key
    with store.engine.connect() as conn:
        stored: list[str] = list(conn.execute(select(api_keys.c.key_hash)).scalars())
    assert secret not in stored and len(stored) == 1
    assert store.key_by_secret(secret + "x") is None
    assert store.revoke_key(key.id) and not store.revoke_key(key.id)
    assert store.key_by_secret(secret) is None
    assert [k.revoked_at is not None for k in store.list_keys()] == [True]
    with pytest.raises(ValueError, match="unknown role"):
        store.create_key("owner")
    with pytest.raises(ValueError, match="only council"):
        store.create_key("planner", la="E08000003")


def test_queue_runs_oldest_first_and_stores_results(store: Store, tmp_path: Path) -> None:
    ds = _dataset(store, tmp_path)
    a = store.add_scenario(
        dataset_id=ds, key_id="key_a", idempotency_key=None, request_hash="1", name="a", request={}
    )
    b = store.add_scenario(
        dataset_id=ds, key_id="key_a", idempotency_key=None, request_hash="2", name="b", request={}
    )
    assert (a.job.state, store.active_jobs("key_a"), store.active_jobs("key_b")) == ("queued", 2, 0)
    job = store.claim_next()
    assert job is not None and job.scenario_id == a.id and job.attempts == 1
    store.set_progress(job.id, "round 3")
    assert store.get_scenario(a.id).job.progress == "round 3"  # type: ignore[union-attr]
    tables = {"national": [{"area": "England", "children": 10}], "la": [], "rcc": [], "need": []}
    assert store.finish_job(job, summary={"children": 10}, indicators=tables, folder="f")
    done = store.get_scenario(a.id)
    assert done is not None and done.job.state == "done" and done.summary == {"children": 10}
    assert store.indicators(a.id) == tables and done.result_folder == "f"
    second = store.claim_next()
    assert second is not None and second.scenario_id == b.id
    assert store.claim_next() is None
    assert store.fail_job(second.id, "cancelled by key_a", state="cancelled")
    assert not store.fail_job(second.id, "again")
    assert not store.finish_job(second, summary={}, indicators=tables, folder="g")
    assert store.get_scenario(b.id).job.reason == "cancelled by key_a"  # type: ignore[union-attr]
    assert store.active_jobs("key_a") == 0


def test_result_views_stored_with_the_result_and_once(store: Store, tmp_path: Path) -> None:
    ds = _dataset(store, tmp_path)
    sc = store.add_scenario(
        dataset_id=ds, key_id="k", idempotency_key=None, request_hash="1", name="a", request={}
    )
    job = store.claim_next()
    assert job is not None
    public = {"la": [{"home_la": "E08000003", "children": "c"}]}
    tables: dict[str, list[dict[str, Any]]] = {"national": [], "la": [], "rcc": [], "need": []}
    views = {"indicators:suppressed:5": public}
    assert store.finish_job(job, summary={}, indicators=tables, folder="f", views=views)
    assert store.result_view(sc.id, "indicators:suppressed:5") == public
    assert store.result_view(sc.id, "indicators:suppressed:3") is None
    store.add_result_view(sc.id, "indicators:suppressed:3", {"la": []})
    store.add_result_view(sc.id, "indicators:suppressed:3", {"la": [{"x": 1}]})  # kept: first
    assert store.result_view(sc.id, "indicators:suppressed:3") == {"la": []}
    assert store.cached_scenario(sc.id) is None  # not read since it finished
    assert store.get_scenario(sc.id) == store.cached_scenario(sc.id)


def test_restart_requeues_then_gives_up(store: Store, tmp_path: Path) -> None:
    ds = _dataset(store, tmp_path)
    sc = store.add_scenario(
        dataset_id=ds, key_id="k", idempotency_key=None, request_hash="1", name="a", request={}
    )
    for attempt in (1, 2):
        job = store.claim_next()
        assert job is not None and job.attempts == attempt
        assert store.requeue_interrupted(max_attempts=2) == (
            ([job.id], []) if attempt < 2 else ([], [job.id])
        )
    final = store.get_scenario(sc.id)
    assert final is not None and final.job.state == "failed"
    assert "interrupted by 2 service restarts" in (final.job.reason or "")


def test_idempotency_key_is_unique_per_key(store: Store, tmp_path: Path) -> None:
    ds = _dataset(store, tmp_path)
    kwargs = {"dataset_id": ds, "request_hash": "1", "name": "a", "request": {"x": 1}}
    first = store.add_scenario(key_id="k1", idempotency_key="same", **kwargs)  # type: ignore[arg-type]
    store.add_scenario(key_id="k2", idempotency_key="same", **kwargs)  # type: ignore[arg-type]
    assert store.scenario_by_idempotency("k1", "same") == first
    with pytest.raises(IntegrityError):
        store.add_scenario(key_id="k1", idempotency_key="same", **kwargs)  # type: ignore[arg-type]
    assert store.scenario_by_idempotency("k3", "same") is None


def test_service_runs_a_scenario_on_postgresql(tmp_path: Path) -> None:
    """The whole app on PostgreSQL: dataset, scenario job, stored indicators."""
    import time
    import warnings

    from service.app import create_app
    from service.settings import Settings

    with warnings.catch_warnings():  # starlette's testclient uses an alias anyio deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    reason = _postgres_reason()
    if reason:
        pytest.skip(reason)
    schema = f"rcc_test_{secrets.token_hex(6)}"
    settings = Settings(data_dir=tmp_path, database_url=PG_URL, database_schema=schema)
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            key = app.state.service.store.create_key("planner")[1]
            h = {"X-API-Key": key}
            body = {"synthetic": {"seed": 1, "scale": 0.005, "sibling_groups": False}}
            ds = client.post("/v1/datasets", json=body, headers=h).json()
            sid = client.post(
                "/v1/scenarios", json={"dataset_id": ds["id"], "baseline": False}, headers=h
            ).json()["id"]
            end = time.monotonic() + 60
            while (state := client.get(f"/v1/scenarios/{sid}", headers=h).json())["state"] in (
                "queued",
                "running",
            ):
                assert time.monotonic() < end
                time.sleep(0.2)
            assert state["state"] == "done", state
            rows = client.get(f"/v1/scenarios/{sid}/indicators", headers=h).json()["rows"]
            assert rows[0]["children"] == ds["children"]
    finally:
        cleanup = Store(PG_URL, schema=schema)
        cleanup.drop_all()
        cleanup.dispose()
