"""The `rcc` command line: synthesise, validate, solve, map, plan, serve."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from optimiser.costs import MAX_YEARS
from optimiser.errors import ProblemValidationError

if TYPE_CHECKING:
    from optimiser.presolve import Shortfall
    from optimiser.problem import Problem
    from optimiser.run import SolveRun

_CORES = os.cpu_count() or 1  # threads for the pricing and the auction by default

app = typer.Typer(
    name="rcc",
    help="Regional care placement sufficiency optimiser for children's social care in England.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def _positive_scale(value: float) -> float:
    """A synthetic England's --scale: more than 0 (0 children is no England)."""
    if not value > 0:
        raise typer.BadParameter(f"{value:g} is not above 0 (0.05 is a twentieth of England)")
    return value


def _out_folder(value: Path | None) -> Path | None:
    """An --out folder, checked before any work: not a file, and made and written to once
    (then left as it was: a solve took its whole time before failing on an --out that was a
    file, or under /proc, where os.access says root may write)."""
    if value is None:
        return None
    if value.exists() and not value.is_dir():
        raise typer.BadParameter(f"'{value}' is a file; give a folder")
    missing = []
    existing = value
    while not existing.exists():
        missing.append(existing)
        existing = existing.parent
    if not existing.is_dir():
        raise typer.BadParameter(f"cannot make or write a folder in '{existing}'")
    made: list[Path] = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            made.append(folder)
        tempfile.TemporaryFile(dir=value).close()
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot make or write a folder in '{existing}' ({exc.strerror or exc})"
        ) from None
    finally:
        for folder in reversed(made):
            folder.rmdir()
    return value


def _file_not_folder(value: Path | None) -> Path | None:
    """An output file's name, checked before any work: not an existing folder."""
    if value is not None and value.is_dir():
        raise typer.BadParameter(f"'{value}' is a folder; give a file name")
    return value


@contextmanager
def _writing() -> Iterator[None]:
    """An OSError while writing a command's files (a full disk, a folder where a file goes)
    as one line naming the path, not a traceback."""
    try:
        yield
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        raise fail_with(OSError(f"cannot write{where}: {exc.strerror or exc}")) from None


def _not_the_input(out: Path, directory: Path, writes: str) -> None:
    """--out that is the problem folder itself: a usage error (its `writes` would go over
    the problem's own)."""
    if out.resolve() == directory.resolve():
        raise typer.BadParameter(
            f"'{out}' is the problem folder: its {writes} would be overwritten; give another "
            "folder",
            param_hint="'--out'",
        )


def _boundaries_given(boundaries: Path | None, code_column: str | None) -> None:
    """--code-column names a column of --boundaries: alone it would be ignored."""
    if code_column is not None and boundaries is None:
        raise typer.BadParameter(
            "names a column of the --boundaries file; give --boundaries too",
            param_hint="'--code-column'",
        )


def fail_with(exc: Exception, *, code: int = 1) -> typer.Exit:
    """Print a user-facing error (never a traceback) and return the Exit to raise."""
    notes: list[str] = getattr(exc, "__notes__", [])
    first, *rest = [*str(exc).split("\n"), *notes]
    err_console.print(f"[bold red]Error:[/] {first}", highlight=False)
    _print_items(rest)
    return typer.Exit(code)


def _hanging(head: str, text: str, *, style: str = "") -> Table:
    """`head`, then `text` wrapped at the terminal's edge under itself, not under `head`."""
    row = Table.grid()
    row.add_column(width=len(head), style=style, no_wrap=True)
    row.add_column()
    row.add_row(Text(head), Text(text))
    return row


def _compact_table(title: str) -> Table:
    """A table with one space between columns and no border at its edges, so that an
    80-column terminal shows codes, names and sums whole."""
    return Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False)


def _print_items(lines: Iterable[str]) -> None:
    """Print lines such as "  - children.csv row 7, ..." to stderr, each wrapped under its
    own text (after its indent and bullet)."""
    for line in lines:
        text = line.lstrip(" -")
        head = line[: len(line) - len(text)]
        err_console.print(_hanging(head, text) if head else Text(line))


@app.command()
def validate(
    directory: Annotated[
        Path, typer.Argument(help="Folder with children.csv, placements.csv, rccs.csv")
    ],
    issues: Annotated[
        Path | None,
        typer.Option(
            help="Also write every problem to this CSV (file,row,column,message; only the "
            "header when there are none; its folder is made)",
            callback=_file_not_folder,
        ),
    ] = None,
) -> None:
    """Validate a user's CSVs and print every problem found, naming file, row and column."""
    import pandas as pd

    from optimiser.problem import read_problem

    def write_issues(found: list[Any]) -> None:  # (always: an old file would list fixed rows)
        if issues is not None:
            rows = [(i.file, i.row, i.column, i.message) for i in found]
            columns = ["file", "row", "column", "message"]
            table = pd.DataFrame(rows, columns=columns).astype({"row": "Int64"})  # 4, not 4.0
            with _writing():
                issues.parent.mkdir(parents=True, exist_ok=True)
                table.to_csv(issues, index=False, encoding="utf-8-sig")

    try:
        problem = read_problem(directory)
    except ProblemValidationError as exc:
        write_issues(exc.issues)
        if issues is None and len(exc.issues) > 200:
            exc.add_note(f"(all {len(exc.issues):,}: rcc validate {directory} --issues FILE.csv)")
        raise fail_with(exc) from None
    write_issues([])
    _warn_detached(problem.rcc_of, directory / "rccs.csv")
    console.print(
        f"[green]OK[/]: {len(problem.children):,} children, {len(problem.placements):,} "
        f"placements with {int(problem.placements['capacity'].sum()):,} places, "
        f"{len(problem.las)} LAs in {problem.las['rcc'].nunique()} RCCs."
    )


def _warn_detached(lookup: dict[str, str], source: Path) -> None:
    """A warning (not an error) for each RCC of a user's lookup in several pieces, naming the
    detached LAs (issue 4: each RCC contiguous or a clear warning)."""
    from geodata.rcc import check_lookup

    for warning in check_lookup(lookup, complete=False).warnings:
        err_console.print(f"[yellow]Warning:[/] {source}: {warning}", highlight=False)


# ----------------------------------------------------------------------------- solve


@contextmanager
def _progress_printer(hold: float = 1.0) -> Iterator[Callable[[str], None]]:
    """Progress lines for long solves: none when it ends within `hold` seconds, else every
    line, each with the time it was said (a timer shows the lines held back once `hold` has
    passed, so a long first stage, such as compiling after installation, is not a silent
    wait)."""
    started = time.perf_counter()
    pending: list[tuple[float, str]] = []  # lines said in the first second, with their times
    shown = threading.Event()
    lock = threading.Lock()

    def show() -> None:
        with lock:
            shown.set()
            for at, line in pending:
                console.print(_hanging(f"{at:6.1f}s ", line, style="dim"))
            pending.clear()

    def say(message: str) -> None:
        with lock:
            pending.append((time.perf_counter() - started, message))
        if shown.is_set():
            show()

    timer = threading.Timer(hold, show)
    timer.daemon = True
    timer.start()
    try:
        yield say
    finally:
        timer.cancel()


def _comparison_table(summary: dict[str, Any]) -> Table:
    """Optimised allocation beside today's practice, as a commissioner reads it."""
    base = summary.get("baseline")
    table = Table(title="Regional optimisation vs today's practice", title_justify="left")
    table.add_column("Indicator")
    if base:
        table.add_column("Today's practice", justify="right")
    table.add_column("Optimised", justify="right")
    if base:
        table.add_column("Change", justify="right")
    rows = [
        ("Children", "children", "{:,.0f}"),
        ("Placed", "placed", "{:,.0f}"),
        ("Unplaced (sufficiency gap)", "unplaced", "{:,.0f}"),
        ("Placed outside own LA", "out_of_la", "{:,.0f}"),
        ("  % of placed", "out_of_la_pct", "{:.1f}%"),
        ("Placed over 20 miles", "over_20_miles", "{:,.0f}"),
        ("  % of placed", "over_20_miles_pct", "{:.1f}%"),
        ("Placed outside own RCC", "out_of_rcc", "{:,.0f}"),
        ("  % of placed", "out_of_rcc_pct", "{:.1f}%"),
        ("Mean miles from home", "mean_miles", "{:.1f}"),
        ("Weekly cost (GBP)", "weekly_cost", "£{:,.0f}"),
    ]
    for label, key, fmt in rows:
        ours = summary.get(key)
        cells = [label]
        if base:
            cells.append("-" if base.get(key) is None else fmt.format(base[key]))
        cells.append("-" if ours is None else fmt.format(ours))
        if base:
            if ours is None or base.get(key) is None:
                cells.append("-")
            elif fmt.endswith("%"):  # percentage points, of the shares as shown
                diff = round(ours, 1) - round(base[key], 1)
                cells.append(f"{diff:+.1f} pts" if diff else "0.0 pts")
            else:
                diff = ours - base[key]
                cells.append(("+" if diff > 0 else "") + fmt.format(diff).replace("£-", "-£"))
        table.add_row(*cells)
    return table


