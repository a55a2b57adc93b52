"""Counts per field value and split: the datasheet's table, made from the files themselves."""

from __future__ import annotations

from collections import Counter

from inference.config import LabelsConfig
from training.data import LabelledArticle

SPLITS = ("train", "dev", "test")
BEGIN, END = "<!-- stats:begin -->", "<!-- stats:end -->"


def stats_table(corpus: list[LabelledArticle], labels: LabelsConfig | None = None) -> str:
    """A markdown table: articles, sentences, then every field value, per split and in all."""
    labels = labels or LabelsConfig()
    counts = {s: Counter() for s in (*SPLITS, "all")}
    for article in corpus:
        for split in (article.split, "all"):
            c = counts[split]
            c["articles"] += 1
            for label in article.labels:
                c["sentences"] += 1
                c[f"attribution {label['speaker']['attribution']}"] += 1
                c[f"affiliation {label['speaker']['affiliation']}"] += 1
                for target in labels.targets:
                    c[f"stance {target} {label['stance'][target]}"] += 1
    rows = ["articles", "sentences"]
    rows += [f"attribution {v}" for v in labels.attribution]
    rows += [f"affiliation {v}" for v in labels.affiliation]
    rows += [f"stance {t} {v}" for t in labels.targets for v in labels.stance]
    columns = (*SPLITS, "all")
    lines = ["| field value | " + " | ".join(columns) + " |", "| --- |" + " ---: |" * len(columns)]
    for row in rows:
        cells = []
        for split in columns:
            n = counts[split][row]
            total = counts[split]["sentences"]
            share = "" if row in ("articles", "sentences") or not total else f" ({100 * n / total:.1f}%)"
            cells.append(f"{n}{share}")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_in(markdown: str) -> str | None:
    """The table between the stats markers of a datasheet, if it has them."""
    if BEGIN not in markdown or END not in markdown:
        return None
    return markdown.split(BEGIN, 1)[1].split(END, 1)[0].strip()
