import pytest

from inference.config import LabelsConfig
from inference.schema import LabelSchema
from training.metrics import compute_metrics, confusion_matrices

SCHEMA = LabelSchema.from_config(LabelsConfig())


def rec(i, att="none", span=None, aff="author", egypt="none", mention=None):
    return {
        "article_id": "a",
        "sentence_index": i,
        "text": "t",
        "speaker": {"attribution": att, "span": span, "mention": mention, "affiliation": aff},
        "stance": {"egypt": egypt, "hamas": "none", "pa": "none"},
    }


def test_perfect_predictions_score_one():
    gold = [rec(0), rec(1, "direct", "he", "hamas", "favor", "X"), rec(2, "indirect", "the official", "pa", "against", "Y")]
    m = compute_metrics(gold, gold, SCHEMA)
    assert m["attribution/accuracy"] == 1.0 and m["affiliation/macro_f1"] == 1.0
    assert m["stance/egypt/f_avg"] == 1.0 and m["span/exact_f1"] == 1.0 and m["span/token_f1"] == 1.0


def test_span_scores_count_null_matches_and_partial_overlap():
    gold = [rec(0), rec(1, "direct", "the senior official", "hamas")]
    pred = [rec(0), rec(1, "direct", "official", "hamas")]
    m = compute_metrics(gold, pred, SCHEMA)
    assert m["span/exact_f1"] == 0.5
    assert m["span/token_f1"] == pytest.approx((1 + 0.5) / 2)


def test_f_avg_ignores_the_none_class():
    gold = [rec(0, egypt="favor"), rec(1, egypt="against"), rec(2), rec(3)]
    pred = [rec(0, egypt="favor"), rec(1, egypt="none"), rec(2), rec(3, egypt="against")]
    m = compute_metrics(gold, pred, SCHEMA)
    assert m["stance/egypt/f_avg"] == pytest.approx((1.0 + 0.0) / 2)
    matrix = confusion_matrices(gold, pred, SCHEMA)["stance/egypt"]
    assert matrix["labels"] == ["favor", "against", "none"]
    assert matrix["matrix"][1] == [0, 0, 1]


def test_misaligned_records_are_refused():
    with pytest.raises(ValueError, match="out of step"):
        compute_metrics([rec(0)], [rec(1)], SCHEMA)
