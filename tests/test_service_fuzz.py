"""Property-based fuzz of the OpenAPI schema: requests generated from every operation's
parameters and bodies (valid and junk values, real and made-up ids) never get a 5xx.

Schemathesis 3.39 cannot generate cases with the installed Hypothesis 6.170 (its
hypothesis-jsonschema 0.23.1 calls `many.more()`, which Hypothesis removed), so the strategies
are built here from the same OpenAPI document, bounded in examples."""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.app import create_app
from service.settings import Settings

with warnings.catch_warnings():  # starlette's testclient uses an alias anyio deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def from_schema(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """Mostly schema-shaped values, sometimes junk, from an OpenAPI (JSON) schema."""
    if depth > 4:
        return JSON
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return from_schema(components[name], components, depth + 1)
    if "enum" in schema:
        return st.sampled_from(schema["enum"]) | st.text(max_size=6)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s, components, depth + 1) for s in schema[key]])
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        props = {k: from_schema(v, components, depth + 1) for k, v in schema["properties"].items()}
        required = {k: props[k] for k in schema.get("required", ())}
        optional = {k: v for k, v in props.items() if k not in required}
        return st.fixed_dictionaries(required, optional=optional) | JSON
    if kind == "object":
        extra = schema.get("additionalProperties")
        values = from_schema(extra, components, depth + 1) if isinstance(extra, dict) else JSON
        return st.dictionaries(st.text(max_size=10), values, max_size=4)
    if kind == "array":
        items = from_schema(schema.get("items", {}), components, depth + 1)
        return st.lists(items, max_size=3)
    if kind == "integer":
        lo, hi = schema.get("minimum", -5), schema.get("maximum", 10**6)
        return st.integers(lo, hi) | st.integers(-(10**9), 10**9)
    if kind == "number":
        return st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from([0, 0.001, 2.5, -1])
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        return st.text(max_size=12) | st.sampled_from(["E08000003", "", "E99999999"])
    return JSON


class Target:
    def __init__(self, client: TestClient, key: str, scenario: str, dataset: str) -> None:
        self.client, self.key, self.scenario, self.dataset = client, key, scenario, dataset


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    settings_ = Settings(
        data_dir=Path(tmp_path_factory.mktemp("fuzz")),
        max_children=2000,  # synthetic datasets beyond ~2.4% scale get 413, not minutes
        upload_limit=200_000,
        job_time_limit=10,
        pool_size=1,
        max_jobs_per_key=2,
    )
    app = create_app(settings_)
    with TestClient(app, raise_server_exceptions=False) as client:
        key = app.state.service.store.create_key("planner")[1]
        h = {"X-API-Key": key}
        ds = client.post(
            "/v1/datasets", json={"synthetic": {"scale": 0.01, "sibling_groups": False}}, headers=h
        ).json()["id"]
        sc = client.post("/v1/scenarios", json={"dataset_id": ds, "baseline": False}, headers=h)
        sid = sc.json()["id"]
        end = time.monotonic() + 60
        while client.get(f"/v1/scenarios/{sid}", headers=h).json()["state"] != "done":
            assert time.monotonic() < end, "fuzz fixture scenario did not finish"
            time.sleep(0.2)
        yield Target(client, key, sid, ds)


def _cases(spec: dict[str, Any], target: Target) -> Any:
    components = spec.get("components", {}).get("schemas", {})
    strategies = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            params = op.get("parameters", [])
            path_values = {
                p["name"]: st.sampled_from([target.scenario, target.dataset, "sc_nope"])
                | st.text(min_size=1, max_size=10, alphabet=st.characters(categories=["L", "N"]))
                if p["name"] != "kind"
                else from_schema(p["schema"], components)
                for p in params
                if p["in"] == "path"
            }
            query = {
                p["name"]: from_schema(p.get("schema", {}), components)
                | st.just(f"{target.scenario},{target.scenario}")
                for p in params
                if p["in"] == "query"
            }
            body: Any = st.none()
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                schema = content["application/json"].get("schema", {})
                body = st.tuples(st.just("json"), from_schema(schema, components))
            if "multipart/form-data" in content:
                files = st.dictionaries(
                    st.sampled_from(["children", "placements", "rccs", "las", "policy", "x"]),
                    st.binary(max_size=200) | st.just(b"child_id,home_la\nC1,E08000003\n"),
                    max_size=5,
                )
                body = body | st.tuples(st.just("files"), files)
            strategies.append(
                st.fixed_dictionaries(
                    {
                        "method": st.just(method.upper()),
                        "path": st.just(path),
                        "path_values": st.fixed_dictionaries(path_values),
                        "query": st.fixed_dictionaries({}, optional=query),
                        "body": body,
                    }
                )
            )
    return st.one_of(strategies), len(strategies)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_generated_requests_never_get_5xx(target: Target) -> None:
    spec = target.client.get("/openapi.json").json()
    cases, operations = _cases(spec, target)
    assert operations >= 12
    failures: list[str] = []
    seen: Counter[tuple[str, str, int]] = Counter()

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def check(case: dict[str, Any]) -> None:
        values = {k: quote(str(v), safe="") for k, v in case["path_values"].items()}
        url = case["path"].format(**values)
        kwargs: dict[str, Any] = {"params": case["query"], "headers": {"X-API-Key": target.key}}
        if case["body"] is not None:
            kind, value = case["body"]
            if kind == "json":
                kwargs["json"] = value
            else:
                kwargs["files"] = {k: (f"{k}.csv", v) for k, v in value.items()} or {
                    "x": ("x", b"")
                }
        response = target.client.request(case["method"], url, **kwargs)
        seen[(case["method"], case["path"], response.status_code)] += 1
        if response.status_code >= 500:
            failures.append(f"{case['method']} {url} {kwargs}: {response.text[:300]}")

    check()
    assert not failures, failures[:5]
    statuses = {status for *_, status in seen}
    assert {200, 404, 422} <= statuses, seen  # the fuzz reached handlers, not just validation
    assert {path for _, path, _ in seen} == set(spec["paths"]), "every operation exercised"
