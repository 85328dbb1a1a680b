"""Scenario jobs: solved outside the request handler in bounded worker processes, with a time
limit, progress, cancellation, and re-queueing of jobs a restart interrupted."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import multiprocessing
import multiprocessing.connection as mpc
import os
import pickle
import shutil
import threading
import time
import traceback
import warnings
from collections import deque
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from service.mapfiles import draw_standard_maps
from service.settings import Settings
from service.store import Job, Store
from service.views import suppressed_view

__all__ = ["INDICATOR_GROUPS", "JobRunner", "lookup_for", "solve_scenario"]

log = logging.getLogger("rcc.jobs")

INDICATOR_GROUPS = ("national", "la", "rcc", "need", "la_need", "rcc_need")
# imported once by the fork server, so a job's process starts with them loaded
_PRELOAD = [
    "pandas",
    "optimiser.run",
    "optimiser.baseline",
    "optimiser.scenario",
    "service.jobs",
    "service.views",
    "service.mapfiles",
    "maps",
]
_OUTCOME = "outcome.json"
_PROGRESS = "progress.txt"
_PUBLIC = "indicators_public.json"
_TIMINGS = "timings.json"


def lookup_for(spec: dict[str, Any] | None) -> dict[str, str] | None:
    """The RCC lookup a scenario asks for: None keeps the dataset's own (`rccs.csv`)."""
    from geodata import rcc

    if not spec:
        return None
    if spec.get("lookup"):
        return {str(k): str(v) for k, v in spec["lookup"].items()}
    preset = spec.get("preset", "dataset")
    if preset == "dataset":
        return None
    if preset == "default":
        return rcc.default_lookup()
    if preset == "regions":
        return rcc.regions_lookup()
    if preset == "proposed":
        return rcc.proposed_lookup()
    raise ValueError(f"unknown RCC preset '{preset}'")


