"""`sourcestance data import`: labels from Label Studio, doccano or a spreadsheet into contract records.

Each reader turns a task, line or row into a *draft* (the fields the labeller gave); one
function then fills the defaults the contract implies, builds the record and checks it
with the same rules as `data validate`. Every bad row is reported, the good ones are kept,
so a labeller fixes a file in one pass and nothing labelled is lost meanwhile.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.config import LabelsConfig
from inference.schema import STANCE_PREFIX, stance_head
from training.labelstudio import annotation_fields, latest_annotation
from training.validate import Problem, json_object_lines, label_problems

FORMATS = ("label-studio", "doccano", "csv")


class LabelFileError(ValueError):
    """A file that cannot be read as labels at all (missing, not JSON, no usable header)."""


@dataclass
class ImportResult:
    records: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows: int = 0
    skipped: int = 0  # Label Studio tasks with no (non-cancelled) annotation

    @property
    def bad_rows(self) -> int:
        return len({p.line for p in self.problems})


@dataclass
class _Row:
    number: int
    draft: dict | None  # None: skipped (not labelled yet)
    errors: list[tuple[str, str]] = field(default_factory=list)
    ref: str = ""  # how the labelling tool names the row, added to its problems


def import_labels(path: str | Path, fmt: str, labels: LabelsConfig | None = None) -> ImportResult:
    """Read ``path`` in format ``fmt`` (one of FORMATS) into validated contract label records."""
    labels = labels or LabelsConfig()
    path = Path(path)
    if fmt not in FORMATS:
        raise LabelFileError(f"unknown label format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise LabelFileError(f"{path}: file not found")
    reader, unit = {"label-studio": (_label_studio, "task"), "doccano": (_doccano, "line"), "csv": (_csv, "row")}[fmt]
    result = ImportResult()
    first_row: dict[tuple[str, int], int] = {}
    for row in reader(path, labels):
        result.rows += 1
        if row.draft is None and not row.errors:
            result.skipped += 1
            continue
        record, errors = build_record(row.draft or {}, labels) if row.draft is not None else (None, [])
        errors = row.errors + [e for e in errors if not _restates(e, row.errors)]
        if record is not None and not errors:
            key = (record["article_id"], record["sentence_index"])
            if key in first_row:
                first = f"{unit} {first_row[key]}"
                errors.append(("sentence_index", f"duplicate label for {key[0]!r} sentence {key[1]} (first at {first})"))
            else:
                first_row[key] = row.number
        if errors:
            result.problems += [Problem(str(path), row.number, f, m + row.ref) for f, m in errors]
        else:
            result.records.append(record)
    return result


def build_record(draft: dict, labels: LabelsConfig) -> tuple[dict, list[tuple[str, str]]]:
    """A contract record from a draft, with the defaults the contract implies, and its problems.

    Attribution ``none`` implies no span and no mention and the author as affiliation; an
    attributed sentence without a mention takes its span as mention. Anything else missing
    is a problem, reported as missing rather than as a wrong value.
    """
    missing = [name for name in ("article_id", "sentence_index", "text", "attribution") if draft.get(name) is None]
    attribution = draft.get("attribution")
    span = draft.get("span") or None
    if attribution == labels.no_attribution:
        mention = draft.get("mention") or None
        affiliation = draft.get("affiliation") or labels.author_affiliation
    else:
        mention = draft.get("mention") or span
        affiliation = draft.get("affiliation")
        if affiliation is None and attribution is not None:
            missing.append("affiliation")
    stance = dict(draft.get("stance") or {})
    missing += [f"stance.{t}" for t in labels.targets if stance.get(t) is None]
    record = {
        "article_id": draft.get("article_id"),
        "sentence_index": draft.get("sentence_index"),
        "text": draft.get("text"),
        "speaker": {"attribution": attribution, "span": span, "mention": mention, "affiliation": affiliation},
        "stance": {**{t: stance.get(t) for t in labels.targets}, **stance},
    }
    paths = [m if m in ("article_id", "sentence_index", "text") or m.startswith("stance.") else f"speaker.{m}" for m in missing]
    errors = [(p, "missing") for p in paths]
    errors += [(f, m) for f, m in label_problems(record, labels) if f not in paths and not _follows_from(f, paths)]
    return record, errors


def _follows_from(field: str, missing: list[str]) -> bool:
    """A problem that only restates a missing field (affiliation rule when attribution is missing)."""
    return field in ("speaker.affiliation", "speaker.mention", "speaker") and "speaker.attribution" in missing


def _restates(error: tuple[str, str], parse_errors: list[tuple[str, str]]) -> bool:
    """A check failing only because reading the field already failed (and was reported)."""
    fields = {f for f, _ in parse_errors}
    return error[0] in fields or (error[0] == "speaker.mention" and "speaker.span" in fields)


def write_records(records: list[dict], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


# --- Label Studio JSON export ------------------------------------------------------------------


def _label_studio(path: Path, labels: LabelsConfig) -> Iterator[_Row]:
    """A JSON export: a list of tasks; the latest non-cancelled annotation of each is the label."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LabelFileError(f"{path}: not a Label Studio JSON export ({e})") from None
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise LabelFileError(f"{path}: a Label Studio JSON export is a list of tasks, got {type(tasks).__name__}")
    for number, task in enumerate(tasks, 1):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            yield _Row(number, None, [("task", "not a task with a data object")])
            continue
        annotation = latest_annotation(task)
        if annotation is None:
            yield _Row(number, None)
            continue
        data = task["data"]
        draft, errors = annotation_fields(annotation.get("result"), data.get("text"))
        draft.update(_ids(data, errors))
        draft["text"] = data.get("text")
        yield _Row(number, draft, errors, f" (task id {task['id']})" if task.get("id") is not None else "")


