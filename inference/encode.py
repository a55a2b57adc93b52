"""Turn a sentence and its article context into one encoder input.

Layout: ``[CLS] sentence [SEP] preceding sentences [SEP] following sentence [SEP]``, with
token type 0 for the sentence and 1 for the context. Every sentence of an article is
tokenised once and reused as context for its neighbours.

A sentence in the middle of a quotation may carry no quotation mark at all; whether a
quotation is still open is a matter of counting marks across the article, which is
exact here and hard for the encoder, so the context then starts with QUOTE_MARKER.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.config import ModelConfig

QUOTE_MARKER = "quote continues:"
_MAX_QUOTE_SENTENCES = 6  # an unbalanced mark must not mark the rest of the article


@dataclass
class Features:
    input_ids: list[int]
    token_type_ids: list[int]
    # Character offsets of the sentence's own tokens, which sit at positions 1..n.
    offsets: list[tuple[int, int]]

    @property
    def sentence_len(self) -> int:
        return len(self.offsets)


def tokenize_sentences(tokenizer, sentences: list[str]) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
    enc = tokenizer(sentences, add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False)
    return enc["input_ids"], [[tuple(o) for o in offs] for offs in enc["offset_mapping"]]


def article_features(tokenizer, sentences: list[str], cfg: ModelConfig) -> list[Features]:
    """Encoder inputs for every sentence of one article."""
    ids, offsets = tokenize_sentences(tokenizer, sentences)
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    marker = tokenizer(QUOTE_MARKER, add_special_tokens=False)["input_ids"] if cfg.mark_open_quotes else []
    inside = open_quotes(sentences)
    out = []
    for i in range(len(sentences)):
        sent = ids[i][: cfg.max_sentence_tokens]
        lead = marker if inside[i] else []
        budget = cfg.max_length - len(sent) - 3 - len(lead)
        after: list[int] = []
        if cfg.context_after and i + 1 < len(sentences) and budget > 8:
            following = [t for j in range(i + 1, min(len(sentences), i + 1 + cfg.context_after)) for t in ids[j]]
            after = following[: min(len(following), budget // 4)]
            budget -= len(after) + 1
        before: list[int] = []
        for j in range(i - 1, max(-1, i - 1 - cfg.context_before), -1):
            if budget <= 0:
                break
            piece = ids[j][-budget:]  # keep the end of a long sentence: it is nearest
            before = piece + before
            budget -= len(piece)
        input_ids = [cls_id, *sent, sep_id, *lead, *before, sep_id]
        if after:
            input_ids += [*after, sep_id]
        types = [0] * (len(sent) + 2) + [1] * (len(input_ids) - len(sent) - 2)
        out.append(Features(input_ids, types, offsets[i][: len(sent)]))
    return out


def open_quotes(sentences: list[str]) -> list[bool]:
    """Whether each sentence begins inside a quotation opened in an earlier sentence."""
    flags, curly_open, straight_open, running = [], False, False, 0
    for sentence in sentences:
        inside = (curly_open or straight_open) and running < _MAX_QUOTE_SENTENCES
        flags.append(inside)
        running = running + 1 if inside else 0
        if not inside:
            curly_open = straight_open = False
        for ch in sentence:
            if ch == "“":
                curly_open = True
            elif ch == "”":
                curly_open = False
            elif ch == '"':
                straight_open = not straight_open
    return flags
