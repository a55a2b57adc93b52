"""The metrics of ANNOTATION.md, computed from gold and predicted contract records."""

from __future__ import annotations

import re
from collections import Counter

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from inference.schema import LabelSchema


def compute_metrics(gold: list[dict], pred: list[dict], schema: LabelSchema) -> dict[str, float]:
    """Flat ``{"field/metric": value}``; the headline keys are listed in HEADLINE."""
    _check_aligned(gold, pred)
    m: dict[str, float] = {}
    for field, values in (("attribution", schema.attribution), ("affiliation", schema.affiliation)):
        g = [r["speaker"][field] for r in gold]
        p = [r["speaker"][field] for r in pred]
        m[f"{field}/accuracy"] = float(accuracy_score(g, p))
        m[f"{field}/macro_f1"] = macro_f1(g, p, [v for v in values if v in set(g) | set(p)])
    polar = [v for v in schema.stance if v != schema.no_stance]
    for target in schema.targets:
        g = [r["stance"][target] for r in gold]
        p = [r["stance"][target] for r in pred]
        m[f"stance/{target}/f_avg"] = macro_f1(g, p, polar)
        m[f"stance/{target}/macro_f1"] = macro_f1(g, p, list(schema.stance))
    m["stance/f_avg"] = sum(m[f"stance/{t}/f_avg"] for t in schema.targets) / len(schema.targets)
    m["stance/macro_f1"] = sum(m[f"stance/{t}/macro_f1"] for t in schema.targets) / len(schema.targets)
    exact, token = zip(*(_span_scores(g["speaker"]["span"], p["speaker"]["span"]) for g, p in zip(gold, pred)))
    m["span/exact_f1"] = sum(exact) / len(exact)
    m["span/token_f1"] = sum(token) / len(token)
    attributed = [(g, p) for g, p in zip(gold, pred) if g["speaker"]["mention"] is not None]
    if attributed:
        m["mention/exact"] = sum(
            _norm(g["speaker"]["mention"]) == _norm(p["speaker"]["mention"] or "") for g, p in attributed
        ) / len(attributed)
    m["sentences"] = float(len(gold))
    m["headline"] = sum(m[k] for k in HEADLINE) / len(HEADLINE)
    return m


HEADLINE = ("stance/f_avg", "attribution/accuracy", "affiliation/macro_f1", "span/exact_f1")


def confusion_matrices(gold: list[dict], pred: list[dict], schema: LabelSchema) -> dict[str, dict]:
    """Per field and target: ``{"labels": [...], "matrix": rows gold, columns predicted}``."""
    out = {}
    fields = [
        ("attribution", schema.attribution, ("speaker", "attribution")),
        ("affiliation", schema.affiliation, ("speaker", "affiliation")),
    ]
    fields += [(f"stance/{t}", schema.stance, ("stance", t)) for t in schema.targets]
    for name, values, (outer, inner) in fields:
        g = [r[outer][inner] for r in gold]
        p = [r[outer][inner] for r in pred]
        out[name] = {"labels": list(values), "matrix": confusion_matrix(g, p, labels=list(values)).tolist()}
    return out


def macro_f1(gold: list[str], pred: list[str], labels: list[str]) -> float:
    if not labels:
        return 0.0
    return float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0))


def _norm(text: str) -> str:
    return " ".join(text.split()).strip(" .,;:\"'“”‘’").lower()


def _span_scores(gold: str | None, pred: str | None) -> tuple[float, float]:
    """(exact, token F1) for one sentence; both null is a full match, one null none."""
    if gold is None or pred is None:
        return (1.0, 1.0) if gold is pred else (0.0, 0.0)
    exact = float(_norm(gold) == _norm(pred))
    g, p = _tokens(gold), _tokens(pred)
    common = sum((Counter(g) & Counter(p)).values())
    if common == 0:
        return exact, 0.0
    precision, recall = common / len(p), common / len(g)
    return exact, 2 * precision * recall / (precision + recall)


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _check_aligned(gold: list[dict], pred: list[dict]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold records but {len(pred)} predictions")
    for g, p in zip(gold, pred):
        if (g["article_id"], g["sentence_index"]) != (p["article_id"], p["sentence_index"]):
            raise ValueError(f"records out of step at {g['article_id']} sentence {g['sentence_index']}")
