"""The analysis notebooks: committed without outputs, and run end to end on the tiny model."""

import json

import nbformat
import pytest

from notebooks.render_figures import NOTEBOOKS, run_notebook
from tests.conftest import ROOT

HERE = ROOT / "notebooks"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(name):
    notebook = nbformat.read(HERE / name, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"{name}: clear the outputs of cell {cell.get('id')}"


def printed(notebook) -> str:
    """Everything the notebook's cells printed."""
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    return "".join(o.text for o in outputs if o.output_type == "stream")


def assert_figures(folder, names):
    for name in names:
        png = folder / f"{name}.png"
        assert png.is_file(), f"{png.name} was not written"
        assert png.stat().st_size > 1000 and png.read_bytes()[:8] == PNG


def test_evaluate_notebook_runs_from_its_folder(tiny_model, tmp_path):
    figures = tmp_path / "figures"
    env = {"SOURCESTANCE_MODEL": str(tiny_model), "SOURCESTANCE_SPLIT": "test", "SOURCESTANCE_FIGURES": str(figures)}
    notebook = run_notebook(HERE / "evaluate.ipynb", env, cwd=HERE, timeout=600)
    out = printed(notebook)
    assert "model: sourcestance-tiny 0.0.1" in out and "split 'test': 22 articles" in out
    assert "wrong labels over" in out
    assert_figures(figures, ["evaluate_confusion", "evaluate_reliability", "evaluate_stance_by_affiliation"])


def test_score_corpus_notebook_runs_from_the_root_with_undated_and_bad_records(tiny_model, tmp_path):
    sample = [json.loads(line) for line in (ROOT / "data" / "sample.jsonl").read_text().splitlines()[:3]]
    extra = [
        {"id": "undated", "text": "Hamas praised Egypt on Monday. “Cairo stands with us,” a Hamas official said."},
        {"id": "unreadable-date", "date": "sometime in spring", "text": "The PA condemned the decision."},
        {"id": "no-text", "date": "2020-01-01"},
    ]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in sample + extra))
    figures = tmp_path / "figures"
    env = {"SOURCESTANCE_MODEL": str(tiny_model), "SOURCESTANCE_INPUT": str(corpus), "SOURCESTANCE_FIGURES": str(figures)}
    notebook = run_notebook(HERE / "score_corpus.ipynb", env, cwd=ROOT, timeout=600)
    out = printed(notebook)
    assert "scored 5 articles" in out
    assert "skipped record 6 (id no-text)" in out
    assert "2 of 5 articles have no usable date: undated, unreadable-date" in out
    assert_figures(figures, ["score_stance_over_time", "score_stance_by_source"])
