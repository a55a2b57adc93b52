"""Temperature scaling: ECE and reliability on synthetic data, the fit, and the trained model's calibration.json."""

import json

import numpy as np
import pytest

from inference.config import ConfigError, LabelsConfig, RunConfig
from inference.model import CALIBRATION_FILE, load_temperatures
from inference.predict import Predictor
from inference.schema import LabelSchema
from training.calibration import (
    MAX_TEMPERATURE,
    MIN_TEMPERATURE,
    apply_temperature,
    calibration_errors,
    expected_calibration_error,
    fit_temperature,
    head_scores,
    negative_log_likelihood,
    reliability_table,
)
from training.data import load_corpus, select_split
from training.evaluate import Evaluator


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def sample_labels(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One label per row drawn from that row's distribution: the data a calibrated model would see."""
    u = rng.random(len(probs))[:, None]
    return (u > probs.cumsum(1)).sum(1).clip(0, probs.shape[1] - 1)


def synthetic(n: int = 20_000, classes: int = 3, temperature: float = 1.0, seed: int = 0):
    """Logits, and labels drawn from softmax(logits / temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, size=(n, classes))
    return logits, sample_labels(rng, softmax(logits / temperature))


def test_ece_of_calibrated_probabilities_is_near_zero():
    logits, labels = synthetic()
    assert expected_calibration_error(softmax(logits), labels) < 0.02


def test_ece_of_overconfident_probabilities_is_high():
    logits, labels = synthetic(temperature=3.0)  # the truth is much flatter than the scores say
    assert expected_calibration_error(softmax(logits), labels) > 0.15


def test_ece_of_a_confident_right_and_a_confident_wrong_answer():
    probs = np.array([[0.9, 0.1], [0.9, 0.1]])
    assert expected_calibration_error(probs, np.array([0, 0])) == pytest.approx(0.1)
    assert expected_calibration_error(probs, np.array([1, 1])) == pytest.approx(0.9)


@pytest.mark.parametrize("true_t", [0.5, 2.5])
def test_fit_temperature_recovers_a_known_temperature(true_t):
    logits, labels = synthetic(classes=4, temperature=true_t, seed=1)
    assert fit_temperature(logits, labels) == pytest.approx(true_t, rel=0.1)


def test_fit_temperature_ignores_a_shift_of_the_logits():
    logits, labels = synthetic(temperature=2.0, seed=2)
    shifted = logits + np.random.default_rng(3).normal(0, 10, size=(len(logits), 1))
    assert fit_temperature(shifted, labels) == pytest.approx(fit_temperature(logits, labels), rel=1e-4)


def test_temperature_scaling_lowers_nll_and_ece_on_held_out_data():
    logits, labels = synthetic(n=8_000, temperature=2.5, seed=4)
    fit, held = slice(0, 4_000), slice(4_000, None)
    t = fit_temperature(logits[fit], labels[fit])
    before, after = softmax(logits[held]), softmax(logits[held] / t)
    assert negative_log_likelihood(after, labels[held]) < negative_log_likelihood(before, labels[held]) - 0.1
    assert expected_calibration_error(after, labels[held]) < 0.03 < expected_calibration_error(before, labels[held])


def test_fit_temperature_stays_in_bounds_and_returns_one_without_signal():
    separable = np.array([[5.0, 0.0], [0.0, 5.0]] * 10)
    assert fit_temperature(separable, np.array([0, 1] * 10)) == pytest.approx(MIN_TEMPERATURE, rel=1e-3)
    coin = np.array([[1.0, 0.0]] * 20)
    assert fit_temperature(coin, np.array([0, 1] * 10)) == pytest.approx(MAX_TEMPERATURE, rel=1e-3)
    assert fit_temperature(np.zeros((6, 3)), np.array([0, 1, 2, 0, 1, 2])) == 1.0


@pytest.mark.parametrize(
    "logits, labels",
    [(np.zeros((3, 2)), np.array([0, 2, 1])), (np.zeros((3, 2)), np.array([0, 1])), (np.zeros((0, 2)), np.array([], int))],
)
def test_bad_input_is_refused_with_a_clear_error(logits, labels):
    with pytest.raises(ValueError):
        fit_temperature(logits, labels)


def test_apply_temperature_matches_softmax_of_scaled_logits():
    logits, _ = synthetic(n=50)
    assert np.allclose(apply_temperature(softmax(logits), 2.0), softmax(logits / 2.0), atol=1e-9)
    assert np.array_equal(apply_temperature(softmax(logits), 0.3).argmax(1), logits.argmax(1))


def test_reliability_table_bins_every_example_and_agrees_with_ece():
    logits, labels = synthetic(n=5_000, temperature=2.0, seed=5)
    probs = softmax(logits)
    table = reliability_table(probs, labels, bins=10)
    assert [(row["lower"], row["upper"]) for row in table][:2] == [(0.0, 0.1), (0.1, 0.2)]
    assert sum(row["count"] for row in table) == len(labels)
    empty = [row for row in table if row["count"] == 0]
    assert empty and all(row["confidence"] is None and row["accuracy"] is None for row in empty)  # 3 classes: conf > 1/3
    ece = sum(row["count"] * abs(row["confidence"] - row["accuracy"]) for row in table if row["count"]) / len(labels)
    assert ece == pytest.approx(expected_calibration_error(probs, labels, bins=10))


def test_head_scores_reads_record_scores_and_gold_values():
    schema = LabelSchema.from_config(LabelsConfig(targets=["egypt"]))
    stance = {"favor": 0.7, "against": 0.2, "none": 0.1}
    record = {
        "article_id": "a",
        "sentence_index": 0,
        "scores": {
            "speaker": {"attribution": {"direct": 0.6, "indirect": 0.3, "none": 0.1}, "affiliation": {"hamas": 1.0}},
            "stance": {"egypt": stance},
        },
    }
    gold = {
        "article_id": "a",
        "sentence_index": 0,
        "speaker": {"attribution": "indirect", "affiliation": "pa"},
        "stance": {"egypt": "favor"},
    }
    arrays = head_scores([record], [gold], schema)
    assert list(arrays) == ["attribution", "affiliation", "stance_egypt"]
    probs, labels = arrays["stance_egypt"]
    assert probs.tolist() == [[0.7, 0.2, 0.1]] and labels.tolist() == [0]
    assert arrays["attribution"][1].tolist() == [1]
    assert arrays["affiliation"][0].tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]] and arrays["affiliation"][1].tolist() == [1]
    with pytest.raises(ValueError, match="out of step"):
        head_scores([record], [{**gold, "sentence_index": 1}], schema)


def test_calibrate_must_be_true_or_false():
    with pytest.raises(ConfigError, match="train.calibrate: expected true or false"):
        RunConfig.from_dict({"train": {"calibrate": "yes"}})
    assert RunConfig().train.calibrate is True


def test_trained_model_writes_positive_temperatures_and_reports_ece(tiny_model):
    calibration = json.loads((tiny_model / CALIBRATION_FILE).read_text())
    schema = Predictor.from_dir(tiny_model, temperatures={}).schema
    assert set(calibration["temperature"]) == set(schema.heads)
    assert all(t > 0 for t in calibration["temperature"].values())
    assert calibration["fitted_on"] == "dev"
    for key in ("ece_before", "ece_after"):
        assert set(calibration[key]) == {"dev", "test"}
        assert all(0.0 <= x <= 1.0 for split in calibration[key].values() for x in split.values())
    metrics = json.loads((tiny_model / "metrics.json").read_text())
    assert metrics["calibration"] == calibration
    card = (tiny_model / "README.md").read_text()
    assert "## Calibration" in card and "dev ECE before → after" in card


def test_predictor_from_dir_applies_the_temperatures_without_changing_labels(tiny_model):
    calibrated = Predictor.from_dir(tiny_model)
    raw = Predictor.from_dir(tiny_model, temperatures={})
    assert calibrated.temperatures == load_temperatures(tiny_model) != {}
    config = calibrated.config
    corpus = load_corpus(config.data.articles, config.data.labels)
    dev = Evaluator(select_split(corpus, config.data.dev_split, config.data.max_eval_articles), calibrated.schema, "dev")
    cal_records, raw_records = dev.predictions(calibrated.predict), dev.predictions(raw.predict)
    assert [r["scores"] for r in cal_records] != [r["scores"] for r in raw_records]
    assert [(r["speaker"], r["stance"]) for r in cal_records] == [(r["speaker"], r["stance"]) for r in raw_records]
    # The ECE written at training time is the ECE of what the saved model now scores.
    saved = json.loads((tiny_model / CALIBRATION_FILE).read_text())
    measured = calibration_errors(cal_records, dev.gold, calibrated.schema)
    assert measured == pytest.approx(saved["ece_after"]["dev"], abs=2e-3)
    assert calibration_errors(raw_records, dev.gold, raw.schema) == pytest.approx(saved["ece_before"]["dev"], abs=1e-4)
