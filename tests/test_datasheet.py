import json
from collections import Counter

from tests.conftest import ROOT
from training.corpus_stats import stats_table, table_in
from training.data import load_corpus


def test_datasheet_table_matches_the_files():
    corpus = load_corpus(ROOT / "data" / "articles.jsonl", ROOT / "data" / "labels.jsonl")
    datasheet = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert table_in(datasheet) == stats_table(corpus)


def test_corpus_meets_the_coverage_the_issue_asks_for():
    corpus = load_corpus(ROOT / "data" / "articles.jsonl", ROOT / "data" / "labels.jsonl")
    labels = [label for a in corpus for label in a.labels]
    n = len(labels)
    assert len(corpus) >= 120 and n >= 2000
    sides = Counter(r["speaker"]["affiliation"] for r in labels)
    for side in ("hamas", "pa", "egypt", "israel", "other"):
        assert sides[side] / n >= 0.08, side
    assert 0.25 <= sides["author"] / n <= 0.45
    for target in ("egypt", "hamas", "pa"):
        stance = Counter(r["stance"][target] for r in labels)
        for value in ("favor", "against"):
            assert stance[value] / n >= 0.08, (target, value)
    splits = [a.split for a in corpus]
    assert 0.6 <= splits.count("train") / len(splits) <= 0.8
    words = [len(r["text"].split()) for r in labels]
    assert min(words) >= 5 and max(words) <= 70


def test_sample_corpus_is_the_test_split_as_text():
    sample = [json.loads(line) for line in (ROOT / "data" / "sample.jsonl").read_text(encoding="utf-8").splitlines()]
    corpus = {a.id: a for a in load_corpus(ROOT / "data" / "articles.jsonl", ROOT / "data" / "labels.jsonl")}
    assert sample and all(corpus[r["id"]].split == "test" for r in sample)
