"""Sentence segmentation with character offsets, tuned for wire-news prose.

News text breaks sentences inside quotations ("… economy,” he said. “We …") and uses many
abbreviated titles (Gen., Lt. Col., U.N.); a rule-based splitter that knows both is
accurate here and needs no model download.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "gen",
    "lt",
    "col",
    "maj",
    "sgt",
    "capt",
    "cmdr",
    "adm",
    "brig",
    "sen",
    "rep",
    "gov",
    "prof",
    "st",
    "jr",
    "sr",
    "rev",
    "vs",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "inc",
    "ltd",
    "corp",
    "mt",
    "ft",
    "approx",
    "dept",
    "univ",
}

# A candidate end: terminal punctuation, then any closing quotes or brackets.
_END = re.compile(r"[.!?…]+[\"'”’)\]]*")
# What may open the next sentence: a capital, a digit or an opening quote/bracket.
_OPENER = re.compile(r"[\"'“‘(\[]?[A-Z0-9\u0600-\u06FF]")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def split_sentences(text: str) -> list[Span]:
    """Return the sentences of ``text`` as character spans; ``text[s.start:s.end]`` is the sentence."""
    spans: list[Span] = []
    for para_start, para_end in _paragraphs(text):
        start = para_start
        for m in _END.finditer(text, para_start, para_end):
            end = m.end()
            if not _is_boundary(text, m.start(), end, para_end):
                continue
            spans.extend(_trimmed(text, start, end))
            start = end
        spans.extend(_trimmed(text, start, para_end))
    return spans


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """Line breaks end sentences: headlines, datelines and paragraphs never run on."""
    out, start = [], 0
    for m in re.finditer(r"\n+", text):
        out.append((start, m.start()))
        start = m.end()
    out.append((start, len(text)))
    return out


def _is_boundary(text: str, punct_start: int, end: int, limit: int) -> bool:
    if end >= limit:
        return False  # the paragraph end closes it anyway
    if not text[end].isspace():
        return False  # "U.S.-brokered", "3.5", "Hamas.com"
    rest = text[end:limit].lstrip()
    if not rest or not _OPENER.match(rest):
        return False
    if end - punct_start == 1 and text[punct_start] == ".":
        word = re.search(r"([A-Za-z][A-Za-z.]*)$", text[max(0, punct_start - 20) : punct_start])
        if word:
            token = word.group(1)
            if "." not in token and token.lower() in _ABBREVIATIONS:
                return False  # "Gen. Ahmed", "Lt. Col."
            if token.lower() == "no" and rest[0].isdigit():
                return False  # "No. 2"
            if len(token) == 1 and token.isupper():
                return False  # an initial: "John F. Kennedy"
            if "." in token:
                return _starts_sentence_word(rest)  # "the U.S. envoy" vs "… the U.S. The"
    return True


def _starts_sentence_word(rest: str) -> bool:
    first = re.match(r"[A-Za-z]+", rest)
    return bool(first) and first.group(0) in {"The", "He", "She", "They", "It", "But", "In", "A", "An", "We", "This", "That"}


def _trimmed(text: str, start: int, end: int) -> list[Span]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [Span(start, end)] if end > start else []


def join_sentences(sentences: list[str]) -> tuple[str, list[Span]]:
    """Build an article text from given sentences, keeping each sentence's offsets."""
    parts, spans, pos = [], [], 0
    for s in sentences:
        if parts:
            parts.append(" ")
            pos += 1
        spans.append(Span(pos, pos + len(s)))
        parts.append(s)
        pos += len(s)
    return "".join(parts), spans
