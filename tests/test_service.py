"""Route tests of the scenario service: datasets, scenarios as jobs, results, roles, limits."""

from __future__ import annotations

import io
import logging
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from maps import read_result
from optimiser.problem import read_problem, write_problem
from optimiser.synthetic import synthesize
from service import app as service_app
from service.app import SWAGGER_UI, create_app
from service.auth import Principal, get_principal
from service.schemas import ErrorOut
from service.settings import Settings
from service.views import suppress_tables

with warnings.catch_warnings():  # starlette's testclient uses an alias anyio deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

SCALE = 0.02
GM = "E08000003"  # Manchester
OTHER = "E06000001"  # Hartlepool


def wait_done(client: TestClient, sid: str, key: str, *, timeout: float = 90) -> dict[str, Any]:
    """Poll a scenario until it leaves queued/running."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        body = client.get(f"/v1/scenarios/{sid}", headers={"X-API-Key": key}).json()
        if body["state"] not in ("queued", "running"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"scenario {sid} still {body['state']} after {timeout} s")


class Env:
    """A running app with one key of each role."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        store = client.app.state.service.store  # type: ignore[attr-defined]
        self.planner = store.create_key("planner", name="test planner")[1]
        self.admin = store.create_key("admin")[1]
        self.council = store.create_key("council", la=GM)[1]
        self.council_any = store.create_key("council")[1]
        self.dataset_id = ""
        self.scenario_id = ""
        self.plan_id = ""

    def h(self, key: str) -> dict[str, str]:
        return {"X-API-Key": key}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("svc"), job_time_limit=20, pool_size=2, max_jobs_per_key=8
    )
    with TestClient(create_app(settings)) as client:
        e = Env(client)
        r = client.post(
            "/v1/datasets",
            json={"synthetic": {"seed": 3, "scale": SCALE, "sibling_groups": False}},
            headers=e.h(e.planner),
        )
        assert r.status_code == 201, r.text
        e.dataset_id = r.json()["id"]
        r = client.post(
            "/v1/scenarios",
            json={"dataset_id": e.dataset_id, "name": "base", "baseline": False},
            headers=e.h(e.planner),
        )
        assert r.status_code == 202, r.text
        assert r.headers["Location"] == f"/v1/scenarios/{r.json()['id']}"
        e.scenario_id = r.json()["id"]
        plan = {  # queued now, checked by the plan test while the rest run
            "dataset_id": e.dataset_id,
            "baseline": False,
            "changes": {"growth": {"rate": 0.01, "la_rates": {GM: 0.05}}},
            "plan": {"years": 1, "capital_budget": "5m", "time_limit": 3},
        }
        r = client.post("/v1/scenarios", json=plan, headers=e.h(e.planner))
        assert r.status_code == 202, r.text
        e.plan_id = r.json()["id"]
        done = wait_done(client, e.scenario_id, e.planner)
        assert done["state"] == "done", done
        yield e


# ----------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "path", ["/v1/las", "/v1/rccs/presets", "/v1/datasets/x", "/v1/scenarios/x"]
)
def test_every_route_needs_a_key(env: Env, path: str) -> None:
    assert env.client.get(path).status_code == 401
    assert env.client.get(path, headers={"X-API-Key": "rcc_not-a-key"}).status_code == 401


def test_revoked_key_is_refused(env: Env) -> None:
    store = env.client.app.state.service.store  # type: ignore[attr-defined]
    key, secret = store.create_key("planner")
    assert env.client.get("/v1/las", headers=env.h(secret)).status_code == 200
    assert store.revoke_key(key.id)
    assert env.client.get("/v1/las", headers=env.h(secret)).status_code == 401


def test_keys_are_stored_hashed(env: Env) -> None:
    from sqlalchemy import select

    from service.store import api_keys

    store = env.client.app.state.service.store  # type: ignore[attr-defined]
    with store.engine.connect() as conn:
        hashes = set(conn.execute(select(api_keys.c.key_hash)).scalars())
    assert env.planner not in hashes and len(hashes) >= 4
    assert all(len(h) == 64 for h in hashes)


@pytest.mark.parametrize("role", ["council", "council_any"])
def test_council_cannot_create_or_read_child_rows(env: Env, role: str) -> None:
    key = getattr(env, role)
    sid = env.scenario_id
    body = {"synthetic": {"seed": 1, "scale": 0.01}}
    assert env.client.post("/v1/datasets", json=body, headers=env.h(key)).status_code == 403
    assert (
        env.client.post(
            "/v1/scenarios", json={"dataset_id": env.dataset_id}, headers=env.h(key)
        ).status_code
        == 403
    )
    for path in ("allocation", "unplaced", "cancel"):
        method = env.client.post if path == "cancel" else env.client.get
        assert method(f"/v1/scenarios/{sid}/{path}", headers=env.h(key)).status_code == 403
    out = env.client.get(f"/v1/scenarios/{sid}", headers=env.h(key)).json()
    assert out["summary"] is None
    # it linked to the allocation and unplaced children, which answer a council key 403
    # (and a bound key to the out-of-area map, not its own flows)
    assert set(out["links"]) == {"self", "dataset", "indicators", "map"}
    for link in out["links"].values():
        assert env.client.get(link, headers=env.h(key)).status_code == 200, link


def test_admin_may_do_what_planners_do(env: Env) -> None:
    r = env.client.get(f"/v1/scenarios/{env.scenario_id}/allocation", headers=env.h(env.admin))
    assert r.status_code == 200


def test_dependency_override_of_the_caller(env: Env) -> None:
    app = env.client.app
    app.dependency_overrides[get_principal] = lambda: Principal("k", "council", OTHER)  # type: ignore[attr-defined]
    try:
        r = env.client.get(f"/v1/scenarios/{env.scenario_id}/indicators?la={GM}")
        assert r.status_code == 403
        assert OTHER in r.json()["detail"]
    finally:
        app.dependency_overrides.clear()  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- reference


def test_reference_data(env: Env) -> None:
    las = env.client.get("/v1/las", headers=env.h(env.council)).json()
    assert len(las) == 153 and {"code", "name", "region_name"} <= set(las[0])
    presets = env.client.get("/v1/rccs/presets", headers=env.h(env.council)).json()
    assert presets["presets"]["default"]["rccs"] == 10
    assert presets["presets"]["regions"]["rccs"] == 9
    assert GM in presets["pathfinders"]["North West: Greater Manchester"]


def test_openapi_lists_the_answers_a_route_gives(env: Env) -> None:
    """No 403 was listed on the routes for planner and admin keys only, nor 415 on POST
    /datasets."""
    spec = env.client.get("/openapi.json").json()
    planner_only = {
        ("post", "/v1/datasets"),
        ("post", "/v1/scenarios"),
        ("get", "/v1/scenarios/compare"),
        ("post", "/v1/scenarios/{scenario_id}/cancel"),
        ("get", "/v1/scenarios/{scenario_id}/allocation"),
        ("get", "/v1/scenarios/{scenario_id}/unplaced"),
        ("get", "/v1/scenarios/{scenario_id}/plan"),
    }
    for method, path in planner_only:
        assert "403" in spec["paths"][path][method]["responses"], (method, path)
    assert "403" not in spec["paths"]["/v1/datasets/{dataset_id}"]["get"]["responses"]
    assert "415" in spec["paths"]["/v1/datasets"]["post"]["responses"]


