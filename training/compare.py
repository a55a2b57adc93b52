"""`sourcestance compare`: two models on the same labelled sentences, with honest error bars.

Sentences of one article share a writer, a topic and often a speaker, so they are not
independent draws: the confidence interval of B - A comes from a paired bootstrap that
resamples whole articles, the same resample for both models in each round.
"""

from __future__ import annotations

from pathlib import Path

from inference.predict import Predictor
from inference.schema import LabelSchema
from training.bootstrap import MetricStatistics, paired_bootstrap
from training.data import load_corpus, select_split
from training.evaluate import Evaluator
from training.metrics import HEADLINE, compute_metrics
from training.validate import validate_files

BETTER, WORSE, UNCLEAR = "B better", "B worse", "no clear difference"
VERDICT_KEYS = (*HEADLINE, "headline")


class CompareError(ValueError):
    """Two models or a data set that cannot be compared; the message says why."""


def compare_predictions(
    gold: list[dict],
    pred_a: list[dict],
    pred_b: list[dict],
    schema: LabelSchema,
    rounds: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Every metric of compute_metrics for A and B, B - A, its paired article-bootstrap CI and a verdict.

    ``rows`` has one dict per metric: metric, a, b, diff, ci_low, ci_high (None without
    bootstrap rounds or where undefined) and verdict (headline metrics only).
    """
    metrics_a = compute_metrics(gold, pred_a, schema)
    metrics_b = compute_metrics(gold, pred_b, schema)
    stats = MetricStatistics(schema)
    stats_a, stats_b = stats.per_article(gold, pred_a), stats.per_article(gold, pred_b)
    intervals = paired_bootstrap(stats_a, stats_b, stats.metrics, rounds, seed, level) if rounds else {}
    rows = []
    for key, a in metrics_a.items():
        if key == "sentences" or key not in metrics_b:
            continue
        b = metrics_b[key]
        low, high = intervals.get(key, (None, None))
        rows.append(
            {
                "metric": key,
                "a": a,
                "b": b,
                "diff": b - a,
                "ci_low": low,
                "ci_high": high,
                "headline": key in VERDICT_KEYS,
                "verdict": verdict(low, high) if key in VERDICT_KEYS else None,
            }
        )
    return {
        "sentences": len(gold),
        "articles": len(stats_a),
        "rounds": rounds,
        "seed": seed,
        "level": level,
        "rows": rows,
    }


def verdict(low: float | None, high: float | None) -> str | None:
    """B better or worse only when the interval of B - A excludes 0."""
    if low is None or high is None:
        return None
    if low > 0:
        return BETTER
    if high < 0:
        return WORSE
    return UNCLEAR


def compare_models(
    model_a: str | Path,
    model_b: str | Path,
    articles: str | Path,
    labels: str | Path,
    split: str | None = "test",
    rounds: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Load both models, check the data against their labels, predict and compare (see compare_predictions).

    Raises ModelLoadError for a model directory that cannot be loaded, CompareError for
    models with different labels or data that fails validation or has no such split.
    """
    if rounds < 0:
        raise CompareError(f"bootstrap rounds must be 0 or more, got {rounds}")
    predictor_a = Predictor.from_dir(model_a)
    predictor_b = Predictor.from_dir(model_b)
    if predictor_a.schema != predictor_b.schema:
        differences = _describe(predictor_a.schema, predictor_b.schema)
        raise CompareError(f"{model_a} and {model_b} predict different labels: {differences}")
    problems = validate_files([articles, labels], predictor_a.config.labels)
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:20])
        raise CompareError(f"{len(problems)} problem(s) in the evaluation data:\n{shown}")
    corpus = load_corpus(articles, labels)
    chosen = select_split(corpus, split) if split else corpus
    if not chosen:
        present = ", ".join(sorted({a.split for a in corpus})) or "none"
        raise CompareError(f"no articles of split {split!r} in {articles} (splits there: {present})")
    evaluator = Evaluator(chosen, predictor_a.schema, split or "all")
    result = compare_predictions(
        evaluator.gold,
        evaluator.predictions(predictor_a.predict),
        evaluator.predictions(predictor_b.predict),
        predictor_a.schema,
        rounds,
        seed,
        level,
    )
    result["models"] = {"a": _model_info(model_a, predictor_a), "b": _model_info(model_b, predictor_b)}
    result["split"] = split or "all"
    return result


def format_comparison(result: dict) -> str:
    """A plain-text table: A, B, B - A, its CI and the verdict, one row per metric."""
    level = round(result["level"] * 100)
    lines = []
    for side in ("a", "b"):
        info = result.get("models", {}).get(side)
        if info:
            lines.append(f"{side.upper()}: {info['path']} ({info['name']} {info['version']})")
    where = f"split {result['split']}: " if "split" in result else ""
    if result["rounds"]:
        how = f"{level}% CI from {result['rounds']} paired bootstrap rounds over articles (seed {result['seed']})"
    else:
        how = "no bootstrap"
    lines.append(f"{where}{result['sentences']} sentences from {result['articles']} articles; {how}")
    lines.append("")
    width = max(len(r["metric"]) for r in result["rows"]) + 3
    ci_title = f"{level}% CI"
    lines.append("metric".ljust(width) + "A".rjust(8) + "B".rjust(8) + "B-A".rjust(9) + "   " + ci_title.ljust(19) + "verdict")
    for r in result["rows"]:
        name = r["metric"] + (" *" if r["headline"] else "")
        ci = f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]" if r["ci_low"] is not None else "-"
        cells = f"{r['a']:8.3f}{r['b']:8.3f}{r['diff']:+9.3f}   {ci.ljust(19)}{r['verdict'] or ''}"
        lines.append(name.ljust(width) + cells.rstrip())
    lines.append(f"(* headline metric; '{BETTER}' or '{WORSE}' only when the CI of B-A excludes 0)")
    return "\n".join(lines)


def _model_info(path: str | Path, predictor: Predictor) -> dict:
    return {"path": str(path), **predictor.model_info}


def _describe(a: LabelSchema, b: LabelSchema) -> str:
    names = [name for name in a.__dataclass_fields__ if getattr(a, name) != getattr(b, name)]
    return "; ".join(f"{name} {getattr(a, name)!r} vs {getattr(b, name)!r}" for name in names)
