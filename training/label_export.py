"""`sourcestance data export-tasks` and `suggest`: sentences out to Label Studio as pre-labelled tasks.

The model's labels go in as a prediction, so labellers correct them instead of starting
from zero, and its confidence goes in as the prediction's score, so Label Studio can sort
the least certain first.
"""

from __future__ import annotations

import json
from pathlib import Path

from inference.config import LabelsConfig
from training.labelstudio import context_of, make_task
from training.suggest import uncertainty
from training.validate import Problem, json_object_lines


def read_scored(path: str | Path) -> tuple[list[dict], list[Problem]]:
    """Sentence records of a JSONL file (`sourcestance score` output, or labels); bad lines as problems."""
    records: list[dict] = []
    problems: list[Problem] = []
    path = str(path)
    for number, rec in json_object_lines(path, problems):
        found = _sentence_problems(rec)
        problems += [Problem(path, number, f, m) for f, m in found]
        if not found:
            records.append(rec)
    return records, problems


def _sentence_problems(rec: dict) -> list[tuple[str, str]]:
    found = []
    if not isinstance(rec.get("article_id"), str) or not rec["article_id"]:
        found.append(("article_id", "missing or not a non-empty string (is this a scored sentence file?)"))
    index = rec.get("sentence_index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        found.append(("sentence_index", f"must be an integer >= 0, got {index!r}"))
    if not isinstance(rec.get("text"), str) or not rec["text"].strip():
        found.append(("text", "missing or empty"))
    return found


def tasks_for_records(records: list[dict], labels: LabelsConfig, context: int | None = None) -> list[dict]:
    """One task per record, in input order; context is the article's earlier sentences in the file."""
    sentences: dict[str, dict[int, str]] = {}
    for rec in records:
        sentences.setdefault(rec["article_id"], {})[rec["sentence_index"]] = rec["text"]
    tasks = []
    for rec in records:
        known = sentences[rec["article_id"]]
        before = [known[i] for i in sorted(known) if i < rec["sentence_index"]]
        score = 1.0 - uncertainty(rec)[0] if rec.get("scores") else None
        tasks.append(make_task(rec, context_of(before, len(before), context), labels, score))
    return tasks


def write_tasks(tasks: list[dict], path: str | Path) -> None:
    """A JSON list of tasks, the form Label Studio imports."""
    Path(path).write_text(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
