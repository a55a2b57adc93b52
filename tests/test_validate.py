import json
import subprocess
import sys

from tests.conftest import ROOT
from training.validate import validate_files


def cli(*args):
    return subprocess.run([sys.executable, "-m", "sourcestance", *args], cwd=ROOT, capture_output=True, text=True)


def test_bundled_corpus_validates_clean():
    result = cli("data", "validate", "data/articles.jsonl", "data/labels.jsonl")
    assert result.returncode == 0, result.stdout + result.stderr


def _label(aid="a1", i=0, text="Egypt opened the crossing, he said.", **speaker):
    sp = {"attribution": "indirect", "span": "he", "mention": "Sameh Shoukry", "affiliation": "egypt"}
    sp.update(speaker)
    return {
        "article_id": aid,
        "sentence_index": i,
        "text": text,
        "speaker": sp,
        "stance": {"egypt": "none", "hamas": "none", "pa": "none"},
    }


def test_broken_records_are_reported_with_file_line_and_field(tmp_path):
    articles = tmp_path / "articles.jsonl"
    labels = tmp_path / "labels.jsonl"
    art = {
        "id": "a1",
        "title": "T",
        "date": "2020-01-01",
        "split": "train",
        "sentences": ["Egypt opened the crossing, he said.", "It rained.", "Talks ended."],
    }
    dup = {"id": "a2", "title": "T", "date": "2020-01-02", "split": "test", "sentences": ["It rained."]}
    articles.write_text(json.dumps(art) + "\n" + json.dumps(dup) + "\n{not json\n")
    bad_stance = _label(i=1, text="It rained.", attribution="none", span=None, mention=None, affiliation="author")
    bad_stance["stance"]["egypt"] = "pro"
    rows = [
        _label(span="she"),  # line 1: span not in text
        bad_stance,  # line 2: bad stance value
        _label(i=3, text="Talks ended.", attribution="none", span=None, mention=None, affiliation="egypt"),  # line 3
        _label(aid="zz"),  # line 4: unknown article
        _label(aid="a2", i=0, text="It rained.", span=None, attribution="reported"),  # line 5: bad attribution
    ]
    labels.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    problems = [str(p) for p in validate_files([articles, labels])]
    text = "\n".join(problems)
    assert f"{articles}:3: line: not valid JSON" in text
    assert f"{labels}:1: speaker.span: 'she' is not an exact substring of text" in text
    assert f"{labels}:2: stance.egypt: must be one of" in text
    assert f"{labels}:3: speaker.affiliation: must be 'author' exactly when attribution is 'none'" in text
    assert f"{labels}:4: article_id: no article 'zz'" in text
    assert f"{labels}:5: speaker.attribution: must be one of" in text
    assert "label indexes of 'a1' are not contiguous from 0" in text  # sentence 2 has no label, 3 does
    assert "sentence also in split 'train'" in text  # "It rained." in train and test

    result = cli("data", "validate", str(articles), str(labels))
    assert result.returncode == 1
    assert f"{labels}:1: speaker.span" in result.stdout


def test_missing_file_is_a_problem_not_a_crash(tmp_path):
    result = cli("data", "validate", str(tmp_path / "none.jsonl"))
    assert result.returncode == 1 and "not found" in result.stdout