def test_the_docs_page_needs_no_internet(env: Env) -> None:
    """/docs loaded Swagger UI from cdn.jsdelivr.net: a blank page offline."""
    if not (SWAGGER_UI / "swagger-ui-bundle.js").is_file():
        pytest.skip("Swagger UI is not installed: make api-assets")
    page = env.client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/docs/assets/swagger-ui-bundle.js" in sources, sources
    assert all(not url.startswith(("http:", "https:", "//")) for url in sources), sources
    script = env.client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text
    assert env.client.get("/docs/assets/swagger-ui.css").status_code == 200


def test_without_swagger_ui_installed_the_docs_page_says_so_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(service_app, "SWAGGER_UI", tmp_path / "none")
    with caplog.at_level(logging.WARNING, logger="rcc"):
        app = create_app(Settings(data_dir=tmp_path / "data"))
    assert "Swagger UI is not installed (make api-assets)" in caplog.text
    with TestClient(app) as client:
        assert "cdn.jsdelivr.net" in client.get("/docs").text


def test_openapi_has_examples_for_every_request_body(env: Env) -> None:
    spec = env.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    bodies = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert path.startswith("/v1/"), path
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                bodies += 1
                ref = content.get("schema", {}).get("$ref", "")
                model = schemas.get(ref.rsplit("/", 1)[-1], {})
                assert content.get("examples") or model.get("examples"), (method, path, media)
    assert bodies >= 3  # datasets (JSON, multipart) and scenarios


# ----------------------------------------------------------------------------- datasets


def test_dataset_json_rows_report_every_issue(env: Env) -> None:
    body = {
        "children": [
            {"child_id": "C1", "home_la": GM, "need": "foster", "age": 9, "sex": "F"},
            {"child_id": "C2", "home_la": "E99999999", "need": "flying", "age": 30, "sex": "F"},
        ],
        "placements": [
            {
                "placement_id": "P1",
                "setting": "foster_inhouse",
                "la": GM,
                "capacity": 1,
                "weekly_cost": 600,
                "min_age": 0,
                "max_age": 17,
                "sexes": "any",
            }
        ],
        "rccs": {GM: "GM"},
    }
    r = env.client.post("/v1/datasets", json=body, headers=env.h(env.planner))
    assert r.status_code == 422
    # named by their place in the request, not by the row of a CSV nobody sent
    found = {(i["file"], i["row"], i["column"]) for i in r.json()["issues"]}
    assert ("children[1]", None, "home_la") in found
    assert ("children[1]", None, "need") in found
    assert ("children[1]", None, "age") in found
    # and nothing coerced: true is not the age 1; one issue naming the cell (it was three,
    # children.1.age.str, .int and .float)
    body["children"] = [body["children"][0], {**body["children"][0], "age": True}]
    r = env.client.post("/v1/datasets", json=body, headers=env.h(env.planner))
    assert r.status_code == 422, r.text
    assert r.json()["issues"] == [
        {
            "file": "children[1]",
            "row": None,
            "column": "age",
            "message": "must be text, a number or null, not true",
        }
    ]


def test_dataset_json_row_issues_name_what_was_sent(env: Env) -> None:
    """They cited 'rccs.csv row 3' for a key of the JSON lookup, 'first seen in row 2' for
    children[0], and 'children.csv in 2 rows (4-5)' for children[2] and [3]."""
    child = {"child_id": "C1", "home_la": GM, "need": "foster", "age": 9, "sex": "F"}
    body = {
        "children": [child, child, {**child, "child_id": "C3", "home_la": OTHER}],
        "placements": [FOSTER_HOME],
        "rccs": {GM: "GM", "E99": "Nowhere"},
        "policy": {"out_of_la": -1},
    }
    r = env.client.post("/v1/datasets", json=body, headers=env.h(env.planner))
    assert r.status_code == 422, r.text
    found = {(i["file"], i["column"]): i["message"] for i in r.json()["issues"]}
    assert "'E99' is not one of the 153" in found[("rccs", "E99")]
    assert found[("policy", "out_of_la")] == "must be a number >= 0, got -1"
    assert found[("children[1]", "child_id")] == "duplicate id 'C1' (first seen in children[0])"
    assert "used by children[2]: add it to one" in found[("rccs", None)]
    assert ".csv" not in r.text


def test_dataset_synthetic_with_rows_is_refused(env: Env) -> None:
    """Rows, an RCC lookup or a policy sent with `synthetic` were dropped without a word,
    even invalid ones (a synthetic England makes its own)."""
    body = {"synthetic": {"seed": 1, "scale": 0.005}, "rccs": {GM: ""}, "policy": {"x": 1}}
    r = env.client.post("/v1/datasets", json=body, headers=env.h(env.planner))
    assert r.status_code == 422, r.text
    assert [(i["file"], i["column"]) for i in r.json()["issues"]] == [
        ("request", "rccs"),
        ("request", "policy"),
    ]
    assert "cannot be combined with 'synthetic'" in r.json()["issues"][0]["message"]


FOSTER_HOME = {
    "placement_id": "P1",
    "setting": "foster_inhouse",
    "la": GM,
    "capacity": 2,
    "weekly_cost": 600,
    "min_age": 0,
    "max_age": 17,
    "sexes": "any",
}


def test_dataset_json_rows_with_an_unknown_key_are_refused(env: Env) -> None:
    """A misspelt optional key ("sibling group") was dropped with its data."""
    child = {"child_id": "C1", "home_la": GM, "need": "foster", "age": 9, "sex": "F"}
    body = {
        "children": [{**child, "sibling group": "g1"}],
        "placements": [FOSTER_HOME],
        "rccs": {GM: "GM"},
    }
    r = env.client.post("/v1/datasets", json=body, headers=env.h(env.planner))
    assert r.status_code == 422, r.text
    (issue,) = r.json()["issues"]
    assert (issue["file"], issue["row"], issue["column"]) == ("children", None, "sibling group")
    assert issue["message"].startswith("unknown column; did you mean 'sibling_group'?")


def test_dataset_json_rows_accepted(env: Env) -> None:
    body = {
        "children": [{"child_id": "C1", "home_la": GM, "need": "foster", "age": 9, "sex": "F"}],
        "placements": [FOSTER_HOME],
        "rccs": {GM: "GM"},
        "policy": {"out_of_la": 450},
    }
    r = env.client.post("/v1/datasets", json=body, headers=env.h(env.planner))
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["children"], out["placements"], out["places"], out["rccs"]) == (1, 1, 2, 1)
    assert env.client.get(out["links"]["self"], headers=env.h(env.admin)).json() == out
    # a council key read the exact 1 child the indicators show as "c": no counts of people
    # or places for councils, as the scenario's summary
    council = env.client.get(out["links"]["self"], headers=env.h(env.council)).json()
    assert council == {**out, "children": None, "placements": None, "places": None}


