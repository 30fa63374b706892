"""How every CSV file the platform writes is written (no Django import): RFC 4180, safe to open in a spreadsheet.

RFC 4180: records end with CRLF, and a field holding a comma, a double quote, CR or LF is quoted
(quotes doubled). Python's csv writer quotes a field only for the characters of its own line
terminator, so with the "\\n" terminator a lone CR went out bare and readers split the record there;
with "\\r\\n" both are quoted.

Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, a tab or a CR as a formula
(`=HYPERLINK(...)` sends data away, `=cmd|' /C calc'!A0` starts a program). As OWASP recommends
("CSV injection"), such a text cell is written with a leading single quote, which spreadsheets show as
text. This changes the text, so machine consumers ask for the raw values instead (`?raw=1` on every CSV
export URL and on the API). Numbers are never text cells here, so a negative number stays a number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

LINE_TERMINATOR = "\r\n"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NEUTRALISING_PREFIX = "'"


def neutralised(text: str) -> str:
    """The text as a spreadsheet shows it literally: a formula-leading text gets a single quote in front."""
    return NEUTRALISING_PREFIX + text if text.startswith(FORMULA_PREFIXES) else text


def spreadsheet_safe(row: Iterable[Any]) -> list[Any]:
    """The row with every text cell neutralised; numbers, booleans and missing values unchanged."""
    return [neutralised(value) if isinstance(value, str) else value for value in row]


def csv_writer(stream: TextIO):
    """A csv writer of RFC 4180 records (CRLF, minimal quoting, which then covers a lone CR)."""
    return csv.writer(stream, lineterminator=LINE_TERMINATOR)


def raw_requested(query: Any) -> bool:
    """Whether a request's query parameters (`request.GET`, DRF's `query_params`) ask for `raw=1`."""
    return query.get("raw") in ("1", "true", "yes")
