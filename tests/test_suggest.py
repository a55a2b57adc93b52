import json
import math
import random
from pathlib import Path

import pytest

from sourcestance.cli import main
from training.suggest import Ranker, head_uncertainty, rank, uncertainty

TARGETS = ("egypt", "hamas", "pa")


def _scored(aid: str, index: int, confidence: float) -> dict:
    """A scored record whose every head puts ``confidence`` on its first value, the rest spread evenly."""

    def dist(values):
        rest = (1 - confidence) / (len(values) - 1)
        return {v: (confidence if i == 0 else rest) for i, v in enumerate(values)}

    return {
        "article_id": aid,
        "sentence_index": index,
        "text": f"Sentence {index} of {aid}.",
        "speaker": {"attribution": "none", "span": None, "mention": None, "affiliation": "author"},
        "stance": {t: "none" for t in TARGETS},
        "scores": {
            "speaker": {
                "attribution": dist(["none", "direct", "indirect"]),
                "affiliation": dist(["author", "hamas", "pa", "egypt", "israel", "other"]),
            },
            "stance": {t: dist(["none", "favor", "against"]) for t in TARGETS},
        },
    }


def test_head_uncertainty_is_zero_when_certain_and_one_when_uniform():
    for strategy in ("entropy", "margin"):
        assert head_uncertainty({"a": 1.0, "b": 0.0, "c": 0.0}, strategy) == pytest.approx(0.0)
        assert head_uncertainty({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, strategy) == pytest.approx(1.0)
        assert 0 < head_uncertainty({"a": 0.7, "b": 0.2, "c": 0.1}, strategy) < 1
    assert head_uncertainty({"a": 0.5, "b": 0.3, "c": 0.2}, "margin") == pytest.approx(0.8)
    entropy = -(0.5 * math.log(0.5) + 0.3 * math.log(0.3) + 0.2 * math.log(0.2)) / math.log(3)
    assert head_uncertainty({"a": 0.5, "b": 0.3, "c": 0.2}) == pytest.approx(entropy)


def test_the_least_certain_head_decides():
    record = _scored("a", 0, 0.99)
    calm = uncertainty(record)[0]
    record["scores"]["stance"]["pa"] = {"favor": 0.45, "against": 0.1, "none": 0.45}
    assert uncertainty(record)[0] > 0.8 > calm
    assert uncertainty({"article_id": "a"}) == (0.0, 0.0)  # no scores: nothing to rank by


@pytest.mark.parametrize("strategy", ["entropy", "margin"])
def test_uncertain_sentences_come_before_confident_ones(strategy):
    rng = random.Random(3)
    confidences = [rng.uniform(0.34, 1.0) for _ in range(40)]
    records = [_scored(f"a{i}", 0, c) for i, c in enumerate(confidences)]
    rng.shuffle(records)
    picked = rank(records, n=10, per_article=1, strategy=strategy)
    got = [s.record["scores"]["speaker"]["attribution"]["none"] for s in picked]
    assert got == sorted(confidences)[:10]  # the ten least confident, least confident first
    assert [s.uncertainty for s in picked] == sorted((s.uncertainty for s in picked), reverse=True)


def test_per_article_cap_and_n_are_respected_and_rounds_go_round_robin():
    records = [_scored("busy", i, 0.4 + 0.01 * i) for i in range(10)]  # the most uncertain article
    records += [_scored(f"calm{k}", i, 0.9 + 0.01 * i) for k in range(3) for i in range(3)]
    picked = rank(records, n=7, per_article=2)
    assert len(picked) == 7
    per_article = {}
    for s in picked:
        per_article[s.record["article_id"]] = per_article.get(s.record["article_id"], 0) + 1
    assert max(per_article.values()) <= 2
    # round 1: every article's most uncertain sentence, busiest first; then the second round
    assert [(s.record["article_id"], s.record["sentence_index"]) for s in picked[:4]] == [
        ("busy", 0),
        ("calm0", 0),
        ("calm1", 0),
        ("calm2", 0),
    ]
    assert (picked[4].record["article_id"], picked[4].record["sentence_index"]) == ("busy", 1)
    assert len(rank(records, n=100, per_article=2)) == 2 * 4  # fewer candidates than n: all of them
    assert len(rank(records, n=3, per_article=5)) == 3


def test_ranker_keeps_only_what_can_still_be_suggested():
    ranker = Ranker(n=3, per_article=2)
    for k in range(50):
        ranker.add_article([_scored(f"a{k}", i, 0.5 + 0.009 * k) for i in range(5)], payload=k)
    assert len(ranker._articles) == 3  # the three most uncertain articles, never more
    top = ranker.top()
    assert [s.payload for s in top] == [0, 1, 2]
    assert all(s.record["sentence_index"] == 0 for s in top)  # ties keep input order


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        Ranker(n=0)
    with pytest.raises(ValueError):
        Ranker(n=5, strategy="random")


def test_suggest_cli_on_the_tiny_model(tiny_model, tmp_path, capsys):
    corpus = tmp_path / "sample5.jsonl"  # the first three articles of data/sample.jsonl keep the test to seconds
    corpus.write_text("".join(Path("data/sample.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)[:3]))
    out = tmp_path / "tasks.json"
    code = main(["-q", "suggest", "--model", str(tiny_model), "--input", str(corpus), "-n", "5", "--output", str(out)])
    assert code == 0, capsys.readouterr().err
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert len(tasks) == 5
    per_article = {}
    for task in tasks:
        data = task["data"]
        assert set(data) == {"article_id", "sentence_index", "text", "context", "uncertainty"}
        per_article[data["article_id"]] = per_article.get(data["article_id"], 0) + 1
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == "sourcestance-tiny@0.0.1"
        assert prediction["score"] == pytest.approx(1 - data["uncertainty"], abs=1e-4)
        names = {r["from_name"] for r in prediction["result"]}
        assert {"attribution", "affiliation", "stance_egypt", "stance_hamas", "stance_pa"} <= names
    assert sorted(per_article.values()) == [1, 2, 2]  # the default cap of 2, round robin over 3 articles
    first_round = [t["data"]["uncertainty"] for t in tasks[:3]]
    assert len({t["data"]["article_id"] for t in tasks[:3]}) == 3 and first_round == sorted(first_round, reverse=True)
    assert "5 most uncertain" in capsys.readouterr().out


def test_suggest_cli_errors(tiny_model, tmp_path, capsys):
    out = str(tmp_path / "t.json")
    assert main(["-q", "suggest", "--model", str(tiny_model), "--input", "missing.jsonl", "--output", out]) == 3
    assert main(["-q", "suggest", "--model", str(tmp_path), "--input", "data/sample.jsonl", "--output", out]) == 4
    with pytest.raises(SystemExit) as e:
        main(["-q", "suggest", "--model", str(tiny_model), "--input", "data/sample.jsonl", "-n", "0", "--output", out])
    assert e.value.code == 2
    assert "must be 1 or more" in capsys.readouterr().err
