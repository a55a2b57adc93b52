import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from inference.config import LabelsConfig, RunConfig
from sourcestance.cli import main
from tests.conftest import ROOT
from training.label_import import import_labels
from training.labelstudio import labelling_config
from training.validate import validate_files

FIXTURES = ROOT / "tests" / "fixtures" / "labels"
S1 = [
    "Egypt reopened the Rafah crossing on Sunday after a week-long closure.",
    "A senior official in the movement said the decision would ease the suffering of Gaza's residents.",
    "\u201cCairo has kept its promise to us,\u201d he told reporters.",
    "\u201cWe thank our Egyptian brothers.\u201d",
    "Fatah spokesman Osama Qawasmi accused Hamas of exploiting the crossing for its own ends.",
]
SOURCE = "A senior official in the movement"
NONE3 = {"egypt": "none", "hamas": "none", "pa": "none"}
EGYPT_FAVOR = {"egypt": "favor", "hamas": "none", "pa": "none"}


def _rec(aid, index, text, attribution, span, mention, affiliation, stance):
    return {
        "article_id": aid,
        "sentence_index": index,
        "text": text,
        "speaker": {"attribution": attribution, "span": span, "mention": mention, "affiliation": affiliation},
        "stance": stance,
    }


# What each fixture says, sentence by sentence (the fixtures were written to these labels).
NARRATION = _rec("lab-1", 0, S1[0], "none", None, None, "author", NONE3)
OFFICIAL = _rec("lab-1", 1, S1[1], "indirect", SOURCE, SOURCE, "hamas", NONE3)
HE = _rec("lab-1", 2, S1[2], "direct", "he", SOURCE, "hamas", EGYPT_FAVOR)
QUOTE_GOES_ON = _rec("lab-1", 3, S1[3], "direct", None, SOURCE, "hamas", EGYPT_FAVOR)
QAWASMI = _rec(
    "lab-1",
    4,
    S1[4],
    "indirect",
    "Fatah spokesman Osama Qawasmi",
    "Fatah spokesman Osama Qawasmi",
    "pa",
    {**NONE3, "hamas": "against"},
)
MINISTRY = _rec(
    "lab-2",
    1,
    "According to the Egyptian interior ministry, 400 travellers crossed on the first day.",
    "indirect",
    "the Egyptian interior ministry",
    "the Egyptian interior ministry",
    "egypt",
    NONE3,
)


