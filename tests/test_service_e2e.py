"""End to end through a real uvicorn server (`rcc serve`) on a free loopback port: keys from
`rcc keys create`, CSV upload, a scenario job, map and allocation downloads, indicators equal to
`rcc solve` on the same files; and a restart while a job runs loses nothing."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from optimiser.problem import write_problem
from optimiser.synthetic import synthesize

CLI = [sys.executable, "-c", "from service.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`rcc serve` in a subprocess with its own data folder."""

    def __init__(self, data_dir: Path, log_level: str = "warning") -> None:
        self.log_level = log_level
        self.log = data_dir.parent / "server.log"
        self.env = {
            **os.environ,
            "RCC_DATA_DIR": str(data_dir),
            "RCC_JOB_TIME_LIMIT": "20",
            "RCC_POOL_SIZE": "1",
        }
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [*CLI, *args], env=self.env, capture_output=True, text=True, timeout=60, check=True
        )
        return done.stdout

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*CLI, "serve", "--port", str(self.port), "--log-level", self.log_level],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.process.poll() is not None:
                err = self.log.read_text(errors="replace")
                raise AssertionError(f"server exited early: {err[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("server did not answer /health within 60 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data")
    try:
        yield srv
    finally:
        srv.stop()


def wait_state(client: httpx.Client, sid: str, states: set[str], timeout: float = 90) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        body = client.get(f"/v1/scenarios/{sid}").json()
        if body["state"] in states:
            return body
        time.sleep(0.1)
    raise AssertionError(f"scenario {sid} never reached {states}: {body}")


def upload(client: httpx.Client, folder: Path) -> str:
    files = {
        name.split(".")[0]: (name, (folder / name).read_bytes(), "text/csv")
        for name in ("children.csv", "placements.csv", "rccs.csv", "las.csv", "policy.json")
    }
    r = client.post("/v1/datasets", files=files)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_end_to_end_matches_rcc_solve(server: Server, tmp_path: Path) -> None:
    key = server.cli("keys", "create", "--role", "planner").strip().splitlines()[-1]
    council = server.cli("keys", "create", "--role", "council", "--la", "E08000003")
    council_key = council.strip().splitlines()[-1]
    problem_dir = tmp_path / "problem"
    write_problem(synthesize(seed=2, scale=0.02, sibling_groups=False), problem_dir)
    server.start()
    with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as client:
        dataset = upload(client, problem_dir)
        r = client.post("/v1/scenarios", json={"dataset_id": dataset, "baseline": False})
        assert r.status_code == 202
        done = wait_state(client, r.json()["id"], {"done", "failed"})
        assert done["state"] == "done", done
        sid = done["id"]
        page = client.get(f"/v1/scenarios/{sid}/maps/out-of-area")
        assert page.status_code == 200 and "<html" in page.text.lower()
        alloc = client.get(f"/v1/scenarios/{sid}/allocation")
        frame = pd.read_csv(io.StringIO(alloc.text), dtype=str, keep_default_na=False)
        by_la = pd.DataFrame(client.get(f"/v1/scenarios/{sid}/indicators?by=la").json()["rows"])
        own = httpx.get(
            f"{server.url}/v1/scenarios/{sid}/maps/flows",
            headers={"X-API-Key": council_key},
            timeout=60,
        )
        assert own.status_code == 200
    out = tmp_path / "cli"
    subprocess.run(
        [*CLI, "solve", str(problem_dir), "--out", str(out), "--time-limit", "20", "--no-baseline"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    want = pd.read_csv(out / "indicators_by_la.csv")
    assert by_la["home_la"].tolist() == want["home_la"].tolist()
    same = ("la_name", "rcc", "children", "placed", "unplaced")
    for col in (*same, "out_of_la", "over_20_miles", "out_of_rcc"):
        assert by_la[col].tolist() == want[col].tolist(), col
    assert by_la["weekly_cost"].sum() == pytest.approx(want["weekly_cost"].sum())
    cli_alloc = pd.read_csv(out / "allocation.csv", dtype=str, keep_default_na=False)
    assert sorted(frame["child_id"]) == sorted(cli_alloc["child_id"])


def _descendants(pid: int) -> list[int]:
    """The processes below `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, todo = [], [pid]
    while todo:
        below = [c for c, p in parents.items() if p == todo[-1]]
        todo.pop()
        found += below
        todo += below
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_restart_requeues_the_interrupted_job(server: Server, tmp_path: Path) -> None:
    """... and the service's log says so (its own lines were dropped: no handler), naming
    jobs and states only, never a key or a child."""
    server.log_level = "info"
    key = server.cli("keys", "create", "--role", "planner").strip().splitlines()[-1]
    problem_dir = tmp_path / "problem"
    write_problem(synthesize(seed=4, scale=0.02, sibling_groups=False), problem_dir)
    server.start()
    with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as client:
        dataset = upload(client, problem_dir)
        # the first with a plan, so its worker is still busy when the service dies
        bodies = [{"plan": {"years": 3, "time_limit": 5}}, {}]
        ids = [
            client.post(
                "/v1/scenarios", json={"dataset_id": dataset, "name": f"s{i}", **body}
            ).json()["id"]
            for i, body in enumerate(bodies)
        ]
        wait_state(client, ids[0], {"running"})
        time.sleep(3)
    assert server.process is not None
    workers = _descendants(server.process.pid)
    assert workers, "the running job's worker and the fork server"
    server.stop(signal.SIGKILL)  # a crash: no shutdown hooks run
    deadline = time.monotonic() + 10
    while (alive := [p for p in workers if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive, "a worker of the killed service kept solving (it would run twice)"
    server.start()
    with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as client:
        finished = [wait_state(client, sid, {"done", "failed"}) for sid in ids]
    first, second = finished
    assert first["state"] == "done", first
    assert first["attempts"] == 2  # interrupted once, then re-queued and run again
    assert second["state"] == "done" and second["attempts"] == 1
    assert first["summary"]["children"] == second["summary"]["children"]
    log = server.log.read_text()
    assert "service ready" in log and "restart: 1 job(s) re-queued" in log
    assert len(re.findall(r"job \S+ started \(attempt 2\)", log)) == 1
    assert len(re.findall(r"job \S+ done", log)) == 2
    assert key not in log and not re.search(r"\bC\d{7}\b", log)
