"""Train → save → load → score → evaluate on the tiny config, through the real CLI."""

import json
import subprocess
import sys

import pytest

from inference.model import ModelLoadError, load_model
from inference.predict import Predictor
from inference.records import article_from_record
from tests.conftest import ROOT, SHARED
from training.validate import validate_files

ARTICLES = [
    {
        "id": "n1",
        "title": "Crossing",
        "source": "wire",
        "text": "Egypt reopened the Rafah crossing on Monday. “We will keep it open,” an Egyptian official said. "
        "He added that trucks would enter daily.\nHamas welcomed the move.",
    },
    {"id": "n2", "sentences": ["The talks in Cairo ended without a deal.", "“Hamas is to blame,” said a PA official."]},
]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "sourcestance", *args], cwd=ROOT, capture_output=True, text=True)


def test_model_directory_describes_itself(tiny_model):
    names = {p.name for p in tiny_model.iterdir()}
    assert {"model.safetensors", "sourcestance.yaml", "labels.json", "config.json", "README.md", "metrics.json"} <= names
    assert "stance_bias.json" in names  # configs/tiny.yaml asks for dev-fitted stance offsets
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)
    metrics = json.loads((tiny_model / "metrics.json").read_text())
    assert set(metrics) >= {"dev", "test", "training"}
    assert 0.0 <= metrics["test"]["stance/f_avg"] <= 1.0
    assert "stance/egypt/f_avg" in (tiny_model / "README.md").read_text()


def test_score_cli_writes_contract_records(tiny_model, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(a) for a in ARTICLES) + "\n")
    out = tmp_path / "out.jsonl"
    result = cli("-q", "score", "--model", str(tiny_model), "--input", str(src), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "scored 2 articles, 6 sentences" in result.stdout
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["article_id"], r["sentence_index"]) for r in records] == [("n1", i) for i in range(4)] + [("n2", 0), ("n2", 1)]
    text = ARTICLES[0]["text"]
    for r in records[:4]:
        assert text[r["start"] : r["end"]] == r["text"]
        assert r["source"] == "wire" and r["title"] == "Crossing"
    assert "start" not in records[4]
    for r in records:
        assert r["model"] == {"name": "sourcestance-tiny", "version": "0.0.1"}
        for target, probs in r["scores"]["stance"].items():
            assert sum(probs.values()) == pytest.approx(1.0, abs=1e-3)
            assert r["stance"][target] == max(probs, key=probs.get)
        if r["speaker"]["span"] is not None:
            assert r["speaker"]["span"] in r["text"]
    # The output speaks the label contract: the corpus validator accepts it.
    labelled = tmp_path / "labels.jsonl"
    labelled.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert [str(p) for p in validate_files([labelled])] == []


def test_scoring_is_deterministic(tiny_model):
    predictor = Predictor.from_dir(tiny_model)
    articles = [article_from_record(a) for a in ARTICLES]
    first = predictor.predict(articles)
    again = Predictor.from_dir(tiny_model).predict(list(reversed(articles)))
    assert first == list(reversed(again))


def test_evaluate_cli_reports_model_and_baseline(tiny_model, tmp_path):
    out = tmp_path / "eval.json"
    result = cli(
        "-q",
        "evaluate",
        "--model",
        str(tiny_model),
        "--articles",
        "data/articles.jsonl",
        "--labels",
        "data/labels.jsonl",
        "--split",
        "dev",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "transformer" in result.stdout and "baseline" in result.stdout
    report = json.loads(out.read_text())
    for system in ("transformer", "baseline"):
        metrics = report[system]["metrics"]
        assert {"stance/f_avg", "attribution/accuracy", "affiliation/macro_f1", "span/exact_f1"} <= set(metrics)
    matrix = report["transformer"]["confusion"]["attribution"]["matrix"]
    assert sum(map(sum, matrix)) == int(report["transformer"]["metrics"]["sentences"])


def test_not_a_model_directory(tmp_path):
    with pytest.raises(ModelLoadError, match="not a sourcestance model directory"):
        load_model(tmp_path)
    result = cli("score", "--model", str(tmp_path), "--input", "x.jsonl", "--output", str(tmp_path / "o.jsonl"))
    assert result.returncode == 4 and "error:" in result.stderr and "Traceback" not in result.stderr


def test_wrong_config_is_refused_by_train(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epocs: 3\n")
    result = cli("train", "--config", str(bad), "--output", str(tmp_path / "m"))
    assert result.returncode == 3
    assert "train.epocs: unknown key" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(not (SHARED / "seed-article.txt").is_file(), reason="shared seed article not present")
def test_seed_article_scores_through_the_tiny_model(tiny_model):
    text = (SHARED / "seed-article.txt").read_text(encoding="utf-8")
    [records] = Predictor.from_dir(tiny_model).predict([article_from_record({"id": "seed", "text": text})])
    assert len(records) == 15
    assert all(text[r["start"] : r["end"]] == r["text"] for r in records)


def test_training_is_deterministic_for_a_seed(tiny_model, tmp_path):
    import torch
    from safetensors.torch import load_file

    from inference.config import RunConfig
    from training.trainer import train

    train(RunConfig.load(ROOT / "configs" / "tiny.yaml"), tmp_path / "again", progress=False)
    first, second = load_file(tiny_model / "model.safetensors"), load_file(tmp_path / "again" / "model.safetensors")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_window_layout_trains_and_scores_each_sentence_once(tmp_path):
    """The faster layout (several sentences per encoder input) goes through the same recipe."""
    from inference.config import RunConfig
    from training.trainer import train

    config = RunConfig.load(ROOT / "configs" / "tiny.yaml")
    config.model.layout = "window"
    config.train.max_steps = 3
    train(config, tmp_path / "window", progress=False)
    predictor = Predictor.from_dir(tmp_path / "window")
    assert predictor.config.model.layout == "window"
    articles = [article_from_record(a) for a in ARTICLES]
    together = predictor.predict(articles)
    assert [[r["sentence_index"] for r in records] for records in together] == [[0, 1, 2, 3], [0, 1]]
    alone = [predictor.predict([a])[0] for a in articles]
    assert [[r["stance"] for r in rs] for rs in together] == [[r["stance"] for r in rs] for rs in alone]
