"""Batch scoring faults: bad records go to the rejects file, and a killed run resumes exactly."""

import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT


def _corpus(n: int) -> list[dict]:
    base = [json.loads(line) for line in (ROOT / "data" / "sample.jsonl").read_text(encoding="utf-8").splitlines()]
    return [{**base[i % len(base)], "id": f"doc-{i}"} for i in range(n)]


def _score(model, src, out, *extra, wait=True):
    args = [
        sys.executable,
        "-m",
        "sourcestance",
        "-q",
        "score",
        "--model",
        str(model),
        "--input",
        str(src),
        "--output",
        str(out),
        *extra,
    ]
    if not wait:
        return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True)


def test_bad_records_go_to_rejects_and_good_ones_are_scored(tiny_model, tmp_path):
    good = _corpus(2)
    lines = [
        json.dumps(good[0]).encode(),
        b"{this is not json",
        json.dumps({"text": "No id here."}).encode(),
        json.dumps({"id": "empty", "text": "   "}).encode(),
        json.dumps({"id": "latin1", "text": "x"}).encode()[:-2] + 'caf\xe9"}'.encode("latin-1"),
        json.dumps({"id": "huge", "text": "Word. " * 5000}).encode(),
        json.dumps({"id": "notext"}).encode(),
        json.dumps(good[1]).encode(),
    ]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    result = _score(tiny_model, src, out, "--max-chars", "20000")
    assert result.returncode == 0, result.stderr
    rejects = [json.loads(line) for line in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    by_line = {r["line"]: r for r in rejects}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 7]
    assert "not valid JSON" in by_line[2]["reason"]
    assert by_line[3]["reason"] == "missing 'id'"
    assert by_line[4]["id"] == "empty" and "empty" in by_line[4]["reason"]
    assert "UTF-8" in by_line[5]["reason"]
    assert by_line[6]["id"] == "huge" and "over the limit" in by_line[6]["reason"]
    assert by_line[7]["id"] == "notext"
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["article_id"] for r in scored} == {"doc-0", "doc-1"}
    assert "6 rejected" in result.stdout


def test_existing_output_is_not_overwritten_silently(tiny_model, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(_corpus(1)[0]) + "\n")
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n")
    result = _score(tiny_model, src, out)
    assert result.returncode == 3 and "--resume" in result.stderr
    assert out.read_text() == "precious\n"


def test_killed_run_resumes_to_the_same_output(tiny_model, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(a) + "\n" for a in _corpus(120)))
    reference = tmp_path / "reference.jsonl"
    assert _score(tiny_model, src, reference, "--chunk-articles", "4").returncode == 0

    out = tmp_path / "out.jsonl"
    proc = _score(tiny_model, src, out, "--chunk-articles", "4", wait=False)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.stat().st_size < 20_000):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = out.read_bytes()
    assert 0 < len(partial) < reference.stat().st_size, "the kill must land mid-run"

    result = _score(tiny_model, src, out, "--chunk-articles", "4", "--resume")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == reference.read_bytes()
    keys = [(r["article_id"], r["sentence_index"]) for r in map(json.loads, out.read_text().splitlines())]
    assert len(keys) == len(set(keys))


def test_every_input_format_gives_the_same_output(tiny_model, tmp_path):
    import csv

    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    articles = _corpus(3)
    articles[1] = {
        "id": "doc-1",
        "sentences": ["Talks resumed in Cairo.", "“Hamas is to blame,” said a PA official."],
        "title": "Split",
    }
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles))
    with open(tmp_path / "in.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "title", "date", "text", "sentences"])
        writer.writeheader()
        for a in articles:
            writer.writerow({**a, "sentences": json.dumps(a["sentences"]) if "sentences" in a else ""})
    table = pa.Table.from_pylist([{"date": None, "text": None, "sentences": None, **a} for a in articles])
    pq.write_table(table, tmp_path / "in.parquet")
    datasets.Dataset.from_list([{"date": None, "text": None, "sentences": None, **a} for a in articles]).save_to_disk(
        str(tmp_path / "in_dataset")
    )
    outputs = {}
    for name in ("in.jsonl", "in.csv", "in.parquet", "in_dataset"):
        out = tmp_path / f"{name}.out.jsonl"
        result = _score(tiny_model, tmp_path / name, out)
        assert result.returncode == 0, (name, result.stderr)
        outputs[name] = [json.loads(line) for line in out.read_text().splitlines()]
    reference = outputs["in.jsonl"]
    assert {r["article_id"] for r in reference} == {"doc-0", "doc-1", "doc-2"}
    for name, records in outputs.items():
        assert records == reference, name


def test_bad_csv_rows_are_rejected_with_their_row_number(tiny_model, tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(b"id,text\nok,Egypt reopened the crossing.\n,No id here.\nlatin,caf\xe9 talk.\nempty,\n")
    out = tmp_path / "out.jsonl"
    result = _score(tiny_model, src, out)
    assert result.returncode == 0, result.stderr
    rejects = {r["line"]: r for r in map(json.loads, (tmp_path / "out.rejects.jsonl").read_text().splitlines())}
    assert rejects[2]["reason"] == "missing 'id'"
    assert "UTF-8" in rejects[3]["reason"]
    assert rejects[4]["id"] == "empty"
    assert [json.loads(line)["article_id"] for line in out.read_text().splitlines()] == ["ok"]


def test_unknown_extension_is_a_clear_error(tiny_model, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("x\n")
    result = _score(tiny_model, src, tmp_path / "out.jsonl")
    assert result.returncode == 3 and "--input-format" in result.stderr and "Traceback" not in result.stderr


def test_parquet_output_holds_the_jsonl_records(tiny_model, tmp_path):
    import pyarrow.parquet as pq

    articles = _corpus(3)
    articles[2] = {"id": "doc-2", "sentences": ["Talks resumed in Cairo.", "Hamas welcomed the move."], "url": "u"}
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(a) + "\n" for a in articles))
    assert _score(tiny_model, src, tmp_path / "out.jsonl").returncode == 0
    result = _score(tiny_model, src, tmp_path / "out.parquet", "--chunk-articles", "1")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "out.parquet.partial.jsonl").exists()
    reference = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert len(rows) == len(reference)
    for row, ref in zip(rows, reference):
        assert row["speaker"] == ref["speaker"] and row["stance"] == ref["stance"]
        assert json.loads(row["scores"]) == ref["scores"] and row["start"] == ref.get("start")
        extra = json.loads(row["extra"])
        assert all(extra[k] == ref[k] for k in extra)
