"""The model card: what a model is, what it was trained on, and how well it does."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

import torch
import transformers

from inference.config import RunConfig
from training.metrics import HEADLINE

METRICS_FILE = "metrics.json"


def file_digest(paths: list[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def write_model_card(
    directory: Path, config: RunConfig, results: dict, summary: dict, extra_labels: list[str], calibration: dict | None = None
) -> None:
    data_files = [config.data.articles, config.data.labels, *extra_labels]
    training = {
        **summary,
        "data_files": data_files,
        "data_sha256": file_digest(data_files),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version()},
    }
    payload = {split: r["metrics"] for split, r in results.items()}
    payload["confusion"] = {split: r["confusion"] for split, r in results.items()}
    payload["training"] = training
    if calibration:
        payload["calibration"] = calibration
    (directory / METRICS_FILE).write_text(json.dumps(payload, indent=2), encoding="utf-8")

    splits = [s for s in ("dev", "test") if s in results]
    keys = [k for k in results[splits[0]]["metrics"] if k not in ("sentences", "headline")]
    rows = "\n".join(
        f"| {k}{' (headline)' if k in HEADLINE else ''} | " + " | ".join(f"{results[s]['metrics'][k]:.3f}" for s in splits) + " |"
        for k in keys
    )
    counts = " | ".join(str(int(results[s]["metrics"]["sentences"])) for s in splits)
    card = f"""---
library_name: sourcestance
base_model: {config.model.base_model}
tags: [speaker-attribution, stance-detection, news]
---

# {config.name} {config.version}

Labels every sentence of a news article with its speaker (attribution, span, mention,
affiliation) and the speaker's stance toward {", ".join(config.labels.targets)}, following
the sourcestance annotation contract (ANNOTATION.md).

- Base encoder: `{config.model.base_model}`; one encoder pass feeds every head of every sentence in a window.
- Context: windows of consecutive sentences, {config.model.max_length} tokens at most, with
  {config.model.context_before} sentence(s) before and {config.model.context_after} after each window as context.
- Trained on {training["train_sentences"]} sentences ({training["train_articles"]} articles) of split `{config.data.train_split}`
  for {training["train_seconds"]} s; best dev epoch {training["best_epoch"]}; seed {config.train.seed}.
- Data: {", ".join(f"`{f}`" for f in data_files)} (sha256 prefix `{training["data_sha256"]}`).
- Versions: torch {training["versions"]["torch"]}, transformers {training["versions"]["transformers"]}.

## Evaluation

| metric | {" | ".join(splits)} |
| --- | {" | ".join("---" for _ in splits)} |
{rows}
| sentences | {counts} |

Stance `f_avg` is the macro-F1 over `favor` and `against` (SemEval-2016 Task 6);
`span/exact_f1` counts a sentence right when the predicted span equals the gold one,
both null included.

## Calibration

{calibration_section(calibration)}

## Use

    sourcestance score --model {directory} --input articles.jsonl --output scored.jsonl

## Limits

Trained on a corpus written for this project in wire-news style; expect lower scores on
other genres, and check stance on your own labelled sample before relying on it.
"""
    (directory / "README.md").write_text(card, encoding="utf-8")


def calibration_section(calibration: dict | None) -> str:
    """The card's calibration paragraph: temperatures and top-label ECE before and after, per head."""
    if not calibration:
        return "Scores are the heads' plain softmax outputs; no temperatures were fitted (`train.calibrate: false`)."
    splits = list(calibration["ece_before"])
    header = "| head | T | " + " | ".join(f"{s} ECE before → after" for s in splits) + " |"
    rule = "| --- | ---: | " + " | ".join("---:" for _ in splits) + " |"
    rows = [
        f"| {head} | {t:.3f} | "
        + " | ".join(f"{calibration['ece_before'][s][head]:.3f} → {calibration['ece_after'][s][head]:.3f}" for s in splits)
        + " |"
        for head, t in calibration["temperature"].items()
    ]
    intro = (
        f"Scores are softmax(logits / T) with one temperature per head, fitted on `{calibration['fitted_on']}` by "
        "minimising the negative log-likelihood; labels (the argmax) are unchanged. Expected calibration error, "
        "top label, 15 equal-width bins:"
    )
    return "\n".join([intro, "", header, rule, *rows])
