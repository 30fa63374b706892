"""Reads of snapshots: a frozen dataset streamed as GAIR/lima JSONL or CSV."""

from __future__ import annotations

from collections.abc import Iterator

from annotation.datasets import formats, lima_format


def dataset_jsonl_lines(dataset) -> Iterator[str]:
    """The snapshot as GAIR/lima JSONL, streamed row by row (constant memory)."""
    rows = dataset.rows.order_by("position").values_list("conversations", "source")
    for conversations, source in rows.iterator(chunk_size=500):
        yield lima_format.dumps_jsonl_row(conversations=conversations, source=source)


def dataset_csv_lines(dataset, *, raw: bool = False) -> Iterator[str]:
    """The snapshot as CSV (turn_1..turn_N columns); two streamed passes, the first only sizes the header."""
    rows = dataset.rows.order_by("position").values_list("is_refusal", "source", "conversations")
    max_turns = max((len(conversations) for _, _, conversations in rows.iterator(chunk_size=500)), default=1)
    records = ((dataset.split, source, refusal, conversations) for refusal, source, conversations in rows.iterator(chunk_size=500))
    return lima_format.csv_lines(records, max_turns, raw=raw)


def _export_rows(dataset) -> Iterator[formats.ExportRow]:
    rows = dataset.rows.order_by("position").values_list("conversations", "source", "is_refusal")
    for conversations, source, refusal in rows.iterator(chunk_size=500):
        yield formats.ExportRow(split=dataset.split, source=source, is_refusal=refusal, conversations=conversations)


def dataset_chunks(dataset, *, shape: str, container: str) -> Iterator[str]:
    """The snapshot in another record shape (messages, ShareGPT, Alpaca, GAIR/lima), as JSONL or a JSON array, streamed."""
    if container == formats.JSONL:
        return formats.jsonl_chunks(_export_rows(dataset), shape)
    return formats.json_array_chunks(_export_rows(dataset), shape)


def dataset_parquet(dataset) -> bytes:
    return formats.parquet_bytes(_export_rows(dataset))