def _print_shortfalls(shortfalls: Sequence[Shortfall], *, shown: int = 12) -> None:
    """Where demand exceeds the places that can take it (in an RCC, without a step-up), for a
    need alone or for needs sharing settings together, largest gaps first: printed before the
    solve starts (nothing when supply meets every need)."""
    if not shortfalls:
        return
    worst = sorted(shortfalls, key=lambda s: -s.gap)
    table = Table(
        title="Before solving: demand above the places that meet it (by RCC and need)",
        title_justify="left",
        caption=f"{len(worst) - shown} more in shortfalls.csv" if len(worst) > shown else None,
        caption_justify="left",
    )
    for column in ("RCC", "Need", "Children", "Places", "Short by"):
        table.add_column(column, justify="left" if column in ("RCC", "Need") else "right")
    for s in worst[:shown]:
        table.add_row(s.area, s.need, f"{s.demand:,}", f"{s.places:,}", f"{s.gap:,}")
    console.print(table)


def _solve_and_print(problem: Problem, **options: Any) -> SolveRun:
    """`run_solve` with `options` as the command line runs it: the pre-solve shortfalls first,
    progress lines while it solves, then the solver's result beside today's practice."""
    from optimiser.run import run_solve

    with _progress_printer() as progress:
        run = run_solve(problem, progress=progress, checked=_print_shortfalls, **options)
    res = run.result
    console.print(
        f"Solver: {res.solver}; status [bold]{res.status.value}[/], objective "
        f"{res.objective:,.2f}, proven bound {res.bound:,.2f} (gap {res.gap:.4%}), "
        f"{res.wall_seconds:.1f}s",
        highlight=False,
    )
    console.print(_comparison_table(run.summary()))
    unplaced = res.unplaced
    if len(unplaced):
        why = {
            "no_eligible_placement": "no eligible placement at all",
            "no_free_place": "eligible placements all full",
            "cheaper_unplaced": "free places cost more than the unplaced penalty",
        }
        table = Table(title="Unplaced children by need and reason")
        for name in ("need", "reason", "children"):
            table.add_column(name, justify="right" if name == "children" else "left")
        counts = unplaced.groupby(["need", "unplaced_reason"]).size()
        for (need, reason), n in counts.sort_values(ascending=False).items():
            table.add_row(str(need), why.get(str(reason), str(reason)), f"{n:,}")
        console.print(table)
    return run


@app.command()
def solve(
    directory: Annotated[Path, typer.Argument(help="Folder with the problem CSVs")],
    policy: Annotated[
        Path | None, typer.Option(help="Policy JSON; any key optional, the rest default")
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds with the proven gap", min=0),
    ] = None,
    threads: Annotated[
        int, typer.Option(help="Threads for pricing and auction (default: one per core)", min=1)
    ] = _CORES,
    out: Annotated[Path, typer.Option(help="Output folder", callback=_out_folder)] = Path("out"),
    baseline: Annotated[
        bool, typer.Option(help="Also simulate today's council-by-council practice")
    ] = True,
) -> None:
    """Allocate every child optimally, compare with today's practice, write the results."""
    from optimiser.problem import read_policy, read_problem, remove_stale
    from optimiser.run import OUTPUT_FILES, write_outputs

    _not_the_input(out, directory, "rccs.csv and policy.json")
    try:
        chosen = read_policy(policy) if policy else None
        problem = read_problem(directory, policy=chosen)
    except ProblemValidationError as exc:
        raise fail_with(exc) from None
    _warn_detached(problem.rcc_of, directory / "rccs.csv")
    run = _solve_and_print(problem, time_limit=time_limit, threads=threads, baseline=baseline)
    with _writing():
        paths = write_outputs(run, out, inputs=directory)
        stale = remove_stale(out, OUTPUT_FILES, paths)
    console.print(f"Wrote {len(paths)} files to [bold]{out}[/]", highlight=False)
    _print_removed(stale, out, "solve")


def _print_removed(stale: Sequence[Path], folder: Path, command: str) -> None:
    """Name the files of an earlier run in `folder` that were removed (not written this time)."""
    if stale:
        names = ", ".join(str(p.relative_to(folder)) for p in stale)
        console.print(f"Removed {names}: an earlier {command}'s, not written this time.")


def _embedded_lookup() -> tuple[dict[str, str], str]:
    """The demo's RCC lookup: the proposed 20 RCCs when shipped, else regions with GM."""
    from geodata.rcc import default_lookup, proposed_lookup

    try:
        return proposed_lookup(), "the proposed 20 RCCs (Greater Manchester locked)"
    except FileNotFoundError:
        return default_lookup(), "the nine regions with Greater Manchester as its own RCC"


_DEMO_HELP = (
    "Run everything offline on the embedded England: solve, compare, map and plan.\n\n"
    "Synthesise the inputs, allocate every child, compare with today's practice, draw the maps "
    "and plan new capacity; print where everything went."
)


