"""Retraining on new labels: merging label files over the corpus, a parent model, a new target, the card's data record."""

import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from inference.config import RunConfig
from inference.model import ModelLoadError, build_model, load_parent_weights
from sourcestance.cli import main
from tests.conftest import ROOT
from tests.test_label_io import _annotation
from training.baselines import Baseline
from training.data import CorpusError, load_corpus, merge_corpus
from training.validate import validate_files, validate_merged_labels

NONE3 = {"egypt": "none", "hamas": "none", "pa": "none"}
A1 = ["Egypt opened the crossing on Monday.", "\u201cWe welcome it,\u201d a Hamas official said.", "Talks resume next week."]
A2 = ["The PA said nothing.", "Analysts expect more closures."]


def _label(aid, index, text, stance=None, **extra):
    if "a Hamas official said" in text:
        speaker = {"attribution": "direct", "span": "a Hamas official", "mention": "a Hamas official", "affiliation": "hamas"}
    else:
        speaker = {"attribution": "none", "span": None, "mention": None, "affiliation": "author"}
    return {"article_id": aid, "sentence_index": index, "text": text, "speaker": speaker, "stance": stance or NONE3, **extra}


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path) -> tuple[Path, Path]:
    """Two articles (train, dev), every sentence labelled; valid as `data validate` sees it."""
    articles = _write(
        tmp_path / "articles.jsonl",
        [
            {"id": "a1", "title": "T", "date": "2020-01-01", "split": "train", "sentences": A1},
            {"id": "a2", "title": "T", "date": "2020-01-02", "split": "dev", "sentences": A2},
        ],
    )
    labels = _write(
        tmp_path / "labels.jsonl", [_label("a1", i, s) for i, s in enumerate(A1)] + [_label("a2", i, s) for i, s in enumerate(A2)]
    )
    assert validate_files([articles, labels]) == []
    return articles, labels


