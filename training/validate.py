"""`sourcestance data validate`: check corpus files against the label contract.

Each problem is reported with file, line and field, all of them in one run, so a
labeller can fix a file in one pass.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from inference.config import LabelsConfig

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


def validate_files(paths: list[str | Path], labels: LabelsConfig | None = None) -> list[Problem]:
    """Validate article and label files; files of both kinds are also checked against each other."""
    labels = labels or LabelsConfig()
    problems: list[Problem] = []
    articles: dict[str, tuple[str, int, dict]] = {}
    label_recs: dict[tuple[str, int], tuple[str, int, dict]] = {}
    for path in map(str, paths):
        for number, rec in json_object_lines(path, problems):
            if "article_id" in rec:
                _check_label(rec, path, number, labels, problems, label_recs)
            elif "sentences" in rec:
                _check_article(rec, path, number, problems, articles)
            else:
                problems.append(Problem(path, number, "line", "neither an article (sentences) nor a label (article_id)"))
    if articles and label_recs:
        _cross_check(articles, label_recs, problems)
    return problems


def validate_merged_labels(paths: list[str | Path], labels: LabelsConfig | None = None) -> list[Problem]:
    """Check label files that `train --data` merges over the corpus, each record against the contract.

    Unlike corpus files, a sentence may be labelled again (the later label wins) and a record
    may name an article the articles file lacks (it is part of a new article); how the records
    fit the corpus is checked when they are merged (training.data.merge_corpus).
    """
    labels = labels or LabelsConfig()
    problems: list[Problem] = []
    for path in map(str, paths):
        for number, rec in json_object_lines(path, problems):
            if "article_id" not in rec:
                problems.append(Problem(path, number, "line", "not a label record (article_id); --data takes label files"))
                continue
            problems.extend(Problem(path, number, field, message) for field, message in label_problems(rec, labels))
            if "split" in rec and rec["split"] not in SPLITS:
                problems.append(Problem(path, number, "split", f"must be one of {', '.join(SPLITS)}, got {rec['split']!r}"))
    return problems


def sentence_key(text: str) -> str:
    """A sentence as the split-leak checks compare it: case and spacing do not count."""
    return " ".join(text.lower().split())


def json_object_lines(path: str, problems: list[Problem]) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each JSON object of a JSONL file; every other line becomes a problem."""
    if not Path(path).is_file():
        problems.append(Problem(path, 0, "file", "not found"))
        return
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                problems.append(Problem(path, number, "line", "not valid UTF-8"))
                continue
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(Problem(path, number, "line", f"not valid JSON ({e.msg})"))
                continue
            if not isinstance(rec, dict):
                problems.append(Problem(path, number, "line", "not a JSON object"))
                continue
            yield number, rec


def _check_article(rec: dict, path: str, number: int, problems: list[Problem], seen: dict) -> None:
    def bad(field: str, message: str) -> None:
        problems.append(Problem(path, number, field, message))

    aid = rec.get("id")
    if not isinstance(aid, str) or not aid:
        bad("id", "missing or not a non-empty string")
        return
    if aid in seen:
        bad("id", f"duplicate article id {aid!r} (first at line {seen[aid][1]})")
    for key in ("title", "date"):
        if not isinstance(rec.get(key), str) or not rec.get(key):
            bad(key, "missing or not a non-empty string")
    if rec.get("split") not in SPLITS:
        bad("split", f"must be one of {', '.join(SPLITS)}, got {rec.get('split')!r}")
    sentences = rec.get("sentences")
    if not isinstance(sentences, list) or not sentences:
        bad("sentences", "must be a non-empty list")
        return
    for i, s in enumerate(sentences):
        if not isinstance(s, str) or not s.strip():
            bad(f"sentences[{i}]", "must be a non-empty string")
        elif s != s.strip() or "\n" in s:
            bad(f"sentences[{i}]", "has leading/trailing whitespace or a line break")
    seen[aid] = (path, number, rec)


def _check_label(rec: dict, path: str, number: int, labels: LabelsConfig, problems: list[Problem], seen: dict) -> None:
    problems.extend(Problem(path, number, field, message) for field, message in label_problems(rec, labels))
    aid, index = rec.get("article_id"), rec.get("sentence_index")
    if isinstance(aid, str) and isinstance(index, int):
        if (aid, index) in seen:
            problems.append(
                Problem(
                    path,
                    number,
                    "sentence_index",
                    f"duplicate label for {aid!r} sentence {index} (first at line {seen[(aid, index)][1]})",
                )
            )
        seen[(aid, index)] = (path, number, rec)