@app.command(help=_DEMO_HELP)
def demo(
    out: Annotated[Path, typer.Option(help="Output folder", callback=_out_folder)] = Path(
        "rcc-demo"
    ),
    scale: Annotated[
        float,
        typer.Option(help="Scale of the synthetic England (above 0)", callback=_positive_scale),
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic England", min=0)] = 1,
    rccs: Annotated[
        Path | None, typer.Option(help="RCC lookup CSV (la_code,rcc) instead of the proposal")
    ] = None,
    boundaries: Annotated[
        Path | None, typer.Option(help="LA boundary file for real-geography maps")
    ] = None,
    code_column: Annotated[
        str | None,
        typer.Option(help="Column of --boundaries with the LA codes (default: detected)"),
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(help="Seconds for the allocation before reporting the proven gap", min=0),
    ] = 240.0,
    plan: Annotated[bool, typer.Option(help="Also run the five-year sufficiency plan")] = True,
    plan_time_limit: Annotated[
        float, typer.Option(help="Seconds for the whole plan (as rcc plan --time-limit)", min=0)
    ] = 60.0,
) -> None:
    """Run the demo (see `_DEMO_HELP`)."""
    from optimiser.problem import read_rccs, write_problem
    from optimiser.run import write_outputs
    from optimiser.synthetic import synthesize

    try:
        lookup, described = (read_rccs(rccs), f"your lookup {rccs}") if rccs else _embedded_lookup()
    except ProblemValidationError as exc:
        raise fail_with(exc) from None
    if rccs is not None:
        _warn_detached(lookup, rccs)
    _boundaries_given(boundaries, code_column)
    outlines = _read_map_boundaries(boundaries, code_column)  # before minutes of solving
    console.rule("[bold]RCC placement sufficiency: demo on the embedded England")
    problem = synthesize(seed=seed, scale=scale, rccs=lookup)
    inputs = out / "inputs"
    with _writing():
        write_problem(problem, inputs)
    console.print(
        f"Synthetic England (seed {seed}, scale {scale:g}): {len(problem.children):,} children, "
        f"{int(problem.placements['capacity'].sum()):,} places, {problem.las['rcc'].nunique()} "
        f"RCCs from {described}. Inputs in [bold]{inputs}[/].",
        highlight=False,
    )
    run = _solve_and_print(problem, time_limit=time_limit, threads=_CORES)
    results = out / "allocation"
    with _writing():
        write_outputs(run, results, inputs=inputs)
    console.print(f"Allocation, indicators and summary in [bold]{results}[/]", highlight=False)
    plan_dir = out / "plan" if plan else None
    if plan_dir is not None:
        _demo_plan(problem, plan_dir, time_limit=plan_time_limit)
    with _writing():
        maps = _demo_maps(results, out / "maps", outlines, plan_dir)
        stale = [] if plan_dir else _remove_demo_plan(out)  # beside this allocation: removed
    for kind, path in maps.items():
        console.print(f"Map {kind:<12} {path}", highlight=False)
    _print_removed(stale, out, "demo")


_PLAN_FILES = (
    "plan_actions.csv",
    "plan_by_year.csv",
    "plan_summary.json",
    "placements_with_plan.csv",
    *(f"final_year/{n}" for n in ("children.csv", "placements.csv", "rccs.csv", "las.csv")),
    "final_year/policy.json",
)


def _remove_demo_plan(out: Path) -> list[Path]:
    """The plan and plan map an earlier demo wrote in `out` (what `write_plan_outputs` and
    `write_maps` write), removed; returns them (empty folders go too)."""
    from optimiser.problem import remove_stale

    names = [f"plan/{n}" for n in _PLAN_FILES] + ["maps/map-plan.html"]
    stale = remove_stale(out, names, written=())
    for folder in (out / "plan" / "final_year", out / "plan"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return stale


def _demo_plan(problem: Any, folder: Path, *, time_limit: float) -> None:
    """The five-year plan on the demo's problem (Care Review growth, default budget)."""
    from optimiser.capacity import PlanOptions, solve_plan, write_plan_outputs
    from optimiser.costs import PlanCosts
    from optimiser.forecast import forecast_demand, parse_growth

    demand = forecast_demand(problem, years=5, growth=parse_growth("care-review"))
    console.print("Planning five years of new capacity (Care Review growth)...")
    with _progress_printer() as progress:
        options = PlanOptions(time_limit=time_limit)
        result = solve_plan(problem, demand, costs=PlanCosts(), options=options, progress=progress)
    for table in _plan_tables(result):
        console.print(table)
    _print_plan_notes(result)
    with _writing():
        write_plan_outputs(result, problem, demand, folder)
    console.print(
        f"Plan ({result.status.value}, proven gap {result.gap:.2%}) in [bold]{folder}[/]",
        highlight=False,
    )


def _read_map_boundaries(path: Path | None, code_column: str | None) -> Any:
    """The LA polygons of a --boundaries file (None without one); what did not match is
    printed, a file that cannot be used at all ends the command with its error."""
    from geodata.boundaries import BoundaryError, read_boundaries

    if path is None:
        return None
    try:
        match = read_boundaries(path, code_column=code_column)
    except BoundaryError as exc:
        raise fail_with(exc) from None
    if not match.report.complete:  # draw what matched, say what did not
        err_console.print(str(match.report), highlight=False)
    return match.gdf


def _demo_maps(
    results: Path, folder: Path, outlines: Any, plan_dir: Path | None
) -> dict[str, Path]:
    """Every map of the demo, public (small numbers suppressed), offline."""
    from maps import MapGeometry, MapSettings, read_result, write_maps

    inputs = read_result(results, plan=plan_dir is not None, plan_actions=plan_dir)
    geometry = MapGeometry.hex() if outlines is None else MapGeometry.from_boundaries(outlines)
    settings = MapSettings(scenario="Demo: optimised allocation", geometry=geometry)
    return write_maps(inputs, folder, settings=settings)


@app.command()
def check(
    result_dir: Annotated[Path, typer.Argument(help="Output folder of `rcc solve`")],
    inputs: Annotated[
        Path | None, typer.Option(help="Problem folder (default: the one `rcc solve` read)")
    ] = None,
) -> None:
    """Check an allocation against every rule, independently of the solver."""
    import json

    from optimiser.problem import read_policy, read_problem
    from optimiser.validate import check_allocation, check_indicators, reported_objective

    for name in ("summary.json", "policy.json", "allocation.csv"):
        if not (result_dir / name).is_file():
            wrote = f"{result_dir / name} not found: rcc check reads a folder that rcc solve wrote"
            raise fail_with(ValueError(wrote))
    try:
        summary = json.loads((result_dir / "summary.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise fail_with(
            ValueError(f"{result_dir / 'summary.json'}: not valid JSON ({exc})")
        ) from None
    if not isinstance(summary, dict):
        raise fail_with(ValueError(f"{result_dir / 'summary.json'}: not a JSON object"))
    folder = inputs or (Path(summary["inputs"]) if summary.get("inputs") else result_dir)
    try:
        policy = read_policy(result_dir / "policy.json")
        problem = read_problem(folder, policy=policy)
    except ProblemValidationError as exc:
        if inputs is None and not (folder / "children.csv").is_file():
            exc.add_note(
                f"(the problem folder {folder} is the one summary.json records; if it has "
                "moved, give it with --inputs DIR)"
                if summary.get("inputs")
                else f"(summary.json records no problem folder, so rcc check read {folder}; "
                "give the problem folder with --inputs DIR)"
            )
        raise fail_with(exc) from None
    allocation = _read_result_csv(result_dir / "allocation.csv")
    absent = [c for c in ("child_id", "placement_id") if c not in allocation.columns]
    if absent:
        raise fail_with(ValueError(f"{result_dir / 'allocation.csv'}: no column {absent[0]}"))
    reported = reported_objective(summary)
    objective = reported if isinstance(reported, float) else None
    verdict = check_allocation(problem, allocation, objective=objective)
    if isinstance(reported, str):
        verdict = dataclasses.replace(verdict, errors=(reported, *verdict.errors))
    if verdict.objective == verdict.objective:  # each child once: the indicators reported
        path = result_dir / "indicators_by_la.csv"
        by_la = _read_result_csv(path) if path.is_file() else None
        wrong = check_indicators(problem, allocation, summary, by_la)
        verdict = dataclasses.replace(verdict, errors=verdict.errors + tuple(wrong))
    console.print(str(verdict), highlight=False)
    if not verdict.ok:
        raise typer.Exit(1)


def _read_result_csv(path: Path) -> Any:
    """A result folder's CSV, every cell as text; a file that cannot be read (empty, rows the
    parser cannot split, neither UTF-8 nor Windows-1252) ends the command with one error naming
    it, and the row where the parser says."""
    from optimiser.textcsv import read_text_csv

    try:
        return read_text_csv(path)[0]
    except ProblemValidationError as exc:
        named = (str(dataclasses.replace(i, file=str(path))) for i in exc.issues)
        raise fail_with(ValueError("; ".join(named))) from None


# ----------------------------------------------------------------------------- rcc synth


_SYNTH_HELP = (
    "Write a calibrated synthetic England: children.csv, placements.csv, rccs.csv, las.csv and "
    "policy.json, which `rcc validate` and `rcc solve` read.\n\n"
    "Demand is each LA's children looked after at 31 March 2024 (DfE) in foster care (without "
    "family and friends carers), children's homes, secure homes and supported accommodation. "
    "Supply is each LA's children's homes and places in 2023 (Ofsted), the welfare places of the "
    "13 secure children's homes, foster households and supported accommodation. Ages, sexes, "
    "points and prices are drawn from the seed."
)


@app.command(help=_SYNTH_HELP)
def synth(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder to write the problem CSVs into (created).", callback=_out_folder
        ),
    ],
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives the same data.", min=0)
    ] = 1,
    scale: Annotated[
        float,
        typer.Option(
            help="Multiply demand and supply (2 = twice the children and places; above 0).",
            callback=_positive_scale,
        ),
    ] = 1.0,
    no_siblings: Annotated[
        bool, typer.Option("--no-siblings", help="Leave every child out of sibling groups.")
    ] = False,
    file_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv: the problem CSVs; ssda903: fake SSDA903 header and episodes files "
            "(with a postcode lookup and an Ofsted provider list) for `rcc import`.",
        ),
    ] = "csv",
    year: Annotated[
        int, typer.Option(help="Collection year of the SSDA903 files (2024 = 2023/24).")
    ] = 2024,
) -> None:
    """Write a calibrated synthetic England (see `_SYNTH_HELP`) and print what was written."""
    from rich.table import Table as RichTable

    from optimiser.problem import NEEDS, SETTINGS, write_problem
    from optimiser.synthetic import pressure_by_region, synthesize

    try:
        problem = synthesize(seed=seed, scale=scale, sibling_groups=not no_siblings)
    except ValueError as exc:
        raise fail_with(exc) from None
    if file_format != "csv":  # SSDA903 output: see the `rcc import` block below
        _synth_ssda903(problem, out, file_format=file_format, year=year, seed=seed)
        return
    with _writing():
        paths = write_problem(problem, out)
    kids, places = problem.children, problem.placements
    needs = RichTable(title=f"Children by need (seed {seed}, scale {scale:g})")
    needs.add_column("need")
    needs.add_column("children", justify="right")
    needs.add_column("in sibling groups", justify="right")
    for need in (*NEEDS, "total"):
        group = kids if need == "total" else kids[kids["need"] == need]
        siblings = int((group["sibling_group"] != "").sum())
        needs.add_row(need, f"{len(group):,}", f"{siblings:,}")
    supply = RichTable(title="Places by setting")
    for name in ("setting", "placements", "places", "mean weekly cost"):
        supply.add_column(name, justify="left" if name == "setting" else "right")
    for setting in SETTINGS:
        rows = places[places["setting"] == setting]
        total = int(rows["capacity"].sum())
        mean = float((rows["weekly_cost"] * rows["capacity"]).sum()) / max(total, 1)
        supply.add_row(setting, f"{len(rows):,}", f"{total:,}", f"£{mean:,.0f}")
    supply.add_row("total", f"{len(places):,}", f"{int(places['capacity'].sum()):,}", "")
    pressure = RichTable(title="Pressure by region: children against local places")
    for name in ("region", "foster", "children's homes", "secure", "supported"):
        pressure.add_column(name, justify="left" if name == "region" else "right")
    for region, row in pressure_by_region(problem).iterrows():
        pressure.add_row(
            str(region),
            *(
                f"{row[f'{need}_children']:,} / {row[f'{need}_places']:,}"
                for need in ("foster", "residential", "secure", "supported")
            ),
        )
    console.print(needs, supply, pressure)
    console.print(
        f"Wrote {', '.join(p.name for p in paths)} to {out} "
        f"({len(problem.las)} LAs in {problem.las['rcc'].nunique()} RCCs).",
        highlight=False,
    )


