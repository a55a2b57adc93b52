"""Turn a sentence and its article context into one encoder input.

Layout: ``[CLS] sentence [SEP] preceding sentences [SEP] following sentence [SEP]``, with
token type 0 for the sentence and 1 for the context. Every sentence of an article is
tokenised once and reused as context for its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.config import ModelConfig


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
    out = []
    for i in range(len(sentences)):
        sent = ids[i][: cfg.max_sentence_tokens]
        budget = cfg.max_length - len(sent) - 3
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
        input_ids = [cls_id, *sent, sep_id, *before, sep_id]
        if after:
            input_ids += [*after, sep_id]
        types = [0] * (len(sent) + 2) + [1] * (len(input_ids) - len(sent) - 2)
        out.append(Features(input_ids, types, offsets[i][: len(sent)]))
    return out