def _cli(capsys, *args):
    code = main(["-q", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def _read(path):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def _assert_same(got: list[dict], expected: list[dict]):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        where = (e["article_id"], e["sentence_index"])
        assert list(g) == ["article_id", "sentence_index", "text", "speaker", "stance"], where
        for key in ("article_id", "sentence_index", "text"):
            assert g[key] == e[key], (where, key)
        for key in ("attribution", "span", "mention", "affiliation"):
            assert g["speaker"][key] == e["speaker"][key], (where, key)
        assert g["stance"] == e["stance"], where


# --- the labelling config ---------------------------------------------------------------------


def test_shipped_label_studio_config_is_the_default_labels_config():
    shipped = (ROOT / "configs" / "label-studio.xml").read_text(encoding="utf-8")
    assert shipped == labelling_config(RunConfig.load(ROOT / "configs" / "default.yaml").labels)
    for path in (ROOT / "configs").glob("*.y*ml"):  # every shipped config labels the same fields
        assert RunConfig.load(path).labels == RunConfig.load(ROOT / "configs" / "default.yaml").labels, path


def test_labelling_config_follows_the_configured_targets():
    labels = LabelsConfig(targets=["israel", "un"], stance=["pro", "anti", "none"])
    root = ET.fromstring(labelling_config(labels))
    controls = {el.get("name"): el for el in root if el.tag in ("Labels", "Choices", "TextArea")}
    assert list(controls) == ["speaker", "attribution", "affiliation", "stance_israel", "stance_un", "mention"]
    assert all(el.get("toName") == "sentence" for el in controls.values())
    assert [c.get("value") for c in controls["stance_un"]] == ["pro", "anti", "none"]
    assert [c.get("value") for c in controls["affiliation"]] == labels.affiliation
    texts = {el.get("name"): el for el in root if el.tag == "Text"}
    assert texts["sentence"].get("value") == "$text"
    assert texts["context"].get("value") == "$context" and texts["context"].get("selectionEnabled") == "false"


# --- the three import formats -----------------------------------------------------------------


def test_label_studio_export_takes_the_latest_live_annotation(tmp_path, capsys):
    out = tmp_path / "labels.jsonl"
    code, stdout, stderr = _cli(
        capsys, "data", "import", "--from", "label-studio", FIXTURES / "label-studio-export.json", "--output", out
    )
    assert code == 0, stdout + stderr
    # task 2 has two annotations (the later one wins), 5 only a cancelled one and 6 none (both
    # skipped), 7 a cancelled later one and a live earlier one with the mention deleted (mention = span)
    _assert_same(_read(out), [NARRATION, {**OFFICIAL, "stance": EGYPT_FAVOR}, HE, QUOTE_GOES_ON, MINISTRY])
    assert "skipped 2 task(s) without an annotation" in stderr
    assert validate_files([out]) == []


def test_doccano_jsonl(tmp_path, capsys):
    out = tmp_path / "labels.jsonl"
    code, stdout, stderr = _cli(capsys, "data", "import", "--from", "doccano", FIXTURES / "doccano.jsonl", "--output", out)
    assert code == 0, stdout + stderr
    # line 4 keeps its ids in doccano's meta; line 5 uses the entity-object form of a relation project
    _assert_same(_read(out), [NARRATION, OFFICIAL, HE, QUOTE_GOES_ON, QAWASMI])
    assert validate_files([out]) == []


def test_csv(tmp_path, capsys):
    out = tmp_path / "labels.jsonl"
    code, stdout, stderr = _cli(capsys, "data", "import", "--from", "csv", FIXTURES / "labels.csv", "--output", out)
    assert code == 0, stdout + stderr
    _assert_same(_read(out), [NARRATION, OFFICIAL, HE, QUOTE_GOES_ON, MINISTRY])
    assert "imported 5 label records" in stderr


def test_bad_doccano_lines_are_all_reported_and_the_good_ones_kept(tmp_path, capsys):
    out = tmp_path / "labels.jsonl"
    bad = FIXTURES / "doccano-bad.jsonl"
    code, stdout, _ = _cli(capsys, "data", "import", "--from", "doccano", bad, "--output", out)
    assert code == 1
    assert stdout.splitlines() == [
        f"{bad}:2: line: not valid JSON (Expecting property name enclosed in double quotes)",
        f"{bad}:3: speaker.attribution: must be one of ['direct', 'indirect', 'none'], got 'reported'",
        f"{bad}:4: article_id: missing",
        f"{bad}:5: speaker.span: offsets 70..200 are outside the text",
        f"{bad}:6: stance.hamas: must be one of ['favor', 'against', 'none'], got 'pro'",
    ]
    _assert_same(_read(out), [NARRATION])


def test_bad_csv_rows_are_reported_by_spreadsheet_row(tmp_path, capsys):
    out = tmp_path / "labels.jsonl"
    bad = FIXTURES / "labels-bad.csv"
    code, stdout, stderr = _cli(capsys, "data", "import", "--from", "csv", bad, "--output", out)
    assert code == 1
    assert stdout.splitlines() == [
        f"{bad}:3: speaker.span: 'a senior official' is not an exact substring of text",
        f"{bad}:4: article_id: missing",
        f"{bad}:5: speaker.affiliation: must be one of ['hamas', 'pa', 'egypt', 'israel', 'other', 'author'], got 'fatah'",
        f"{bad}:6: sentence_index: must be an integer >= 0, got 'first'",
    ]
    assert "4 bad row(s) left out" in stderr
    _assert_same(_read(out), [NARRATION])


def test_bad_label_studio_tasks_name_task_and_id(tmp_path, capsys):
    tasks = json.loads((FIXTURES / "label-studio-export.json").read_text(encoding="utf-8"))
    result = tasks[0]["annotations"][0]["result"]
    next(r for r in result if r["from_name"] == "stance_pa")["value"]["choices"] = ["hostile"]
    del tasks[2]["data"]["article_id"]
    tasks[3]["annotations"][0]["result"].append(
        {"id": "x", "from_name": "stance_israel", "to_name": "sentence", "type": "choices", "value": {"choices": ["none"]}}
    )
    tasks[6]["annotations"][0]["result"] = [r for r in tasks[6]["annotations"][0]["result"] if r["from_name"] != "affiliation"]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks), encoding="utf-8")
    code, stdout, _ = _cli(capsys, "data", "import", "--from", "label-studio", export, "--output", tmp_path / "out.jsonl")
    assert code == 1
    assert stdout.splitlines() == [
        f"{export}:1: stance.pa: must be one of ['favor', 'against', 'none'], got 'hostile' (task id 1)",
        f"{export}:3: article_id: missing (task id 3)",
        f"{export}:4: stance.israel: unknown target (configured: ['egypt', 'hamas', 'pa']) (task id 4)",
        f"{export}:7: speaker.affiliation: missing (task id 7)",
    ]
    _assert_same(_read(tmp_path / "out.jsonl"), [{**OFFICIAL, "stance": EGYPT_FAVOR}])