def _records(frame: Any) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN becomes None, numpy scalars plain Python."""
    out = []
    for row in frame.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if hasattr(v, "item"):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            clean[str(k)] = v
        out.append(clean)
    return out


def solve_scenario(spec: dict[str, Any]) -> None:
    """Worker entry point (runs in a child process): read the dataset, apply the scenario's
    RCC lookup, policy and changes, solve, and write the `rcc solve` files plus
    indicators.json, indicators_public.json, timings.json and outcome.json into the result
    folder."""
    entered = time.time()
    out = Path(spec["out_folder"])
    progress_file = out / _PROGRESS
    exit_with_parent(spec.get("service_pid"))
    os.nice(int(spec.get("nice", 0)))  # batch solves yield the CPU to interactive reads

    def progress(message: str) -> None:
        tmp = progress_file.with_suffix(".tmp")
        tmp.write_text(message[:300], encoding="utf-8")
        tmp.replace(progress_file)

    try:
        with warnings.catch_warnings():
            # numpy's "mean of empty slice" from LAs without children in the baseline
            warnings.simplefilter("ignore", RuntimeWarning)
            _solve(spec, out, progress, entered=entered)
        outcome: dict[str, Any] = {"ok": True}
    except Exception as exc:  # reported to the user as the job's reason
        from optimiser.errors import ProblemValidationError

        if isinstance(exc, ProblemValidationError | ValueError | FileNotFoundError):
            reason = str(exc)
        else:
            reason = f"internal error: {type(exc).__name__}: {exc}"
            (out / "traceback.txt").write_text(traceback.format_exc(), encoding="utf-8")
        outcome = {"ok": False, "reason": reason}
    (out / _OUTCOME).write_text(json.dumps(outcome), encoding="utf-8")


def exit_with_parent(service: int | None = None) -> None:
    """Stop this worker if the service dies without stopping it (e.g. killed): its job is
    re-queued when the service starts again, so an orphan must not keep solving. The parent
    watched is `service` (a process id) when given: a job's parent is the fork server, which
    outlives a killed service."""
    parent = os.getppid()

    def gone() -> bool:
        if os.getppid() != parent:
            return True
        if service is None:
            return False
        try:  # the service's state: gone, or a zombie nobody has reaped yet
            stat = Path(f"/proc/{service}/stat").read_text()
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return stat.rsplit(")", 1)[-1].split()[0] == "Z"

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if gone():
                os._exit(3)

    threading.Thread(target=watch, name="rcc-parent-watch", daemon=True).start()


class _Forked:
    """`fn(*args)` computed in a forked child process while this one goes on (a scenario's
    baseline beside its solve: on an idle second core it costs no wall time). The child
    shares the parent's memory copy-on-write, is niced alike, and exits with its parent."""

    def __init__(self, fn: Any, *args: Any) -> None:
        read, write = os.pipe()
        with warnings.catch_warnings():
            # Python 3.12 warns on fork beside other threads: the only other thread here is
            # exit_with_parent's watcher, which holds no lock the child could need
            warnings.simplefilter("ignore", DeprecationWarning)
            self.pid = os.fork()
        if self.pid == 0:  # the child: compute, send, and never return into the caller
            try:
                os.close(read)
                exit_with_parent()
                try:
                    data = pickle.dumps((True, fn(*args)))
                except BaseException as exc:  # raised again in the parent, as it was if it can be
                    try:
                        data = pickle.dumps((False, exc))
                    except Exception:
                        data = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(data)
            finally:
                os._exit(0)  # no cleanup of the parent's state (atexit, buffers, finalizers)
        os.close(write)
        self._read = read

    def result(self) -> Any:
        """Wait for the child and return `fn`'s result (RuntimeError if it failed)."""
        with os.fdopen(self._read, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        if not data:
            raise RuntimeError(f"the background process stopped (wait status {status})")
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value


def _solve(spec: dict[str, Any], out: Path, progress: Any, *, entered: float) -> None:
    from dataclasses import replace

    from maps import read_result
    from optimiser.baseline import simulate_baseline
    from optimiser.problem import Policy, read_policy, read_problem
    from optimiser.run import indicator_tables, run_solve, write_outputs
    from optimiser.scenario import apply_scenario, scenario_from_json
    from service.views import suppress_tables

    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    request = spec["request"]
    folder = Path(spec["dataset_folder"])
    progress("reading the dataset")
    base = read_policy(folder / "policy.json") if (folder / "policy.json").exists() else Policy()
    policy = base.updated(request.get("policy") or {}, source="policy")
    problem = read_problem(folder, policy=policy, rccs=lookup_for(request.get("rccs")))
    changes = scenario_from_json(request.get("changes") or {}, source="changes")
    if request.get("changes"):
        progress("applying the scenario's changes")
        problem = apply_scenario(problem, changes, source="changes")
    lap("read")
    # today's practice (same seed as run_solve's) in a child process beside the solve
    baseline = _Forked(simulate_baseline, problem) if request.get("baseline", True) else None
    run = run_solve(
        problem, time_limit=float(spec["time_limit"]), baseline=False, progress=progress
    )
    lap("solve")
    if baseline is not None:
        progress("simulating today's practice (council-by-council spot purchasing)")
        run = replace(run, baseline=baseline.result())
    lap("baseline")
    progress("writing results")
    write_outputs(run, out)
    frames = indicator_tables(run)
    tables = {name: _records(frames[name]) for name in INDICATOR_GROUPS}
    (out / "indicators.json").write_text(json.dumps(tables), encoding="utf-8")
    threshold = int(spec.get("suppression_threshold", 5))
    public = suppress_tables(tables, threshold=threshold, maps=read_result(out))
    (out / _PUBLIC).write_text(
        json.dumps({"threshold": threshold, "tables": public}), encoding="utf-8"
    )
    lap("write")
    if request.get("plan"):
        progress("forecasting demand and solving the sufficiency plan")
        limit = float(spec["time_limit"])
        _plan(problem, request["plan"], changes.growth, out / "plan", limit, progress)
        lap("plan")
    (out / _TIMINGS).write_text(
        json.dumps({"worker_started_at": entered, "seconds": timings}), encoding="utf-8"
    )


def _plan(
    problem: Any, plan: dict[str, Any], growth: Any, out: Path, limit: float, progress: Any
) -> None:
    """`rcc plan` on the scenario's problem: plan_actions.csv, plan_summary.json, ... in `out`.
    `growth` is the changes' Growth (as `rcc plan --scenario`), else the plan's own."""
    from dataclasses import replace

    from optimiser.capacity import PlanOptions, solve_plan, write_plan_outputs
    from optimiser.costs import PlanCosts, parse_money
    from optimiser.forecast import forecast_demand, parse_growth

    growth = growth or parse_growth(plan.get("growth", "care-review"))
    demand = forecast_demand(problem, years=int(plan["years"]), growth=growth)
    costs = replace(PlanCosts(), capital_budget=parse_money(plan["capital_budget"]))
    seconds = min(float(plan.get("time_limit") or limit), limit)
    options = PlanOptions(time_limit=seconds)
    result = solve_plan(problem, demand, costs=costs, options=options, progress=progress)
    write_plan_outputs(result, problem, demand, out)


@dataclass
class _Running:
    job: Job
    process: BaseProcess
    folder: Path
    deadline: float
    launched: float
    progress_mtime: float = 0.0


class JobRunner:
    """Runs queued jobs from the store in at most `pool_size` worker processes at a time; when
    a job is done, draws its standard maps in another (niced) process, at most `pool_size`
    such drawings at a time."""

    def __init__(self, store: Store, settings: Settings, *, poll: float = 0.2) -> None:
        self.store = store
        self.settings = settings
        self.poll = poll
        self._running: dict[str, _Running] = {}
        self._drawing: list[tuple[BaseProcess, float]] = []
        self._to_draw: deque[dict[str, Any]] = deque()
        self._stop = threading.Event()
        self._wake_read, self._wake_write = os.pipe()  # wake() makes the dispatcher look now
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._thread: threading.Thread | None = None
        self._ctx: BaseContext = multiprocessing.get_context("forkserver")

    @property
    def results_dir(self) -> Path:
        return self.settings.data_dir / "results"

    def start(self) -> None:
        """Re-queue jobs an earlier run left running, then start dispatching."""
        requeued, failed = self.store.requeue_interrupted(max_attempts=self.settings.job_attempts)
        if requeued or failed:
            log.info("restart: %d job(s) re-queued, %d failed", len(requeued), len(failed))
        self._ctx.set_forkserver_preload(_PRELOAD)
        # start the fork server now and wait until it has imported _PRELOAD, so the first job
        # starts as quickly as the next (a few seconds once per process, before serving)
        started = time.perf_counter()
        ready = self._ctx.Process(  # type: ignore[attr-defined]
            target=_ready, name="rcc-fork-server-ready", daemon=True
        )
        ready.start()
        ready.join(timeout=120)
        log.info("job fork server ready in %.1f s", time.perf_counter() - started)
        self._thread = threading.Thread(target=self._loop, name="rcc-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop dispatching and stop the workers; their jobs stay `running` in the store so
        the next start re-queues them."""
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for run in list(self._running.values()):
            _kill(run.process)
        self._running.clear()
        for process, _ in self._drawing:
            _kill(process)
        self._drawing.clear()

    def wake(self) -> None:
        """A job was queued or cancelled: look now rather than at the next poll."""
        with contextlib.suppress(BlockingIOError):  # the pipe is full: a wake is pending
            os.write(self._wake_write, b"!")

    def __del__(self) -> None:
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # keep dispatching; the store may be briefly unavailable
                log.exception("job dispatcher tick failed")
            # until a worker exits, wake() is called, or the next poll
            sentinels = [run.process.sentinel for run in self._running.values()]
            sentinels += [process.sentinel for process, _ in self._drawing]
            mpc.wait([self._wake_read, *sentinels], timeout=self.poll)
            with contextlib.suppress(OSError):
                while os.read(self._wake_read, 512):
                    pass

    def _tick(self) -> None:
        for job_id, run in list(self._running.items()):
            if not run.process.is_alive():
                run.process.join()
                self._reap(run)
                del self._running[job_id]
                continue
            current = self.store.get_job(job_id)
            if current is None or current.state != "running":
                _kill(run.process)  # cancelled
                del self._running[job_id]
                log.info("job %s stopped: %s", job_id, current.state if current else "gone")
            elif time.monotonic() > run.deadline:
                _kill(run.process)
                del self._running[job_id]
                self.store.fail_job(
                    job_id,
                    f"stopped after the job time limit of {self.settings.job_wall_limit:g} s",
                )
                log.info("job %s failed: wall time limit", job_id)
            else:
                self._report_progress(run)
        while len(self._running) < self.settings.pool_size and not self._stop.is_set():
            job = self.store.claim_next()
            if job is None:
                break
            self._launch(job)
        self._tick_drawings()

    def _tick_drawings(self) -> None:
        """Reap finished map drawings (stopping any past the wall limit); start queued ones."""
        still = []
        for process, deadline in self._drawing:
            if not process.is_alive():
                process.join()
            elif time.monotonic() > deadline:
                _kill(process)
                log.info("map drawing %s stopped: wall time limit", process.name)
            else:
                still.append((process, deadline))
        self._drawing = still
        while self._to_draw and len(self._drawing) < self.settings.pool_size:
            spec = self._to_draw.popleft()
            process = self._ctx.Process(  # type: ignore[attr-defined]
                target=draw_standard_maps, args=(spec,), name=f"rcc-maps-{spec['id']}", daemon=True
            )
            process.start()
            self._drawing.append((process, time.monotonic() + self.settings.job_wall_limit))

    def _launch(self, job: Job) -> None:
        scenario = self.store.get_scenario(job.scenario_id)
        dataset = self.store.get_dataset(scenario.dataset_id) if scenario else None
        if scenario is None or dataset is None:
            self.store.fail_job(job.id, "the scenario or its dataset no longer exists")
            return
        # a fresh folder per attempt: a worker orphaned by a crash cannot touch the new one
        folder = self.results_dir / scenario.id / f"attempt-{job.attempts}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        limit = min(
            float(scenario.request.get("time_limit") or self.settings.job_time_limit),
            self.settings.job_time_limit,
        )
        spec = {
            "job_id": job.id,
            "dataset_folder": dataset.folder,
            "out_folder": str(folder),
            "request": scenario.request,
            "time_limit": limit,
            "nice": self.settings.job_nice,
            "suppression_threshold": self.settings.suppression_threshold,
            "service_pid": os.getpid(),
        }
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=solve_scenario, args=(spec,), name=f"rcc-job-{job.id}", daemon=True
        )
        launched = time.time()
        process.start()  # waits while the fork server is still importing _PRELOAD
        deadline = time.monotonic() + self.settings.job_wall_limit
        self._running[job.id] = _Running(job, process, folder, deadline, launched)
        log.info("job %s started (attempt %d)", job.id, job.attempts)

    def _report_progress(self, run: _Running) -> None:
        path = run.folder / _PROGRESS
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime != run.progress_mtime:
            run.progress_mtime = mtime
            self.store.set_progress(run.job.id, path.read_text(encoding="utf-8"))

    def _reap(self, run: _Running) -> None:
        outcome_path = run.folder / _OUTCOME
        if not outcome_path.exists():
            self.store.fail_job(
                run.job.id, f"the worker stopped unexpectedly (exit code {run.process.exitcode})"
            )
            log.info("job %s failed: worker exit %s", run.job.id, run.process.exitcode)
            return
        outcome = json.loads(outcome_path.read_text(encoding="utf-8"))
        if not outcome.get("ok"):
            self.store.fail_job(run.job.id, str(outcome.get("reason", "unknown error")))
            log.info("job %s failed", run.job.id)
            return
        summary = json.loads((run.folder / "summary.json").read_text(encoding="utf-8"))
        summary.pop("inputs", None)  # a server path, not part of the result
        plan_summary = run.folder / "plan" / "plan_summary.json"
        if plan_summary.exists():
            summary["plan"] = json.loads(plan_summary.read_text(encoding="utf-8"))
        timings = json.loads((run.folder / _TIMINGS).read_text(encoding="utf-8"))
        summary["job_seconds"] = {  # where a job's time went, from its launch to now
            "start": round(timings["worker_started_at"] - run.launched, 3),
            **timings["seconds"],
            "total": round(time.time() - run.launched, 3),
        }
        tables = json.loads((run.folder / "indicators.json").read_text(encoding="utf-8"))
        public = json.loads((run.folder / _PUBLIC).read_text(encoding="utf-8"))
        views = {suppressed_view(public["threshold"]): public["tables"]}
        if self.store.finish_job(
            run.job, summary=summary, indicators=tables, folder=str(run.folder), views=views
        ):
            log.info("job %s done", run.job.id)
            if self.settings.draw_maps:
                scenario = self.store.get_scenario(run.job.scenario_id)
                self._to_draw.append(
                    {
                        "id": run.job.id,
                        "folder": str(run.folder),
                        "name": scenario.name if scenario else "scenario",
                        "threshold": self.settings.suppression_threshold,
                        "nice": self.settings.job_nice,
                        "service_pid": os.getpid(),
                    }
                )


def _ready() -> None:
    """A process that does nothing: started once to bring the fork server up."""


def _kill(process: BaseProcess) -> None:
    if process.is_alive():
        process.kill()
    process.join(timeout=5)
