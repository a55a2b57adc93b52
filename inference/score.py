"""Batch scoring of article files: streaming, fault-tolerant and resumable.

The input (JSONL, CSV, Parquet or a saved ``datasets`` folder, see sources.py) is read
record by record and scored a chunk of articles at a time, so memory
stays flat however large the corpus. A bad record goes to ``OUT.rejects.jsonl`` with
its line number and reason, and the job goes on. After each chunk the output is
flushed and a small state file records how far the job got (input lines, output
bytes); ``--resume`` truncates anything written after that point and continues, so an
interrupted run ends with exactly the lines of an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from inference.predict import Predictor
from inference.records import Article, RecordError, article_from_record
from inference.sources import detect_format, iter_source, size_of

DEFAULT_MAX_CHARS = 100_000


class ScoreJobError(RuntimeError):
    """A scoring job that cannot start as asked (existing output, mismatched resume state)."""


@dataclass
class ScoreSummary:
    articles: int = 0
    sentences: int = 0
    rejects: int = 0
    seconds: float = 0.0
    affiliation: Counter = field(default_factory=Counter)
    attribution: Counter = field(default_factory=Counter)
    stance: dict[str, Counter] = field(default_factory=dict)
    speakers: Counter = field(default_factory=Counter)

    def add(self, records: list[dict]) -> None:
        self.articles += 1
        self.sentences += len(records)
        for r in records:
            self.attribution[r["speaker"]["attribution"]] += 1
            self.affiliation[r["speaker"]["affiliation"]] += 1
            if r["speaker"]["mention"]:
                self.speakers[(r["speaker"]["mention"], r["speaker"]["affiliation"])] += 1
            for target, value in r["stance"].items():
                self.stance.setdefault(target, Counter())[value] += 1

    def render(self) -> str:
        rate = self.sentences / self.seconds if self.seconds else 0.0
        lines = [
            f"scored {self.articles} articles, {self.sentences} sentences in {self.seconds:.1f} s "
            f"({rate:.1f} sentences/s); {self.rejects} rejected",
        ]
        if self.sentences:
            lines.append("speakers by side: " + _shares(self.affiliation, self.sentences))
            lines.append("attribution: " + _shares(self.attribution, self.sentences))
            for target, counts in self.stance.items():
                lines.append(f"stance toward {target}: " + _shares(counts, self.sentences))
            top = self.speakers.most_common(8)
            if top:
                lines.append("most quoted sources:")
                lines += [f"  {n:4d}  {mention} ({side})" for (mention, side), n in top]
        return "\n".join(lines)


def _shares(counts: Counter, total: int) -> str:
    return ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in counts.most_common())


def read_articles(
    items: Iterable[tuple[int, bytes | dict]], max_chars: int | None = DEFAULT_MAX_CHARS
) -> Iterator[tuple[int, Article | dict]]:
    """Yield ``(number, Article)`` or ``(number, reject record)`` for each source payload."""
    for number, raw in items:
        if isinstance(raw, bytes):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield number, {"line": number, "id": None, "reason": f"not valid UTF-8 ({e.reason} at byte {e.start})"}
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as e:
                yield number, {"line": number, "id": None, "reason": f"not valid JSON ({e.msg})"}
                continue
        else:
            record = raw
        try:
            yield number, article_from_record(record, max_chars)
        except RecordError as e:
            yield number, {"line": number, "id": e.record_id, "reason": e.reason}


class ScoreJob:
    """Score one corpus into a JSONL file; see the module docstring for the guarantees."""

    def __init__(
        self,
        predictor: Predictor,
        input_path: str | Path,
        output_path: str | Path,
        rejects_path: str | Path | None = None,
        chunk_articles: int = 64,
        max_chars: int | None = DEFAULT_MAX_CHARS,
        progress: bool = True,
        input_format: str | None = None,
    ):
        self.predictor = predictor
        self.input_path = Path(input_path)
        self.input_format = detect_format(self.input_path, input_format)
        self.final_path = Path(output_path)
        # Parquet cannot be appended to safely: lines go to a resumable JSONL first and
        # become the Parquet file when the job completes.
        self.parquet = self.final_path.suffix.lower() == ".parquet"
        self.output_path = self.final_path.with_name(self.final_path.name + ".partial.jsonl") if self.parquet else self.final_path
        self.rejects_path = Path(rejects_path) if rejects_path else sibling(self.final_path, ".rejects.jsonl")
        self.state_path = sibling(self.final_path, ".progress.json")
        self.chunk_articles = chunk_articles
        self.max_chars = max_chars
        self.progress = progress

    def run(self, resume: bool = False, overwrite: bool = False) -> ScoreSummary:
        if not self.input_path.exists():
            raise ScoreJobError(f"input {self.input_path} not found")
        state = self._start(resume, overwrite)
        summary = ScoreSummary(articles=state["articles"], sentences=state["sentences"], rejects=state["rejects"])
        if state.get("complete"):
            return summary
        start = time.time()
        chunk: list[Article] = []
        chunk_rejects: list[dict] = []
        total, unit = size_of(self.input_path, self.input_format)
        with open(self.output_path, "ab") as out, open(self.rejects_path, "ab") as rej:
            bar = tqdm(total=total, unit=unit, unit_scale=unit == "B", desc="scoring", disable=not self.progress)
            items = iter_source(self.input_path, self.input_format, state["lines_done"], bar.update)
            last_line = state["lines_done"]
            # One chunk is tokenised on a helper thread while the previous one runs the model.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenise") as pool:
                pending = None
                for number, item in read_articles(items, self.max_chars):
                    last_line = number
                    if isinstance(item, Article):
                        chunk.append(item)
                    else:
                        chunk_rejects.append(item)
                    if len(chunk) >= self.chunk_articles:
                        if pending:
                            self._commit(*pending, out, rej, state, summary)
                            _postfix(bar, summary, time.time() - start)
                        pending = (chunk, pool.submit(self.predictor.prepare, chunk), chunk_rejects, number)
                        chunk, chunk_rejects = [], []
                if pending:
                    self._commit(*pending, out, rej, state, summary)
            line = max(last_line, state["lines_done"])
            self._commit(chunk, None, chunk_rejects, line, out, rej, state, summary)
            bar.close()
        if self.parquet:
            jsonl_to_parquet(self.output_path, self.final_path)
            self.output_path.unlink()
        state["complete"] = True
        _write_state(self.state_path, state)
        summary.seconds = time.time() - start
        return summary

    def _start(self, resume: bool, overwrite: bool) -> dict:
        fresh = {
            "input": str(self.input_path),
            "lines_done": 0,
            "output_bytes": 0,
            "rejects_bytes": 0,
            "articles": 0,
            "sentences": 0,
            "rejects": 0,
            "complete": False,
        }
        if resume and self.state_path.is_file():
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            if state.get("input") != str(self.input_path):
                raise ScoreJobError(f"{self.state_path} belongs to input {state.get('input')}, not {self.input_path}")
            # Anything after the last committed chunk may be torn: cut it off.
            for path, size in ((self.output_path, state["output_bytes"]), (self.rejects_path, state["rejects_bytes"])):
                with open(path, "ab") as f:
                    f.truncate(size)
            return state
        if self.final_path.exists() and not (overwrite or resume):
            raise ScoreJobError(f"{self.final_path} exists; pass --resume to continue it or --overwrite to replace it")
        self.output_path.parent.mkdir(parents=True, exist_ok=True)
        for path in (self.output_path, self.rejects_path):
            path.write_bytes(b"")
        _write_state(self.state_path, fresh)
        return fresh

    def _commit(self, chunk, prepared, rejects, line, out, rej, state, summary) -> None:
        if chunk:
            results = self.predictor.predict(chunk, prepared.result() if prepared else None)
            payload = []
            for records in results:
                summary.add(records)
                payload += [json.dumps(r, ensure_ascii=False) for r in records]
            out.write(("\n".join(payload) + "\n").encode("utf-8"))
        if rejects:
            rej.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects).encode("utf-8"))
            summary.rejects += len(rejects)
        for f in (out, rej):
            f.flush()
            os.fsync(f.fileno())
        state.update(
            lines_done=line,
            output_bytes=out.tell(),
            rejects_bytes=rej.tell(),
            articles=summary.articles,
            sentences=summary.sentences,
            rejects=summary.rejects,
        )
        _write_state(self.state_path, state)


def score_records(
    predictor: Predictor, records: Iterable[dict], chunk_articles: int = 64, max_chars: int | None = DEFAULT_MAX_CHARS
) -> Iterator[dict]:
    """Score in-memory records (dicts, a ``datasets.Dataset``); bad records raise RecordError.

    For a saved ``datasets`` folder, ``datasets.load_from_disk(path)`` gives the records.
    """
    chunk: list[Article] = []
    for record in records:
        chunk.append(article_from_record(dict(record), max_chars))
        if len(chunk) >= chunk_articles:
            yield from (r for rs in predictor.predict(chunk) for r in rs)
            chunk = []
    if chunk:
        yield from (r for rs in predictor.predict(chunk) for r in rs)


def _postfix(bar, summary: ScoreSummary, seconds: float) -> None:
    if seconds > 0:
        bar.set_postfix(articles_s=f"{summary.articles / seconds:.1f}", sentences_s=f"{summary.sentences / seconds:.1f}")


def sibling(path: Path, suffix: str) -> Path:
    """OUT.jsonl -> OUT<suffix>: where a job keeps its rejects and progress state."""
    name = path.name
    for ext in (".jsonl", ".parquet"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return path.with_name(name + suffix)


CONTRACT_COLUMNS = ("article_id", "sentence_index", "text", "start", "end", "speaker", "stance", "model")


def jsonl_to_parquet(src: Path, dst: Path, batch_lines: int = 5000) -> None:
    """Convert scored JSONL to Parquet in bounded batches.

    Contract fields keep their structure (``speaker``, ``stance`` and ``model`` as
    structs); ``scores`` and any carried-through input fields, whose shape varies between
    records, are JSON strings in ``scores`` and ``extra``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = dst.with_name(dst.name + ".tmp")
    writer = None

    def flush(rows: list[dict]) -> None:
        nonlocal writer
        if writer is None:
            targets = list(rows[0]["stance"]) if rows else []
            writer = pq.ParquetWriter(tmp, _parquet_schema(pa, targets))
        writer.write_table(pa.Table.from_pylist(rows, schema=writer.schema))

    rows: list[dict] = []
    with open(src, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            row = {k: r.get(k) for k in CONTRACT_COLUMNS}
            row["scores"] = json.dumps(r.get("scores"), ensure_ascii=False)
            extra = {k: v for k, v in r.items() if k not in CONTRACT_COLUMNS and k != "scores"}
            row["extra"] = json.dumps(extra, ensure_ascii=False)
            rows.append(row)
            if len(rows) >= batch_lines:
                flush(rows)
                rows = []
    if rows or writer is None:
        flush(rows)
    writer.close()
    os.replace(tmp, dst)


def _parquet_schema(pa, targets: list[str]):
    text = pa.string()
    speaker = pa.struct([(k, text) for k in ("attribution", "span", "mention", "affiliation")])
    return pa.schema(
        [
            ("article_id", text),
            ("sentence_index", pa.int64()),
            ("text", text),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("speaker", speaker),
            ("stance", pa.struct([(t, text) for t in targets])),
            ("model", pa.struct([("name", text), ("version", text)])),
            ("scores", text),
            ("extra", text),
        ]
    )


def _write_state(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, path)
