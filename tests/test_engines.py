"""The other engines give the PyTorch path's answers: ONNX Runtime (fp32, int8) and Ray Data."""

import json
import shutil

import pytest

from inference.predict import Predictor, collate
from inference.records import article_from_record
from tests.conftest import ROOT
from tests.test_score import _corpus, _score


def _articles(n: int):
    return [article_from_record(r) for r in _corpus(n)]


def _flat(results):
    return [r for records in results for r in records]


def _labels(r: dict) -> tuple:
    return r["speaker"]["attribution"], r["speaker"]["span"], r["speaker"]["affiliation"], tuple(r["stance"].values())


def _max_prob_diff(a: dict, b: dict) -> float:
    """Largest difference between two records' scores, over every field and value."""
    worst = 0.0
    for group in ("speaker", "stance"):
        for name, probs in a["scores"][group].items():
            worst = max(worst, max(abs(p - b["scores"][group][name][k]) for k, p in probs.items()))
    return worst


@pytest.fixture(scope="module")
def model_copy(tiny_model, tmp_path_factory):
    """A copy of the tiny model: the ONNX runtimes write their exported encoder into it."""
    pytest.importorskip("onnxruntime")
    target = tmp_path_factory.mktemp("onnx") / "model"
    shutil.copytree(tiny_model, target)
    return target


def test_onnx_fp32_matches_pytorch(model_copy):
    articles = _articles(4)
    reference = _flat(Predictor.from_dir(model_copy).predict(articles))
    onnx = _flat(Predictor.from_dir(model_copy, runtime="onnx").predict(articles))
    assert (model_copy / "encoder.onnx").is_file()
    assert [_labels(r) for r in onnx] == [_labels(r) for r in reference]
    assert max(_max_prob_diff(a, b) for a, b in zip(onnx, reference)) < 1e-3


def test_onnx_int8_stays_close_to_pytorch(model_copy):
    articles = _articles(4)
    reference = _flat(Predictor.from_dir(model_copy).predict(articles))
    int8 = _flat(Predictor.from_dir(model_copy, runtime="onnx-int8").predict(articles))
    import onnx

    ops = {node.op_type for node in onnx.load(str(model_copy / "encoder.int8.onnx")).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops  # weight matrices run in int8
    assert (model_copy / "encoder.int8.onnx").stat().st_size < 0.7 * (model_copy / "encoder.onnx").stat().st_size
    decisions = [(x, y) for a, b in zip(int8, reference) for x, y in zip(_labels(a), _labels(b))]
    assert sum(x == y for x, y in decisions) / len(decisions) >= 0.9
    assert max(_max_prob_diff(a, b) for a, b in zip(int8, reference)) < 0.25


def test_torch_bf16_stays_close_to_pytorch_and_writes_nothing(tiny_model):
    import torch

    from inference.runtimes import Bf16Encoder

    before = sorted(p.name for p in tiny_model.iterdir())
    articles = _articles(4)
    reference = Predictor.from_dir(tiny_model)
    bf16 = Predictor.from_dir(tiny_model, runtime="torch-bf16")
    assert isinstance(bf16.encoder_runtime, Bf16Encoder)
    tensors = collate(bf16.prepare(articles).windows[:8], 0)
    with torch.inference_mode():
        exact = reference.model.encoder(**{k: tensors[k] for k in ("input_ids", "attention_mask", "token_type_ids")})
        approx = bf16.encoder_runtime(tensors["input_ids"], tensors["attention_mask"], tensors["token_type_ids"])
    assert approx.dtype == torch.float32
    scale = exact.last_hidden_state.abs().mean()
    assert 0 < (approx - exact.last_hidden_state).abs().mean() < 0.05 * scale  # bf16 really ran, and stayed close
    records, expected = _flat(bf16.predict(articles)), _flat(reference.predict(articles))
    decisions = [(x, y) for a, b in zip(records, expected) for x, y in zip(_labels(a), _labels(b))]
    assert sum(x == y for x, y in decisions) / len(decisions) >= 0.9
    assert sorted(p.name for p in tiny_model.iterdir()) == before


def test_unknown_runtime_is_refused(tiny_model, tmp_path):
    result = _score(tiny_model, ROOT / "data" / "sample.jsonl", tmp_path / "o.jsonl", "--runtime", "tpu")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_ray_engine_on_two_local_workers_equals_the_local_engine(tiny_model, tmp_path):
    pytest.importorskip("ray")
    lines = [json.dumps(r) for r in _corpus(6)]
    lines.insert(2, "{broken json")
    lines.insert(4, json.dumps({"id": "empty", "text": " "}))
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    local, distributed = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert _score(tiny_model, src, local).returncode == 0
    result = _score(tiny_model, src, distributed, "--engine", "ray", "--workers", "2", "--chunk-articles", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    ours = [json.loads(line) for line in distributed.read_text(encoding="utf-8").splitlines()]
    theirs = [json.loads(line) for line in local.read_text(encoding="utf-8").splitlines()]
    assert len(ours) == len(theirs) == sum(len(article_from_record(r).sentences) for r in _corpus(6))
    assert [(r["article_id"], r["sentence_index"], _labels(r)) for r in ours] == [
        (r["article_id"], r["sentence_index"], _labels(r)) for r in theirs
    ]
    assert max(_max_prob_diff(a, b) for a, b in zip(ours, theirs)) < 1e-3
    assert (tmp_path / "ray.rejects.jsonl").read_text() == (tmp_path / "local.rejects.jsonl").read_text()
    assert "2 rejected" in result.stdout


def test_ray_engine_refuses_resume(tiny_model, tmp_path):
    pytest.importorskip("ray")
    result = _score(tiny_model, ROOT / "data" / "sample.jsonl", tmp_path / "o.jsonl", "--engine", "ray", "--resume")
    assert result.returncode == 2 and "--resume is for the local engine" in result.stderr


def test_throughput_benchmark_runs_every_model_and_runtime_side_by_side(tiny_model):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "benchmarks/throughput.py", "--model", str(tiny_model), "--articles", "2"]
        + ["--peer-sentences", "3", "--runtimes", "torch,torch-bf16", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    name = str(tiny_model)
    for row in ("naive peer, sentence alone", f"sourcestance, {name}, torch |", f"sourcestance, {name}, torch-bf16 |"):
        assert row in result.stdout
    assert f"{name}, torch-bf16 vs {name}, torch:" in result.stdout and "peak RSS" in result.stdout