def test_defaults_the_contract_implies():
    # attribution none: no span, no mention, the author's side; attributed: the span is the mention
    result = import_labels(FIXTURES / "labels.csv", "csv")
    narration, official = result.records[0], result.records[1]
    assert narration["speaker"] == {"attribution": "none", "span": None, "mention": None, "affiliation": "author"}
    assert official["speaker"]["mention"] == official["speaker"]["span"] == SOURCE


def test_unreadable_files_exit_3_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    broken = tmp_path / "export.json"
    broken.write_text('[{"id": 1, "data": {', encoding="utf-8")
    code, _, stderr = _cli(capsys, "data", "import", "--from", "label-studio", broken, "--output", out)
    assert code == 3 and "not a Label Studio JSON export" in stderr
    code, _, stderr = _cli(capsys, "data", "import", "--from", "csv", FIXTURES / "doccano.jsonl", "--output", out)
    assert code == 3 and "missing columns article_id, sentence_index, text, attribution" in stderr
    code, _, stderr = _cli(capsys, "data", "import", "--from", "doccano", tmp_path / "none.jsonl", "--output", out)
    assert code == 3 and "file not found" in stderr
    assert not out.exists()


def test_existing_output_is_kept_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "labels.jsonl"
    out.write_text("precious\n", encoding="utf-8")
    code, _, stderr = _cli(capsys, "data", "import", "--from", "csv", FIXTURES / "labels.csv", "--output", out)
    assert code == 3 and "--overwrite" in stderr and out.read_text() == "precious\n"
    assert _cli(capsys, "data", "import", "--from", "csv", FIXTURES / "labels.csv", "--output", out, "--overwrite")[0] == 0


def test_import_checks_against_the_configured_labels(tmp_path, capsys):
    config = tmp_path / "two-targets.yaml"
    config.write_text("labels:\n  targets: [egypt, hamas]\n", encoding="utf-8")
    code, _, stderr = _cli(
        capsys, "data", "import", "--from", "csv", FIXTURES / "labels.csv", "--output", tmp_path / "o.jsonl", "--config", config
    )
    assert code == 3 and "columns for unknown targets stance_pa" in stderr
    result = import_labels(FIXTURES / "doccano.jsonl", "doccano", LabelsConfig(targets=["egypt", "hamas"]))
    assert [r["stance"] for r in result.records][2] == {"egypt": "favor", "hamas": "none"} and not result.problems


# --- round trip through Label Studio with a real model ----------------------------------------


def _config_controls() -> dict[str, tuple[str, set[str]]]:
    """Control name -> (result type, allowed values) read from the shipped XML."""
    root = ET.parse(ROOT / "configs" / "label-studio.xml").getroot()
    kinds = {"Labels": "labels", "Choices": "choices", "TextArea": "textarea"}
    return {el.get("name"): (kinds[el.tag], {c.get("value") for c in el}) for el in root if el.tag in kinds}


def _annotation(record: dict, number: int, updated: str, cancelled: bool = False) -> dict:
    """What Label Studio exports for a labeller's submitted annotation of ``record``."""
    result = []
    span = record["speaker"]["span"]
    if span is not None:
        start = record["text"].index(span)
        value = {"start": start, "end": start + len(span), "text": span, "labels": ["speaker"]}
        result.append({"id": f"s{number}", "from_name": "speaker", "to_name": "sentence", "type": "labels", "value": value})
    for name in ("attribution", "affiliation"):
        value = {"choices": [record["speaker"][name]]}
        result.append({"id": f"{name[:3]}{number}", "from_name": name, "to_name": "sentence", "type": "choices", "value": value})
    for target, value in record["stance"].items():
        result.append(
            {
                "id": f"{target}{number}",
                "from_name": f"stance_{target}",
                "to_name": "sentence",
                "type": "choices",
                "value": {"choices": [value]},
            }
        )
    if record["speaker"]["mention"] is not None:
        value = {"text": [record["speaker"]["mention"]]}
        result.append({"id": f"m{number}", "from_name": "mention", "to_name": "sentence", "type": "textarea", "value": value})
    return {"id": number, "completed_by": 1, "result": result, "was_cancelled": cancelled, "ground_truth": False,
            "created_at": updated, "updated_at": updated, "lead_time": 12.5}  # fmt: skip


