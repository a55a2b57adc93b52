"""Turn an article into encoder inputs ("windows"), each scoring one or more sentences.

Two layouts, chosen by ``model.layout``:

- ``sentence``: one input per sentence, the sentence first and its context after it,
  ``[CLS] sentence [SEP] preceding sentences [SEP] following sentence [SEP]``; the
  [CLS] token is the sentence's lead. Each sentence is encoded again as its
  neighbours' context, about four times its own length in all.
- ``window``: a window holds a run of consecutive *target* sentences plus a little context:

    [CLS] preceding sentences [SEP] [CLS] target 1 [CLS] target 2 ... [SEP] following [SEP]

Every target sentence starts with its own lead token ([CLS]), whose output stands for the
sentence (and for "no span" in the span pointer); its own tokens feed the heads' pooled
summaries. Targets attend to each other and to the context, so a sentence in the middle
of a window sees several sentences on both sides, and each token is encoded about once
instead of once per neighbour that reads it as context. Token type 1 marks context.

In both, a sentence in the middle of a quotation may carry no quotation mark at all; whether a
quotation is still open is a matter of counting marks across the article, which is
exact here and hard for the encoder, so QUOTE_MARKER then follows the sentence (in
``sentence``) or its lead (in ``window``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inference.config import ModelConfig

QUOTE_MARKER = "quote continues:"
_MAX_QUOTE_SENTENCES = 6  # an unbalanced mark must not mark the rest of the article


@dataclass
class Target:
    """One sentence scored in a window: where its lead and tokens sit."""

    sentence: int  # index in the article
    lead: int  # position of its lead token
    start: int  # position of its first own token
    offsets: list[tuple[int, int]]  # character offsets of its own tokens in the sentence

    @property
    def positions(self) -> list[int]:
        """Lead first, then the sentence's tokens: index k > 0 is the sentence's token k - 1."""
        return [self.lead, *range(self.start, self.start + len(self.offsets))]


@dataclass
class Window:
    input_ids: list[int]
    token_type_ids: list[int]
    targets: list[Target] = field(default_factory=list)


def tokenize_sentences(tokenizer, sentences: list[str]) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
    enc = tokenizer(sentences, add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False)
    return enc["input_ids"], [[tuple(o) for o in offs] for offs in enc["offset_mapping"]]


def article_windows(tokenizer, sentences: list[str], cfg: ModelConfig) -> list[Window]:
    """Inputs covering every sentence of one article exactly once as a target."""
    if not sentences:
        return []
    if cfg.layout == "sentence":
        return _sentence_inputs(tokenizer, sentences, cfg)
    ids, offsets = tokenize_sentences(tokenizer, sentences)
    ids = [s[: cfg.max_sentence_tokens] for s in ids]
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    marker = tokenizer(QUOTE_MARKER, add_special_tokens=False)["input_ids"] if cfg.mark_open_quotes else []
    inside = open_quotes(sentences)
    context_cap = cfg.max_length // 4  # context tokens on each side at most

    def cost(j: int) -> int:
        return 1 + (len(marker) if inside[j] else 0) + len(ids[j])

    windows, i, n = [], 0, len(sentences)
    while i < n:
        # Reserve the first target, the separators and a share for the following context;
        # the preceding context takes what fits of the nearest sentences, ending at the target.
        room = cfg.max_length - 4 - cost(i)
        before = [t for j in range(max(0, i - cfg.context_before), i) for t in ids[j]]
        before = before[len(before) - min(len(before), context_cap, max(0, room - context_cap // 2)) :]
        input_ids = [cls_id, *before, sep_id]
        window = Window(input_ids, [1] * len(input_ids))
        used = len(input_ids) + 2  # the [SEP]s closing the targets and the following context
        j = i
        while j < n and (j == i or used + cost(j) + min(context_cap // 2, _following(ids, j, cfg)) <= cfg.max_length):
            lead = len(input_ids)
            input_ids += [cls_id, *(marker if inside[j] else [])]
            window.targets.append(Target(j, lead, len(input_ids), offsets[j][: len(ids[j])]))
            input_ids += ids[j]
            used += cost(j)
            j += 1
        input_ids.append(sep_id)
        after = [t for k in range(j, min(n, j + cfg.context_after)) for t in ids[k]]
        after = after[: max(0, min(context_cap, cfg.max_length - len(input_ids) - 1))]
        if after:
            input_ids += [*after, sep_id]
        window.token_type_ids += [0] * (window.targets[-1].start + len(ids[j - 1]) - len(window.token_type_ids))
        window.token_type_ids += [1] * (len(input_ids) - len(window.token_type_ids))
        windows.append(window)
        i = j
    return windows


def _sentence_inputs(tokenizer, sentences: list[str], cfg: ModelConfig) -> list[Window]:
    """One input per sentence: the sentence first, then the marker and its context."""
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
        out.append(Window(input_ids, types, [Target(i, 0, 1, offsets[i][: len(sent)])]))
    return out


def _following(ids: list[list[int]], j: int, cfg: ModelConfig) -> int:
    """Tokens of following context a window ending at sentence j would read."""
    return sum(len(ids[k]) for k in range(j + 1, min(len(ids), j + 1 + cfg.context_after)))


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
