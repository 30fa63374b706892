"""Licence attribution of mined examples (no Django import).

Stack Exchange content is CC BY-SA and wikiHow CC BY-NC-SA: whoever redistributes a dataset built
from them must credit the authors and link the originals. Each frozen dataset row keeps the
attribution of its example, and the dataset exports it as a CSV beside the GAIR/lima JSONL (which
stays byte-for-byte the published format).
"""

from __future__ import annotations

import io
from typing import Iterable, Iterator

from annotation.datasets.csv_cells import csv_writer, spreadsheet_safe

ATTRIBUTION_KEYS = ("community", "url", "author", "licence", "post_id")
ATTRIBUTION_COLUMNS = ("position", "source", *ATTRIBUTION_KEYS)


def attribution_of(provenance: dict) -> dict:
    """The part of an example's provenance a licence asks to be credited; empty for authored examples."""
    if not provenance or not provenance.get("licence"):
        return {}
    return {key: provenance.get(key, "") for key in ATTRIBUTION_KEYS}


def attribution_csv_lines(rows: Iterable[tuple[int, str, dict]], *, raw: bool = False) -> Iterator[str]:
    """CSV text, one string per row, for (position, source, attribution) rows; rows without attribution are left out.

    Authors' names come from the dumps: formula-leading ones are neutralised unless `raw` (see csv_cells).
    """
    buffer = io.StringIO()
    writer = csv_writer(buffer)

    def take() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    writer.writerow(ATTRIBUTION_COLUMNS)
    yield take()
    for position, source, attribution in rows:
        if attribution:
            record = [position + 1, source, *[attribution.get(key, "") for key in ATTRIBUTION_KEYS]]
            writer.writerow(record if raw else spreadsheet_safe(record))
            yield take()
