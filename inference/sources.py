"""Input corpora by format: JSONL, CSV, Parquet, or a saved `datasets` folder.

Each source yields ``(number, payload)`` from a given position on, where number is the
1-based line (JSONL) or row (others) and payload is raw bytes (a JSONL line, decoded and
checked later so a bad line becomes a reject) or an already parsed record. Everything
streams: CSV line by line, Parquet and datasets in record batches.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

FORMATS = ("jsonl", "csv", "parquet", "dataset")
_SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


class SourceError(ValueError):
    """An input that cannot be read as a corpus at all (unknown format, missing columns)."""


def detect_format(path: str | Path, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise SourceError(f"unknown input format {explicit!r}; choose one of {', '.join(FORMATS)}")
        return explicit
    path = Path(path)
    if path.is_dir():
        return "dataset"
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise SourceError(f"cannot tell the format of {path} from its extension; pass --input-format")
    return fmt


def size_of(path: str | Path, fmt: str) -> tuple[int, str]:
    """The progress total and its unit: bytes for text formats, rows for columnar ones."""
    if fmt in ("jsonl", "csv"):
        return Path(path).stat().st_size, "B"
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows, "rows"
    return len(_load_dataset(path)), "rows"


def iter_source(path: str | Path, fmt: str, skip: int, advance: Callable[[int], None]) -> Iterator[tuple[int, Any]]:
    """Payloads after the first ``skip`` records; ``advance`` is told how much was read."""
    reader = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet, "dataset": _dataset}[fmt]
    yield from reader(Path(path), skip, advance)


def _jsonl(path: Path, skip: int, advance) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            advance(len(line))
            if number > skip:
                yield number, line


def _csv(path: Path, skip: int, advance) -> Iterator[tuple[int, Any]]:
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:

        def lines():
            for line in f:
                advance(len(line.encode("utf-8", "surrogateescape")))
                yield line

        reader = csv.DictReader(lines())
        if reader.fieldnames is None or "id" not in reader.fieldnames:
            raise SourceError(f"{path}: a CSV corpus needs a header with an 'id' column and 'text' or 'sentences'")
        for number, row in enumerate(reader, 1):
            if number <= skip:
                continue
            values = [v for v in row.values() if isinstance(v, str)]
            if any(_has_surrogates(v) for v in values):
                yield number, b"\xff"  # decoded later: rejected as not valid UTF-8
                continue
            yield number, _csv_record(row)


def _csv_record(row: dict) -> dict:
    """CSV has no null and no lists: empty cells are absent, 'sentences' holds a JSON array."""
    record = {k: v for k, v in row.items() if k is not None and v != ""}
    if isinstance(record.get("sentences"), str):
        try:
            record["sentences"] = json.loads(record["sentences"])
        except json.JSONDecodeError:
            pass  # left as a string: rejected as "must be a non-empty list"
    return record


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def _parquet(path: Path, skip: int, advance) -> Iterator[tuple[int, dict]]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=256):
        rows = batch.to_pylist()
        advance(len(rows))
        for row in rows:
            number += 1
            if number > skip:
                yield number, {k: v for k, v in row.items() if v is not None}


def _load_dataset(path):
    import datasets

    if isinstance(path, datasets.Dataset):
        return path
    try:
        return datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as e:
        raise SourceError(f"{path} is not a saved datasets.Dataset folder: {e}") from None


def _dataset(path: Path, skip: int, advance) -> Iterator[tuple[int, dict]]:
    dataset = _load_dataset(path)
    for start in range(skip, len(dataset), 256):
        rows = dataset[start : start + 256]
        count = len(next(iter(rows.values()))) if rows else 0
        advance(count)
        for i in range(count):
            yield start + i + 1, {k: v[i] for k, v in rows.items() if v[i] is not None}
