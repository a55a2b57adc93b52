"""Prediction: articles in, contract records out, one encoder pass per sentence.

Sentences of many articles are pooled, sorted by length and cut into batches by a token
budget, so padding stays small; results go back to article order before speakers are
resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inference.config import RunConfig
from inference.encode import Features, article_features
from inference.model import SourceStanceModel, load_model, load_stance_bias, load_temperatures
from inference.records import OUTPUT_KEYS, Article
from inference.resolve import SentencePrediction, resolve_article
from inference.schema import stance_head

MAX_SPAN_TOKENS = 24


@dataclass
class _Item:
    article: int
    sentence: int
    features: Features


class Predictor:
    """Scores articles with a loaded model; the shared core of batch scoring and the service."""

    def __init__(
        self,
        model: SourceStanceModel,
        tokenizer,
        config: RunConfig,
        batch_size: int = 64,
        max_batch_tokens: int = 8192,
        threads: int | None = None,
        stance_bias: dict[str, float] | None = None,
        temperatures: dict[str, float] | None = None,
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.config = config
        self.schema = model.schema
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        if threads:
            torch.set_num_threads(threads)
        self.model_info = {"name": config.name, "version": config.version}
        self.stance_bias = dict(stance_bias or {})
        self.temperatures = dict(temperatures or {})  # head name -> T; scores are softmax(logits / T)
        self._none_index = self.schema.stance.index(self.schema.no_stance)

    @classmethod
    def from_dir(cls, directory: str | Path, **kwargs: Any) -> Predictor:
        model, tokenizer, config = load_model(directory)
        kwargs.setdefault("stance_bias", load_stance_bias(directory))
        kwargs.setdefault("temperatures", load_temperatures(directory))
        return cls(model, tokenizer, config, **kwargs)

    def predict(self, articles: list[Article]) -> list[list[dict]]:
        """Contract records for every sentence of every article, in input order."""
        items = [
            _Item(a, s, f)
            for a, article in enumerate(articles)
            for s, f in enumerate(article_features(self.tokenizer, article.sentences, self.config.model))
        ]
        raw = self._run(items)
        per_article: list[list[dict]] = [[None] * len(a.sentences) for a in articles]  # type: ignore[list-item]
        for item, out in zip(items, raw):
            per_article[item.article][item.sentence] = out
        return [self._records(article, outs) for article, outs in zip(articles, per_article)]

    @torch.inference_mode()
    def _run(self, items: list[_Item]) -> list[dict]:
        order = sorted(range(len(items)), key=lambda i: len(items[i].features.input_ids))
        results: list[dict] = [None] * len(items)  # type: ignore[list-item]
        for batch in self._batches(order, items):
            feats = [items[i].features for i in batch]
            tensors = collate(feats, self.tokenizer.pad_token_id or 0)
            logits = self.model(**tensors)
            for target, bias in self.stance_bias.items():
                logits[stance_head(target)][:, self._none_index] += bias
            probs = {
                name: torch.softmax(logits[name].float() / self.temperatures.get(name, 1.0), -1).numpy()
                for name in self.schema.heads
            }
            starts, ends = logits["span_start"].float().numpy(), logits["span_end"].float().numpy()
            for row, i in enumerate(batch):
                results[i] = {
                    "probs": {name: p[row] for name, p in probs.items()},
                    "span": decode_span(starts[row], ends[row], feats[row].sentence_len),
                    "offsets": feats[row].offsets,
                }
        return results

    def _batches(self, order: list[int], items: list[_Item]):
        batch: list[int] = []
        longest = 0
        for i in order:
            n = len(items[i].features.input_ids)
            if batch and (len(batch) >= self.batch_size or max(longest, n) * (len(batch) + 1) > self.max_batch_tokens):
                yield batch
                batch, longest = [], 0
            batch.append(i)
            longest = max(longest, n)
        if batch:
            yield batch

    def _records(self, article: Article, outs: list[dict]) -> list[dict]:
        schema = self.schema
        preds, all_probs = [], []
        for sentence, out in zip(article.sentences, outs):
            probs = {name: dict(zip(values, map(float, out["probs"][name]))) for name, values in schema.heads.items()}
            attribution = _argmax(probs["attribution"])
            aff = probs["affiliation"]
            if attribution == schema.no_attribution:
                affiliation = schema.author_affiliation
            else:  # an attributed sentence has a real side: the heads must agree
                affiliation = _argmax({v: p for v, p in aff.items() if v != schema.author_affiliation})
            span = None
            if attribution != schema.no_attribution and out["span"] is not None:
                first, last = out["span"]
                span = sentence[out["offsets"][first][0] : out["offsets"][last][1]]
            preds.append(SentencePrediction(attribution, span, affiliation, aff))
            all_probs.append(probs)
        resolved = resolve_article(preds, schema.no_attribution, schema.author_affiliation, self.config.model.carry_affiliation)
        extra = {k: v for k, v in article.extra.items() if k not in OUTPUT_KEYS}
        clashing = {k: v for k, v in article.extra.items() if k in OUTPUT_KEYS}
        if clashing:
            extra["input"] = clashing
        records = []
        for i, (sentence, pred, res, probs) in enumerate(zip(article.sentences, preds, resolved, all_probs)):
            record: dict[str, Any] = {"article_id": article.id, "sentence_index": i, "text": sentence}
            if article.offsets is not None:
                record["start"], record["end"] = article.offsets[i].start, article.offsets[i].end
            record["speaker"] = {
                "attribution": pred.attribution,
                "span": pred.span,
                "mention": res.mention,
                "affiliation": res.affiliation,
            }
            record["stance"] = {t: _argmax(probs[stance_head(t)]) for t in schema.targets}
            record["scores"] = {
                "speaker": {"attribution": _rounded(probs["attribution"]), "affiliation": _rounded(res.affiliation_scores)},
                "stance": {t: _rounded(probs[stance_head(t)]) for t in schema.targets},
            }
            record["model"] = dict(self.model_info)
            record.update(extra)
            records.append(record)
        return records


def _argmax(probs: dict[str, float]) -> str:
    return max(probs, key=probs.get)


def _rounded(probs: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 5) for k, v in probs.items()}


def decode_span(start: np.ndarray, end: np.ndarray, n: int) -> tuple[int, int] | None:
    """Best (first, last) sentence-token span, or None when "no span" scores higher."""
    if n == 0:
        return None
    s, e = start[1 : n + 1], end[1 : n + 1]
    grid = s[:, None] + e[None, :]
    i, j = np.indices(grid.shape)
    grid = np.where((j >= i) & (j - i < MAX_SPAN_TOKENS), grid, -np.inf)
    best = int(np.argmax(grid))
    first, last = divmod(best, n)
    if grid[first, last] <= start[0] + end[0]:
        return None
    return first, last


def collate(features: list[Features], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest input; ``sentence_mask`` marks the sentence's own tokens."""
    width = max(len(f.input_ids) for f in features)
    ids = torch.full((len(features), width), pad_id, dtype=torch.long)
    types = torch.zeros((len(features), width), dtype=torch.long)
    mask = torch.zeros((len(features), width), dtype=torch.long)
    sentence = torch.zeros((len(features), width), dtype=torch.long)
    for row, f in enumerate(features):
        n = len(f.input_ids)
        ids[row, :n] = torch.tensor(f.input_ids)
        types[row, :n] = torch.tensor(f.token_type_ids)
        mask[row, :n] = 1
        sentence[row, 1 : 1 + f.sentence_len] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "sentence_mask": sentence}
