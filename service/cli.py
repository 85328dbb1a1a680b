"""The `rcc` command line: synthesise, validate, solve, map, plan, serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from optimiser.errors import ProblemValidationError

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


def main() -> None:  # pragma: no cover - console script entry
    app()