def _cli(capsys, *args):
    code = main(["-q", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


# --- merge semantics --------------------------------------------------------------------------


def test_later_labels_win_and_exact_duplicates_are_dropped(corpus, tmp_path):
    articles, labels = corpus
    favor = {**NONE3, "egypt": "favor"}
    against = {**NONE3, "egypt": "against"}
    # the split of a known article, repeated, does not make a record differ
    first = _write(tmp_path / "first.jsonl", [_label("a1", 0, A1[0], split="train"), _label("a1", 2, A1[2], favor)])
    second = _write(tmp_path / "second.jsonl", [_label("a1", 2, A1[2], against), _label("a1", 2, A1[2], against)])
    assert validate_merged_labels([first, second]) == []  # a sentence labelled again is no problem here
    merged, report = merge_corpus(articles, labels, [first, second])
    a1 = next(a for a in merged if a.id == "a1")
    assert [rec["stance"]["egypt"] for rec in a1.labels] == ["none", "none", "against"]
    assert [(f["records"], f["overridden"], f["duplicates"], f["added"]) for f in report.files] == [(2, 1, 1, 0), (2, 1, 1, 0)]
    assert report.to_json() | {"files": None} == {
        "records": 4,
        "overridden": 2,
        "duplicates_dropped": 2,
        "added": 0,
        "new_articles": 0,
        "new_sentences": 0,
        "files": None,
    }
    assert report.merged == {("a1", 2)}
    # in the other order the favor label is the later one
    a1 = next(a for a in load_corpus(articles, labels, [second, first]) if a.id == "a1")
    assert a1.labels[2]["stance"]["egypt"] == "favor"


def test_a_new_complete_article_is_added_to_train_unless_its_records_name_a_split(corpus, tmp_path):
    articles, labels = corpus
    sentences = ["Gaza residents queued at dawn.", "\u201cWe wait,\u201d a Hamas official said."]
    extra = _write(tmp_path / "new.jsonl", [_label("n1", 1, sentences[1]), _label("n1", 0, sentences[0])])
    merged, report = merge_corpus(articles, labels, [extra])
    assert [(a.id, a.split) for a in merged] == [("a1", "train"), ("a2", "dev"), ("n1", "train")]
    assert merged[-1].sentences == sentences and [r["sentence_index"] for r in merged[-1].labels] == [0, 1]
    assert report.new_articles == {"n1": {"split": "train", "sentences": 2}} and report.to_json()["added"] == 2

    dev = _write(tmp_path / "dev.jsonl", [_label("n1", 0, sentences[0], split="dev"), _label("n1", 1, sentences[1])])
    assert load_corpus(articles, labels, [dev])[-1].split == "dev"
    mixed = _write(
        tmp_path / "mixed.jsonl", [_label("n1", 0, sentences[0], split="dev"), _label("n1", 1, sentences[1], split="test")]
    )
    with pytest.raises(CorpusError, match=r"records of new article 'n1' name different splits \['dev', 'test'\]"):
        load_corpus(articles, labels, [mixed])


def test_an_incomplete_new_article_is_an_error_naming_file_article_and_missing_sentences(corpus, tmp_path):
    articles, labels = corpus
    extra = _write(tmp_path / "partial.jsonl", [_label("n1", i, f"Sentence number {i}.") for i in (0, 2, 5)])
    with pytest.raises(CorpusError) as error:
        load_corpus(articles, labels, [extra])
    message = str(error.value)
    assert f"{extra}: article 'n1' is not in {articles}" in message
    assert "sentence(s) 1, 3-4 of its 6 have no label" in message
    assert "label every sentence of the article" in message


def test_text_that_differs_from_the_article_is_an_error_naming_file_and_line(corpus, tmp_path):
    articles, labels = corpus
    extra = _write(tmp_path / "typo.jsonl", [_label("a1", 0, A1[0]), _label("a1", 2, "Talks resume next month.")])
    with pytest.raises(CorpusError, match=rf"{extra}:2: text differs from sentence 2 of article 'a1' in {articles}"):
        load_corpus(articles, labels, [extra])
    past_end = _write(tmp_path / "past.jsonl", [_label("a2", 7, "Something else.")])
    with pytest.raises(CorpusError, match=rf"{past_end}:1: article 'a2' has only 2 sentences"):
        load_corpus(articles, labels, [past_end])
    moved = _write(tmp_path / "moved.jsonl", [_label("a2", 0, A2[0], split="train")])
    with pytest.raises(CorpusError, match="labels cannot move a known article"):
        load_corpus(articles, labels, [moved])
    leak = _write(tmp_path / "leak.jsonl", [_label("n9", 0, A2[1])])  # a dev sentence in a new train article
    with pytest.raises(
        CorpusError, match=r"leak.jsonl:1: sentence 0 of new article 'n9' \(split 'train'\) is also in split 'dev'"
    ):
        load_corpus(articles, labels, [leak])


def test_validation_of_corpus_files_is_unchanged_and_extra_files_are_checked_record_by_record(corpus, tmp_path):
    articles, labels = corpus
    extra = _write(tmp_path / "extra.jsonl", [_label("n1", 0, "New text."), _label("a1", 0, A1[0], {**NONE3, "egypt": "pro"})])
    # as corpus files, an article the articles file lacks and a second label of a sentence are problems
    text = "\n".join(map(str, validate_files([articles, labels, extra])))
    assert "no article 'n1'" in text and "duplicate label for 'a1' sentence 0" in text
    # merged by --data, only the contract counts
    assert [str(p) for p in validate_merged_labels([extra])] == [
        f"{extra}:2: stance.egypt: must be one of ['favor', 'against', 'none'], got 'pro'"
    ]
    article = _write(tmp_path / "article.jsonl", [{"id": "x", "sentences": ["A."]}, _label("n1", 0, "A.", split="later")])
    assert [str(p) for p in validate_merged_labels([article])] == [
        f"{article}:1: line: not a label record (article_id); --data takes label files",
        f"{article}:2: split: must be one of train, dev, test, got 'later'",
    ]


def test_train_cli_reports_data_and_parent_problems_without_a_traceback(corpus, tmp_path, capsys):
    articles, labels = corpus
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"data": {"articles": str(articles), "labels": str(labels)}}), encoding="utf-8")
    partial = _write(tmp_path / "partial.jsonl", [_label("n1", 1, "Only the second sentence.")])
    code, _, stderr = _cli(capsys, "train", "--config", config, "--data", partial, "--output", tmp_path / "m")
    assert code == 3 and "sentence(s) 0 of its 2 have no label" in stderr
    bad = _write(tmp_path / "bad.jsonl", [_label("a1", 0, A1[0], {**NONE3, "pa": "pro"})])
    code, _, stderr = _cli(capsys, "train", "--config", config, "--data", bad, "--output", tmp_path / "m")
    assert code == 3 and f"{bad}:1: stance.pa: must be one of" in stderr
    code, _, stderr = _cli(capsys, "train", "--config", config, "--from", tmp_path, "--output", tmp_path / "m")
    assert code == 4 and "is not a sourcestance model directory (missing model.safetensors" in stderr
    code, _, stderr = _cli(capsys, "train", "--config", config, "--from", tmp_path / "m", "--output", tmp_path / "m")
    assert code == 2 and "--output must not be the --from model directory" in stderr
    assert not (tmp_path / "m").exists()


