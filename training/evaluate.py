"""Evaluation is one object used twice: dev selection during training, the final test after."""

from __future__ import annotations

from collections.abc import Callable

from inference.records import Article
from inference.schema import LabelSchema
from training.data import LabelledArticle
from training.metrics import HEADLINE, compute_metrics, confusion_matrices

PredictFn = Callable[[list[Article]], list[list[dict]]]


class Evaluator:
    """Scores a predictor on a labelled set; ``primary`` is the mean of the headline metrics."""

    primary = "headline"

    def __init__(self, articles: list[LabelledArticle], schema: LabelSchema, name: str = "dev"):
        if not articles:
            raise ValueError(f"no articles in the {name} set")
        self.articles = articles
        self.schema = schema
        self.name = name
        self.gold = [label for a in articles for label in a.labels]

    def predictions(self, predict: PredictFn) -> list[dict]:
        return [r for records in predict([a.as_input() for a in self.articles]) for r in records]

    def __call__(self, predict: PredictFn) -> dict[str, float]:
        return compute_metrics(self.gold, self.predictions(predict), self.schema)

    def report(self, predict: PredictFn) -> dict:
        """Metrics and confusion matrices, for the evaluate command and the model card."""
        return self.report_records(self.predictions(predict))

    def report_records(self, pred: list[dict]) -> dict:
        """The report for predictions already made on this set, in its sentence order."""
        return {
            "metrics": compute_metrics(self.gold, pred, self.schema),
            "confusion": confusion_matrices(self.gold, pred, self.schema),
        }


def format_table(columns: dict[str, dict[str, float]], keys: list[str] | None = None) -> str:
    """A plain-text table, one row per metric, one column per system."""
    names = list(columns)
    keys = keys or [k for k in next(iter(columns.values())) if k != "sentences"]
    width = max(len(k) for k in keys) + 2
    lines = ["metric".ljust(width) + "".join(n.rjust(14) for n in names)]
    for k in keys:
        mark = " *" if k in HEADLINE else ""
        cells = "".join((f"{columns[n][k]:.3f}" if k in columns[n] else "-").rjust(14) for n in names)
        lines.append((k + mark).ljust(width) + cells)
    lines.append("(* headline metric)")
    return "\n".join(lines)
