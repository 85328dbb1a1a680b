"""The `rcc` command line: synthesise, validate, solve, map, plan, serve."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from optimiser.errors import ProblemValidationError

if TYPE_CHECKING:
    from optimiser.run import SolveRun

app = typer.Typer(
    name="rcc",
    help="Regional care placement sufficiency optimiser for children's social care in England.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def fail_with(exc: Exception, *, code: int = 1) -> typer.Exit:
    """Print a user-facing error (never a traceback) and return the Exit to raise."""
    err_console.print(f"[bold red]Error:[/] {exc}", highlight=False)
    return typer.Exit(code)


@app.command()
def validate(
    directory: Annotated[
        Path, typer.Argument(help="Folder with children.csv, placements.csv, rccs.csv")
    ],
) -> None:
    """Validate a user's CSVs and print every problem found, naming file, row and column."""
    from optimiser.problem import read_problem

    try:
        problem = read_problem(directory)
    except ProblemValidationError as exc:
        raise fail_with(exc) from None
    console.print(
        f"[green]OK[/]: {len(problem.children):,} children, {len(problem.placements):,} "
        f"placements with {int(problem.placements['capacity'].sum()):,} places, "
        f"{len(problem.las)} LAs in {problem.las['rcc'].nunique()} RCCs."
    )


# ----------------------------------------------------------------------------- solve


def _progress_printer() -> Callable[[str], None]:
    """Progress lines for long solves: silent for the first second, then one line a stage."""
    started = time.perf_counter()
    pending: list[str] = []

    def say(message: str) -> None:
        elapsed = time.perf_counter() - started
        pending.append(message)
        if elapsed > 1.0:
            for line in pending:
                console.print(f"[dim]{elapsed:6.1f}s[/] {line}", highlight=False)
            pending.clear()

    return say


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
            else:
                diff = ours - base[key]
                cells.append(("+" if diff > 0 else "") + fmt.format(diff).replace("£-", "-£"))
        table.add_row(*cells)
    return table


def _print_run(run: SolveRun) -> dict[str, Any]:
    summary = run.summary()
    for shortfall in run.shortfalls:
        console.print(f"[yellow]Shortfall:[/] {shortfall}", highlight=False)
    res = run.result
    console.print(
        f"Solver: {res.solver}; status [bold]{res.status.value}[/], objective "
        f"{res.objective:,.2f}, proven bound {res.bound:,.2f} (gap {res.gap:.4%}), "
        f"{res.wall_seconds:.1f}s",
        highlight=False,
    )
    console.print(_comparison_table(summary))
    return summary


@app.command()
def solve(
    directory: Annotated[Path, typer.Argument(help="Folder with the problem CSVs")],
    policy: Annotated[
        Path | None, typer.Option(help="Policy JSON; any key optional, the rest default")
    ] = None,
    time_limit: Annotated[
        float | None, typer.Option(help="Stop after this many seconds with the proven gap")
    ] = None,
    threads: Annotated[int, typer.Option(help="Solver threads (sibling repair MIP)")] = 1,
    out: Annotated[Path, typer.Option(help="Output folder")] = Path("out"),
    baseline: Annotated[
        bool, typer.Option(help="Also simulate today's council-by-council practice")
    ] = True,
) -> None:
    """Allocate every child optimally, compare with today's practice, write the results."""
    from optimiser.problem import read_policy, read_problem
    from optimiser.run import run_solve, write_outputs

    try:
        chosen = read_policy(policy) if policy else None
        problem = read_problem(directory, policy=chosen)
    except ProblemValidationError as exc:
        raise fail_with(exc) from None
    run = run_solve(
        problem,
        time_limit=time_limit,
        threads=threads,
        progress=_progress_printer(),
        baseline=baseline,
    )
    _print_run(run)
    paths = write_outputs(run, out, inputs=directory)
    console.print(f"Wrote {len(paths)} files to [bold]{out}[/]", highlight=False)


@app.command()
def check(
    result_dir: Annotated[Path, typer.Argument(help="Output folder of `rcc solve`")],
    inputs: Annotated[
        Path | None, typer.Option(help="Problem folder (default: the one `rcc solve` read)")
    ] = None,
) -> None:
    """Check an allocation against every rule, independently of the solver."""
    import json

    import pandas as pd

    from optimiser.problem import read_policy, read_problem
    from optimiser.validate import check_allocation

    summary = json.loads((result_dir / "summary.json").read_text(encoding="utf-8"))
    folder = inputs or (Path(summary["inputs"]) if summary.get("inputs") else result_dir)
    try:
        policy = read_policy(result_dir / "policy.json")
        problem = read_problem(folder, policy=policy)
    except ProblemValidationError as exc:
        raise fail_with(exc) from None
    allocation = pd.read_csv(result_dir / "allocation.csv", dtype=str, keep_default_na=False)
    verdict = check_allocation(problem, allocation, objective=summary.get("objective"))
    console.print(str(verdict), highlight=False)
    if not verdict.ok:
        raise typer.Exit(1)


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
        Path, typer.Option("--out", help="Folder to write the problem CSVs into (created).")
    ],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 1,
    scale: Annotated[
        float,
        typer.Option(help="Multiply demand and supply (2 = twice the children and places).", min=0),
    ] = 1.0,
    no_siblings: Annotated[
        bool, typer.Option("--no-siblings", help="Leave every child out of sibling groups.")
    ] = False,
) -> None:
    """Write a calibrated synthetic England (see `_SYNTH_HELP`) and print what was written."""
    from rich.table import Table as RichTable

    from optimiser.problem import NEEDS, SETTINGS, write_problem
    from optimiser.synthetic import pressure_by_region, synthesize

    try:
        problem = synthesize(seed=seed, scale=scale, sibling_groups=not no_siblings)
    except ValueError as exc:
        raise fail_with(exc) from None
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


def main() -> None:  # pragma: no cover - console script entry
    app()
