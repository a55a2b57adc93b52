"""`sourcestance compare`: paired article bootstrap, its sufficient statistics, and the command."""

import json
import random
import time

import numpy as np
import pytest

from inference.config import LabelsConfig, RunConfig
from inference.schema import LabelSchema
from sourcestance.cli import EXIT_INPUT, EXIT_MODEL, EXIT_OK, EXIT_USAGE, main
from tests.conftest import ROOT
from training.bootstrap import MetricStatistics, paired_bootstrap
from training.compare import BETTER, UNCLEAR, WORSE, compare_models, compare_predictions, verdict
from training.metrics import compute_metrics

SCHEMA = LabelSchema.from_config(LabelsConfig())


def random_records(seed: int, articles: int = 12) -> tuple[list[dict], list[dict]]:
    """Gold and predicted contract records with every field varied, nulls and absent values included."""
    rng = random.Random(seed)
    spans = [None, None, "he", "the official", "Mousa Abu Marzouk", "a senior official in the movement"]

    def record(aid: str, i: int) -> dict:
        span = rng.choice(spans)
        return {
            "article_id": aid,
            "sentence_index": i,
            "speaker": {
                "attribution": rng.choice(SCHEMA.attribution[:2] if span else SCHEMA.attribution),
                "span": span,
                "mention": rng.choice([span, "Abu Marzouk", None]),
                "affiliation": rng.choice(SCHEMA.affiliation[:3]),  # some values never occur
            },
            "stance": {t: rng.choices(SCHEMA.stance, weights=[1, 1, 6])[0] for t in SCHEMA.targets},
        }

    gold, pred = [], []
    for a in range(articles):
        for i in range(rng.randint(1, 25)):
            gold.append(record(f"a{a}", i))
            pred.append(record(f"a{a}", i))
    return gold, pred


@pytest.mark.parametrize("seed", range(5))
def test_statistics_reproduce_compute_metrics(seed):
    gold, pred = random_records(seed)
    stats = MetricStatistics(SCHEMA)
    expected = compute_metrics(gold, pred, SCHEMA)
    got = stats.metrics(stats.per_article(gold, pred).sum(0))
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key][0] == pytest.approx(value, abs=1e-12), key


def test_a_resample_is_the_metrics_of_the_pooled_resampled_articles():
    gold, pred = random_records(7)
    stats = MetricStatistics(SCHEMA)
    per_article = stats.per_article(gold, pred)
    ids = list(dict.fromkeys(g["article_id"] for g in gold))
    draw = [3, 3, 0, 5, 11, 11, 11, 2, 9, 0, 1, 4]
    weights = np.bincount(draw, minlength=len(ids))
    got = stats.metrics(weights @ per_article)
    pooled_gold = [g for k in draw for g in gold if g["article_id"] == ids[k]]
    pooled_pred = [p for k in draw for p in pred if p["article_id"] == ids[k]]
    for key, value in compute_metrics(pooled_gold, pooled_pred, SCHEMA).items():
        assert got[key][0] == pytest.approx(value, abs=1e-12), key


def test_bootstrap_ci_covers_a_known_difference_and_excludes_zero():
    rng = np.random.default_rng(0)
    sentences = rng.integers(5, 30, size=60)
    correct_a = rng.binomial(sentences, 0.60)
    correct_b = correct_a + rng.binomial(sentences - correct_a, 0.375)  # B also gets 37.5% of A's errors right: +0.15
    a = np.column_stack([correct_a, sentences])
    b = np.column_stack([correct_b, sentences])

    def accuracy(totals):
        return {"accuracy": totals[:, 0] / totals[:, 1]}

    low, high = paired_bootstrap(a, b, accuracy, rounds=2000, seed=1)["accuracy"]
    observed = (correct_b.sum() - correct_a.sum()) / sentences.sum()
    assert 0.0 < low < observed < high
    assert low < 0.15 < high  # the difference the data were drawn with
    assert paired_bootstrap(a, b, accuracy, rounds=2000, seed=1) == {"accuracy": (low, high)}  # seeded


def test_identical_predictions_have_zero_difference_and_zero_width_ci():
    gold, pred = random_records(3)
    result = compare_predictions(gold, pred, [dict(p) for p in pred], SCHEMA, rounds=200)
    assert result["articles"] == 12 and result["sentences"] == len(gold)
    for row in result["rows"]:
        assert row["diff"] == 0.0 and (row["ci_low"], row["ci_high"]) == (0.0, 0.0), row["metric"]
        assert row["verdict"] == (UNCLEAR if row["headline"] else None)


def test_verdict_needs_the_interval_to_exclude_zero():
    assert verdict(0.01, 0.05) == BETTER
    assert verdict(-0.05, -0.01) == WORSE
    assert verdict(-0.01, 0.05) == UNCLEAR
    assert verdict(None, None) is None


