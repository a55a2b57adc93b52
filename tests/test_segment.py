import random

import pytest

from inference.records import RecordError, article_from_record, locate_span
from inference.segment import join_sentences, split_sentences
from tests.conftest import SHARED

PIECES = [
    "Egypt reopened the Rafah crossing on Monday.",
    "“We cannot deny that the talks were hard,” he said.",
    '"The blockade must end," said Gen. Ahmed Ali of the U.N. mission.',
    "According to the source, the deal collapsed.",
    "Is this the end?",
    "Officials in Cairo declined to comment!",
    "President Abdel Fattah el-Sisi met envoy John F. Kennedy in Cairo at 3 p.m. local time.",
]


def test_offsets_round_trip_to_the_text():
    rng = random.Random(0)
    for _ in range(200):
        chosen = [rng.choice(PIECES) for _ in range(rng.randint(1, 8))]
        separators = [rng.choice([" ", "  ", "\n", "\n\n", " \u00a0"]) for _ in chosen]
        text = "".join(s + sep for s, sep in zip(chosen, separators))
        spans = split_sentences(text)
        assert [text[s.start : s.end] for s in spans] == chosen
        assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))


def test_quotations_split_inside_and_keep_the_speech_verb():
    text = "“We know this,” he said. “I would say so. It is grave.” The official left."
    got = [text[s.start : s.end] for s in split_sentences(text)]
    assert got == ["“We know this,” he said.", "“I would say so.", "It is grave.”", "The official left."]


@pytest.mark.skipif(not (SHARED / "seed-article.txt").is_file(), reason="shared seed article not present")
def test_seed_article_sentences():
    text = (SHARED / "seed-article.txt").read_text(encoding="utf-8")
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    assert len(sentences) == 15
    assert sentences[4].startswith("“We, on our part")
    assert sentences[8] == "“I would say that Egypt was manipulated by Hamas into submission."
    assert sentences[12].startswith("Dahlan is said to be")


def test_join_sentences_gives_offsets_of_each_sentence():
    text, spans = join_sentences(PIECES[:3])
    assert [text[s.start : s.end] for s in spans] == PIECES[:3]


def test_article_record_forms():
    a = article_from_record({"id": 7, "text": PIECES[0] + " " + PIECES[1], "source": "wire"})
    assert a.id == "7" and len(a.sentences) == 2 and a.extra == {"source": "wire"}
    b = article_from_record({"id": "x", "sentences": PIECES[:2]})
    assert b.offsets is None and b.sentences == PIECES[:2]


@pytest.mark.parametrize(
    "record, reason",
    [
        ({"text": "Hello there."}, "missing 'id'"),
        ({"id": "a"}, "exactly one of 'text' or 'sentences'"),
        ({"id": "a", "text": "   "}, "'text' is empty"),
        ({"id": "a", "text": 5}, "'text' must be a string"),
        ({"id": "a", "sentences": ["ok", ""]}, "sentence 1 must be a non-empty string"),
        ({"id": "a", "text": "x" * 50}, "over the limit of 10"),
        (["not", "an", "object"], "expected a JSON object"),
    ],
)
def test_bad_records_name_the_problem(record, reason):
    with pytest.raises(RecordError, match=reason):
        article_from_record(record, max_chars=10 if record == {"id": "a", "text": "x" * 50} else None)


def test_locate_span_prefers_whole_words():
    sentence = "The official said he would return."
    assert locate_span(sentence, "he") == (18, 20)
    assert locate_span(sentence, "The official") == (0, 12)
    assert locate_span(sentence, "nobody") is None
