"""The labelled corpus: reading it, choosing splits, and turning it into model inputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets

from inference.config import ModelConfig
from inference.encode import Target, Window, article_windows
from inference.records import Article, RecordError, article_from_record, locate_span
from inference.schema import LabelSchema, label_value
from training.validate import SPLITS, sentence_key

IGNORE = -100


class CorpusError(ValueError):
    """A corpus file that cannot be read as articles plus labels."""


@dataclass
class LabelledArticle:
    id: str
    split: str
    sentences: list[str]
    labels: list[dict] | None  # None: unlabelled, learnt from a teacher's outputs only
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
    """Articles joined with their labels; ``extra_labels`` are merged over them as :func:`merge_corpus` says."""
    return merge_corpus(articles_path, labels_path, extra_labels)[0]


@dataclass
class MergeReport:
    """What merging extra label files did to the corpus, for the log and the model card."""

    files: list[dict[str, Any]] = field(default_factory=list)  # per file: path, records, overridden, duplicates, added
    new_articles: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> split, sentences
    merged: set[tuple[str, int]] = field(default_factory=set)  # sentences whose label came from an extra file

    def total(self, count: str) -> int:
        return sum(f[count] for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.total("records"),
            "overridden": self.total("overridden"),
            "duplicates_dropped": self.total("duplicates"),
            "added": self.total("added"),
            "new_articles": len(self.new_articles),
            "new_sentences": sum(a["sentences"] for a in self.new_articles.values()),
            "files": self.files,
        }


def merge_corpus(
    articles_path: str | Path, labels_path: str | Path, extra_labels: list[str | Path] = (), default_split: str = "train"
) -> tuple[list[LabelledArticle], MergeReport]:
    """The corpus with extra label files merged over it, and what the merge did.

    Labels are keyed by (article_id, sentence_index): a later record replaces an earlier one
    (later files win, and later lines within a file), and a record identical to the label
    already in place is dropped and counted. Records of an article that is not in the
    articles file form a new article whose sentences are the records' texts; it must label
    every sentence 0..n-1 and goes to ``default_split`` unless its records name a ``split``.
    Every problem is collected and raised together, each naming its file and line.
    """
    labels: dict[tuple[str, int], tuple[dict, str, int]] = {}
    for number, rec in read_jsonl(labels_path):
        labels[_label_key(rec, labels_path, number)] = (rec, str(labels_path), number)
    in_order: list[tuple[dict, int]] = []
    for number, art in read_jsonl(articles_path):
        if not isinstance(art, dict) or "id" not in art or not isinstance(art.get("sentences"), list):
            raise CorpusError(f"{articles_path}:{number}: not an article (needs 'id' and a 'sentences' list)")
        in_order.append((art, number))
    articles = {str(art["id"]): (art, number) for art, number in in_order}

    report = MergeReport()
    problems: list[str] = []
    new: dict[str, dict[int, tuple[dict, str, int]]] = {}
    for path in map(str, extra_labels):
        counts = {"path": path, "records": 0, "overridden": 0, "duplicates": 0, "added": 0}
        for number, rec in read_jsonl(path):
            key = _label_key(rec, path, number)
            aid, index = key
            counts["records"] += 1
            where = f"{path}:{number}"
            if aid in articles:
                art = articles[aid][0]
                sentences, split = art["sentences"], art.get("split", default_split)
                if index >= len(sentences):
                    problems.append(f"{where}: article {aid!r} has only {len(sentences)} sentences in {articles_path}")
                    continue
                if rec.get("text") != sentences[index]:
                    problems.append(f"{where}: text differs from sentence {index} of article {aid!r} in {articles_path}")
                    continue
                if rec.get("split") is not None and rec["split"] != split:
                    problems.append(
                        f"{where}: split {rec['split']!r} differs from the split {split!r} of article {aid!r} "
                        f"in {articles_path}; labels cannot move a known article"
                    )
                    continue
                previous = labels.get(key)
            else:
                previous = new.setdefault(aid, {}).get(index)
                if previous is not None and previous[0].get("text") != rec.get("text"):
                    problems.append(
                        f"{where}: text differs from the earlier label of sentence {index} of new article {aid!r} "
                        f"({previous[1]}:{previous[2]})"
                    )
                    continue
            if previous is None:
                counts["added"] += 1
            elif _same_label(previous[0], rec, with_split=aid not in articles):
                counts["duplicates"] += 1
                continue
            else:
                counts["overridden"] += 1
            entry = (rec, path, number)
            if aid in articles:
                labels[key] = entry
            else:
                new[aid][index] = entry
            report.merged.add(key)
        report.files.append(counts)

    new_articles = _new_articles(new, articles, articles_path, default_split, problems)
    if problems:
        raise CorpusError(f"merging the extra label files found {len(problems)} problem(s):\n{_listing(problems)}")

    corpus = []
    for art, number in in_order:
        aid = str(art["id"])
        sentence_labels = []
        for i, text in enumerate(art["sentences"]):
            entry = labels.get((aid, i))
            if entry is None:
                raise CorpusError(f"{articles_path}:{number}: sentence {i} of article {aid!r} has no label")
            rec, path, line = entry
            if rec.get("text") != text:
                raise CorpusError(f"{path}:{line}: text differs from sentence {i} of article {aid!r} in {articles_path}")
            sentence_labels.append(rec)
        meta = {k: v for k, v in art.items() if k not in ("id", "split", "sentences")}
        corpus.append(LabelledArticle(aid, art.get("split", default_split), list(art["sentences"]), sentence_labels, meta))
    for article in new_articles:
        report.new_articles[article.id] = {"split": article.split, "sentences": len(article.sentences)}
        corpus.append(article)
    return corpus, report


def _label_key(rec: Any, path: str | Path, number: int) -> tuple[str, int]:
    """The sentence a label record is for; a record without one is named by file and line."""
    if not isinstance(rec, dict) or not isinstance(rec.get("article_id"), str) or not isinstance(rec.get("sentence_index"), int):
        raise CorpusError(f"{path}:{number}: not a label record (needs 'article_id' and an integer 'sentence_index')")
    return rec["article_id"], rec["sentence_index"]


def _same_label(a: dict, b: dict, with_split: bool) -> bool:
    """Two records say the same thing about one sentence (other fields, e.g. scores, do not count).

    A known article's split is checked against the articles file, so only a new article's records compare it.
    """
    keys = ("text", "speaker", "stance", "split") if with_split else ("text", "speaker", "stance")
    return all(a.get(k) == b.get(k) for k in keys)


def _new_articles(
    new: dict[str, dict[int, tuple[dict, str, int]]],
    known: dict[str, tuple[dict, int]],
    articles_path: str | Path,
    default_split: str,
    problems: list[str],
) -> list[LabelledArticle]:
    """Articles made of extra label records: complete, of one split, sharing no sentence with another split."""
    seen = {}
    for aid, (art, _) in known.items():
        for s in art["sentences"]:
            seen.setdefault(sentence_key(s), (art.get("split", default_split), aid))
    made = []
    for aid, by_index in new.items():
        files = ", ".join(sorted({path for _, path, _ in by_index.values()}))
        n = max(by_index) + 1
        missing = [i for i in range(n) if i not in by_index]
        if missing:
            problems.append(
                f"{files}: article {aid!r} is not in {articles_path}, so its labels make a new article, but sentence(s) "
                f"{_ranges(missing)} of its {n} have no label; label every sentence of the article, from 0 on, "
                f"or add the article to {articles_path}"
            )
            continue
        splits = sorted({rec["split"] for rec, _, _ in by_index.values() if rec.get("split") is not None}, key=str)
        if len(splits) > 1:
            problems.append(f"{files}: the records of new article {aid!r} name different splits {splits}; give them one split")
            continue
        split = splits[0] if splits else default_split
        if split not in SPLITS:
            problems.append(f"{files}: new article {aid!r} has split {split!r}; must be one of {', '.join(SPLITS)}")
            continue
        sentences = [by_index[i][0]["text"] for i in range(n)]
        for i, s in enumerate(sentences):
            other = seen.setdefault(sentence_key(s), (split, aid))
            if other[0] != split:
                rec, path, line = by_index[i]
                problems.append(
                    f"{path}:{line}: sentence {i} of new article {aid!r} (split {split!r}) is also in split {other[0]!r} "
                    f"(article {other[1]!r}); a sentence must not be in two splits"
                )
        made.append(LabelledArticle(aid, split, sentences, [by_index[i][0] for i in range(n)], {}))
    return made


def _listing(problems: list[str], shown: int = 20) -> str:
    """The first problems of a long list, indented, and how many more there are."""
    lines = "\n".join(f"  {p}" for p in problems[:shown])
    return lines + (f"\n  … and {len(problems) - shown} more" if len(problems) > shown else "")


def _ranges(indexes: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7': missing sentences of a long article stay readable."""
    parts, start = [], None
    for k, i in enumerate(indexes):
        if start is None:
            start = i
        if k + 1 == len(indexes) or indexes[k + 1] != i + 1:
            parts.append(str(i) if start == i else f"{start}-{i}")
            start = None
    return ", ".join(parts)