def test_a_clearly_better_model_is_called_better_in_well_under_a_few_seconds():
    gold, pred_a = random_records(11, articles=25)
    pred_b = [p if i % 3 == 0 else g for i, (g, p) in enumerate(zip(gold, pred_a))]  # right on two sentences in three
    start = time.perf_counter()
    result = compare_predictions(gold, pred_a, pred_b, SCHEMA, rounds=1000)
    assert time.perf_counter() - start < 5.0
    assert {r["metric"]: r["verdict"] for r in result["rows"] if r["headline"]} == dict.fromkeys(
        ("attribution/accuracy", "affiliation/macro_f1", "stance/f_avg", "span/exact_f1", "headline"), BETTER
    )


# -- the command, on two real tiny models ---------------------------------------------------------


@pytest.fixture(scope="module")
def second_tiny_model(tmp_path_factory):
    """configs/tiny.yaml trained again with another seed: a genuinely different model B."""
    import os

    from training.trainer import train

    config = RunConfig.load(ROOT / "configs" / "tiny.yaml")
    config.train.seed += 1
    out = tmp_path_factory.mktemp("tiny-model-b")
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        train(config, out, progress=False)
    finally:
        os.chdir(cwd)
    return out


@pytest.fixture(scope="module")
def small_test_set(tmp_path_factory):
    """The first three test articles of the corpus and their labels: quick to score."""
    out = tmp_path_factory.mktemp("compare-data")
    articles = [json.loads(line) for line in (ROOT / "data" / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = [a for a in articles if a["split"] == "test"][:3]
    ids = {a["id"] for a in chosen}
    labels = [json.loads(line) for line in (ROOT / "data" / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    (out / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in chosen), encoding="utf-8")
    (out / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels if r["article_id"] in ids), encoding="utf-8")
    return out / "articles.jsonl", out / "labels.jsonl"


def test_a_model_compared_with_itself_differs_by_nothing(tiny_model, small_test_set):
    result = compare_models(tiny_model, tiny_model, *small_test_set, rounds=300)
    assert result["articles"] == 3 and result["split"] == "test"
    assert {r["metric"] for r in result["rows"] if r["headline"]} == {
        "stance/f_avg",
        "attribution/accuracy",
        "affiliation/macro_f1",
        "span/exact_f1",
        "headline",
    }
    for row in result["rows"]:
        assert row["a"] == row["b"] and row["diff"] == 0.0
        assert (row["ci_low"], row["ci_high"]) == (0.0, 0.0)


def test_compare_cli_prints_the_table_and_writes_json(tiny_model, second_tiny_model, small_test_set, tmp_path, capsys):
    articles, labels = small_test_set
    out = tmp_path / "comparison.json"
    args = ["--models", str(tiny_model), str(second_tiny_model), "--articles", str(articles), "--labels", str(labels)]
    code = main(["-q", "compare", *args, "--bootstrap", "500", "--seed", "3", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == EXIT_OK
    assert "95% CI from 500 paired bootstrap rounds over articles (seed 3)" in printed
    assert "B-A" in printed and "stance/f_avg *" in printed and "span/token_f1" in printed
    result = json.loads(out.read_text())
    assert result["models"]["b"]["path"] == str(second_tiny_model)
    rows = {r["metric"]: r for r in result["rows"]}
    assert any(r["diff"] != 0.0 for r in rows.values())  # another seed, another model
    for row in rows.values():
        assert row["diff"] == pytest.approx(row["b"] - row["a"])
        if row["headline"]:
            assert row["verdict"] in (BETTER, WORSE, UNCLEAR)
            assert (row["verdict"] == UNCLEAR) == (row["ci_low"] <= 0.0 <= row["ci_high"])


def test_compare_cli_refuses_a_missing_model_with_exit_4(tiny_model, small_test_set, tmp_path, capsys):
    articles, labels = small_test_set
    models = ["--models", str(tiny_model), str(tmp_path / "nope")]
    code = main(["-q", "compare", *models, "--articles", str(articles), "--labels", str(labels)])
    assert code == EXIT_MODEL
    assert "is not a sourcestance model directory" in capsys.readouterr().err


def test_compare_cli_refuses_bad_data_with_exit_3(tiny_model, small_test_set, tmp_path, capsys):
    articles, labels = small_test_set
    models = ["--models", str(tiny_model), str(tiny_model)]
    code = main(["-q", "compare", *models, "--articles", str(tmp_path / "missing.jsonl"), "--labels", str(labels)])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT and "missing.jsonl:0: file: not found" in err and "Traceback" not in err
    code = main(["-q", "compare", *models, "--articles", str(articles), "--labels", str(labels), "--split", "dev"])
    assert code == EXIT_INPUT and "no articles of split 'dev'" in capsys.readouterr().err


def test_compare_cli_refuses_negative_bootstrap_rounds_with_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--models", "a", "b", "--articles", "x", "--labels", "y", "--bootstrap", "-5"])
    assert exit_info.value.code == EXIT_USAGE
    assert "must be 0 or more" in capsys.readouterr().err