def test_dataset_json_rows_may_have_no_placements(env: Env) -> None:
    """`"placements": []` was "cannot read as CSV: No columns to parse from file", while a
    placements.csv of a header alone was accepted."""
    child = {"child_id": "C1", "home_la": GM, "need": "foster", "age": 9, "sex": "F"}
    body = {"children": [child], "placements": [], "rccs": {GM: "GM"}}
    r = env.client.post("/v1/datasets", json=body, headers=env.h(env.planner))
    assert r.status_code == 201, r.text
    assert (r.json()["children"], r.json()["placements"], r.json()["places"]) == (1, 0, 0)


def test_dataset_warns_of_an_rcc_in_pieces(env: Env) -> None:
    """A lookup whose RCC is in two pieces is allowed, with a warning naming the detached LA,
    when the dataset is made and whenever it is read (the synthetic England's has none)."""
    body = {
        "children": [
            {"child_id": f"C{i}", "home_la": la, "need": "foster", "age": 9, "sex": "F"}
            for i, la in enumerate((GM, OTHER))
        ],
        "placements": [FOSTER_HOME],
        "rccs": {GM: "Pennines", OTHER: "Pennines"},
    }
    r = env.client.post("/v1/datasets", json=body, headers=env.h(env.planner))
    assert r.status_code == 201, r.text
    (warning,) = r.json()["warnings"]
    assert "RCC 'Pennines' is in 2 pieces" in warning
    assert "E06000001 (Hartlepool)" in warning or "E08000003 (Manchester)" in warning
    again = env.client.get(r.json()["links"]["self"], headers=env.h(env.planner)).json()
    assert again["warnings"] == [warning]
    synthetic = f"/v1/datasets/{env.dataset_id}"
    assert env.client.get(synthetic, headers=env.h(env.planner)).json()["warnings"] == []


def _files(folder: Path) -> dict[str, tuple[str, bytes, str]]:
    return {
        name.split(".")[0]: (name, (folder / name).read_bytes(), "text/csv")
        for name in ("children.csv", "placements.csv", "rccs.csv", "las.csv", "policy.json")
    }


def test_dataset_csv_upload_round_trip(env: Env, tmp_path: Path) -> None:
    problem = synthesize(seed=5, scale=0.01, sibling_groups=False)
    write_problem(problem, tmp_path)
    r = env.client.post("/v1/datasets", files=_files(tmp_path), headers=env.h(env.planner))
    assert r.status_code == 201, r.text
    assert r.json()["children"] == len(problem.children)
    assert r.json()["places"] == int(problem.placements["capacity"].sum())
    # parts named as the files (-F children.csv=@...) were refused as 'unknown part'
    files = {part[0]: part for part in _files(tmp_path).values()}
    again = env.client.post("/v1/datasets", files=files, headers=env.h(env.planner))
    assert again.status_code == 201, again.text


def test_dataset_csv_upload_errors_name_file_row_column(env: Env, tmp_path: Path) -> None:
    problem = synthesize(seed=5, scale=0.01, sibling_groups=False)
    write_problem(problem, tmp_path)
    kids = pd.read_csv(tmp_path / "children.csv", dtype=str, keep_default_na=False)
    kids.loc[4, "sex"] = "X"
    kids.to_csv(tmp_path / "children.csv", index=False)
    files = _files(tmp_path)
    del files["placements"]
    r = env.client.post("/v1/datasets", files=files, headers=env.h(env.planner))
    assert r.status_code == 422
    assert {k: r.json()["issues"][0][k] for k in ("file", "row", "column")} == {
        "file": "placements.csv",
        "row": None,
        "column": None,
    }
    files = _files(tmp_path)
    r = env.client.post("/v1/datasets", files=files, headers=env.h(env.planner))
    assert r.status_code == 422
    assert [(i["file"], i["row"], i["column"]) for i in r.json()["issues"]] == [
        ("children.csv", 6, "sex")
    ]


def test_dataset_upload_of_files_that_are_not_text_is_422(env: Env, tmp_path: Path) -> None:
    """Found by the schemathesis fuzz: binary parts were a 500 (UnicodeDecodeError)."""
    write_problem(synthesize(seed=5, scale=0.01, sibling_groups=False), tmp_path)
    files = _files(tmp_path)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    files["policy"] = ("policy.png", png, "image/png")
    files["rccs"] = ("rccs.csv", b"la_code,rcc\nE08000003,\xff\n", "text/csv")
    kids = (tmp_path / "children.csv").read_bytes()
    at = kids.index(b"foster", kids.index(b"\n", kids.index(b"\n") + 1))  # in row 3
    files["children"] = ("children.csv", kids[:at] + b"fost\xe9r" + kids[at + 6 :], "text/csv")
    r = env.client.post("/v1/datasets", files=files, headers=env.h(env.planner))
    assert r.status_code == 422
    issues = r.json()["issues"]
    # the reader's row and fix (as `rcc validate`), which the API's own check pre-empted
    assert [(i["file"], i["row"]) for i in issues[:2]] == [("children.csv", 3), ("rccs.csv", 2)]
    assert all("save it as 'CSV UTF-8 (comma delimited)'" in i["message"] for i in issues[:2])
    assert issues[2]["message"] == "not UTF-8 text (byte 0); save it as UTF-8"
    # named as sent, not by its path in the server's temporary folder
    assert issues[2]["file"] == "policy.json"
    files["policy"] = ("policy.json", b"{out_of_la: 1}", "application/json")
    r = env.client.post("/v1/datasets", files=files, headers=env.h(env.planner))
    assert r.json()["issues"][2]["file"] == "policy.json"
    assert str(env.client.app.state.service.settings.data_dir) not in r.text  # type: ignore[attr-defined]


def test_dataset_upload_of_a_file_sent_twice_is_422(env: Env, tmp_path: Path) -> None:
    """A second children part replaced the first (201 with the other's children), and
    children with children.csv used one and dropped the other, without a word."""
    write_problem(synthesize(seed=5, scale=0.01, sibling_groups=False), tmp_path)
    files = list(_files(tmp_path).items())[:3]  # children, placements, rccs
    h = env.h(env.planner)
    for again in ("children", "children.csv"):
        sent = [*files, (again, ("c2.csv", b"child_id,home_la,need,age,sex\n", "text/csv"))]
        r = env.client.post("/v1/datasets", files=sent, headers=h)
        assert r.status_code == 422, r.text
        (issue,) = r.json()["issues"]
        assert issue["file"] == "children.csv"
        assert issue["message"] == f"sent 2 times (parts children, {again}); send each file once"
    r = env.client.post("/v1/datasets", files=[*files, ("kids", files[0][1])], headers=h)
    assert r.status_code == 422 and r.json()["issues"][0]["column"] == "kids"