def test_round_trip_score_export_correct_import(tiny_model, tmp_path, capsys):
    articles = [json.loads(line) for line in (ROOT / "data" / "sample.jsonl").read_text(encoding="utf-8").splitlines()[:2]]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
    scored, tasks_path = tmp_path / "scored.jsonl", tmp_path / "tasks.json"
    assert _cli(capsys, "score", "--model", tiny_model, "--input", corpus, "--output", scored)[0] == 0
    code, stdout, _ = _cli(capsys, "data", "export-tasks", "--input", scored, "--output", tasks_path, "--model", tiny_model)
    assert code == 0 and "tasks to" in stdout
    predicted = _read(scored)
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    assert len(tasks) == len(predicted) > 10

    # every task is what the shipped labelling config can show
    controls = _config_controls()
    for task, rec in zip(tasks, predicted):
        data = task["data"]
        assert (data["article_id"], data["sentence_index"], data["text"]) == (
            rec["article_id"],
            rec["sentence_index"],
            rec["text"],
        )
        same_article = [p["text"] for p in predicted if p["article_id"] == rec["article_id"]]
        assert data["context"] == " ".join(same_article[: rec["sentence_index"]])
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == "sourcestance-tiny@0.0.1" and 0 <= prediction["score"] <= 1
        for result in prediction["result"]:
            kind, allowed = controls[result["from_name"]]
            assert result["type"] == kind and result["to_name"] == "sentence"
            if kind == "choices":
                assert len(result["value"]["choices"]) == 1 and result["value"]["choices"][0] in allowed
            elif kind == "labels":
                value = result["value"]
                assert value["labels"] == ["speaker"] and data["text"][value["start"] : value["end"]] == value["text"]
            else:
                assert result["value"]["text"] == [rec["speaker"]["mention"]]

    # a labeller corrects the first eleven tasks, cancels one and leaves the rest
    export, expected = [], []
    for number, (task, rec) in enumerate(zip(tasks, predicted), 1):
        gold = {k: rec[k] for k in ("article_id", "sentence_index", "text")}
        gold["speaker"] = dict(rec["speaker"])
        gold["stance"] = dict(rec["stance"])
        if number % 3 == 1:  # narration after all
            gold["speaker"] = {"attribution": "none", "span": None, "mention": None, "affiliation": "author"}
        elif number % 3 == 2:  # a source, marked by hand
            first_word = rec["text"].split()[0].strip("\u201c\u201d\"',.")
            gold["speaker"] = {
                "attribution": "indirect",
                "span": first_word,
                "mention": "a Cairo analyst",
                "affiliation": "other",
            }
            gold["stance"]["egypt"] = "against"
        else:  # stance corrected; an attributed prediction without mention gets one
            gold["stance"]["hamas"] = "favor" if rec["stance"]["hamas"] != "favor" else "none"
            if gold["speaker"]["attribution"] != "none" and gold["speaker"]["mention"] is None:
                gold["speaker"]["mention"] = "the movement"
        item = {"id": 500 + number, "data": task["data"], "predictions": task["predictions"], "annotations": []}
        if number <= 11:
            item["annotations"] = [
                _annotation(rec, 1, "2024-06-01T09:00:00Z", cancelled=True),
                _annotation(gold, 2, "2024-06-01T09:30:00.123456Z"),
            ]
            expected.append(gold)
        elif number == 12:
            item["annotations"] = [_annotation(gold, 3, "2024-06-01T09:40:00Z", cancelled=True)]
        export.append(item)
    export_path = tmp_path / "export.json"
    export_path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")

    out = tmp_path / "new-labels.jsonl"
    code, stdout, stderr = _cli(
        capsys, "data", "import", "--from", "label-studio", export_path, "--output", out, "--model", tiny_model
    )
    assert code == 0, stdout + stderr
    _assert_same(_read(out), expected)
    assert f"skipped {len(tasks) - 11} task(s)" in stderr
    assert validate_files([out]) == []


def test_export_tasks_reports_bad_lines(tmp_path, capsys):
    scored = tmp_path / "scored.jsonl"
    good = {**HE, "model": {"name": "m", "version": "1"}}
    scored.write_text(
        json.dumps(NARRATION) + "\n{oops\n" + json.dumps({"id": "a1", "text": "x"}) + "\n" + json.dumps(good) + "\n"
    )
    out = tmp_path / "tasks.json"
    code, _, stderr = _cli(capsys, "data", "export-tasks", "--input", scored, "--output", out)
    assert code == 1
    assert f"{scored}:2: line: not valid JSON" in stderr and f"{scored}:3: article_id: missing" in stderr
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert [t["data"]["sentence_index"] for t in tasks] == [0, 2]
    assert tasks[1]["data"]["context"] == NARRATION["text"]  # the earlier sentence present in the file
    assert tasks[1]["predictions"][0]["model_version"] == "m@1" and "score" not in tasks[1]["predictions"][0]


@pytest.mark.parametrize("args", [["--model", "no-such-model"], ["--config", "no-such.yaml"]])
def test_export_tasks_needs_a_readable_labels_source(tmp_path, capsys, args):
    code, _, stderr = _cli(
        capsys, "data", "export-tasks", "--input", FIXTURES / "labels.csv", "--output", tmp_path / "t.json", *args
    )
    assert code == (4 if args[0] == "--model" else 3) and stderr.startswith("error:")
