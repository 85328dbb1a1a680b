"""Benchmark: the service under load on loopback (issue 8's load check).

A real `rcc serve` with a seeded Greater Manchester-sized dataset (children and placements of
the 10 GM LAs cut from synthetic England, about 4,000 children). 50 concurrent clients read
indicators and maps for 30 s (RCC_BENCH_SECONDS) while 10 scenarios are submitted; every read is
timed, and the peer measured in the same run is the service's trivial /health route under the
same load, so the ratios show what indicator and map reads cost above the bare HTTP path.
Targets: zero errors, p95 indicator reads < 100 ms, map reads < 1 s, one RCC-sized scenario
from POST to done < 10 s. Run with `make bench`.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from test_service_e2e import Server, upload, wait_state

from geodata.rcc import GREATER_MANCHESTER
from optimiser.problem import Problem, write_problem
from optimiser.synthetic import synthesize

CLIENTS = 50
SCENARIOS = 10
SECONDS = float(os.environ.get("RCC_BENCH_SECONDS", "30"))


def gm_problem() -> Problem:
    """Seeded synthetic England cut to the Greater Manchester RCC (children placed in GM)."""
    england = synthesize(seed=2024, scale=1.0)
    gm = set(GREATER_MANCHESTER)
    children = england.children[england.children["home_la"].isin(gm)].copy()
    children["current_placement"] = ""  # today's placements may lie outside GM
    placements = england.placements[england.placements["la"].isin(gm)]
    las = england.las[england.las["code"].isin(gm)]
    return Problem(children.reset_index(drop=True), placements.reset_index(drop=True), las)


async def reader(
    client: httpx.AsyncClient, sid: str, stop: float, log: list[tuple[str, float, int]], seed: int
) -> None:
    rng = random.Random(seed)  # each client its own seeded sequence
    paths = {
        "indicators": [f"/v1/scenarios/{sid}/indicators?by={b}" for b in ("la", "rcc", "need")],
        "map": [f"/v1/scenarios/{sid}/maps/{k}" for k in ("out-of-area", "flows", "rccs")],
        "health (peer)": ["/health"],
    }
    kinds = ["indicators"] * 6 + ["map"] * 2 + ["health (peer)"] * 2
    while time.perf_counter() < stop:
        kind = rng.choice(kinds)
        start = time.perf_counter()
        try:
            r = await client.get(rng.choice(paths[kind]))
            status = r.status_code
        except httpx.HTTPError:
            status = 0
        log.append((kind, time.perf_counter() - start, status))


async def submitter(
    client: httpx.AsyncClient, dataset: str, stop: float, times: list[float], errors: list[str]
) -> None:
    gap = (stop - time.perf_counter()) / SCENARIOS
    pending: dict[str, float] = {}
    for i in range(SCENARIOS):
        body = {"dataset_id": dataset, "name": f"load {i}", "policy": {"out_of_la": 300 + 25 * i}}
        r = await client.post("/v1/scenarios", json=body)
        if r.status_code == 202:
            pending[r.json()["id"]] = time.perf_counter()
        else:
            errors.append(f"POST {r.status_code}: {r.text[:100]}")
        await asyncio.sleep(gap)
    deadline = time.perf_counter() + 300
    while pending and time.perf_counter() < deadline:
        for sid, started in list(pending.items()):
            state = (await client.get(f"/v1/scenarios/{sid}")).json()
            if state["state"] == "done":
                times.append(time.perf_counter() - started)
                del pending[sid]
            elif state["state"] in ("failed", "cancelled"):
                errors.append(f"{sid}: {state['state']} {state['reason']}")
                del pending[sid]
        await asyncio.sleep(0.2)
    errors.extend(f"{sid}: not done in 300 s" for sid in pending)


async def load(url: str, key: str, sid: str, dataset: str) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=CLIENTS + 5)
    headers = {"X-API-Key": key}
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=60, limits=limits
    ) as client:
        log: list[tuple[str, float, int]] = []
        times: list[float] = []
        errors: list[str] = []
        stop = time.perf_counter() + SECONDS
        await asyncio.gather(
            submitter(client, dataset, stop, times, errors),
            *(reader(client, sid, stop, log, seed) for seed in range(CLIENTS)),
        )
    return {"log": log, "times": times, "errors": errors}


def test_service_under_load(tmp_path: Path) -> None:
    problem_dir = tmp_path / "gm"
    problem = gm_problem()
    write_problem(problem, problem_dir)
    server = Server(tmp_path / "data")
    server.env.update(RCC_POOL_SIZE="2", RCC_MAX_JOBS_PER_KEY="20", RCC_JOB_TIME_LIMIT="20")
    key = server.cli("keys", "create", "--role", "planner").strip().splitlines()[-1]
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120) as c:
            dataset = upload(c, problem_dir)
            start = time.perf_counter()
            sid = c.post("/v1/scenarios", json={"dataset_id": dataset}).json()["id"]
            first = wait_state(c, sid, {"done", "failed"}, timeout=300)
            alone = time.perf_counter() - start
            assert first["state"] == "done", first
            for kind in ("out-of-area", "flows", "rccs"):  # build once; load reads the cache
                assert c.get(f"/v1/scenarios/{sid}/maps/{kind}").status_code == 200
        result = asyncio.run(load(server.url, key, sid, dataset))
    finally:
        server.stop()
    report(len(problem.children), alone, first, result)


def report(children: int, alone: float, first: dict[str, Any], result: dict[str, Any]) -> None:
    log = result["log"]
    peer = np.array([t for k, t, _ in log if k == "health (peer)"])
    peer_p95 = float(np.percentile(peer, 95)) if len(peer) else float("nan")
    print(
        f"\nService load check: {CLIENTS} clients for {SECONDS:.0f} s on loopback while "
        f"{SCENARIOS} scenarios of {children:,} children (GM) were submitted"
    )
    print(
        f"{'reads':16} {'requests':>9} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7} {'p95 / peer':>11}"
    )
    for kind in ("indicators", "map", "health (peer)"):
        lat = np.array([t for k, t, _ in log if k == kind]) * 1000
        errs = sum(1 for k, _, s in log if k == kind and s != 200)
        if not len(lat):
            continue
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        print(
            f"{kind:16} {len(lat):9,} {len(lat) / SECONDS:8.1f} {p50:8.1f} {p95:8.1f} "
            f"{p99:8.1f} {errs:7} {p95 / 1000 / peer_p95:11.1f}"
        )
    times = sorted(result["times"])
    solve = first["summary"]
    print(
        f"one scenario alone, POST to done: {alone:.1f} s (solve {solve['solve_seconds']} s, "
        f"status {solve['status']})"
    )
    if times:
        print(
            f"{len(times)} scenarios under load, POST to done: min {times[0]:.1f} s, median "
            f"{float(np.median(times)):.1f} s, max {times[-1]:.1f} s"
        )
    for line in result["errors"]:
        print("error:", line)
    errors = sum(1 for _, _, s in log if s != 200) + len(result["errors"])
    print(f"errors: {errors}")
    assert errors == 0