def test_dataset_upload_of_a_zip_is_named(env: Env, tmp_path: Path) -> None:
    """A zip of the CSV files sent as a part was 'not UTF-8 text (byte 10 is 0x80)'."""
    import zipfile

    write_problem(synthesize(seed=5, scale=0.01, sibling_groups=False), tmp_path)
    with zipfile.ZipFile(tmp_path / "all.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("children.csv", "placements.csv", "rccs.csv"):
            zf.write(tmp_path / name, name)
    files = _files(tmp_path)
    files["children"] = ("all.zip", (tmp_path / "all.zip").read_bytes(), "application/zip")
    r = env.client.post("/v1/datasets", files=files, headers=env.h(env.planner))
    assert r.status_code == 422, r.text
    (issue,) = r.json()["issues"]
    assert issue["file"] == "children.csv"
    assert issue["message"].startswith("is a zip archive or an Excel workbook")


def test_dataset_needs_json_or_multipart(env: Env) -> None:
    r = env.client.post(
        "/v1/datasets", content=b"a,b", headers={**env.h(env.planner), "content-type": "text/csv"}
    )
    assert r.status_code == 415
    # media types are case-insensitive: Application/JSON was a 415
    body = b'{"synthetic": {"seed": 1, "scale": 0.003}}'
    kind = "Application/JSON; charset=UTF-8"
    r = env.client.post(
        "/v1/datasets", content=body, headers={**env.h(env.planner), "content-type": kind}
    )
    assert r.status_code == 201, r.text


def test_unknown_dataset_is_404(env: Env) -> None:
    assert env.client.get("/v1/datasets/ds_nope", headers=env.h(env.planner)).status_code == 404


# ----------------------------------------------------------------------------- scenarios


def test_finished_scenario_carries_the_summary(env: Env) -> None:
    body = env.client.get(f"/v1/scenarios/{env.scenario_id}", headers=env.h(env.planner)).json()
    assert body["state"] == "done" and body["attempts"] == 1
    assert body["summary"]["status"] == "optimal"
    assert body["summary"]["children"] == body["summary"]["placed"] + body["summary"]["unplaced"]
    assert "inputs" not in body["summary"]
    assert body["summary"]["rcc_warnings"] == []  # the shipped lookup: every RCC in one piece
    seconds = body["summary"]["job_seconds"]  # where the job's time went
    assert {"start", "read", "solve", "baseline", "write", "total"} <= set(seconds)
    assert seconds["solve"] <= seconds["total"]


def test_baseline_beside_the_solve_is_todays_practice(env: Env) -> None:
    """The baseline, simulated in a process beside the solve, is the one `rcc solve` makes."""
    from optimiser.baseline import simulate_baseline
    from optimiser.indicators import summary

    body = {"dataset_id": env.dataset_id, "name": "with baseline"}
    r = env.client.post("/v1/scenarios", json=body, headers=env.h(env.planner))
    done = wait_done(env.client, r.json()["id"], env.planner)
    assert done["state"] == "done", done
    store = env.client.app.state.service.store  # type: ignore[attr-defined]
    problem = read_problem(store.get_dataset(env.dataset_id).folder)
    want = summary(simulate_baseline(problem).assignments)
    got = done["summary"]["baseline"]
    for col in ("children", "placed", "unplaced", "out_of_la", "over_20_miles", "out_of_rcc"):
        assert got[col] == want[col], col
    assert got["weekly_cost"] == pytest.approx(want["weekly_cost"])


def test_indicators_match_a_direct_solve(env: Env) -> None:
    """The stored indicators are those of solving the same dataset directly."""
    from optimiser.indicators import indicators
    from optimiser.run import run_solve

    store = env.client.app.state.service.store  # type: ignore[attr-defined]
    problem = read_problem(store.get_dataset(env.dataset_id).folder)
    run = run_solve(problem, time_limit=20, baseline=False)
    want = indicators(run.result.assignments, by="home_rcc")
    got = env.client.get(
        f"/v1/scenarios/{env.scenario_id}/indicators?by=rcc", headers=env.h(env.planner)
    ).json()
    assert got["suppressed"] is False
    frame = pd.DataFrame(got["rows"])
    assert frame["home_rcc"].tolist() == want["home_rcc"].tolist()
    for col in ("children", "placed", "unplaced", "out_of_la", "out_of_rcc"):
        assert frame[col].tolist() == want[col].tolist()
    assert frame["weekly_cost"].sum() == pytest.approx(want["weekly_cost"].sum())


@pytest.mark.parametrize("by", ["national", "la", "rcc", "need", "la_need", "rcc_need"])
def test_indicator_groupings(env: Env, by: str) -> None:
    r = env.client.get(
        f"/v1/scenarios/{env.scenario_id}/indicators?by={by}", headers=env.h(env.planner)
    )
    rows = r.json()["rows"]
    total = env.client.get(f"/v1/scenarios/{env.scenario_id}", headers=env.h(env.planner)).json()[
        "summary"
    ]["children"]
    assert sum(row["children"] for row in rows) == total


def test_need_within_each_area_for_planners_only(env: Env) -> None:
    """Placed and unplaced by need within each LA and RCC (DESIGN.md section 5): each LA's
    rows add up to its row by=la, one LA's with la=; council keys are refused them (their small
    cells are not protected), before and after the scenario is read."""
    base = f"/v1/scenarios/{env.scenario_id}/indicators"
    planner = env.h(env.planner)
    by_need = pd.DataFrame(env.client.get(f"{base}?by=la_need", headers=planner).json()["rows"])
    by_la = pd.DataFrame(env.client.get(f"{base}?by=la", headers=planner).json()["rows"])
    assert {"home_la", "la_name", "rcc", "need"} <= set(by_need.columns)
    for col in ("children", "placed", "unplaced", "out_of_la"):
        assert by_need.groupby("home_la")[col].sum().to_dict() == dict(
            zip(by_la["home_la"], by_la[col], strict=True)
        )
    one = env.client.get(f"{base}?by=la_need&la={GM}", headers=planner).json()
    assert one["by"] == "la_need" and {r["home_la"] for r in one["rows"]} == {GM}
    assert {r["need"] for r in one["rows"]} == set(by_need.loc[by_need["home_la"] == GM, "need"])
    for key in (env.council, env.council_any):
        for by in ("la_need", "rcc_need"):
            r = env.client.get(f"{base}?by={by}", headers=env.h(key))
            assert r.status_code == 403 and "planner" in r.json()["detail"]


def test_bound_council_sees_its_own_la_suppressed(env: Env) -> None:
    base = f"/v1/scenarios/{env.scenario_id}/indicators"
    r = env.client.get(f"{base}?by=rcc", headers=env.h(env.council))
    assert r.status_code == 200
    body = r.json()
    assert body["suppressed"] and body["by"] == "la"
    assert [row["home_la"] for row in body["rows"]] == [GM]
    assert env.client.get(f"{base}?la={OTHER}", headers=env.h(env.council)).status_code == 403


def test_unbound_council_is_suppressed_everywhere(env: Env) -> None:
    r = env.client.get(
        f"/v1/scenarios/{env.scenario_id}/indicators?by=la", headers=env.h(env.council_any)
    )
    rows = r.json()["rows"]
    counts = [
        row[c] for row in rows for c in ("children", "out_of_la", "over_20_miles", "unplaced")
    ]
    assert "c" in counts
    assert not any(isinstance(v, int) and 1 <= v <= 5 for v in counts)


def test_council_tables_stored_when_the_job_finishes(env: Env) -> None:
    """Suppression is applied once, by the job; a read never recomputes it."""
    from service.views import suppressed_view

    store = env.client.app.state.service.store  # type: ignore[attr-defined]
    stored = store.result_view(env.scenario_id, suppressed_view(5))
    r = env.client.get(
        f"/v1/scenarios/{env.scenario_id}/indicators?by=need", headers=env.h(env.council_any)
    )
    assert r.json()["rows"] == stored["need"]
    folder = store.get_scenario(env.scenario_id).result_folder
    maps = read_result(Path(folder))
    assert stored == suppress_tables(store.indicators(env.scenario_id), threshold=5, maps=maps)


def test_council_tables_of_an_older_result_made_once_and_stored(env: Env) -> None:
    """A result finished without stored council tables (or under another threshold) gets
    them on its first council read, stored for every later read."""
    from sqlalchemy import delete

    from service.store import result_views
    from service.views import suppressed_view

    state = env.client.app.state.service  # type: ignore[attr-defined]
    body = {"dataset_id": env.dataset_id, "name": "older", "baseline": False}
    sid = env.client.post("/v1/scenarios", json=body, headers=env.h(env.planner)).json()["id"]
    assert wait_done(env.client, sid, env.planner)["state"] == "done"
    with state.store.engine.begin() as conn:
        conn.execute(delete(result_views).where(result_views.c.scenario_id == sid))
    assert state.store.result_view(sid, suppressed_view(5)) is None
    r = env.client.get(f"/v1/scenarios/{sid}/indicators?by=la", headers=env.h(env.council_any))
    assert r.status_code == 200 and r.json()["suppressed"]
    maps = read_result(Path(state.store.get_scenario(sid).result_folder))
    want = suppress_tables(state.store.indicators(sid), threshold=5, maps=maps)["la"]
    assert r.json()["rows"] == want
    assert state.store.result_view(sid, suppressed_view(5))["la"] == want


def test_standard_maps_drawn_when_the_job_finishes(env: Env) -> None:
    """Every standard map, internal and suppressed, is drawn after the job without a read."""
    from service.mapfiles import STANDARD_KINDS, map_path

    store = env.client.app.state.service.store  # type: ignore[attr-defined]
    body = {"dataset_id": env.dataset_id, "name": "drawn", "baseline": False}
    sid = env.client.post("/v1/scenarios", json=body, headers=env.h(env.planner)).json()["id"]
    assert wait_done(env.client, sid, env.planner)["state"] == "done"
    folder = Path(store.get_scenario(sid).result_folder)
    want = [map_path(folder, k, None, suppressed=s) for k in STANDARD_KINDS for s in (False, True)]
    end = time.monotonic() + 120
    while time.monotonic() < end and not all(p.is_file() for p in want):
        time.sleep(0.2)
    assert [p.name for p in want if not p.is_file()] == []
    assert not list((folder / "maps").glob("*.tmp"))  # written whole, by rename
    r = env.client.get(f"/v1/scenarios/{sid}/maps/flows", headers=env.h(env.council_any))
    assert r.status_code == 200
    assert r.text == map_path(folder, "flows", None, suppressed=True).read_text(encoding="utf-8")


def test_finished_bodies_gzipped_for_clients_that_accept_it(env: Env) -> None:
    base = f"/v1/scenarios/{env.scenario_id}"
    for path in ("/maps/out-of-area", "/indicators?by=la"):
        packed = env.client.get(
            base + path, headers={**env.h(env.planner), "Accept-Encoding": "gzip"}
        )
        plain = env.client.get(
            base + path, headers={**env.h(env.planner), "Accept-Encoding": "identity"}
        )
        assert packed.status_code == plain.status_code == 200
        assert packed.headers.get("content-encoding") == "gzip", path
        assert "content-encoding" not in plain.headers
        assert packed.content == plain.content  # decoded by the client
        assert packed.headers["vary"] == plain.headers["vary"] == "Accept-Encoding"


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("", False),
        ("*", True),
        ("*;q=0.1, gzip;q=0", False),
        ("x-gzip", True),
        ("gzip;q=junk", False),
    ],
)
def test_accept_encoding_parsed(header: str, gzip: bool) -> None:
    from service.cache import accepts_gzip

    assert accepts_gzip(header) is gzip