# ----------------------------------------------------------------------------- rcc plan / compare


def _money(value: float) -> str:
    return f"-£{-value:,.0f}" if value < 0 else f"£{value:,.0f}"


def _print_plan_notes(result: Any) -> None:
    """The plan's notes (a MIP stopped by time, a fallback, arcs still pricing negative)."""
    for note in result.notes:
        console.print(f"[yellow]Note:[/] {note}", highlight=False)


def _weekly_change(running: float, saving: float) -> str:
    """An action's change to the weekly cost: +running added, -saving (plan_actions.csv keeps
    them in two columns, weekly_running and weekly_saving)."""
    change = running - saving
    return ("+" if change > 0 else "") + _money(change)


def _plan_tables(result: Any) -> list[Any]:
    """One table of actions per RCC, then the final year with and without the plan."""
    tables: list[Any] = []
    actions = result.actions
    for rcc, part in actions.groupby("rcc", sort=True):
        table = _compact_table(f"{rcc}: plan actions")
        table.caption = "£/week: + running cost added, - private places no longer bought"
        for name in (
            "year",
            "opens",
            "LA",
            "action",
            "units",
            "places",
            "capital",
            "£/week",
        ):
            table.add_column(name, justify="left" if name in ("LA", "action") else "right")
        for row in part.itertuples(index=False):
            table.add_row(
                str(row.year),
                str(row.opens),
                str(row.la_code),
                str(row.action),
                f"{int(row.units):,}",
                f"{int(row.places):,}",
                _money(float(row.capital)),
                _weekly_change(float(row.weekly_running), float(row.weekly_saving)),
            )
        tables.append(table)
    final = Table(title=f"Final year {result.years[-1]}: with and without the plan")
    for name in ("indicator", "without plan", "with plan", "change"):
        final.add_column(name, justify="left" if name == "indicator" else "right")
    with_, without = result.final_year("with_plan"), result.final_year("without_plan")
    for key, value in with_.items():
        diff = value - without[key]
        if key == "weekly_cost":
            cells = [_money(without[key]), _money(value), ("+" if diff > 0 else "") + _money(diff)]
        else:
            cells = [f"{without[key]:,.0f}", f"{value:,.0f}", f"{diff:+,.0f}"]
        final.add_row(key, *cells)
    tables.append(final)
    return tables


_PLAN_HELP = (
    "Forecast demand and choose new homes, foster carers and secure beds within budget.\n\n"
    "Money is GBP at 2024 prices, undiscounted. plan_actions.csv: capital (one-off GBP), "
    "weekly_running (GBP a week added, from the year in opens) and weekly_saving (GBP a week of "
    "private places no longer bought); plan_by_year.csv: weekly_cost (GBP a week); "
    "plan_summary.json: capital_total (GBP), weekly_running_added and weekly_saving (GBP a "
    "week), objective and bound (GBP over the horizon).\n\n"
    "--forecast CSV: year,la_code,need,age_band,children, one row per cell; years consecutive, "
    "not before 2024; need foster, residential, secure (age bands 10-15, 16-17) or supported "
    "(16-17); age_band 0, 1-4, 5-9, 10-15 or 16-17; children a whole number (absent cells 0); "
    "every LA with children today in every year."
)


