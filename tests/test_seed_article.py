"""The article that started the project, scored by every trained shipped model (default and fast).

Needs models/default (the README's first command trains it) or models/fast; a model
that is not trained is skipped.
"""

import pytest

from inference.predict import Predictor
from inference.records import article_from_record
from tests.conftest import ROOT, SHARED

MODELS = [ROOT / "models" / name for name in ("default", "fast")]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SHARED / "seed-article.txt").is_file(), reason="shared seed article not present"),
]

HAMAS_SOURCE = "a senior official in the movement"
PA_OFFICIAL = "a Palestinian Authority official"


@pytest.fixture(scope="module", params=MODELS, ids=lambda path: path.name)
def records(request):
    if not (request.param / "model.safetensors").is_file():
        pytest.skip(f"{request.param.name} not trained")
    text = (SHARED / "seed-article.txt").read_text(encoding="utf-8")
    [out] = Predictor.from_dir(request.param).predict([article_from_record({"id": "seed", "text": text})])
    return out


def test_sources_are_recognised_and_carried_through(records):
    speaker = [r["speaker"] for r in records]
    for i in range(0, 6):
        assert speaker[i]["affiliation"] == "hamas", (i, speaker[i])
        assert speaker[i]["mention"] == HAMAS_SOURCE, (i, speaker[i])
    for i in (6, 7, 8, 9, 10, 11, 14):
        assert speaker[i]["affiliation"] == "pa", (i, speaker[i])
        assert speaker[i]["mention"] == PA_OFFICIAL, (i, speaker[i])
    assert speaker[0]["span"] == HAMAS_SOURCE and speaker[6]["span"] == PA_OFFICIAL
    assert [s["attribution"] for s in speaker[3:5]] == ["direct", "direct"]
    assert speaker[4]["span"] is None


def test_hearsay_is_narration(records):
    assert records[12]["speaker"] == {"attribution": "none", "span": None, "mention": None, "affiliation": "author"}


def test_pa_official_is_against_egypt_and_hamas(records):
    stance = [r["stance"] for r in records]
    assert stance[6]["egypt"] == "against"
    assert stance[8]["egypt"] == "against" and stance[8]["hamas"] == "against"
    assert stance[11]["egypt"] == "against"