def label_problems(rec: dict, labels: LabelsConfig) -> list[tuple[str, str]]:
    """``(field, message)`` for each way one label record breaks the contract; label import reuses it."""
    found: list[tuple[str, str]] = []

    def bad(field: str, message: str) -> None:
        found.append((field, message))

    aid, index, text = rec.get("article_id"), rec.get("sentence_index"), rec.get("text")
    if not isinstance(aid, str) or not aid:
        bad("article_id", "missing or not a non-empty string")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        bad("sentence_index", f"must be an integer >= 0, got {index!r}")
    if not isinstance(text, str) or not text.strip():
        bad("text", "missing or empty")
        text = None
    speaker = rec.get("speaker")
    if not isinstance(speaker, dict):
        bad("speaker", "missing or not an object")
    else:
        extra = set(speaker) - {"attribution", "span", "mention", "affiliation"}
        if extra:
            bad("speaker", f"unknown fields {sorted(extra)}")
        att, aff = speaker.get("attribution"), speaker.get("affiliation")
        span, mention = speaker.get("span"), speaker.get("mention")
        if att not in labels.attribution:
            bad("speaker.attribution", f"must be one of {labels.attribution}, got {att!r}")
        if aff not in labels.affiliation:
            bad("speaker.affiliation", f"must be one of {labels.affiliation}, got {aff!r}")
        if (att == labels.no_attribution) != (aff == labels.author_affiliation):
            bad(
                "speaker.affiliation",
                f"must be {labels.author_affiliation!r} exactly when attribution is {labels.no_attribution!r}",
            )
        if span is not None:
            if not isinstance(span, str) or not span.strip():
                bad("speaker.span", "must be null or a non-empty string")
            elif text is not None and span not in text:
                bad("speaker.span", f"{span!r} is not an exact substring of text")
            elif span != span.strip():
                bad("speaker.span", "has leading or trailing whitespace")
        if mention is not None and (not isinstance(mention, str) or not mention.strip()):
            bad("speaker.mention", "must be null or a non-empty string")
        if att == labels.no_attribution and (span is not None or mention is not None):
            bad("speaker", "span and mention must be null when attribution is 'none'")
        if att in labels.attribution and att != labels.no_attribution and mention is None:
            bad("speaker.mention", "an attributed sentence needs a mention")
    stance = rec.get("stance")
    if not isinstance(stance, dict):
        bad("stance", "missing or not an object")
    else:
        for target in labels.targets:
            if stance.get(target) not in labels.stance:
                bad(f"stance.{target}", f"must be one of {labels.stance}, got {stance.get(target)!r}")
        for target in set(stance) - set(labels.targets):
            bad(f"stance.{target}", f"unknown target (configured: {labels.targets})")
    return found


def _cross_check(articles: dict, labels: dict, problems: list[Problem]) -> None:
    by_article: dict[str, list[int]] = defaultdict(list)
    for (aid, index), (path, number, rec) in labels.items():
        if aid not in articles:
            problems.append(Problem(path, number, "article_id", f"no article {aid!r}"))
            continue
        by_article[aid].append(index)
        sentences = articles[aid][2]["sentences"]
        if index >= len(sentences):
            problems.append(Problem(path, number, "sentence_index", f"article {aid!r} has only {len(sentences)} sentences"))
        elif rec.get("text") != sentences[index]:
            problems.append(Problem(path, number, "text", f"differs from sentence {index} of article {aid!r}"))
    first_split: dict[str, tuple[str, str]] = {}
    for aid, (path, number, art) in articles.items():
        indexes = sorted(by_article.get(aid, []))
        n = len(art["sentences"])
        if indexes != list(range(len(indexes))):
            problems.append(Problem(path, number, "sentences", f"label indexes of {aid!r} are not contiguous from 0"))
        elif len(indexes) != n:
            problems.append(Problem(path, number, "sentences", f"{n - len(indexes)} of {n} sentences of {aid!r} have no label"))
        for s in art["sentences"]:
            key = sentence_key(s)
            if key in first_split and first_split[key][0] != art.get("split"):
                problems.append(
                    Problem(
                        path,
                        number,
                        "sentences",
                        f"sentence also in split {first_split[key][0]!r} (article {first_split[key][1]!r}): {s[:60]!r}",
                    )
                )
            first_split.setdefault(key, (art.get("split"), aid))