@app.command(help=_PLAN_HELP)
def plan(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Problem folder; default the embedded synthetic England (seed 1)"),
    ] = None,
    years: Annotated[
        int,
        typer.Option(
            help=f"Horizon in years, 1 to {MAX_YEARS} (with --forecast: the file's first N years)"
        ),
    ] = 5,
    growth: Annotated[
        str, typer.Option(help="flat, care-review, an annual rate (0.02 or 2%) or la_code,rate CSV")
    ] = "care-review",
    forecast: Annotated[
        Path | None,
        typer.Option(
            help="Imported forecast CSV (columns year, la_code, need, age_band, children)"
        ),
    ] = None,
    capital_budget: Annotated[
        str, typer.Option(help="Total one-off budget, e.g. 50m, 1.2bn, 500k or 'none'")
    ] = "50m",
    capital_per_year: Annotated[
        str, typer.Option(help="One-off budget limit in any single year ('none': no limit)")
    ] = "none",
    rcc_capital_budget: Annotated[
        str, typer.Option(help="One-off budget limit for each RCC ('none': no limit)")
    ] = "none",
    scenario: Annotated[
        Path | None, typer.Option(help="scenario.json applied to the problem first")
    ] = None,
    solver: Annotated[str, typer.Option(help="MIP solver: highs, scip or sat")] = "highs",
    time_limit: Annotated[
        float,
        typer.Option(
            help="Seconds for the whole plan, LPs included: the MIP stops when they are spent "
            "(with at least a tenth of them) and keeps its best plan and proven gap; the LPs "
            "always finish",
            min=0,
        ),
    ] = 120.0,
    gap: Annotated[float, typer.Option(help="Stop when the proven relative gap is below")] = 0.001,
    k_nearest: Annotated[int, typer.Option(help="Arcs to the k nearest LAs per setting")] = 8,
    out: Annotated[Path, typer.Option(help="Output folder", callback=_out_folder)] = Path(
        "plan_out"
    ),
) -> None:
    """Plan new capacity (see `_PLAN_HELP`)."""
    from dataclasses import replace

    from optimiser.capacity import PlanOptions, solve_plan, write_plan_outputs
    from optimiser.costs import PlanCosts, parse_money
    from optimiser.forecast import forecast_demand, parse_growth, read_forecast
    from optimiser.problem import read_problem
    from optimiser.scenario import apply_scenario, read_scenario

    try:
        if directory is None:
            from optimiser.synthetic import synthesize

            problem = synthesize(seed=1)
            console.print("Using the embedded synthetic England (seed 1).", highlight=False)
        else:
            problem = read_problem(directory)
        chosen = parse_growth(growth)
        if scenario is not None:
            change = read_scenario(scenario)
            problem = apply_scenario(problem, change, source=scenario.name)
            chosen = change.growth or chosen
        if forecast is not None:
            demand = read_forecast(forecast, problem=problem, years=years)
        else:
            demand = forecast_demand(problem, years=years, growth=chosen)
        if not len(problem.children):
            raise ValueError(f"no children to plan for: {directory}/children.csv has no rows")
        if not demand["children"].sum():
            source = forecast or f"the growth forecast ({demand.attrs.get('growth')})"
            raise ValueError(f"no children to plan for: {source} has none in any year")
        per_rcc = parse_money(rcc_capital_budget)
        costs = replace(
            PlanCosts(),
            capital_budget=parse_money(capital_budget),
            capital_per_year=parse_money(capital_per_year),
            rcc_capital_budget={}
            if per_rcc is None
            else dict.fromkeys(problem.las["rcc"].unique(), per_rcc),
        )
        options = PlanOptions(
            solver=solver, time_limit=time_limit, relative_gap=gap, k_nearest=k_nearest
        )
    except (ProblemValidationError, ValueError) as exc:
        raise fail_with(exc) from None
    horizon = int(demand["year"].nunique())
    if forecast is not None and horizon < years:  # --years 5 (the default) of a 1-year file
        err_console.print(
            f"[yellow]Warning:[/] {forecast} has {horizon} year(s), fewer than --years "
            f"{years}: planning {horizon} year(s), {demand['year'].min()}-"
            f"{demand['year'].max()}.",
            highlight=False,
        )
    soonest = min(a.lead_years for a in costs.actions.values())
    if horizon <= soonest:  # decided this year, open the next: nothing within the horizon
        console.print(
            f"[yellow]Note[/]: nothing the plan decides opens within {horizon} year(s) (the "
            f"soonest opens {soonest} year(s) after it is decided); try --years "
            f"{soonest + 1} or more.",
            highlight=False,
        )
    console.print(
        f"Planning {demand['year'].min()}-{demand['year'].max()} for "
        f"{int(demand.loc[demand['year'] == demand['year'].max(), 'children'].sum()):,} "
        f"children in the final year (growth: {demand.attrs.get('growth')}).",
        highlight=False,
    )
    try:
        with _progress_printer() as progress:
            result = solve_plan(problem, demand, costs=costs, options=options, progress=progress)
    except MemoryError:
        raise fail_with(
            MemoryError(
                f"the plan ran out of memory ({years} years); try fewer years, a smaller "
                "--k-nearest or a smaller problem"
            )
        ) from None
    except RuntimeError as exc:  # a solver that failed (an LP that did not solve)
        raise fail_with(RuntimeError(f"the plan could not be solved: {exc}")) from None
    for table in _plan_tables(result):
        console.print(table)
    _print_plan_notes(result)
    console.print(
        f"Solver {result.solver}: {result.status.value}, objective £{result.objective:,.0f} "
        f"(doing nothing £{result.objective_without_plan:,.0f}), proven gap {result.gap:.3%}, "
        f"{result.wall_seconds:.1f}s. Capital £{result.capital_total:,.0f}; running cost added "
        f"£{result.weekly_running_added:,.0f} a week; private places ended save "
        f"£{result.weekly_saving:,.0f} a week.",
        highlight=False,
    )
    with _writing():
        paths = write_plan_outputs(result, problem, demand, out)
    console.print(
        f"Wrote {len(paths)} files to [bold]{out}[/]; check the plan at child level with "
        f"`rcc solve {out / 'final_year'}`.",
        highlight=False,
    )


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="First result folder (rcc solve or rcc plan)")],
    b: Annotated[Path, typer.Argument(help="Second result folder")],
) -> None:
    """Print the indicator differences (B - A) between two result folders."""
    from optimiser.scenario import compare_folders, horizon_mismatch

    try:
        national, by_rcc = compare_folders(a, b)
    except ValueError as exc:
        raise fail_with(exc) from None
    mismatch = horizon_mismatch(a, b)
    if mismatch:
        console.print(f"[yellow]Warning:[/] {mismatch}", highlight=False)
    table = Table(title=f"{b} minus {a}")
    for name in ("indicator", "A", "B", "B - A"):
        table.add_column(name, justify="left" if name == "indicator" else "right")

    def num(value: float, sign: str = "") -> str:
        return f"{value:{sign},.0f}" if abs(value) >= 100 else f"{value:{sign}.4g}"

    for row in national.itertuples(index=False):
        table.add_row(str(row.indicator), num(row.a), num(row.b), num(row.diff, "+"))
    console.print(table)
    if by_rcc is not None and not by_rcc.empty:
        rcc_table = _compact_table("By RCC (B - A)")  # headers wrap at their words
        cells = by_rcc.iloc[:, 1:].map(lambda v: f"{v:+,.0f}")
        rcc_table.add_column("rcc", ratio=1)
        for name, column in cells.items():
            width = max(7, column.str.len().max())  # the header in lines as wide as its figures
            header = textwrap.fill(str(name).replace("_", " "), width, break_long_words=False)
            rcc_table.add_column(header, justify="right", no_wrap=True)
        for rcc, row in zip(by_rcc.iloc[:, 0], cells.itertuples(index=False), strict=True):
            rcc_table.add_row(str(rcc), *row)
        console.print(rcc_table)


@app.command("scenario")
def scenario_cmd(
    directory: Annotated[Path, typer.Argument(help="Problem folder")],
    change: Annotated[
        Path, typer.Argument(help="scenario.json change file (its keys: README, Scenarios)")
    ],
    out: Annotated[
        Path, typer.Option(help="Folder for the changed problem", callback=_out_folder)
    ] = Path("scenario"),
) -> None:
    """Apply a scenario.json to a problem folder and write the variant for `rcc solve`."""
    from optimiser.problem import read_problem, write_problem
    from optimiser.scenario import apply_scenario, read_scenario

    _not_the_input(out, directory, "CSVs and policy.json")
    try:
        problem = read_problem(directory)
        scenario = read_scenario(change)
        changed = apply_scenario(problem, scenario, source=change.name)
    except ProblemValidationError as exc:
        raise fail_with(exc) from None
    if scenario.growth is not None:  # a problem folder holds today's children only
        err_console.print(
            f"[yellow]Warning:[/] {change}: 'growth' is not applied by rcc scenario, which "
            f"writes today's children; rcc plan {directory} --scenario {change} forecasts "
            "with it.",
            highlight=False,
        )
    _warn_detached(changed.rcc_of, change)
    with _writing():
        paths = write_problem(changed, out)
    added = int(changed.placements["capacity"].sum() - problem.placements["capacity"].sum())
    console.print(
        f"Wrote {len(paths)} files to [bold]{out}[/] ({added:+,} places); solve it with "
        f"`rcc solve {out}` and compare with `rcc compare`.",
        highlight=False,
    )


# ----------------------------------------------------------------------------- rcc import


def _synth_ssda903(problem: Any, out: Path, *, file_format: str, year: int, seed: int) -> None:
    """`rcc synth --format ssda903`: write the synthetic problem as a fake SSDA903 return."""
    from optimiser.ssda903 import write_ssda903

    if file_format != "ssda903":
        raise fail_with(ValueError(f"unknown --format '{file_format}'; use csv or ssda903"))
    with _writing():
        paths = write_ssda903(problem, out, year=year, seed=seed)
    console.print(
        f"Wrote {', '.join(p.name for p in paths)} to {out}: {len(problem.children):,} "
        f"children as a {year - 1}/{year % 100:02d} SSDA903 return. Import it with: rcc import "
        f"--header {out} --episodes {out} --postcodes {out / 'postcodes.csv'} "
        f"--ofsted {out / 'ofsted_providers.csv'} --year {year} --out DIR",
        highlight=False,
    )


def _parse_columns(text: str | None) -> dict[str, list[str]] | None:
    """'postcode=pcds,la=oscty+oslaua' -> {'postcode': ['pcds'], 'la': ['oscty', 'oslaua']}."""
    if not text:
        return None
    out: dict[str, list[str]] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in ("postcode", "easting", "northing", "la"):
            raise typer.BadParameter(
                f"'{part}': use postcode=, easting=, northing= or la= (la=a+b tries a then b)"
            )
        out[key.strip()] = [v.strip() for v in value.split("+") if v.strip()]
    return out