# --- a parent model ---------------------------------------------------------------------------


def _four_target_config(tmp_path: Path, labels: Path | None = None) -> Path:
    """configs/tiny.yaml with a fourth target, and (this tests plumbing, not learning) half its steps."""
    raw = yaml.safe_load((ROOT / "configs" / "tiny.yaml").read_text(encoding="utf-8"))
    raw["labels"] = {"targets": ["egypt", "hamas", "pa", "israel"]}
    raw["train"].update(epochs=1, max_steps=3)
    if labels is not None:
        raw["data"]["labels"] = str(labels)
    path = tmp_path / "four-targets.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_parent_weights_load_where_they_fit_and_a_new_target_starts_fresh(tiny_model, tmp_path):
    model, _ = build_model(RunConfig.load(_four_target_config(tmp_path)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    parts = load_parent_weights(model, tiny_model)
    assert parts == {
        "loaded": ["encoder", "attribution", "affiliation", "stance_egypt", "stance_hamas", "stance_pa", "span"],
        "fresh": ["stance_israel"],
    }
    parent, state = load_file(tiny_model / "model.safetensors"), model.state_dict()
    for key in ("encoder.embeddings.word_embeddings.weight", "heads.stance_pa.weight", "span.bias"):
        assert torch.equal(state[key], parent[key]), key
    assert torch.equal(state["heads.stance_israel.weight"], before["heads.stance_israel.weight"])
    assert torch.equal(state["queries"][:5], parent["queries"]) and torch.equal(state["queries"][5], before["queries"][5])


def test_a_parent_with_another_encoder_is_refused(tiny_model, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for f in tiny_model.iterdir():
        (foreign / f.name).write_bytes(f.read_bytes())
    encoder = json.loads((foreign / "config.json").read_text())
    (foreign / "config.json").write_text(json.dumps({**encoder, "hidden_size": 768}))
    model, _ = build_model(RunConfig.load(ROOT / "configs" / "tiny.yaml"))
    with pytest.raises(
        ModelLoadError, match="another encoder architecture than the configured base model .*hidden_size 768 vs 384"
    ):
        load_parent_weights(model, foreign)


# --- a fourth target: a config line and labels, no code --------------------------------------

NEGATIVE = ("kill", "attack", "blockade", "strike", "raid", "accuse", "blame", "destroy", "occupation", "violat")


def _israel_stance(text: str) -> str:
    lower = text.lower()
    return "against" if "israel" in lower and any(w in lower for w in NEGATIVE) else "none"


def test_a_fourth_target_trains_scores_and_evaluates(tmp_path, capsys):
    from training.trainer import train

    records = [json.loads(line) for line in (ROOT / "data" / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    for rec in records:
        rec["stance"]["israel"] = _israel_stance(rec["text"])
    assert {r["stance"]["israel"] for r in records} == {"against", "none"}
    labels = _write(tmp_path / "labels-israel.jsonl", records)
    out = tmp_path / "israel-model"
    train(RunConfig.load(_four_target_config(tmp_path, labels)), out, progress=False)

    heads = json.loads((out / "labels.json").read_text())["heads"]
    assert list(heads["stance_israel"]["id2label"].values()) == ["favor", "against", "none"]

    articles = _write(
        tmp_path / "in.jsonl", [{"id": "x1", "sentences": ["Israel struck a house in Gaza.", "Egypt condemned the raid."]}]
    )
    scored = tmp_path / "scored.jsonl"
    assert _cli(capsys, "score", "--model", out, "--input", articles, "--output", scored)[0] == 0
    for rec in map(json.loads, scored.read_text(encoding="utf-8").splitlines()):
        assert set(rec["stance"]) == {"egypt", "hamas", "pa", "israel"}
        assert set(rec["scores"]["stance"]["israel"]) == {"favor", "against", "none"}
        assert rec["stance"]["israel"] in ("favor", "against", "none")

    # on three test articles and without the baseline (its fit on the whole train split takes long), to keep it fast
    test_articles = [
        a for a in map(json.loads, (ROOT / "data" / "articles.jsonl").read_text().splitlines()) if a["split"] == "test"
    ]
    some = test_articles[:3]
    subset = _write(tmp_path / "test-articles.jsonl", some)
    subset_labels = _write(tmp_path / "test-labels.jsonl", [r for r in records if r["article_id"] in {a["id"] for a in some}])
    report = tmp_path / "eval.json"
    code, stdout, stderr = _cli(
        capsys, "evaluate", "--model", out, "--articles", subset, "--labels", subset_labels, "--json", report, "--no-baseline"
    )
    assert code == 0, stderr
    assert "stance/israel/f_avg" in stdout
    metrics = json.loads(report.read_text())["transformer"]
    assert 0.0 <= metrics["metrics"]["stance/israel/f_avg"] <= 1.0
    assert "stance/israel" in metrics["confusion"]
    # the baseline follows the configured targets too
    labelled = load_corpus(subset, subset_labels)
    baseline = Baseline(RunConfig.load(out / "sourcestance.yaml")).fit(labelled[:2])
    [predicted] = baseline.predict([labelled[2].as_input()])
    assert all(set(r["stance"]) == {"egypt", "hamas", "pa", "israel"} for r in predicted)


# --- the round trip of the issue: score, export, label, import, retrain from the model, compare ---


def test_round_trip_labels_from_the_model_retrain_it(tiny_model, tmp_path, capsys):
    corpus = [json.loads(line) for line in (ROOT / "data" / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = [a for a in corpus if a["split"] == "train"][:2]  # among configs/tiny.yaml's four training articles
    gold = {
        (r["article_id"], r["sentence_index"]): r
        for r in map(json.loads, (ROOT / "data" / "labels.jsonl").read_text(encoding="utf-8").splitlines())
    }
    articles = _write(tmp_path / "to-label.jsonl", [{"id": a["id"], "sentences": a["sentences"]} for a in chosen])
    scored, tasks_path = tmp_path / "scored.jsonl", tmp_path / "tasks.json"
    assert _cli(capsys, "score", "--model", tiny_model, "--input", articles, "--output", scored)[0] == 0
    assert _cli(capsys, "data", "export-tasks", "--input", scored, "--output", tasks_path, "--model", tiny_model)[0] == 0

    # the labeller confirms the corpus label of most sentences, changes a few and leaves a few untouched
    export, changed = [], 0
    for number, task in enumerate(json.loads(tasks_path.read_text(encoding="utf-8")), 1):
        label = gold[(task["data"]["article_id"], task["data"]["sentence_index"])]
        item = {"id": 900 + number, "data": task["data"], "predictions": task["predictions"], "annotations": []}
        if number % 10 in (3, 7):
            label = {**label, "stance": {**label["stance"], "pa": "against" if label["stance"]["pa"] != "against" else "none"}}
            changed += 1
        if number % 10 != 5:
            item["annotations"] = [_annotation(label, number, "2024-06-02T10:00:00Z")]
        export.append(item)
    export_path = tmp_path / "export.json"
    export_path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    imported = tmp_path / "imported.jsonl"
    code, stdout, stderr = _cli(
        capsys, "data", "import", "--from", "label-studio", export_path, "--output", imported, "--model", tiny_model
    )
    assert code == 0, stdout + stderr
    annotated = len(export) - 4

    new = tmp_path / "retrained"
    code, stdout, stderr = _cli(
        capsys,
        "train",
        "--config",
        "configs/tiny.yaml",
        "--data",
        imported,
        "--from",
        tiny_model,
        "--output",
        new,
    )
    assert code == 0, stderr
    code, stdout, stderr = _cli(
        capsys,
        "compare",
        "--models",
        tiny_model,
        new,
        "--articles",
        "data/articles.jsonl",
        "--labels",
        "data/labels.jsonl",
        "--split",
        "test",
        "--bootstrap",
        "200",
    )
    assert code == 0, stderr

    training = json.loads((new / "metrics.json").read_text())["training"]
    [extra] = [f for f in training["data"]["files"] if f["role"] == "extra labels"]
    assert extra["path"] == str(imported) and len(extra["sha256"]) == 16
    assert (extra["records"], extra["overridden"], extra["duplicates"], extra["added"]) == (
        annotated,
        changed,
        annotated - changed,
        0,
    )
    assert training["data"]["merge"]["new_articles"] == 0
    assert training["data"]["splits"]["train"] == {"articles": 4, "sentences": 80, "merged_sentences": changed}
    parent = training["parent"]
    tiny_training = json.loads((tiny_model / "metrics.json").read_text())["training"]
    assert (parent["path"], parent["name"], parent["version"]) == (str(tiny_model), "sourcestance-tiny", "0.0.1")
    assert parent["data_sha256"] == tiny_training["data_sha256"] and tiny_training["parent"] is None
    assert parent["fresh"] == [] and "encoder" in parent["loaded"]
    card = (new / "README.md").read_text(encoding="utf-8")
    assert f"`{imported}` | extra labels" in card and f"Parent model: `{tiny_model}` (sourcestance-tiny 0.0.1" in card
    assert "Parent model: none" in (tiny_model / "README.md").read_text(encoding="utf-8")
