"""The model card: what a model is, what it was trained on, and how well it does."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

import torch
import transformers

from inference.config import RunConfig
from inference.model import parent_config
from training.data import LabelledArticle, MergeReport
from training.metrics import HEADLINE

METRICS_FILE = "metrics.json"


def file_digest(paths: list[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def data_record(
    articles: str, labels: str, extra_labels: list[str], merge: MergeReport, used: dict[str, list[LabelledArticle]]
) -> dict:
    """What a model was trained on: each file with its hash, what merging did, and what each split used.

    A model trained on corrected labels must say which corrections, or two models with the
    same config cannot be told apart.
    """
    counts = {f["path"]: f for f in merge.files}
    files = [{"path": str(articles), "role": "articles"}, {"path": str(labels), "role": "labels"}]
    files += [{"path": str(p), "role": "extra labels"} for p in extra_labels]
    for f in files:
        f["sha256"] = file_digest([f["path"]])
        if f["role"] == "extra labels":
            f.update({k: v for k, v in counts.get(f["path"], {}).items() if k != "path"})
    splits = {
        split: {
            "articles": len(arts),
            "sentences": sum(len(a.sentences) for a in arts),
            "merged_sentences": sum((a.id, i) in merge.merged for a in arts for i in range(len(a.sentences))),
        }
        for split, arts in used.items()
    }
    merged = {k: v for k, v in merge.to_json().items() if k != "files"}
    return {"files": files, "merge": merged, "new_articles": merge.new_articles, "splits": splits}


def parent_record(directory: str | Path) -> dict:
    """The model a run starts from: where it is, what it is, and the hash of the data it was trained on."""
    config = parent_config(directory)
    info = {"path": str(directory), "name": config.name, "version": config.version, "base_model": config.model.base_model}
    info["targets"] = list(config.labels.targets)
    metrics = Path(directory) / METRICS_FILE
    if metrics.is_file():
        try:
            info["data_sha256"] = json.loads(metrics.read_text(encoding="utf-8"))["training"]["data_sha256"]
        except (ValueError, KeyError, TypeError):
            info["data_sha256"] = None  # an older or hand-made metrics.json: the parent is still named
    return info


def write_model_card(
    directory: Path,
    config: RunConfig,
    results: dict,
    summary: dict,
    extra_labels: list[str],
    calibration: dict | None = None,
    data: dict | None = None,
    parent: dict | None = None,
) -> None:
    data_files = [config.data.articles, config.data.labels, *extra_labels]
    training = {
        **summary,
        "data_files": data_files,
        "data_sha256": file_digest(data_files),
        "data": data or {"files": [{"path": str(f), "sha256": file_digest([f])} for f in data_files]},
        "parent": parent,
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
    distilled = distillation_line(training.get("distillation"))
    layers = f" (its first {config.model.encoder_layers} layers)" if config.model.encoder_layers else ""
    card = f"""---
library_name: sourcestance
base_model: {config.model.base_model}
tags: [speaker-attribution, stance-detection, news]
---

# {config.name} {config.version}

Labels every sentence of a news article with its speaker (attribution, span, mention,
affiliation) and the speaker's stance toward {", ".join(config.labels.targets)}, following
the sourcestance annotation contract (ANNOTATION.md).

- Base encoder: `{config.model.base_model}`{layers}; one encoder pass feeds every head of every sentence in a window.
- Context: windows of consecutive sentences, {config.model.max_length} tokens at most, with
  {config.model.context_before} sentence(s) before and {config.model.context_after} after each window as context.
- Trained on {training["train_sentences"]} sentences ({training["train_articles"]} articles) of split `{config.data.train_split}`
  for {training["train_seconds"]} s; best dev epoch {training["best_epoch"]}; seed {config.train.seed}.
- Data: {", ".join(f"`{f}`" for f in data_files)} (sha256 prefix `{training["data_sha256"]}`).
- Versions: torch {training["versions"]["torch"]}, transformers {training["versions"]["transformers"]}.{distilled}

## Training data

{data_section(training["data"], parent)}

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


def data_section(data: dict, parent: dict | None) -> str:
    """The card's data record: files with hashes, what merging extra labels did, splits used, the parent."""
    lines = ["| file | role | sha256 prefix |", "| --- | --- | --- |"]
    lines += [f"| `{f['path']}` | {f.get('role', 'data')} | `{f['sha256']}` |" for f in data["files"]]
    merge = data.get("merge")
    if merge and any(f.get("role") == "extra labels" for f in data["files"]):
        lines += [
            "",
            f"Extra labels merged over the corpus (later files win): {merge['records']} record(s), "
            f"{merge['overridden']} overriding an earlier label, {merge['duplicates_dropped']} exact duplicate(s) dropped, "
            f"{merge['added']} labelling a sentence for the first time; {merge['new_articles']} new article(s) "
            f"({merge['new_sentences']} sentences){_new_articles(data.get('new_articles', {}))}.",
        ]
    if data.get("splits"):
        lines += ["", "| split | articles used | sentences used | with merged labels |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {s} | {c['articles']} | {c['sentences']} | {c['merged_sentences']} |" for s, c in data["splits"].items()]
    if parent is None:
        lines += ["", "Parent model: none (started from the base encoder)."]
    else:
        digest = f", trained on data with sha256 prefix `{parent['data_sha256']}`" if parent.get("data_sha256") else ""
        lines += [
            "",
            f"Parent model: `{parent['path']}` ({parent['name']} {parent['version']}{digest}); "
            f"loaded {', '.join(parent.get('loaded', [])) or 'nothing'}; fresh {', '.join(parent.get('fresh', [])) or 'none'}.",
        ]
    return "\n".join(lines)


def distillation_line(info: dict | None) -> str:
    """The card's bullet on the teacher a model learnt from, with its leading newline; empty without one."""
    if not info:
        return ""
    teacher, extra = info["teacher"], ""
    if info.get("unlabelled"):
        u = info["unlabelled"]
        extra = (
            f", and on {u['sentences']} unlabelled sentences ({u['articles']} articles) "
            f"of `{u['path']}` (sha256 prefix `{u['sha256']}`)"
        )
    return (
        f"\n- Distilled from `{teacher['path']}` ({teacher['name']} {teacher['version']}): heads "
        f"{', '.join(info['heads'])} learn {info['weight']:.2f} from its outputs at temperature "
        f"{info['temperature']:g} and the rest from the gold labels{extra}."
    )


def _new_articles(new: dict[str, dict], shown: int = 10) -> str:
    """': `n1` (train, 12 sentences), …' for the card; a long list is cut."""
    if not new:
        return ""
    items = [f"`{aid}` ({a['split']}, {a['sentences']} sentences)" for aid, a in list(new.items())[:shown]]
    more = f" and {len(new) - shown} more" if len(new) > shown else ""
    return ": " + ", ".join(items) + more


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