def _public_location(table: Any) -> Any:
    """The placement-location table with small-number suppression (counts 1-5 as "c", and
    no row or column total lets a reader recover a hidden cell)."""
    from collections.abc import Hashable

    from maps.suppress import Group, Suppression, protect

    rows, cols = list(table.index), list(table.columns)
    values: dict[Hashable, int] = {(r, c): int(table.loc[r, c]) for r in rows for c in cols}
    groups = [Group((r, cols[-1]), [(r, c) for c in cols[:-1]]) for r in rows]
    groups += [Group((rows[-1], c), [(r, c) for r in rows[:-1]]) for c in cols]
    shown = protect(values, suppression=Suppression(), groups=groups)
    return table.apply(lambda col: [shown.count((r, col.name)) for r in rows])


_IMPORT_HELP = (
    "Build the optimiser's inputs from an SSDA903 return (and optionally a postcode lookup and "
    "Ofsted's provider list), and measure today's placements as the DfE does.\n\n"
    "Writes children.csv, placements.csv, rccs.csv, las.csv and policy.json (for `rcc validate` "
    "and `rcc solve`), census.csv, baseline_indicators.csv, placement_location.csv (and its "
    "suppressed placement_location_public.csv), "
    "ofsted_supply.csv and import_report.txt/.json. Rows with errors are listed by file, row and "
    "column; with errors nothing but the report is written unless --keep-going, which leaves the "
    "children concerned out of children.csv and lists them in the report."
)


@app.command("import", help=_IMPORT_HELP)
def import_cmd(
    header: Annotated[
        list[Path], typer.Option(help="903 header CSV, or a folder of *header*.csv (repeatable).")
    ],
    episodes: Annotated[
        list[Path],
        typer.Option(help="903 episodes CSV, or a folder of *episode*.csv (repeatable)."),
    ],
    out: Annotated[
        Path, typer.Option(help="Folder to write into (created).", callback=_out_folder)
    ],
    year: Annotated[
        int | None,
        typer.Option(
            help="Collection year (2024 = 2023/24) of the census, and of the files unless "
            "their names give several years (2023-24, ...); default: the latest named."
        ),
    ] = None,
    la: Annotated[
        str | None,
        typer.Option(help="Responsible LA (GSS code, DfE number or name) of files without one."),
    ] = None,
    census_date: Annotated[
        str | None,
        typer.Option(help="Census date dd/mm/YYYY, not after 31 March of the year (the default)."),
    ] = None,
    postcodes: Annotated[
        Path | None,
        typer.Option(help="Postcode lookup CSV (ONS Postcode Directory or similar)."),
    ] = None,
    postcode_columns: Annotated[
        str | None,
        typer.Option(help="Column names, e.g. 'postcode=pcds, easting=oseast1m, la=oscty+oslaua'."),
    ] = None,
    ofsted: Annotated[
        Path | None, typer.Option(help="Ofsted provider list CSV (children's and secure homes).")
    ] = None,
    ofsted_vacancy: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share (0-1) of an Ofsted home's registered places taken as free when the "
            "import is not national (other councils' children in the homes are then unknown); "
            "default 0: only the places this import's children occupy are added. A national "
            "import (LAs holding 99% of England's children looked after) offers registered "
            "places less its children.",
        ),
    ] = 0.0,
    rccs: Annotated[
        Path | None, typer.Option(help="RCC lookup CSV (la_code,rcc); default: the 10 RCCs.")
    ] = None,
    keep_going: Annotated[
        bool,
        typer.Option("--keep-going", help="Write the problem even with errors (children listed)."),
    ] = False,
    grid_metres: Annotated[
        int,
        typer.Option(
            min=0,
            help="Points written (children.csv, placements.csv, census.csv) are the centres of "
            "grid squares this wide, so no home or carer address can be looked up from them "
            "(distances in later solves are then accurate to about a mile; the import's own "
            "measures use exact points). 0 writes exact postcode points: they identify addresses.",
        ),
    ] = 1000,
) -> None:
    """Import an SSDA903 return (see `_IMPORT_HELP`)."""
    from datetime import datetime

    from rich.table import Table as RichTable

    from optimiser.ofsted import read_ofsted_providers
    from optimiser.problem import read_rccs, remove_stale
    from optimiser.ssda903 import IMPORT_FILES, import_903, read_postcodes, write_import

    try:
        at = datetime.strptime(census_date, "%d/%m/%Y").date() if census_date else None
    except ValueError:
        raise fail_with(ValueError(f"--census-date '{census_date}' is not dd/mm/YYYY")) from None
    try:
        lookup = (
            read_postcodes(postcodes, columns=_parse_columns(postcode_columns))
            if postcodes
            else None
        )
        result = import_903(
            header,
            episodes,
            year=year,
            la=la,
            at=at,
            postcodes=lookup,
            ofsted=read_ofsted_providers(ofsted) if ofsted else None,
            ofsted_vacancy=ofsted_vacancy,
            rccs=read_rccs(rccs) if rccs else None,
            grid_metres=grid_metres,
        )
    except (ProblemValidationError, OSError) as exc:
        raise fail_with(exc) from None
    report = result.report
    write_all = report.ok or keep_going
    with _writing():
        paths = write_import(result, out, problem=write_all)
        if write_all:
            public = out / "placement_location_public.csv"
            _public_location(result.location).to_csv(public, encoding="utf-8-sig")
            paths.append(public)
        stale = remove_stale(out, IMPORT_FILES, paths)
    counts = RichTable(title="SSDA903 import")
    counts.add_column("")
    counts.add_column("", justify="right")
    for key, value in report.counts.items():
        counts.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    counts.add_row("errors", f"{len(report.errors):,}")
    counts.add_row("warnings", f"{len(report.warnings):,}")
    location = RichTable(
        title="Where children live today (DfE placement location; exact counts, not for "
        "publication: see placement_location_public.csv)"
    )
    location.add_column("")
    for name in result.location.columns:
        location.add_column(str(name), justify="right")
    for name, row in result.location.iterrows():
        location.add_row(str(name), *(f"{v:,}" for v in row))
    console.print(counts, location)
    listed = [f"  - {issue}" for issue in report.errors[:20]]
    if len(report.errors) > 20:
        listed.append(f"  ... and {len(report.errors) - 20} more in import_report.txt")
    _print_items(listed)
    console.print(f"Wrote {', '.join(p.name for p in paths)} to {out}.", highlight=False)
    if stale:
        names = ", ".join(p.name for p in stale)
        console.print(f"Removed {names}: an earlier import's, not written this time.")
    if not grid_metres:
        console.print(
            "[bold]Warning:[/] --grid-metres 0: children.csv, placements.csv and census.csv hold "
            "exact postcode points, which identify children's homes and foster carers' "
            "addresses; keep them as securely as the 903 return itself.",
            highlight=False,
        )
    if not write_all:
        raise fail_with(
            ValueError(
                f"{len(report.errors)} error(s) in the 903 files (listed above and in "
                f"{out / 'import_report.txt'}); fix them, or pass --keep-going to import the "
                "children without errors."
            )
        )


# --- maps: `rcc map` (owned by the maps engineer) -------------------------------------------
_MAP_KINDS = ("out-of-area", "flows", "rccs", "sufficiency", "plan")


