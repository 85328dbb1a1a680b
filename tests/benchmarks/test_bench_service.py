"""Benchmark: the service under load on loopback (issue 8's load check).

A real `rcc serve` with a seeded Greater Manchester-sized dataset (children and placements of
the 10 GM LAs cut from synthetic England, about 4,000 children). 50 concurrent clients, each
with its own keep-alive connection, read indicators and maps for 30 s (RCC_BENCH_SECONDS) while
10 scenarios are submitted; every read is timed, and the peer measured in the same run is the
service's trivial /health route under the same load, so the ratios show what indicator and map
reads cost above the bare HTTP path. Targets: zero errors, p95 indicator reads < 100 ms, map
reads < 1 s, one RCC-sized scenario from POST to done < 10 s. Run with `make bench`.

The readers use a minimal HTTP/1.1 client (below): the load generator shares the machine's
two cores with the service, and httpx's connection pool spends milliseconds of CPU per request
at 50 connections (it scans every connection on each request), which showed up as latency of
the service. RCC_BENCH_CLIENT=httpx measures with one httpx client per reader instead.
"""

from __future__ import annotations

import asyncio
import contextlib
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
CLIENT = os.environ.get("RCC_BENCH_CLIENT", "lean")  # or httpx


def gm_problem() -> Problem:
    """Seeded synthetic England cut to the Greater Manchester RCC (children placed in GM)."""
    england = synthesize(seed=2024, scale=1.0)
    gm = set(GREATER_MANCHESTER)
    children = england.children[england.children["home_la"].isin(gm)].copy()
    children["current_placement"] = ""  # today's placements may lie outside GM
    placements = england.placements[england.placements["la"].isin(gm)]
    las = england.las[england.las["code"].isin(gm)]
    return Problem(children.reset_index(drop=True), placements.reset_index(drop=True), las)


class Connection:
    """One keep-alive HTTP/1.1 connection sending GETs: what a browser tab costs the client,
    not what a general-purpose client library does."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        fields = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.tail = f"Host: {host}:{port}\r\n{fields}\r\n".encode()
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str) -> int:
        """The status of GET `path`, its body read whole (0 when the connection failed)."""
        try:
            if self.streams is None:
                self.streams = await asyncio.open_connection(self.host, self.port)
            reader, writer = self.streams
            writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self.tail)
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            fields = dict(line.lower().split(": ", 1) for line in head[1:] if line)
            if "content-length" in fields:
                await reader.readexactly(int(fields["content-length"]))
            else:  # chunked
                while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                    await reader.readexactly(size + 2)
                await reader.readexactly(2)
            if fields.get("connection") == "close":
                await self.close()
            return int(head[0].split(" ", 2)[1])
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await self.close()
            return 0

    async def close(self) -> None:
        if self.streams is not None:
            writer = self.streams[1]
            self.streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class HttpxConnection:
    """The same GETs through an httpx client of their own (RCC_BENCH_CLIENT=httpx)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.client = httpx.AsyncClient(base_url=url, headers=headers, timeout=60)

    async def get(self, path: str) -> int:
        try:
            return (await self.client.get(path)).status_code
        except httpx.HTTPError:
            return 0

    async def close(self) -> None:
        await self.client.aclose()


async def reader(
    url: str, key: str, sid: str, stop: float, log: list[tuple[str, float, int]], seed: int
) -> None:
    rng = random.Random(seed)  # each client its own seeded sequence
    kind_of_client = HttpxConnection if CLIENT == "httpx" else Connection
    client = kind_of_client(url, {"X-API-Key": key, "Accept-Encoding": "gzip"})  # as browsers
    paths = {
        "indicators": [f"/v1/scenarios/{sid}/indicators?by={b}" for b in ("la", "rcc", "need")],
        "map": [f"/v1/scenarios/{sid}/maps/{k}" for k in ("out-of-area", "flows", "rccs")],
        "health (peer)": ["/health"],
    }
    kinds = ["indicators"] * 6 + ["map"] * 2 + ["health (peer)"] * 2
    while time.perf_counter() < stop:
        kind = rng.choice(kinds)
        start = time.perf_counter()
        status = await client.get(rng.choice(paths[kind]))
        log.append((kind, time.perf_counter() - start, status))
    await client.close()


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(url: str, key: str, sid: str, dataset: str, server_pid: int) -> dict[str, Any]:
    headers = {"X-API-Key": key}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        log: list[tuple[str, float, int]] = []
        times: list[float] = []
        errors: list[str] = []
        cpu = (cpu_seconds(server_pid), time.process_time())
        stop = time.perf_counter() + SECONDS
        await asyncio.gather(
            submitter(client, dataset, stop, times, errors),
            *(reader(url, key, sid, stop, log, seed) for seed in range(CLIENTS)),
        )
        used = (cpu_seconds(server_pid) - cpu[0], time.process_time() - cpu[1])
    return {"log": log, "times": times, "errors": errors, "cpu": used}


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
        assert server.process is not None
        result = asyncio.run(load(server.url, key, sid, dataset, server.process.pid))
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
    service_cpu, client_cpu = result["cpu"]
    print(
        f"CPU during the load ({CLIENT} client): service process {service_cpu:.1f} s, "
        f"load generator {client_cpu:.1f} s, of {2 * SECONDS:.0f} core-seconds"
    )
    times = sorted(result["times"])
    solve = first["summary"]
    parts = ", ".join(f"{k} {v:.2f}" for k, v in solve.get("job_seconds", {}).items())
    print(
        f"one scenario alone, POST to done: {alone:.1f} s (solve {solve['solve_seconds']} s, "
        f"status {solve['status']}; job seconds: {parts})"
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
