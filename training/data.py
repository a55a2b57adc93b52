"""The labelled corpus: reading it, choosing splits, and turning it into model inputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from inference.config import ModelConfig
from inference.encode import Target, Window, article_windows
from inference.records import Article, locate_span
from inference.schema import LabelSchema, label_value

IGNORE = -100


class CorpusError(ValueError):
    """A corpus file that cannot be read as articles plus labels."""


@dataclass
class LabelledArticle:
    id: str
    split: str
    sentences: list[str]
    labels: list[dict]
    meta: dict[str, Any]

    def as_input(self) -> Article:
        return Article(self.id, list(self.sentences))


def read_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line number, parsed object)``; a bad line raises CorpusError naming it."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as e:
                raise CorpusError(f"{path}:{number}: not valid JSON ({e.msg})") from None


def load_corpus(articles_path: str | Path, labels_path: str | Path, extra_labels: list[str | Path] = ()) -> list[LabelledArticle]:
    """Articles joined with their labels; labels in ``extra_labels`` replace earlier ones."""
    labels: dict[tuple[str, int], dict] = {}
    for path in [labels_path, *extra_labels]:
        for _, rec in read_jsonl(path):
            labels[(str(rec["article_id"]), int(rec["sentence_index"]))] = rec
    corpus = []
    for number, art in read_jsonl(articles_path):
        aid = str(art["id"])
        sentence_labels = []
        for i, text in enumerate(art["sentences"]):
            rec = labels.get((aid, i))
            if rec is None:
                raise CorpusError(f"{articles_path}:{number}: sentence {i} of article {aid!r} has no label")
            if rec["text"] != text:
                raise CorpusError(f"{labels_path}: label text of {aid!r} sentence {i} differs from the article")
            sentence_labels.append(rec)
        meta = {k: v for k, v in art.items() if k not in ("id", "split", "sentences")}
        corpus.append(LabelledArticle(aid, art.get("split", "train"), list(art["sentences"]), sentence_labels, meta))
    return corpus


def select_split(corpus: list[LabelledArticle], split: str, limit: int | None = None) -> list[LabelledArticle]:
    chosen = [a for a in corpus if a.split == split]
    return chosen[:limit] if limit else chosen


def encode_corpus(articles: list[LabelledArticle], tokenizer, model_config: ModelConfig, schema: LabelSchema) -> datasets.Dataset:
    """One row per window: encoder input, and per target sentence its slots, a label id per head and span slots."""
    rows = []
    index = {name: {v: i for i, v in enumerate(values)} for name, values in schema.heads.items()}
    for article in articles:
        for window in article_windows(tokenizer, article.sentences, model_config):
            row: dict[str, Any] = {
                "input_ids": window.input_ids,
                "token_type_ids": window.token_type_ids,
                "targets": [[t.lead, t.start, len(t.offsets)] for t in window.targets],
            }
            labels = [article.labels[t.sentence] for t in window.targets]
            for head in schema.heads:
                row[head] = [index[head][label_value(label, head)] for label in labels]
            spans = [
                span_positions(article.sentences[t.sentence], label["speaker"]["span"], t.offsets)
                for t, label in zip(window.targets, labels)
            ]
            row["span_start"], row["span_end"] = [s for s, _ in spans], [e for _, e in spans]
            rows.append(row)
    return datasets.Dataset.from_list(rows)


def window_from_row(row: dict) -> Window:
    """The encoder view of an encoded row (sentence indexes and offsets are not needed to train)."""
    targets = [Target(-1, lead, start, [(0, 0)] * length) for lead, start, length in row["targets"]]
    return Window(row["input_ids"], row["token_type_ids"], targets)


def span_positions(sentence: str, span: str | None, offsets: list[tuple[int, int]]) -> tuple[int, int]:
    """Slots of a span's first and last token (slot k is token k - 1); (0, 0) for no span, IGNORE if cut off."""
    if span is None:
        return 0, 0
    where = locate_span(sentence, span)
    if where is None:
        return IGNORE, IGNORE
    first = last = None
    for k, (s, e) in enumerate(offsets):
        if first is None and e > where[0]:
            first = k
        if s < where[1]:
            last = k
    if first is None or last is None or last < first or offsets[-1][1] < where[1]:
        return IGNORE, IGNORE
    return first + 1, last + 1  # slot 0 is the sentence's lead token