def load_unlabelled(path: str | Path, held_out: list[LabelledArticle]) -> list[LabelledArticle]:
    """Articles without labels for distillation, in either input form ('sentences' or 'text').

    A sentence that is also in a held-out split would let the teacher's view of dev or
    test leak into training, so it is an error, as is a repeated id.
    """
    seen = {sentence_key(s): a.id for a in held_out for s in a.sentences}
    articles, ids, problems = [], set(), []
    for number, record in read_jsonl(path):
        try:
            article = article_from_record(record)
        except RecordError as e:
            problems.append(f"{path}:{number}: {e}")
            continue
        if article.id in ids:
            problems.append(f"{path}:{number}: article id {article.id!r} appears twice")
            continue
        ids.add(article.id)
        leak = next((i for i, s in enumerate(article.sentences) if sentence_key(s) in seen), None)
        if leak is not None:
            other = seen[sentence_key(article.sentences[leak])]
            problems.append(
                f"{path}:{number}: sentence {leak} of {article.id!r} is also in held-out article {other!r}; "
                "unlabelled text must not overlap dev or test"
            )
            continue
        articles.append(LabelledArticle(article.id, "unlabelled", article.sentences, None, {}))
    if problems:
        raise CorpusError(f"the unlabelled articles have {len(problems)} problem(s):\n{_listing(problems)}")
    if not articles:
        raise CorpusError(f"{path}: no articles")
    return articles


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
                "article": article.id,
                "sentences": [t.sentence for t in window.targets],
            }
            if article.labels is None:
                for name in [*schema.heads, "span_start", "span_end"]:
                    row[name] = [IGNORE] * len(window.targets)
                rows.append(row)
                continue
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