def test_allocation_csv_and_pages(env: Env) -> None:
    base = f"/v1/scenarios/{env.scenario_id}/allocation"
    r = env.client.get(base, headers=env.h(env.planner))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    frame = pd.read_csv(io.StringIO(r.text), dtype=str, keep_default_na=False)
    assert frame["child_id"].is_unique
    page = env.client.get(f"{base}?format=json&page=2&size=100", headers=env.h(env.planner))
    body = page.json()
    assert body["total"] == len(frame) and len(body["rows"]) == 100
    assert [row["child_id"] for row in body["rows"]] == frame["child_id"][100:200].tolist()
    # typed values: "False" would be true in JavaScript
    row, raw = body["rows"][0], frame.iloc[100]
    assert row["out_of_la"] is (raw["out_of_la"] == "True")
    assert isinstance(row["age"], int) and row["age"] == int(raw["age"])
    assert isinstance(row["pair_cost"], float) and row["pair_cost"] == float(raw["pair_cost"])
    assert row["child_id"] == raw["child_id"]
    assert all(r["placement_id"] is None for r in body["rows"] if r["unplaced_reason"])
    unplaced = env.client.get(
        f"/v1/scenarios/{env.scenario_id}/unplaced", headers=env.h(env.planner)
    ).json()
    assert unplaced["total"] == int((frame["placement_id"] == "").sum())


def test_maps_by_role_and_cached(env: Env) -> None:
    base = f"/v1/scenarios/{env.scenario_id}/maps"
    r = env.client.get(f"{base}/out-of-area", headers=env.h(env.planner))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "leaflet" in r.text.lower()
    again = env.client.get(f"{base}/out-of-area", headers=env.h(env.planner))
    assert again.text == r.text
    store = env.client.app.state.service.store  # type: ignore[attr-defined]
    folder = Path(store.get_scenario(env.scenario_id).result_folder) / "maps"
    assert (folder / "out-of-area-all-internal.html").is_file()
    own = env.client.get(f"{base}/flows", headers=env.h(env.council))
    assert own.status_code == 200
    assert (folder / f"flows-{GM}-public.html").is_file()
    assert env.client.get(f"{base}/flows?la={OTHER}", headers=env.h(env.council)).status_code == 403
    assert env.client.get(f"{base}/rccs", headers=env.h(env.council)).status_code == 403
    public = env.client.get(f"{base}/out-of-area", headers=env.h(env.council_any))
    assert public.status_code == 200 and (folder / "out-of-area-all-public.html").is_file()
    assert env.client.get(f"{base}/nope", headers=env.h(env.planner)).status_code == 422


def test_scenario_request_errors_are_listed(env: Env) -> None:
    body = {
        "dataset_id": "ds_missing",
        "policy": {"out_of_la": -1},
        "changes": {"add_capacity": [{"la_code": GM, "setting": "castle", "places": 1}]},
    }
    r = env.client.post("/v1/scenarios", json=body, headers=env.h(env.planner))
    assert r.status_code == 422
    columns = {i["column"] for i in r.json()["issues"]}
    assert {"dataset_id", "out_of_la", "add_capacity.setting", "add_capacity.weekly_cost"} <= (
        columns
    )