@app.command("map")
def map_cmd(
    result_dir: Annotated[Path, typer.Argument(help="Folder written by `rcc solve`")],
    kind: Annotated[
        str, typer.Option("--kind", help="out-of-area | flows | rccs | sufficiency | plan")
    ] = "out-of-area",
    la: Annotated[
        str | None, typer.Option("--la", help="Flows: one council's children (GSS code)")
    ] = None,
    boundaries: Annotated[
        Path | None,
        typer.Option("--boundaries", help="LA boundary file (default: offline hex layout)"),
    ] = None,
    code_column: Annotated[
        str | None,
        typer.Option(help="Column of --boundaries with the LA codes (default: detected)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML file (default RESULT_DIR/map-KIND.html)")
    ] = None,
    self_contained: Annotated[
        bool,
        typer.Option(
            "--self-contained/--cdn", help="Inline Leaflet (works offline) or load it from a CDN"
        ),
    ] = True,
    public: Annotated[
        bool,
        typer.Option(
            "--public/--internal", help="Suppress counts 1..threshold as 'c' (public maps)"
        ),
    ] = True,
    threshold: Annotated[int, typer.Option(help="Largest count suppressed")] = 5,
    top: Annotated[int, typer.Option(help="Flows: how many of the largest flows to draw")] = 250,
    level: Annotated[str, typer.Option(help="Sufficiency: per 'la' or per 'rcc'")] = "la",
    tiles: Annotated[
        str | None, typer.Option(help="Base tiles, e.g. 'CartoDB positron' (needs internet)")
    ] = None,
    scenario: Annotated[
        str | None, typer.Option(help="Scenario name for the title (default: the folder name)")
    ] = None,
    plan_dir: Annotated[
        Path | None,
        typer.Option("--plan", help="Plan: plan_actions.csv or the `rcc plan` output folder"),
    ] = None,
) -> None:
    """Draw a map of a solved scenario as one HTML file (offline and suppressed by default)."""
    from geodata.england import UnknownLAError
    from maps import (
        MapAssetsMissingError,
        MapGeometry,
        MapInputError,
        MapSettings,
        Suppression,
        build_map,
        read_result,
        save_map,
    )

    if kind not in _MAP_KINDS:
        raise fail_with(ValueError(f"--kind must be one of {', '.join(_MAP_KINDS)}, not '{kind}'"))
    _boundaries_given(boundaries, code_column)
    if level not in ("la", "rcc"):
        raise fail_with(ValueError(f"--level must be 'la' or 'rcc', not '{level}'"))
    try:
        inputs = read_result(result_dir, plan=kind == "plan", plan_actions=plan_dir)
        outlines = _read_map_boundaries(boundaries, code_column)
        geometry = MapGeometry.hex() if outlines is None else MapGeometry.from_boundaries(outlines)
        settings = MapSettings(
            scenario=scenario or result_dir.resolve().name,
            geometry=geometry,
            suppression=Suppression(threshold=threshold, enabled=public),
            tiles=tiles,
        )
        m = build_map(
            kind, inputs, settings=settings, la=la, top=top, level="la" if level == "la" else "rcc"
        )
        path = out or result_dir / f"map-{kind}.html"
        with _writing():
            path = save_map(m, path, self_contained=self_contained)
    except (MapInputError, MapAssetsMissingError, UnknownLAError, ValueError) as e:
        raise fail_with(e) from None
    console.print(f"[green]Wrote[/] {path} ({path.stat().st_size / 1e6:.2f} MB)")


# --- geodata: boundaries download and check (owner: geodata) ---------------------------------
geodata_app = typer.Typer(
    help="LA boundaries: download the ONS file into the cache, or check a boundary file.",
    no_args_is_help=True,
)
app.add_typer(geodata_app, name="geodata")


