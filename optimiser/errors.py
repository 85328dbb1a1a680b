"""The product's errors: each a `ValueError` that says what is wrong in a user's words."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "InfeasibleRequestError",
    "InputIssue",
    "ProblemValidationError",
    "read_json",
]


@dataclass(frozen=True, slots=True)
class InputIssue:
    """One problem found in an input file. `row` is the spreadsheet row (the header is row 1)."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class ProblemValidationError(ValueError):
    """Every problem found in the inputs at once, each naming its file, row and column."""

    def __init__(self, issues: list[InputIssue]) -> None:
        self.issues = list(issues)
        shown = "\n".join(f"  - {i}" for i in self.issues[:200])
        more = len(self.issues) - 200
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.issues)} problem(s) in the inputs:\n{shown}{tail}")


class InfeasibleRequestError(ValueError):
    """A request that cannot be met as asked (e.g. more RCCs than LAs), with the cause named."""


def read_json(path: Path) -> Any:
    """A JSON file's value (a UTF-8 byte order mark, as Windows tools write, is fine); what is
    wrong with it, named, as a ProblemValidationError."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        text = f"not UTF-8 text (byte {exc.start}); save it as UTF-8"
    except json.JSONDecodeError as exc:
        text = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    except OSError as exc:
        text = exc.strerror or str(exc)
    raise ProblemValidationError([InputIssue(str(path), None, None, text)])