def test_an_rcc_lookup_missing_las_of_the_dataset_is_refused_at_once(env: Env) -> None:
    """It was accepted (202), then failed with 4,646 problems cut off mid-line; and an
    unknown LA or min_age above max_age in the changes likewise."""
    item = {"la_code": "E99", "setting": "secure", "places": 1, "weekly_cost": 1}
    body = {
        "dataset_id": env.dataset_id,
        "rccs": {"lookup": {GM: "GM"}},
        "changes": {"add_capacity": [item, {**item, "la_code": GM, "min_age": 9, "max_age": 3}]},
    }
    r = env.client.post("/v1/scenarios", json=body, headers=env.h(env.planner))
    assert r.status_code == 422, r.text
    text = {i["column"]: i["message"] for i in r.json()["issues"]}
    assert "LAs of the dataset have no RCC in the lookup: E0" in text["lookup"]
    assert "'E99' is not one of the 153" in text["add_capacity.la_code"]
    assert "min_age 9 is above max_age 3" in text["add_capacity.min_age"]


def test_scenario_with_changes_and_compare(env: Env) -> None:
    body = {
        "dataset_id": env.dataset_id,
        "name": "more homes",
        "rccs": {"preset": "regions"},
        "policy": {"out_of_la": 500},
        "changes": {
            "add_capacity": [
                {"la_code": GM, "setting": "residential_la", "places": 6, "weekly_cost": 4000}
            ],
            "rccs": {OTHER: "North West"},  # Hartlepool, across the Pennines: allowed, warned
        },
        "baseline": False,
    }
    r = env.client.post("/v1/scenarios", json=body, headers=env.h(env.planner))
    assert r.status_code == 202, r.text
    done = wait_done(env.client, r.json()["id"], env.planner)
    assert done["state"] == "done", done
    (warning,) = done["summary"]["rcc_warnings"]
    assert "RCC 'North West' is in 2 pieces" in warning and "E06000001 (Hartlepool)" in warning
    ids = f"{env.scenario_id},{done['id']}"
    cmp = env.client.get(f"/v1/scenarios/compare?ids={ids}", headers=env.h(env.planner)).json()
    rows = {row["indicator"]: row for row in cmp["national"]}
    assert rows["children"][f"{done['id']} - {env.scenario_id}"] == 0
    assert {r["home_rcc"] for r in cmp["by_rcc"]} >= {"North West"}
    # each area's differences too, adding up to the national one; no warning for one dataset
    key = f"unplaced:{done['id']} - {env.scenario_id}"
    assert (
        sum(r[key] for r in cmp["by_rcc"]) == rows["unplaced"][f"{done['id']} - {env.scenario_id}"]
    )
    assert "warnings" not in cmp
    bad = env.client.get(f"/v1/scenarios/compare?ids={env.scenario_id}", headers=env.h(env.planner))
    assert bad.status_code == 422
    # the same scenario twice: a 200 whose columns overwrote each other
    twice = f"/v1/scenarios/compare?ids={env.scenario_id},{env.scenario_id}"
    bad = env.client.get(twice, headers=env.h(env.planner))
    assert bad.status_code == 422 and "repeated" in bad.json()["issues"][0]["message"]


def test_changes_the_dataset_cannot_take_are_refused_at_once(env: Env) -> None:
    """Removing more places than an LA has, or an RCC for an LA outside the dataset's lookup,
    was accepted (202) and failed later as a job, counting toward the key's job limit."""
    remove = {"la_code": GM, "setting": "secure", "places": 500}
    body = {
        "dataset_id": env.dataset_id,
        "changes": {"remove_capacity": [remove], "rccs": {"E99": "Nowhere"}},
    }
    r = env.client.post("/v1/scenarios", json=body, headers=env.h(env.planner))
    assert r.status_code == 422, r.text
    text = {i["column"]: i["message"] for i in r.json()["issues"]}
    assert text["rccs"] == "'E99' is not an LA of the problem"
    del body["changes"]["rccs"]
    r = env.client.post("/v1/scenarios", json=body, headers=env.h(env.planner))
    assert r.status_code == 422, r.text
    (issue,) = r.json()["issues"]
    assert (issue["file"], issue["row"], issue["column"]) == (
        "changes",
        1,
        "remove_capacity.places",
    )
    assert "cannot remove 500" in issue["message"]


def test_idempotent_posts(env: Env) -> None:
    h = {**env.h(env.planner), "Idempotency-Key": "abc-1"}
    body = {"dataset_id": env.dataset_id, "name": "idem", "baseline": False}
    first = env.client.post("/v1/scenarios", json=body, headers=h)
    second = env.client.post("/v1/scenarios", json=body, headers=h)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    other = env.client.post("/v1/scenarios", json={**body, "name": "x"}, headers=h)
    assert other.status_code == 409
    ds_body = {"synthetic": {"seed": 9, "scale": 0.005}}
    d1 = env.client.post("/v1/datasets", json=ds_body, headers=h)
    d2 = env.client.post("/v1/datasets", json=ds_body, headers=h)
    assert d1.status_code == d2.status_code == 201 and d1.json()["id"] == d2.json()["id"]
    wait_done(env.client, first.json()["id"], env.planner)


