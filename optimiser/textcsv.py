"""Read a CSV file as text as councils save it: UTF-8 or Windows-1252, comma, tab or semicolon.

One reader for the files `rcc import` takes (SSDA903 returns, postcode lookups, Ofsted's list),
so each gets the same tolerance and the same one-line errors naming the file (and the row, when
the parser knows it) instead of a traceback.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimiser.errors import InputIssue, ProblemValidationError

__all__ = [
    "SEPARATOR_NAMES",
    "multiline_issues",
    "parser_issue",
    "read_start",
    "read_text_csv",
    "repeated_column_issues",
    "separator",
]

SEPARATOR_NAMES = {",": "commas", "\t": "tabs", ";": "semicolons"}
_ENCODINGS = ("utf-8-sig", "cp1252")
_WORKBOOKS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # .xlsx (a zip) and .xls


def _fail(path: Path, message: str) -> ProblemValidationError:
    return ProblemValidationError([InputIssue(path.name, None, None, message)])


def separator(first_line: str) -> str:
    """The most frequent of comma, tab and semicolon in the header line (comma when none)."""
    counts = {sep: first_line.count(sep) for sep in SEPARATOR_NAMES}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _parser_row(message: str) -> int | None:
    """Spreadsheet row of a pandas parser error ("line 3" is 1-based, "row 2" 0-based)."""
    if m := re.search(r"\bline (\d+)", message):
        return int(m.group(1))
    if m := re.search(r"\brow (\d+)", message):
        return int(m.group(1)) + 1
    return None


def parser_issue(file: str, error: Exception) -> InputIssue:
    """A pandas parser error as an issue at the spreadsheet row it names, in words a user
    acts on where we know them (pandas counts rows from 0, so its own "row 2" is row 3)."""
    text = str(error).strip().splitlines()[0]
    if "EOF inside string" in text:
        text = 'a quoted value (") that starts on this row is never closed'
    else:
        text = f"cannot read as CSV: {text}"
    return InputIssue(file, _parser_row(str(error)), None, text)


def multiline_issues(file: str, frame: pd.DataFrame) -> list[InputIssue]:
    """One issue per row where a quoted value runs over several lines: a stray double quote
    opened it and the parser took the lines up to the next stray one as one value, so rows
    vanished into it. No value of these inputs holds a line break. `frame` is as read with
    `skip_blank_lines=False` (each row one line but for the breaks in its values), every cell
    text; rows are a spreadsheet's (the header is row 1)."""
    issues = [
        InputIssue(file, 1, str(c).strip(), "a column name runs over several lines")
        for c in frame.columns
        if re.search(r"[\r\n]", str(c))
    ]
    if not len(frame) or issues:
        return issues
    if not any(re.search(r"[\r\n]", "".join(map(str, frame[c].to_numpy()))) for c in frame):
        return issues  # no break in any value (one join a column, not a count a cell)
    cells = frame.apply(lambda s: s.str.count(r"\r\n|\r|\n"))
    breaks = cells.sum(axis=1).to_numpy()
    first = 2 + np.arange(len(frame)) + np.cumsum(breaks) - breaks  # each row's first line
    for pos in np.flatnonzero(breaks):
        column = cells.columns[np.flatnonzero(cells.iloc[pos].to_numpy())[0]]
        text = (
            f"a value runs over lines {first[pos]}-{first[pos] + breaks[pos]}, and no value "
            'holds a line break: a stray double quote (") opens a value that takes in the '
            "rows up to the next one; remove the quote"
        )
        issues.append(InputIssue(file, int(first[pos]), str(column).strip(), text))
    return issues


def repeated_column_issues(file: str, header: Iterable[str]) -> list[InputIssue]:
    """One issue for each name the header holds more than once (case and surrounding spaces
    aside; blank names are not counted): pandas would rename the repeat "la.1", and a reader
    would use the first column and drop the other's data without a word."""
    seen: dict[str, list[int]] = {}
    written: dict[str, str] = {}  # the name as its first column spells it
    for position, name in enumerate(header, start=1):
        text = str(name).replace("\ufeff", "").strip()
        if text:
            seen.setdefault(text.lower(), []).append(position)
            written.setdefault(text.lower(), text)
    return [
        InputIssue(
            file,
            1,
            written[key],
            f"column appears {len(cols)} times in the header (columns "
            f"{', '.join(map(str, cols))}); keep one",
        )
        for key, cols in seen.items()
        if len(cols) > 1
    ]


def read_start(path: Path) -> bytes:
    """The first 4,096 bytes of a file to read as CSV; a folder, a file that cannot be opened,
    an Excel workbook (renamed .csv) and an empty file raise `ProblemValidationError` with one
    issue naming the file."""
    if path.is_dir():
        raise _fail(path, "is a folder, not a file")
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise _fail(path, f"cannot open: {exc.strerror or exc}") from None
    if head.startswith(_WORKBOOKS):
        raise _fail(path, "is an Excel workbook, not a CSV file: save it as 'CSV UTF-8'")
    if not head.strip():
        raise _fail(path, "cannot read as CSV: the file is empty (no header row)")
    return head


def read_text_csv(path: Path | str, **options: Any) -> tuple[pd.DataFrame, str]:
    """Every cell as text (no NaN), and the separator found in the header line.

    UTF-8 (with or without a byte order mark) is tried first, then Windows-1252 (Excel's plain
    "CSV"). `options` go to `pandas.read_csv` (e.g. `usecols`, `nrows`). A blank line is a row
    of empty cells, so row n of the frame is row n + 2 of the file. A file `read_start`
    refuses, text in neither encoding and rows the parser cannot split raise
    `ProblemValidationError` with one issue naming the file; a column named twice raises one
    issue per repeated name, a value that runs over several lines one per row.
    """
    path = Path(path)
    head = read_start(path)
    for encoding in _ENCODINGS:
        try:
            first = head.decode(encoding, errors="ignore").splitlines()[0]
            sep = separator(first)
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                encoding=encoding,
                sep=sep,
                **options,
            )
            break
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise _fail(path, "cannot read as CSV: no header row") from None
        except pd.errors.ParserError as exc:
            raise ProblemValidationError([parser_issue(path.name, exc)]) from None
        except ValueError as exc:  # usecols naming a column the header lacks, and the like
            raise _fail(path, f"cannot read as CSV: {exc}") from None
    else:
        raise _fail(path, "is neither UTF-8 nor Windows-1252 text (is it a CSV file?)")
    with path.open(newline="", encoding=encoding) as fh:
        repeated = repeated_column_issues(path.name, next(csv.reader(fh, delimiter=sep), []))
    if repeated:
        raise ProblemValidationError(repeated)
    if multiline := multiline_issues(path.name, frame):
        raise ProblemValidationError(multiline)
    return frame, sep
