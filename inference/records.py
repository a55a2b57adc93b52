"""Input articles and output sentence records, in the contract of ANNOTATION.md."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from inference.segment import Span, split_sentences

# Keys the scorer writes itself; an input field of the same name is kept under "input".
OUTPUT_KEYS = {
    "article_id",
    "sentence_index",
    "text",
    "start",
    "end",
    "speaker",
    "stance",
    "scores",
    "model",
}


class RecordError(ValueError):
    """An input record the scorer cannot read; the message names the problem."""

    def __init__(self, reason: str, record_id: str | None = None):
        self.reason = reason
        self.record_id = record_id
        where = f"record {record_id!r}: " if record_id is not None else ""
        super().__init__(where + reason)


@dataclass
class Article:
    """One article ready for the model: its sentences, their offsets, and fields to carry."""

    id: str
    sentences: list[str]
    offsets: list[Span] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def article_from_record(record: Any, max_chars: int | None = None) -> Article:
    """Read either input form: ``{"id", "text"}`` or ``{"id", "sentences"}``."""
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    rid = record.get("id")
    if rid is None or (isinstance(rid, str) and not rid.strip()):
        raise RecordError("missing 'id'")
    if not isinstance(rid, (str, int)) or isinstance(rid, bool):
        raise RecordError(f"'id' must be a string or integer, got {type(rid).__name__}")
    rid = str(rid)
    has_text, has_sentences = "text" in record, "sentences" in record
    if has_text == has_sentences:
        raise RecordError("needs exactly one of 'text' or 'sentences'", rid)
    extra = {k: v for k, v in record.items() if k not in ("id", "text", "sentences")}
    if has_text:
        text = record["text"]
        if not isinstance(text, str):
            raise RecordError(f"'text' must be a string, got {type(text).__name__}", rid)
        _check_size(text, max_chars, rid)
        offsets = split_sentences(text)
        if not offsets:
            raise RecordError("'text' is empty", rid)
        return Article(rid, [text[s.start : s.end] for s in offsets], offsets, extra)
    sentences = record["sentences"]
    if not isinstance(sentences, list) or not sentences:
        raise RecordError("'sentences' must be a non-empty list of strings", rid)
    for i, s in enumerate(sentences):
        if not isinstance(s, str) or not s.strip():
            raise RecordError(f"sentence {i} must be a non-empty string", rid)
    _check_size("".join(sentences), max_chars, rid)
    return Article(rid, list(sentences), None, extra)


def _check_size(text: str, max_chars: int | None, rid: str) -> None:
    if not text.strip():
        raise RecordError("'text' is empty", rid)
    if max_chars is not None and len(text) > max_chars:
        raise RecordError(f"article has {len(text)} characters, over the limit of {max_chars}", rid)


_WORD = re.compile(r"\w")


def locate_span(sentence: str, span: str) -> tuple[int, int] | None:
    """Character offsets of ``span`` in ``sentence``, preferring a whole-word occurrence.

    "he" must match the pronoun, not the inside of "the".
    """
    start = sentence.find(span)
    first = start
    while start != -1:
        before = sentence[start - 1] if start > 0 else " "
        after = sentence[start + len(span)] if start + len(span) < len(sentence) else " "
        if not (_WORD.match(before) and _WORD.match(span[0])) and not (_WORD.match(after) and _WORD.match(span[-1])):
            return start, start + len(span)
        start = sentence.find(span, start + 1)
    return None if first == -1 else (first, first + len(span))