def test_growth_needs_a_plan_and_is_never_a_file(env: Env) -> None:
    h = env.h(env.planner)
    no_plan = {"dataset_id": env.dataset_id, "changes": {"growth": "flat"}}
    r = env.client.post("/v1/scenarios", json=no_plan, headers=h)
    assert r.status_code == 422 and "plan" in r.json()["issues"][0]["message"]
    sneaky = {"dataset_id": env.dataset_id, "plan": {"growth": "/etc/passwd"}}
    r = env.client.post("/v1/scenarios", json=sneaky, headers=h)
    assert r.status_code == 422
    assert [i["column"] for i in r.json()["issues"]] == ["growth"]
    assert "root:" not in r.text
    budget = {"dataset_id": env.dataset_id, "plan": {"capital_budget": "lots"}}
    r = env.client.post("/v1/scenarios", json=budget, headers=h)
    assert r.status_code == 422 and r.json()["issues"][0]["column"] == "capital_budget"
    # numbers too large for a float were accepted as infinite: 1e400 as no budget at all
    budget = {"dataset_id": env.dataset_id, "plan": {"capital_budget": "1e400"}}
    r = env.client.post("/v1/scenarios", json=budget, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["issues"][0]["message"].startswith("'1e400' is too large an amount")
    huge = b'{"dataset_id": "%s", "time_limit": 1e400, "plan": {"growth": 1e400}}'
    r = env.client.post(
        "/v1/scenarios",
        content=huge % env.dataset_id.encode(),
        headers={**h, "content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    columns = {i["column"] for i in r.json()["issues"]}
    assert {"body.time_limit", "body.plan.growth.float"} <= columns


def test_scenario_with_a_plan(env: Env) -> None:
    done = wait_done(env.client, env.plan_id, env.planner, timeout=120)
    assert done["state"] == "done", done
    plan = done["summary"]["plan"]
    assert len(plan["years"]) == 1 and plan["capital_budget"] == 5_000_000
    body = env.client.get(done["links"]["plan"], headers=env.h(env.planner)).json()
    assert body["summary"] == plan
    capital = sum(float(a.get("capital") or 0) for a in body["actions"])
    assert capital <= 5_000_000 + 1e-6
    page = env.client.get(done["links"]["plan_map"], headers=env.h(env.planner))
    assert page.status_code == 200 and "leaflet" in page.text.lower()
    assert env.client.get(done["links"]["plan"], headers=env.h(env.council)).status_code == 403
    for key in (env.council, env.council_any):  # a council's links are to what it may read
        links = env.client.get(done["links"]["self"], headers=env.h(key)).json()["links"]
        assert "plan" not in links and ("plan_map" in links) == (key == env.council_any)
        for link in links.values():
            assert env.client.get(link, headers=env.h(key)).status_code == 200, link
    base = env.client.get(f"/v1/scenarios/{env.scenario_id}/maps/plan", headers=env.h(env.planner))
    assert base.status_code == 409


def test_unknown_scenario_is_404(env: Env) -> None:
    for path in ("", "/indicators", "/allocation", "/maps/flows"):
        r = env.client.get(f"/v1/scenarios/sc_nope{path}", headers=env.h(env.planner))
        assert r.status_code == 404


# ----------------------------------------------------------------------------- limits


@pytest.fixture()
def tight(tmp_path: Path) -> Iterator[Env]:
    settings = Settings(
        data_dir=tmp_path,
        upload_limit=20_000,
        max_children=300,
        max_jobs_per_key=1,
        job_time_limit=20,
        pool_size=1,
    )
    with TestClient(create_app(settings)) as client:
        yield Env(client)


def test_limits_and_cancel(tight: Env, tmp_path: Path) -> None:
    c, h = tight.client, tight.h(tight.planner)
    big = c.post("/v1/datasets", json={"synthetic": {"seed": 1, "scale": 0.01}}, headers=h)
    assert big.status_code == 413 and "300" in big.json()["detail"]
    assert "574 children" in big.json()["detail"]  # the count it would make, not an estimate
    fits = c.post("/v1/datasets", json={"synthetic": {"seed": 1, "scale": 0.005}}, headers=h)
    assert fits.status_code == 201, fits.text  # 287 children (estimated 418 before: refused)
    blob = {"children": ("children.csv", b"x" * 30_000, "text/csv")}
    assert c.post("/v1/datasets", files=blob, headers=h).status_code == 413
    streamed = c.post(
        "/v1/datasets",
        content=iter([b"{" + b" " * 15_000, b" " * 15_000 + b"}"]),
        headers={**h, "content-type": "application/json"},
    )
    assert streamed.status_code == 413
    ds = c.post("/v1/datasets", json={"synthetic": {"seed": 1, "scale": 0.003}}, headers=h)
    assert ds.status_code == 201, ds.text
    first = c.post("/v1/scenarios", json={"dataset_id": ds.json()["id"]}, headers=h)
    assert first.status_code == 202
    second = c.post("/v1/scenarios", json={"dataset_id": ds.json()["id"]}, headers=h)
    assert second.status_code == 429 and second.headers["Retry-After"]
    sid = first.json()["id"]
    cancelled = c.post(f"/v1/scenarios/{sid}/cancel", headers=h)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert c.post(f"/v1/scenarios/{sid}/cancel", headers=h).status_code == 409
    third = c.post("/v1/scenarios", json={"dataset_id": ds.json()["id"]}, headers=h)
    assert third.status_code == 202


def test_cors_closed_by_default(env: Env) -> None:
    r = env.client.options(
        "/v1/las",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers


# ----------------------------------------------------------------------------- suppression


def test_suppression_hides_small_counts_and_what_reveals_them() -> None:
    rows: list[dict[str, Any]] = [
        {"home_la": "A", "children": 40, "placed": 37, "unplaced": 3, "out_of_la": 12,
         "over_20_miles": 8, "out_of_la_over_20_miles": 6, "out_of_rcc": 0, "weekly_cost": 1.0},
        {"home_la": "B", "children": 30, "placed": 30, "unplaced": 0, "out_of_la": 10,
         "over_20_miles": 9, "out_of_la_over_20_miles": 7, "out_of_rcc": 2, "weekly_cost": 1.0},
        {"home_la": "C", "children": 4, "placed": 4, "unplaced": 0, "out_of_la": 0,
         "over_20_miles": 0, "out_of_la_over_20_miles": 0, "out_of_rcc": 0, "weekly_cost": 1.0},
    ]  # fmt: skip
    rows[1]["unplaced"], rows[1]["placed"] = 9, 21
    out = suppress_tables({"la": rows}, threshold=5)["la"]
    assert all("placed" not in r for r in out)  # children - unplaced would reveal it
    assert out[0]["unplaced"] == "c"
    assert out[2]["children"] == "c" and out[2]["weekly_cost"] == "c"
    assert out[0]["out_of_la_over_20_miles"] == "c"  # 8 - 6 = 2 over 20 miles inside the LA
    for col in ("unplaced", "out_of_rcc", "children"):
        total = sum(int(r[col]) for r in rows)
        hidden = [r[col] for r in out if r[col] == "c"]
        if total > 5:
            assert len(hidden) != 1, f"one hidden {col} would be recoverable from the total"
    assert rows[0]["unplaced"] == 3  # input untouched


def _row(key: str, value: str, children: int, unplaced: int, out_of_la: int) -> dict[str, Any]:
    return {key: value, "children": children, "placed": children - unplaced,
            "unplaced": unplaced, "out_of_la": out_of_la, "over_20_miles": 0,
            "out_of_la_over_20_miles": 0, "out_of_rcc": 0}  # fmt: skip


def test_council_tables_are_protected_together() -> None:
    """A council reads every table: Rutland's hidden 1 child was its RCC's total less its
    other LAs, and secure's hidden 7 out of LA the national total less the other needs."""
    las = [
        _row("home_la", "E06000017", 1, 0, 1) | {"rcc": "East Midlands"},
        _row("home_la", "E06000015", 21, 0, 9) | {"rcc": "East Midlands"},
        _row("home_la", "E06000016", 19, 0, 8) | {"rcc": "East Midlands"},
        _row("home_la", "E08000003", 40, 0, 20) | {"rcc": "North West"},
        _row("home_la", "E08000004", 8, 0, 0) | {"rcc": "North West"},
    ]
    rccs = [_row("home_rcc", "East Midlands", 41, 0, 18), _row("home_rcc", "North West", 48, 0, 20)]
    tables = {
        "national": [_row("area", "England", 89, 0, 38)],
        "la": las,
        "rcc": rccs,
        "need": [_row("need", "foster", 79, 0, 31), _row("need", "secure", 10, 0, 7)],
    }
    out = suppress_tables(tables, threshold=5)
    assert out["la"][0]["children"] == "c"
    # whatever else is hidden, Rutland's children are not the East Midlands' less the rest
    shown = [r["children"] for r in out["la"][1:3]] + [out["rcc"][0]["children"]]
    assert "c" in shown
    # secure out of LA (7) with 3 at home: pair-protected, and not the national less foster
    assert out["need"][1]["out_of_la"] == "c"
    assert "c" in (out["national"][0]["out_of_la"], out["need"][0]["out_of_la"])


def test_job_over_the_wall_time_limit_fails(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, job_wall_limit=0.3, pool_size=1)
    with TestClient(create_app(settings)) as client:
        e = Env(client)
        ds = client.post(
            "/v1/datasets", json={"synthetic": {"seed": 1, "scale": 0.01}}, headers=e.h(e.planner)
        )
        sc = client.post(
            "/v1/scenarios", json={"dataset_id": ds.json()["id"]}, headers=e.h(e.planner)
        )
        done = wait_done(client, sc.json()["id"], e.planner)
        ind = client.get(f"/v1/scenarios/{done['id']}/indicators", headers=e.h(e.planner))
    assert done["state"] == "failed"
    assert "job time limit of 0.3 s" in done["reason"]
    assert ind.status_code == 409 and "failed" in ind.json()["detail"]


def test_logs_carry_ids_and_states_never_child_rows(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    body = {"dataset_id": env.dataset_id, "name": "logged", "baseline": False}
    sid = env.client.post("/v1/scenarios", json=body, headers=env.h(env.planner)).json()["id"]
    assert wait_done(env.client, sid, env.planner)["state"] == "done"
    env.client.get(f"/v1/scenarios/{sid}/allocation", headers=env.h(env.planner))
    assert "done" in caplog.text
    store = env.client.app.state.service.store  # type: ignore[attr-defined]
    kids = pd.read_csv(Path(store.get_dataset(env.dataset_id).folder) / "children.csv", dtype=str)
    assert not [c for c in kids["child_id"] if c in caplog.text]


def test_cors_open_only_to_configured_origins(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, cors_origins=["https://council.example"])
    with TestClient(create_app(settings)) as client:
        ask = {
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
        }
        ok = client.options("/v1/las", headers={"Origin": "https://council.example", **ask})
        assert ok.headers["access-control-allow-origin"] == "https://council.example"
        other = client.options("/v1/las", headers={"Origin": "https://evil.example", **ask})
        assert "access-control-allow-origin" not in other.headers


def test_compare_warns_when_the_scenarios_are_of_different_datasets(env: Env) -> None:
    """It compared 2,869 children with 5,739 without a word."""
    ds = env.client.post(
        "/v1/datasets", json={"synthetic": {"seed": 2, "scale": 0.01}}, headers=env.h(env.planner)
    )
    assert ds.status_code == 201, ds.text
    body = {"dataset_id": ds.json()["id"], "baseline": False}
    r = env.client.post("/v1/scenarios", json=body, headers=env.h(env.planner))
    other = wait_done(env.client, r.json()["id"], env.planner)["id"]
    ids = f"{env.scenario_id},{other}"
    cmp = env.client.get(f"/v1/scenarios/compare?ids={ids}", headers=env.h(env.planner)).json()
    assert cmp["warnings"] and "different datasets" in cmp["warnings"][0]


def test_council_tables_and_maps_are_suppressed_together(env: Env) -> None:
    """A council reads the indicator tables beside the maps: a count the map hides (an LA's
    children or unplaced) is not shown in the table, where it was suppressed on its own."""
    from test_maps import parse_map

    h = env.h(env.council_any)
    base = f"/v1/scenarios/{env.scenario_id}"
    rows = env.client.get(f"{base}/indicators?by=la", headers=h).json()["rows"]
    page = env.client.get(f"{base}/maps/out-of-area", headers=h)
    assert page.status_code == 200
    layer = parse_map(page.text).layers["Placed outside their LA"]
    on_map = {f["id"]: f["properties"] for f in layer.features}
    hidden = 0
    for row in rows:
        shown = on_map[row["home_la"]]
        for col in ("children", "unplaced", "out_of_la", "out_of_rcc"):
            if shown[col] == "c":
                hidden += 1
                assert row[col] == "c", (row["home_la"], col)
    assert hidden


def test_every_422_has_one_shape(env: Env) -> None:
    """A body or query that does not fit the schema got FastAPI's own {detail: [...]}, and
    every other 422 {detail, issues: [file, row, column, message]}; the OpenAPI document still
    gave FastAPI's shape for 9 of the 11 operations that answer one."""
    spec = env.client.get("/openapi.json").json()
    documented = [
        op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
        for item in spec["paths"].values()
        for op in item.values()
        if "422" in op["responses"]
    ]
    assert len(documented) >= 11 and set(documented) == {"#/components/schemas/ErrorOut"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    h = env.h(env.planner)
    for r in (
        env.client.post("/v1/scenarios", json={"time_limit": -1}, headers=h),
        env.client.get(f"/v1/scenarios/{env.scenario_id}/indicators?by=foo", headers=h),
        env.client.get(f"/v1/scenarios/{env.scenario_id}/indicators?la=bogus", headers=h),
        env.client.get(f"/v1/scenarios/{env.scenario_id}/allocation?page=0", headers=h),
    ):
        assert r.status_code == 422
        body = r.json()
        assert isinstance(body["detail"], str) and body["issues"], body
        assert set(body["issues"][0]) == {"file", "row", "column", "message"}
        ErrorOut.model_validate(body, strict=True)
    columns = {i["column"] for i in body["issues"]}
    assert columns == {"query.page"}


def test_an_la_without_children_has_no_rows_not_a_404(env: Env) -> None:
    """A council key bound to the City of London (no children here) got 404 from every
    indicators call, while its flows map answered with zeros."""
    h = env.h(env.planner)
    r = env.client.get(f"/v1/scenarios/{env.scenario_id}/indicators?la=E09000001", headers=h)
    assert r.status_code == 200 and r.json()["rows"] == []


def test_an_upload_cut_off_before_its_end_is_named(env: Env) -> None:
    """A children part without its closing boundary was dropped, and the error said the file
    was missing from the upload, though it was sent."""
    head = 'Content-Disposition: form-data; name="children"; filename="children.csv"'
    body = f"--XyZ\\r\\n{head}\\r\\n\\r\\nchild_id,home_la\\r\\nC1,{GM}\\r\\n".encode()
    kind = "multipart/form-data; boundary=XyZ; charset=utf-8"
    r = env.client.post(
        "/v1/datasets", content=body, headers={**env.h(env.planner), "content-type": kind}
    )
    assert r.status_code == 422
    assert "ended before its closing boundary" in r.json()["issues"][0]["message"]
    # without a boundary: Starlette's 400 {"detail"} with no issues, unlike every other
    r = env.client.post(
        "/v1/datasets",
        content=body,
        headers={**env.h(env.planner), "content-type": "multipart/form-data"},
    )
    assert r.status_code == 422
    ErrorOut.model_validate(r.json(), strict=True)
    assert "Missing boundary" in r.json()["issues"][0]["message"]