def _ids(source: dict, errors: list[tuple[str, str]]) -> dict:
    """article_id and sentence_index from a mapping whose values may come as text (CSV, metadata)."""
    ids: dict[str, Any] = {}
    aid = source.get("article_id")
    if aid is not None and aid != "":
        ids["article_id"] = str(aid) if isinstance(aid, (str, int)) and not isinstance(aid, bool) else aid
    index = source.get("sentence_index")
    if isinstance(index, str) and index.strip().isdigit():
        index = int(index)
    elif isinstance(index, float) and index.is_integer():
        index = int(index)
    if index is not None and index != "":
        if isinstance(index, int) and not isinstance(index, bool):
            ids["sentence_index"] = index
        else:
            errors.append(("sentence_index", f"must be an integer >= 0, got {index!r}"))
    return ids


# --- doccano JSONL -----------------------------------------------------------------------------


def _doccano(path: Path, labels: LabelsConfig) -> Iterator[_Row]:
    """One sentence per line: spans labelled ``speaker``, categories ``field:value`` (see README)."""
    bad: list[Problem] = []
    for number, rec in json_object_lines(str(path), bad):
        yield from (_Row(p.line, None, [(p.field, p.message)]) for p in bad)  # bad lines before this one
        bad.clear()
        yield _Row(number, *_doccano_draft(rec, labels))
    yield from (_Row(p.line, None, [(p.field, p.message)]) for p in bad)


def _doccano_draft(rec: dict, labels: LabelsConfig) -> tuple[dict, list[tuple[str, str]]]:
    errors: list[tuple[str, str]] = []
    meta = {**(rec.get("meta") if isinstance(rec.get("meta"), dict) else {}), **rec}
    text = rec.get("text")
    draft: dict[str, Any] = {"text": text, **_ids(meta, errors)}
    spans, categories = [], []
    for key in ("entities", "label", "labels", "cats"):
        for item in rec.get(key) or []:
            if isinstance(item, str):
                categories.append(item)
            elif isinstance(item, dict) and "start_offset" in item:
                spans.append((item.get("start_offset"), item.get("end_offset"), item.get("label")))
            elif isinstance(item, (list, tuple)) and len(item) == 3:
                spans.append(tuple(item))
            else:
                errors.append((key, f"not a span or a category: {item!r}"))
    for start, end, label in spans:
        if label != "speaker":
            errors.append(("speaker.span", f"unknown span label {label!r} (expected 'speaker')"))
        elif not (isinstance(start, int) and isinstance(end, int) and isinstance(text, str) and 0 <= start < end <= len(text)):
            errors.append(("speaker.span", f"offsets {start}..{end} are outside the text"))
        elif "span" in draft:
            errors.append(("speaker.span", "more than one speaker span"))
        else:
            draft["span"] = text[start:end].strip()
    stance: dict[str, str] = {}
    for category in categories:
        parts = category.split(":")
        if len(parts) == 2 and parts[0] in ("attribution", "affiliation"):
            slot, where = draft, f"speaker.{parts[0]}"
            name = parts[0]
        elif len(parts) == 3 and parts[0] == "stance":
            slot, where, name = stance, f"stance.{parts[1]}", parts[1]
        else:
            errors.append(("category", f"{category!r} is not attribution:V, affiliation:V or stance:TARGET:V"))
            continue
        if name in slot and slot[name] != parts[-1]:
            errors.append((where, f"two values, {slot[name]!r} and {parts[-1]!r}"))
        slot[name] = parts[-1]
    # doccano categories are only added for what is there: a target without one is `none`
    draft["stance"] = {**{t: labels.no_stance for t in labels.targets}, **stance}
    mention = meta.get("mention")
    if isinstance(mention, str) and mention.strip():
        draft["mention"] = mention.strip()
    return draft, errors


# --- flat CSV ----------------------------------------------------------------------------------

CSV_REQUIRED = ("article_id", "sentence_index", "text", "attribution")
CSV_OPTIONAL = ("span", "mention", "affiliation")


def _csv(path: Path, labels: LabelsConfig) -> Iterator[_Row]:
    """One row per sentence; empty cells are missing; rows are numbered as a spreadsheet shows them."""
    try:
        f = open(path, encoding="utf-8-sig", newline="")
        with f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            stance_columns = [stance_head(t) for t in labels.targets]
            absent = [c for c in (*CSV_REQUIRED, *stance_columns) if c not in columns]
            unknown = [c for c in columns if c and c.startswith(STANCE_PREFIX) and c not in stance_columns]
            if absent or unknown:
                why = [f"missing columns {', '.join(absent)}"] if absent else []
                why += [f"columns for unknown targets {', '.join(unknown)} (configured: {labels.targets})"] if unknown else []
                raise LabelFileError(f"{path}: {'; '.join(why)}")
            for number, row in enumerate(reader, 2):  # the header is row 1
                cells = {k: v.strip() for k, v in row.items() if isinstance(k, str) and isinstance(v, str) and v.strip()}
                errors: list[tuple[str, str]] = []
                if None in row:
                    errors.append(("row", f"{len(row[None])} more cells than header columns"))
                draft: dict[str, Any] = {"text": cells.get("text"), **_ids(cells, errors)}
                draft.update({k: cells[k] for k in ("attribution", *CSV_OPTIONAL) if k in cells})
                draft["stance"] = {t: cells[stance_head(t)] for t in labels.targets if stance_head(t) in cells}
                yield _Row(number, draft, errors)
    except UnicodeDecodeError as e:
        raise LabelFileError(f"{path}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise LabelFileError(f"{path}: not a readable CSV file ({e})") from None