@geodata_app.command("fetch")
def geodata_fetch(
    url: Annotated[
        str | None,
        typer.Option(help="ArcGIS query URL (default: $RCC_BOUNDARIES_URL, else ONS CTYUA BUC)"),
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option(help="Cache folder (default: $RCC_CACHE_DIR, else ~/.cache/rcc-planner)"),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the server")] = 60.0,
    retries: Annotated[
        int, typer.Option(help="Retries after a server error or cut transfer", min=0)
    ] = 3,
) -> None:
    """Download the ONS Counties and Unitary Authorities boundaries, validate, then cache them."""
    from geodata.fetch import BoundaryDownloadError, OfflineError, fetch_boundaries

    try:
        result = fetch_boundaries(
            url=url, cache_dir=cache, timeout=timeout, retries=retries, progress=True
        )
    except OfflineError as exc:
        err_console.print(f"Offline: {exc}", highlight=False)
        raise typer.Exit(2) from None
    except BoundaryDownloadError as exc:
        raise fail_with(exc) from None
    console.print(str(result.report), highlight=False)
    console.print(f"[green]OK[/]: {result.summary()}", highlight=False)


@geodata_app.command("check")
def geodata_check(
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage or zipped Shapefile")],
    code_column: Annotated[
        str | None, typer.Option(help="Column with the LA GSS codes (default: detected)")
    ] = None,
) -> None:
    """Match a boundary file to the 153 LAs and print the report (exit 1 if incomplete)."""
    from geodata.boundaries import BoundaryError, read_boundaries

    try:
        match = read_boundaries(file, code_column=code_column)
    except BoundaryError as exc:
        raise fail_with(exc) from None
    console.print(str(match.report), highlight=False)
    if not match.report.complete:
        raise typer.Exit(1)


# --- rccs: design Regional Care Cooperatives (owner: regions) --------------------------------
rccs_app = typer.Typer(
    help="Design Regional Care Cooperatives: propose K contiguous, balanced, self-sufficient RCCs.",
    no_args_is_help=True,
)
app.add_typer(rccs_app, name="rccs")


@rccs_app.command("propose")
def rccs_propose(
    k: Annotated[int, typer.Option("--k", help="RCCs in all, locked groups included")] = 20,
    tolerance: Annotated[
        float, typer.Option(help="Balance: each proposed RCC's children in care within +-this")
    ] = 0.25,
    within_regions: Annotated[
        bool, typer.Option("--within-regions", help="Keep proposed RCCs inside the nine regions")
    ] = False,
    lock: Annotated[
        str | None, typer.Option(help="Pathfinders kept as given: gm, south-east or gm,south-east")
    ] = None,
    lock_csv: Annotated[
        Path | None, typer.Option(help="CSV la_code,rcc of groups kept as given")
    ] = None,
    time_limit: Annotated[
        float,
        typer.Option(
            help="Seconds of CP-SAT search, after the seeded warm start (not counted; a few "
            "seconds). With --reproducible, CP-SAT's deterministic seconds",
            min=0,
        ),
    ] = 60.0,
    reproducible: Annotated[
        bool,
        typer.Option(
            "--reproducible",
            help="Same --seed, --threads and inputs give the same proposal under any machine "
            "load (CP-SAT's deterministic search and time; a weaker search). Without it the "
            "warm start and baseline repeat, CP-SAT's result can differ from run to run",
        ),
    ] = False,
    weights: Annotated[
        str | None,
        typer.Option(help="Objective weights, e.g. 'residential=1, secure=1, compactness=1'"),
    ] = None,
    max_miles: Annotated[
        float, typer.Option(help="Largest distance from an LA to its RCC's centre LA")
    ] = 150.0,
    threads: Annotated[int, typer.Option(help="CP-SAT workers", min=1)] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the warm start, the baseline and CP-SAT")] = 1,
    allocation: Annotated[
        bool,
        typer.Option(
            help="Also run the allocation optimiser per grouping on a quarter-scale synthetic "
            "England (slow: about half a minute per grouping)"
        ),
    ] = False,
    out: Annotated[
        Path,
        typer.Option(help="Folder for rccs.csv, rccs_summary.csv, ...", callback=_out_folder),
    ] = Path("rccs-out"),
) -> None:
    """Propose K RCCs (default 20) and compare them with the nine regions and a baseline."""

    from geodata.rcc import regions_lookup
    from optimiser.errors import InfeasibleRequestError
    from optimiser.regions import (
        Request,
        allocation_comparison,
        baseline_partition,
        compare,
        england_instance,
        parse_weights,
        preset_locks,
        propose,
        read_lock_csv,
        summary_frame,
        write_outputs,
    )

    try:
        locks = preset_locks(lock or "")
        if lock_csv is not None:
            from_csv = read_lock_csv(lock_csv)
            if not from_csv:
                err_console.print(
                    f"[yellow]Warning:[/] {lock_csv} has no rows under its header: nothing is "
                    "locked from it",
                    highlight=False,
                )
            locks += from_csv
        request = Request(
            k=k,
            tolerance=tolerance,
            within_regions=within_regions,
            locks=locks,
            weights=parse_weights(weights),
            max_miles=max_miles,
            time_limit=time_limit,
            reproducible=reproducible,
            threads=threads,
            seed=seed,
        )
        inst = england_instance()
        console.print(f"Solving K={k} (locked: {', '.join(x.name for x in locks) or 'none'}) ...")
        with _progress_printer() as progress:
            proposal = propose(inst, request, progress=progress)
        baseline = baseline_partition(inst, request)
    except (InfeasibleRequestError, ProblemValidationError, ValueError) as exc:
        raise fail_with(exc) from None
    lookups = {"proposal": proposal.lookup, "nine regions": regions_lookup()}
    if baseline is not None:
        lookups["spanning-tree baseline"] = baseline
    table = compare(
        inst,
        lookups,
        weights=request.weights,
        locks={"proposal": locks, "spanning-tree baseline": locks},
    )
    summary = summary_frame(proposal.score)
    rccs = _compact_table(f"Proposed RCCs ({proposal.status.value})")
    for label in ("RCC", "LAs", "CLA", "vs mean", "resid. %", "secure %", "max mi"):
        rccs.add_column(label, justify="left" if label == "RCC" else "right")
    for row in summary.itertuples(index=False):
        rccs.add_row(
            f"{row.rcc}{' (locked)' if row.locked else ''}",
            str(row.las),
            str(row.children_in_care),
            f"{row.cla_vs_mean:.2f}",
            f"{row.residential_self_sufficiency_pct:.1f}",
            f"{row.secure_self_sufficiency_pct:.1f}",
            f"{row.max_internal_miles:.0f}",
        )
    console.print(rccs)
    short = {
        "grouping": "grouping",
        "rccs": "RCCs",
        "objective": "score",
        "residential_self_sufficiency_pct": "resid. %",
        "secure_self_sufficiency_pct": "secure %",
        "mean_miles_to_centre": "mean mi",
        "max_internal_miles": "max mi",
        "max_balance_deviation_pct": "bal. %",
        "all_contiguous": "joined",
    }
    cmp_table = _compact_table("Self-sufficiency (% of demand met in own RCC), miles, balance")
    for col in table.columns:
        if col == "grouping":  # names whole ("spanning-tree baseline" on two lines)
            width = max(len(w) for g in table["grouping"] for w in str(g).split())
            cmp_table.add_column("grouping", min_width=width)
        else:
            cmp_table.add_column(short.get(col, col), justify="right")
    for values in table.itertuples(index=False):
        cmp_table.add_row(
            *(f"{v:.1f}" if isinstance(v, float) else str(v) for v in values)  # 80 columns
        )
    console.print(cmp_table)
    mine = table.iloc[0]
    for _, other in table.iloc[1:].iterrows():
        verdicts = []
        for col, more_is_better in (
            ("objective", True),
            ("residential_self_sufficiency_pct", True),
            ("secure_self_sufficiency_pct", True),
            ("mean_miles_to_centre", False),
            ("max_balance_deviation_pct", False),
        ):
            diff = float(mine[col] - other[col])
            better = diff > 1e-9 if more_is_better else diff < -1e-9
            word = "better" if better else ("equal" if abs(diff) <= 1e-9 else "worse")
            verdicts.append(f"{col.replace('_', ' ')} {word} ({diff:+.2f})")
        console.print(f"vs {other['grouping']}: " + "; ".join(verdicts), highlight=False)
    alloc = None
    if allocation:
        found = allocation_comparison(lookups, seed=seed)
        if isinstance(found, str):
            console.print(found, highlight=False)
        else:
            alloc = found
            console.print(_allocation_table(alloc))
    with _writing():
        paths = write_outputs(out, proposal, table, alloc)
    if proposal.bound is None or proposal.gap is None:
        proven = "bound none, gap none (CP-SAT found no solution of its own, so proved no bound)"
    else:
        proven = f"bound {proposal.bound:.3f}; gap {proposal.gap:.2%}"
    first = (
        f"{proposal.first_feasible_seconds:.1f} s"
        if proposal.first_feasible_seconds is not None
        else "warm start only"
    )
    console.print(
        f"status {proposal.status.value}; objective {proposal.objective:.3f}; {proven}; "
        f"first feasible {first}; wall {proposal.wall_seconds:.1f} s",
        highlight=False,
    )
    console.print(f"[green]Wrote[/] {', '.join(str(p) for p in paths)}")


def _allocation_table(alloc: Any) -> Table:
    """The allocation indicators per grouping, one column per grouping, so that an 80-column
    terminal shows them whole (a plain frame had eleven columns)."""
    table = _compact_table("Allocation on a synthetic England (national), per grouping")
    table.add_column("indicator")
    for grouping in alloc["grouping"]:
        table.add_column(str(grouping), justify="right")
    rows = [
        ("solver status", "status", "{}"),
        ("children", "children", "{:,.0f}"),
        ("unplaced", "unplaced", "{:,.0f}"),
        ("out of LA %", "out_of_la_pct", "{:.1f}"),
        ("over 20 miles %", "over_20_miles_pct", "{:.1f}"),
        ("out of RCC %", "out_of_rcc_pct", "{:.1f}"),
        ("mean miles", "mean_miles", "{:.1f}"),
        ("weekly cost", "weekly_cost", "£{:,.0f}"),
        ("solve seconds", "seconds", "{:.1f}"),
    ]
    for label, key, fmt in rows:
        if key in alloc:
            table.add_row(label, *(fmt.format(v).lower() for v in alloc[key]))
    return table


# --- service: `rcc serve` and `rcc keys` (owner: service) -----------------------------------


_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")  # uvicorn's


def _log_level(value: str) -> str:
    """--log-level, one of uvicorn's (any other ended rcc serve in KeyError)."""
    if value.lower() not in _LOG_LEVELS:
        raise typer.BadParameter(f"'{value}' is not one of {', '.join(_LOG_LEVELS)}")
    return value.lower()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port", min=1, max=65535)] = 8000,
    log_level: Annotated[
        str,
        typer.Option(help=f"uvicorn log level: {', '.join(_LOG_LEVELS)}", callback=_log_level),
    ] = "info",
) -> None:
    """Run the HTTP API (settings from RCC_* environment variables, e.g. RCC_DATA_DIR)."""
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from service.app import create_app
    from service.settings import Settings

    settings = Settings()
    console.print(
        f"Serving on http://{host}:{port}/docs with data in {settings.data_dir.resolve()}",
        highlight=False,
    )
    # the service's own loggers (rcc.*: job started, failed, done; ids and states only) beside
    # uvicorn's, at the same level: without a handler their lines were dropped
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["rcc"] = {
        "handlers": ["default"],
        "level": log_level.upper(),
        "propagate": False,
    }
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, log_config=config)


keys_app = typer.Typer(
    help="API keys of the service (planner, council, admin); stored hashed.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")


def _key_store() -> Any:
    from service.settings import Settings
    from service.store import Store

    settings = Settings()
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = f"the data folder {settings.data_dir} (RCC_DATA_DIR)"
        raise fail_with(OSError(f"cannot make {where}: {exc.strerror or exc}")) from None
    store = Store(settings.resolved_database_url(), schema=settings.database_schema)
    store.migrate()
    return store


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="planner | council | admin")],
    la: Annotated[
        str | None, typer.Option("--la", help="Council keys: bind to one LA (GSS code)")
    ] = None,
    name: Annotated[str, typer.Option(help="Who the key is for")] = "",
) -> None:
    """Create a key; the key itself is printed once, as the last line."""
    from geodata.england import UnknownLAError, load_england

    try:
        if la is not None:
            la = load_england().check_code(la)
        key, secret = _key_store().create_key(role, la=la, name=name)
    except (ValueError, UnknownLAError) as exc:
        raise fail_with(exc) from None
    console.print(f"Created {key.role} key {key.id}" + (f" bound to {la}" if la else ""))
    print(secret)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (ids, roles, LAs, state); the keys themselves are never stored."""
    table = _compact_table("API keys")  # the name wraps, whole; the rest never does
    for col in ("id", "role", "la", "created", "state"):
        table.add_column(col, no_wrap=True)
    table.add_column("name", ratio=1, overflow="fold")
    for key in _key_store().list_keys():
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(key.created_at))
        state = "revoked" if key.revoked_at else "live"
        table.add_row(key.id, key.role, key.la or "", created, state, key.name)
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="Key id from `rcc keys list`")]) -> None:
    """Revoke a key: requests with it get 401 from then on."""
    if not _key_store().revoke_key(key_id):
        raise fail_with(ValueError(f"no live key '{key_id}'"))
    console.print(f"Revoked {key_id}")


def main() -> None:  # pragma: no cover - console script entry
    app()
