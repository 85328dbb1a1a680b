"""Property-based fuzz of the OpenAPI schema with schemathesis: cases generated from every
operation of the document the service serves (schema-valid and schema-violating, with made-up
and real API keys, scenario and dataset ids) are sent to a real `rcc serve` on a loopback port,
bounded in examples; no response may be a 5xx (schemathesis' `not_a_server_error` check)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from test_service_e2e import Server, wait_state

_PATH_PARAMETER = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Target:
    server: Server
    key: str
    scenario: str
    dataset: str


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = Server(Path(tmp_path_factory.mktemp("fuzz")) / "data")
    server.env.update(
        RCC_MAX_CHILDREN="2000",  # synthetic datasets beyond ~2.4% scale get 413, not minutes
        RCC_UPLOAD_LIMIT="200000",
        RCC_JOB_TIME_LIMIT="10",
        RCC_POOL_SIZE="1",
        RCC_MAX_JOBS_PER_KEY="2",
        RCC_DRAW_MAPS="false",
    )
    key = server.cli("keys", "create", "--role", "planner").strip().splitlines()[-1]
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as c:
            body = {"synthetic": {"scale": 0.01, "sibling_groups": False}}
            ds = c.post("/v1/datasets", json=body).json()["id"]
            sid = c.post("/v1/scenarios", json={"dataset_id": ds, "baseline": False}).json()["id"]
            assert wait_state(c, sid, {"done", "failed"})["state"] == "done"
        yield Target(server, key, sid, ds)
    finally:
        server.stop()


def _cases(schema: Any, target: Target) -> tuple[Any, set[str]]:
    """Every operation's cases, schema-valid and not: with generated API keys (401s), with the
    planner key, and with the planner key and the real scenario and dataset ids (so the fuzz
    reaches the handlers behind the 401s and 404s)."""
    real = {"scenario_id": target.scenario, "dataset_id": target.dataset}
    key = {"X-API-Key": target.key}
    strategies = []
    paths = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        paths.add(operation.path)
        ids = {n: real[n] for n in _PATH_PARAMETER.findall(operation.path) if n in real}
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            if ids:
                strategies.append(
                    operation.as_strategy(generation_mode=mode, headers=key, path_parameters=ids)
                )
            strategies.append(operation.as_strategy(generation_mode=mode, headers=key))
            strategies.append(operation.as_strategy(generation_mode=mode))
    return st.one_of(strategies), paths


def test_generated_requests_never_get_5xx(target: Target) -> None:
    schema = schemathesis.openapi.from_url(f"{target.server.url}/openapi.json")
    cases, paths = _cases(schema, target)
    assert len(paths) >= 12
    seen: Counter[tuple[str, str, int]] = Counter()

    @settings(
        max_examples=400,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=target.server.url, timeout=60)
        seen[(case.method, case.path, response.status_code)] += 1
        case.validate_response(response, checks=[not_a_server_error])

    check()
    statuses = {status for *_, status in seen}
    assert {200, 404, 422} <= statuses, seen  # the fuzz reached handlers, not just validation
    assert {path for _, path, _ in seen} == paths, "every operation exercised"
