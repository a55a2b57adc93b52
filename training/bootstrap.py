"""Paired bootstrap over articles, on per-article sufficient statistics of the contract metrics.

Every metric of training.metrics is a function of counts that add up over sentences
(true and false positives per value, correct decisions, span scores, mention matches).
A bootstrap resample of articles is then a weighted sum of per-article count rows, and a
thousand rounds are one matrix product instead of a thousand calls to scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from inference.schema import LabelSchema
from training.metrics import HEADLINE, _norm, _span_scores

MetricsFn = Callable[[np.ndarray], dict[str, np.ndarray]]


class MetricStatistics:
    """Turns gold and predicted records into per-article count rows, and count rows back into metrics."""

    def __init__(self, schema: LabelSchema):
        self.schema = schema
        self.fields: list[tuple[str, tuple[str, ...], tuple[str, str]]] = [
            ("attribution", schema.attribution, ("speaker", "attribution")),
            ("affiliation", schema.affiliation, ("speaker", "affiliation")),
        ]
        self.fields += [(f"stance/{t}", schema.stance, ("stance", t)) for t in schema.targets]
        columns = []
        for name, values, _ in self.fields:
            columns += [f"{name}/correct"] + [f"{name}/{kind}/{v}" for kind in ("tp", "fp", "fn") for v in values]
        columns += ["span/exact", "span/token", "mention/count", "mention/exact", "sentences"]
        self.columns = columns
        self.index = {c: i for i, c in enumerate(columns)}

    def per_article(self, gold: list[dict], pred: list[dict]) -> np.ndarray:
        """(articles, columns) counts; articles in order of first appearance of their ``article_id`` in ``gold``."""
        if len(gold) != len(pred):
            raise ValueError(f"{len(gold)} gold records but {len(pred)} predictions")
        rows = self.per_sentence(gold, pred)
        ids: dict[str, int] = {}
        which = np.array([ids.setdefault(str(g["article_id"]), len(ids)) for g in gold], dtype=int)
        out = np.zeros((len(ids), len(self.columns)))
        np.add.at(out, which, rows)
        return out

    def per_sentence(self, gold: list[dict], pred: list[dict]) -> np.ndarray:
        """(sentences, columns) counts, one row per aligned gold and predicted record."""
        rows = np.zeros((len(gold), len(self.columns)))
        for name, values, (outer, inner) in self.fields:
            g = [r[outer][inner] for r in gold]
            p = [r[outer][inner] for r in pred]
            g_hot = np.array([[x == v for v in values] for x in g], dtype=float).reshape(len(g), len(values))
            p_hot = np.array([[x == v for v in values] for x in p], dtype=float).reshape(len(p), len(values))
            start = self.index[f"{name}/tp/{values[0]}"]
            k = len(values)
            rows[:, self.index[f"{name}/correct"]] = [a == b for a, b in zip(g, p)]
            rows[:, start : start + k] = g_hot * p_hot
            rows[:, start + k : start + 2 * k] = p_hot * (1 - g_hot)
            rows[:, start + 2 * k : start + 3 * k] = g_hot * (1 - p_hot)
        for i, (g, p) in enumerate(zip(gold, pred)):
            exact, token = _span_scores(g["speaker"]["span"], p["speaker"]["span"])
            rows[i, self.index["span/exact"]] = exact
            rows[i, self.index["span/token"]] = token
            if g["speaker"]["mention"] is not None:
                rows[i, self.index["mention/count"]] = 1
                rows[i, self.index["mention/exact"]] = _norm(g["speaker"]["mention"]) == _norm(p["speaker"]["mention"] or "")
        rows[:, self.index["sentences"]] = 1
        return rows

    def metrics(self, totals: np.ndarray) -> dict[str, np.ndarray]:
        """The keys of compute_metrics, each an array over the rows of ``totals`` (summed count rows).

        ``mention/exact`` is NaN where a row has no attributed sentence (compute_metrics leaves it out).
        """
        totals = np.atleast_2d(np.asarray(totals, dtype=float))
        col = self.index
        n = totals[:, col["sentences"]]
        safe_n = np.maximum(n, 1.0)
        m: dict[str, np.ndarray] = {}
        f1: dict[str, np.ndarray] = {}
        for name, values, _ in self.fields:
            start, k = col[f"{name}/tp/{values[0]}"], len(values)
            tp, fp, fn = (totals[:, start + j * k : start + (j + 1) * k] for j in range(3))
            denom = 2 * tp + fp + fn
            f1[name] = np.divide(2 * tp, denom, out=np.zeros_like(denom), where=denom > 0)
            if name in ("attribution", "affiliation"):
                present = denom > 0  # compute_metrics averages over values seen in gold or prediction
                m[f"{name}/accuracy"] = totals[:, col[f"{name}/correct"]] / safe_n
                m[f"{name}/macro_f1"] = (f1[name] * present).sum(1) / np.maximum(present.sum(1), 1)
        polar = [i for i, v in enumerate(self.schema.stance) if v != self.schema.no_stance]
        for target in self.schema.targets:
            m[f"stance/{target}/f_avg"] = f1[f"stance/{target}"][:, polar].mean(1)
            m[f"stance/{target}/macro_f1"] = f1[f"stance/{target}"].mean(1)
        targets = self.schema.targets
        m["stance/f_avg"] = sum(m[f"stance/{t}/f_avg"] for t in targets) / len(targets)
        m["stance/macro_f1"] = sum(m[f"stance/{t}/macro_f1"] for t in targets) / len(targets)
        m["span/exact_f1"] = totals[:, col["span/exact"]] / safe_n
        m["span/token_f1"] = totals[:, col["span/token"]] / safe_n
        attributed = totals[:, col["mention/count"]]
        m["mention/exact"] = np.divide(
            totals[:, col["mention/exact"]], attributed, out=np.full_like(attributed, np.nan), where=attributed > 0
        )
        m["sentences"] = n
        m["headline"] = sum(m[k] for k in HEADLINE) / len(HEADLINE)
        return m


def paired_bootstrap(
    stats_a: np.ndarray,
    stats_b: np.ndarray,
    metrics: MetricsFn,
    rounds: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile CI of metric(B) - metric(A) per key, resampling rows (articles) with replacement.

    Both systems get the same resample in each round, so the interval is for the paired
    difference. Rounds where a metric is undefined (NaN) are left out of its interval.
    """
    stats_a, stats_b = np.asarray(stats_a, dtype=float), np.asarray(stats_b, dtype=float)
    if stats_a.shape != stats_b.shape or stats_a.ndim != 2 or len(stats_a) == 0:
        raise ValueError(f"need two equal (articles, statistics) arrays, got {stats_a.shape} and {stats_b.shape}")
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    n = len(stats_a)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(rounds, 2_000_000 // n))  # bounded memory on large corpora
    diffs: dict[str, list[np.ndarray]] = {}
    done = 0
    while done < rounds:
        size = min(chunk, rounds - done)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)
        ma, mb = metrics(weights @ stats_a), metrics(weights @ stats_b)
        for key in ma.keys() & mb.keys():
            diffs.setdefault(key, []).append(mb[key] - ma[key])
        done += size
    alpha = (1.0 - level) / 2
    out = {}
    for key, parts in diffs.items():
        d = np.concatenate(parts)
        d = d[np.isfinite(d)]
        if len(d):
            low, high = np.quantile(d, [alpha, 1.0 - alpha])
            out[key] = (float(low), float(high))
    return out
