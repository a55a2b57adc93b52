"""Calibration: are a head's scores probabilities? Measured by ECE, fixed by one temperature per head.

Temperature scaling (Guo et al., 2017) divides a head's logits by T before the softmax.
Argmax decisions stay as they are; only the confidence moves. T is fitted on dev by
minimising the negative log-likelihood, which is convex in 1/T and so unimodal in log T:
a grid plus a golden-section search on log T finds it without an optimiser library.

Contract records carry probabilities, not logits; log-probabilities serve as logits,
since the softmax does not change when every logit of a row moves by the same amount.
"""

from __future__ import annotations

import math

import numpy as np

from inference.schema import STANCE_PREFIX, LabelSchema, is_stance_head, label_value

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0
EPS = 1e-6  # record scores are rounded to 5 decimals: a 0.0 must still have a finite log


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE: the mean |confidence - accuracy| over equal-width confidence bins, weighted by count."""
    probs, labels = _checked(probs, labels)
    confidence = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(float)
    which = _bin_index(confidence, bins)
    gap = np.bincount(which, weights=confidence - correct, minlength=bins)
    return float(np.abs(gap).sum() / len(labels))


def reliability_table(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict]:
    """Per confidence bin (lower, upper]: count, mean confidence and accuracy (None when empty), for reliability diagrams."""
    probs, labels = _checked(probs, labels)
    confidence = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(float)
    which = _bin_index(confidence, bins)
    count = np.bincount(which, minlength=bins)
    conf_sum = np.bincount(which, weights=confidence, minlength=bins)
    hit_sum = np.bincount(which, weights=correct, minlength=bins)
    edges = np.linspace(0.0, 1.0, bins + 1)
    return [
        {
            "lower": float(edges[b]),
            "upper": float(edges[b + 1]),
            "count": int(count[b]),
            "confidence": float(conf_sum[b] / count[b]) if count[b] else None,
            "accuracy": float(hit_sum[b] / count[b]) if count[b] else None,
        }
        for b in range(bins)
    ]


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T in [0.05, 20] that minimises the NLL of softmax(logits / T); 1.0 when the logits carry no signal."""
    logits, labels = _checked(logits, labels, what="logits")
    logits = logits - logits.max(1, keepdims=True)
    lo, hi = math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)
    grid = np.linspace(lo, hi, 61)
    losses = np.array([_nll(logits, labels, math.exp(g)) for g in grid])
    if losses.max() - losses.min() < 1e-12:
        return 1.0
    best = int(losses.argmin())
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    # Golden-section search inside the grid cell pair that holds the minimum.
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = _nll(logits, labels, math.exp(c)), _nll(logits, labels, math.exp(d))
    while b - a > 1e-6:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = _nll(logits, labels, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = _nll(logits, labels, math.exp(d))
    candidates = [(losses[best], grid[best]), (_nll(logits, labels, math.exp((a + b) / 2)), (a + b) / 2)]
    return float(math.exp(min(candidates)[1]))


def probs_to_logits(probs: np.ndarray) -> np.ndarray:
    """Log of clipped probabilities: logits up to a per-row shift, which the softmax ignores."""
    return np.log(np.clip(np.asarray(probs, dtype=float), EPS, 1.0))


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """The probabilities the same head gives with softmax(logits / T) instead of softmax(logits)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    z = probs_to_logits(probs) / temperature
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p(gold), with probabilities clipped as in probs_to_logits."""
    probs, labels = _checked(probs, labels)
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], EPS, 1.0)).mean())


