"""Scenario jobs: solved outside the request handler in bounded worker processes, with a time
limit, progress, cancellation, and re-queueing of jobs a restart interrupted."""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import shutil
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from service.settings import Settings
from service.store import Job, Store

__all__ = ["INDICATOR_GROUPS", "JobRunner", "lookup_for", "solve_scenario"]

log = logging.getLogger("rcc.jobs")

INDICATOR_GROUPS = {"national": None, "la": "home_la", "rcc": "home_rcc", "need": "need"}
_PRELOAD = ["pandas", "optimiser.run", "optimiser.scenario", "service.jobs"]
_OUTCOME = "outcome.json"
_PROGRESS = "progress.txt"


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
    indicators.json and outcome.json into the result folder."""
    out = Path(spec["out_folder"])
    progress_file = out / _PROGRESS
    _exit_with_parent()
    os.nice(int(spec.get("nice", 0)))  # batch solves yield the CPU to interactive reads

    def progress(message: str) -> None:
        tmp = progress_file.with_suffix(".tmp")
        tmp.write_text(message[:300], encoding="utf-8")
        tmp.replace(progress_file)

    try:
        with warnings.catch_warnings():
            # numpy's "mean of empty slice" from LAs without children in the baseline
            warnings.simplefilter("ignore", RuntimeWarning)
            _solve(spec, out, progress)
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


def _exit_with_parent() -> None:
    """Stop this worker if the service dies without stopping it (e.g. killed): its job is
    re-queued when the service starts again, so an orphan must not keep solving."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="rcc-parent-watch", daemon=True).start()


def _solve(spec: dict[str, Any], out: Path, progress: Any) -> None:
    from optimiser.indicators import indicators
    from optimiser.problem import Policy, read_policy, read_problem
    from optimiser.run import run_solve, write_outputs
    from optimiser.scenario import apply_scenario, scenario_from_json

    request = spec["request"]
    folder = Path(spec["dataset_folder"])
    progress("reading the dataset")
    base = read_policy(folder / "policy.json") if (folder / "policy.json").exists() else Policy()
    policy = Policy.from_json({**base.to_json(), **(request.get("policy") or {})}, source="policy")
    problem = read_problem(folder, policy=policy, rccs=lookup_for(request.get("rccs")))
    changes = scenario_from_json(request.get("changes") or {}, source="changes")
    if request.get("changes"):
        progress("applying the scenario's changes")
        problem = apply_scenario(problem, changes, source="changes")
    run = run_solve(
        problem,
        time_limit=float(spec["time_limit"]),
        baseline=bool(request.get("baseline", True)),
        progress=progress,
    )
    progress("writing results")
    write_outputs(run, out)
    a = run.result.assignments
    tables = {name: _records(indicators(a, by=by)) for name, by in INDICATOR_GROUPS.items()}
    (out / "indicators.json").write_text(json.dumps(tables), encoding="utf-8")
    if request.get("plan"):
        progress("forecasting demand and solving the sufficiency plan")
        _plan(problem, request["plan"], changes.growth, out / "plan", float(spec["time_limit"]))


def _plan(problem: Any, plan: dict[str, Any], growth: Any, out: Path, limit: float) -> None:
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
    result = solve_plan(problem, demand, costs=costs, options=PlanOptions(time_limit=seconds))
    write_plan_outputs(result, problem, demand, out)


@dataclass
class _Running:
    job: Job
    process: BaseProcess
    folder: Path
    deadline: float
    progress_mtime: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class JobRunner:
    """Runs queued jobs from the store in at most `pool_size` worker processes at a time."""

    def __init__(self, store: Store, settings: Settings, *, poll: float = 0.2) -> None:
        self.store = store
        self.settings = settings
        self.poll = poll
        self._running: dict[str, _Running] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
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
        self._thread = threading.Thread(target=self._loop, name="rcc-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop dispatching and stop the workers; their jobs stay `running` in the store so
        the next start re-queues them."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for run in list(self._running.values()):
            _kill(run.process)
        self._running.clear()

    def wake(self) -> None:
        """A job was queued or cancelled: look now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # keep dispatching; the store may be briefly unavailable
                log.exception("job dispatcher tick failed")
            self._wake.wait(self.poll)
            self._wake.clear()

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
        }
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=solve_scenario, args=(spec,), name=f"rcc-job-{job.id}", daemon=True
        )
        process.start()
        deadline = time.monotonic() + self.settings.job_wall_limit
        self._running[job.id] = _Running(job, process, folder, deadline)
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
        tables = json.loads((run.folder / "indicators.json").read_text(encoding="utf-8"))
        if self.store.finish_job(
            run.job, summary=summary, indicators=tables, folder=str(run.folder)
        ):
            log.info("job %s done", run.job.id)


def _kill(process: BaseProcess) -> None:
    if process.is_alive():
        process.kill()
    process.join(timeout=5)
