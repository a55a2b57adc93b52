"""`score --engine ray`: the same scoring on Ray Data, for corpora beyond one machine.

Input files are read in parallel, one read task per file, with the local engine's own
readers (so JSONL, CSV, Parquet and datasets folders, and bad records, behave the same);
a pool of model actors scores batches of articles with the same Predictor; the driver
writes records and rejects in input order, so the output equals the local engine's.
On a laptop `ray.init` starts a local Ray; on a cluster set RAY_ADDRESS.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from inference.records import Article
from inference.score import DEFAULT_MAX_CHARS, ScoreJobError, ScoreSummary, read_articles, sibling
from inference.sources import detect_format, iter_source


def _read_file(row: dict[str, Any], input_format: str | None, max_chars: int | None):
    """One input file into rows: an Article to score or a reject, each with its line number."""
    path = row["path"]
    fmt = detect_format(path, input_format)
    for number, item in read_articles(iter_source(path, fmt, 0, lambda _: None), max_chars):
        if isinstance(item, Article):
            yield {"path": path, "line": number, "article": item, "reject": None}
        else:
            yield {"path": path, "line": number, "article": None, "reject": json.dumps(item, ensure_ascii=False)}


class _Scorer:
    """A model actor: loads the model directory once, then scores batches of articles."""

    def __init__(self, model_dir: str, runtime: str, threads: int | None, batch_size: int):
        from inference.predict import Predictor

        self.predictor = Predictor.from_dir(model_dir, runtime=runtime, threads=threads, batch_size=batch_size)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        articles = [a for a in batch["article"] if a is not None]
        scored = iter(self.predictor.predict(articles)) if articles else iter(())
        out: dict[str, list] = {"path": [], "line": [], "records": [], "reject": []}
        for path, line, article, reject in zip(batch["path"], batch["line"], batch["article"], batch["reject"]):
            records = next(scored) if article is not None else []
            out["path"].append(path)
            out["line"].append(int(line))
            out["records"].append(json.dumps(records, ensure_ascii=False))
            out["reject"].append(reject)
        return out


def score_with_ray(
    model_dir: str | Path,
    inputs: list[str | Path],
    output_path: str | Path,
    rejects_path: str | Path | None = None,
    *,
    workers: int = 2,
    threads_per_worker: int | None = None,
    runtime: str = "torch",
    batch_articles: int = 32,
    batch_size: int = 64,
    max_chars: int | None = DEFAULT_MAX_CHARS,
    input_format: str | None = None,
    overwrite: bool = False,
) -> ScoreSummary:
    """Score ``inputs`` (files, in order) into one JSONL output plus a rejects file."""
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise ScoreJobError("--engine ray needs Ray Data: pip install 'sourcestance[ray]'") from e
    output_path = Path(output_path)
    rejects_path = Path(rejects_path) if rejects_path else sibling(output_path, ".rejects.jsonl")
    if output_path.suffix.lower() != ".jsonl":
        raise ScoreJobError("--engine ray writes JSONL; convert afterwards or use the local engine for Parquet")
    if output_path.exists() and not overwrite:
        raise ScoreJobError(f"{output_path} exists; pass --overwrite to replace it (--resume is for the local engine)")
    paths = [str(Path(p).resolve()) for p in inputs]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise ScoreJobError(f"input {missing[0]} not found")
    for p in paths:
        detect_format(p, input_format)  # fail early on an unknown extension
    threads = threads_per_worker or max(1, (os.cpu_count() or 2) // workers)

    if not ray.is_initialized():
        # Locally: a CPU per model thread plus one for the readers, or the readers would wait forever.
        local_cpus = workers * threads + 1
        ray.init(num_cpus=None if os.environ.get("RAY_ADDRESS") else local_cpus, include_dashboard=False, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # output in input order, as the local engine writes it
    context.enable_progress_bars = False

    start = time.time()
    summary = ScoreSummary()
    articles = ray.data.from_items([{"path": p} for p in paths]).flat_map(
        _read_file, fn_kwargs={"input_format": input_format, "max_chars": max_chars}
    )
    scored = articles.map_batches(
        _Scorer,
        batch_size=batch_articles,
        compute=ray.data.ActorPoolStrategy(size=workers),
        fn_constructor_kwargs={
            "model_dir": str(Path(model_dir).resolve()),
            "runtime": runtime,
            "threads": threads,
            "batch_size": batch_size,
        },
        num_cpus=threads,
        batch_format="default",
    )
    output_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_out, tmp_rej = output_path.with_name(output_path.name + ".tmp"), rejects_path.with_name(rejects_path.name + ".tmp")
    with open(tmp_out, "w", encoding="utf-8") as out, open(tmp_rej, "w", encoding="utf-8") as rej:
        for row in scored.iter_rows():
            if row["reject"] is not None:
                rej.write(row["reject"] + "\n")
                summary.rejects += 1
                continue
            records = json.loads(row["records"])
            summary.add(records)
            out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    os.replace(tmp_out, output_path)
    os.replace(tmp_rej, rejects_path)
    summary.seconds = time.time() - start
    return summary