def head_scores(records: list[dict], gold: list[dict], schema: LabelSchema) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per head: predicted probabilities (rows sentences, columns the head's values) and gold value indices.

    Probabilities come from each record's ``scores`` (``speaker.attribution``,
    ``speaker.affiliation``, ``stance.<target>``); gold values from the matching label.
    """
    if len(records) != len(gold):
        raise ValueError(f"{len(gold)} gold records but {len(records)} predictions")
    for r, g in zip(records, gold):
        if (r["article_id"], r["sentence_index"]) != (g["article_id"], g["sentence_index"]):
            raise ValueError(f"records out of step at {g['article_id']} sentence {g['sentence_index']}")
    out = {}
    for head, values in schema.heads.items():
        index = {v: i for i, v in enumerate(values)}
        rows = [[_head_probs(r, head).get(v, 0.0) for v in values] for r in records]
        probs = np.array(rows, dtype=float).reshape(-1, len(values))
        labels = []
        for g in gold:
            value = label_value(g, head)
            if value not in index:
                where = f"{g['article_id']} sentence {g['sentence_index']}"
                raise ValueError(f"{where}: {head} value {value!r} is not in {list(values)}")
            labels.append(index[value])
        out[head] = (probs, np.array(labels, dtype=int))
    return out


def fit_temperatures(records: list[dict], gold: list[dict], schema: LabelSchema) -> dict[str, float]:
    """One temperature per head, fitted on these (uncalibrated) predictions."""
    return {head: fit_temperature(probs_to_logits(p), y) for head, (p, y) in head_scores(records, gold, schema).items()}


def calibration_errors(
    records: list[dict], gold: list[dict], schema: LabelSchema, temperatures: dict[str, float] | None = None, bins: int = 15
) -> dict[str, float]:
    """ECE per head of these predictions, or of what they become under ``temperatures``."""
    temperatures = temperatures or {}
    return {
        head: expected_calibration_error(apply_temperature(p, temperatures.get(head, 1.0)), y, bins)
        for head, (p, y) in head_scores(records, gold, schema).items()
    }


def calibrate(splits: dict[str, tuple[list[dict], list[dict]]], schema: LabelSchema, fit_on: str = "dev", bins: int = 15) -> dict:
    """Fit temperatures on ``splits[fit_on]`` and report ECE per split and head before and after.

    ``splits`` maps a split name to (predictions made with every T = 1, gold labels).
    """
    if fit_on not in splits:
        raise ValueError(f"no predictions for split {fit_on!r} to fit temperatures on")
    temperatures = fit_temperatures(*splits[fit_on], schema)
    before = {name: calibration_errors(pred, gold, schema, None, bins) for name, (pred, gold) in splits.items()}
    after = {name: calibration_errors(pred, gold, schema, temperatures, bins) for name, (pred, gold) in splits.items()}
    return {
        "temperature": {head: round(t, 4) for head, t in temperatures.items()},
        "ece_before": _rounded(before),
        "ece_after": _rounded(after),
    }


def _rounded(errors: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {split: {head: round(x, 5) for head, x in heads.items()} for split, heads in errors.items()}


def _head_probs(record: dict, head: str) -> dict[str, float]:
    scores = record["scores"]
    if is_stance_head(head):
        return scores["stance"][head[len(STANCE_PREFIX) :]]
    return scores["speaker"][head]


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    top = z.max(1)
    lse = top + np.log(np.exp(z - top[:, None]).sum(1))
    return float((lse - z[np.arange(len(labels)), labels]).mean())


def _bin_index(confidence: np.ndarray, bins: int) -> np.ndarray:
    """Bins are (lower, upper]; a confidence of exactly 0 falls in the first."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.clip(np.searchsorted(edges[1:-1], confidence, side="left"), 0, bins - 1)


def _checked(values: np.ndarray, labels: np.ndarray, what: str = "probs") -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=float)
    labels = np.asarray(labels)
    if values.ndim != 2 or labels.shape != (values.shape[0],):
        raise ValueError(f"{what} must be (examples, classes) and labels (examples,), got {values.shape} and {labels.shape}")
    if len(labels) == 0:
        raise ValueError("no examples")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= values.shape[1]:
        raise ValueError(f"labels must be class indices in [0, {values.shape[1]})")
    if not np.isfinite(values).all():
        raise ValueError(f"{what} must be finite")
    return values, labels
