"""Prediction: articles in, contract records out, one encoder pass per sentence.

Articles are cut into windows of consecutive sentences (inference/encode.py); windows of
many articles are pooled, sorted by length and cut into batches by a sentence and token
budget, so padding stays small; results go back to article order before speakers are
resolved. Tokenisation (``prepare``) is separate from the model call, so a caller can
prepare the next chunk while this one runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inference.config import RunConfig
from inference.encode import Target, Window, article_windows
from inference.model import SourceStanceModel, load_model, load_stance_bias, load_temperatures
from inference.records import OUTPUT_KEYS, Article
from inference.resolve import SentencePrediction, resolve_article
from inference.schema import stance_head

MAX_SPAN_TOKENS = 24


@dataclass
class Prepared:
    """Tokenised windows of a list of articles, ready for the model."""

    windows: list[Window]
    articles: list[int]  # the article each window belongs to


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
        encoder_runtime: Callable[..., torch.Tensor] | None = None,
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
        self.encoder_runtime = encoder_runtime  # None: the PyTorch encoder
        self._none_index = self.schema.stance.index(self.schema.no_stance)

    @classmethod
    def from_dir(cls, directory: str | Path, runtime: str = "torch", **kwargs: Any) -> Predictor:
        """Everything comes from the model directory; ``runtime`` picks the encoder's engine."""
        from inference.runtimes import load_runtime

        model, tokenizer, config = load_model(directory)
        kwargs.setdefault("stance_bias", load_stance_bias(directory))
        kwargs.setdefault("temperatures", load_temperatures(directory))
        kwargs.setdefault("encoder_runtime", load_runtime(model.encoder, directory, runtime, kwargs.get("threads")))
        return cls(model, tokenizer, config, **kwargs)

    def prepare(self, articles: list[Article]) -> Prepared:
        """Tokenise and window the articles; no model call, so it can run beside one."""
        windows, owners = [], []
        for a, article in enumerate(articles):
            for window in article_windows(self.tokenizer, article.sentences, self.config.model):
                windows.append(window)
                owners.append(a)
        return Prepared(windows, owners)

    def predict(self, articles: list[Article], prepared: Prepared | None = None) -> list[list[dict]]:
        """Contract records for every sentence of every article, in input order."""
        outputs = self._outputs(articles, prepared or self.prepare(articles))
        return [self._records(article, outs) for article, outs in zip(articles, outputs)]

    def head_probabilities(self, articles: list[Article]) -> list[list[dict[str, np.ndarray]]]:
        """Each sentence's probabilities per head, before speakers are resolved: what a student learns from."""
        outputs = self._outputs(articles, self.prepare(articles))
        return [[out["probs"] for out in outs] for outs in outputs]

    def _outputs(self, articles: list[Article], prepared: Prepared) -> list[list[dict]]:
        per_article: list[list[dict]] = [[None] * len(a.sentences) for a in articles]  # type: ignore[list-item]
        for (window, target), out in self._run(prepared.windows):
            per_article[prepared.articles[window]][target.sentence] = out
        return per_article

    @torch.inference_mode()
    def _run(self, windows: list[Window]):
        """Yield ``((window index, target), outputs)`` for every target sentence."""
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
        for batch in self._batches(order, windows):
            chosen = [windows[i] for i in batch]
            tensors = collate(chosen, self.tokenizer.pad_token_id or 0)
            logits = self.logits(tensors)
            for target, bias in self.stance_bias.items():
                logits[stance_head(target)][:, self._none_index] += bias
            probs = {
                name: torch.softmax(logits[name].float() / self.temperatures.get(name, 1.0), -1).numpy()
                for name in self.schema.heads
            }
            starts, ends = logits["span_start"].float().numpy(), logits["span_end"].float().numpy()
            row = 0
            for i, window in zip(batch, chosen):
                for target in window.targets:
                    yield (
                        (i, target),
                        {
                            "probs": {name: p[row] for name, p in probs.items()},
                            "span": decode_span(starts[row], ends[row], len(target.offsets)),  # (best, beats none)
                            "offsets": target.offsets,
                        },
                    )
                    row += 1

    def logits(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Head logits for a collated batch; a faster runtime replaces the encoder here."""
        if self.encoder_runtime is None:
            return self.model(**tensors)
        hidden = self.encoder_runtime(tensors["input_ids"], tensors["attention_mask"], tensors["token_type_ids"])
        return self.model.heads_from_hidden(hidden, tensors["rows"], tensors["positions"], tensors["sentence_mask"])

    def _batches(self, order: list[int], windows: list[Window]):
        batch: list[int] = []
        longest = sentences = 0
        for i in order:
            n, k = len(windows[i].input_ids), len(windows[i].targets)
            if batch and (sentences + k > self.batch_size or max(longest, n) * (len(batch) + 1) > self.max_batch_tokens):
                yield batch
                batch, longest, sentences = [], 0, 0
            batch.append(i)
            longest = max(longest, n)
            sentences += k
        if batch:
            yield batch

    def _records(self, article: Article, outs: list[dict]) -> list[dict]:
        schema = self.schema
        preds, all_probs, best_spans = [], [], []
        for sentence, out in zip(article.sentences, outs):
            probs = {name: dict(zip(values, map(float, out["probs"][name]))) for name, values in schema.heads.items()}
            attribution = _argmax(probs["attribution"])
            aff = probs["affiliation"]
            if attribution == schema.no_attribution:
                affiliation = schema.author_affiliation
            else:  # an attributed sentence has a real side: the heads must agree
                affiliation = _argmax({v: p for v, p in aff.items() if v != schema.author_affiliation})
            best, beats_none = out["span"]
            best_text = None if best is None else sentence[out["offsets"][best[0]][0] : out["offsets"][best[1]][1]]
            span = best_text if attribution != schema.no_attribution and beats_none else None
            preds.append(SentencePrediction(attribution, span, affiliation, aff))
            all_probs.append(probs)
            best_spans.append(best_text)
        args = (schema.no_attribution, schema.author_affiliation, self.config.model.carry_affiliation)
        resolved = resolve_article(preds, *args)
        # An attributed sentence with no span of its own and no source before or after it would
        # have no mention; the contract needs one, so it names its source with its best span.
        orphans = [i for i, r in enumerate(resolved) if preds[i].attribution != schema.no_attribution and r.mention is None]
        if orphans:
            for i in orphans:
                preds[i] = replace(preds[i], span=best_spans[i])
            resolved = resolve_article(preds, *args)
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


def decode_span(start: np.ndarray, end: np.ndarray, n: int) -> tuple[tuple[int, int] | None, bool]:
    """The best (first, last) sentence-token span, and whether it scores above "no span".

    The best span is kept even when "no span" wins: an attributed sentence that no earlier
    or later source explains falls back on it (see ``Predictor._records``).
    """
    if n == 0:
        return None, False
    s, e = start[1 : n + 1], end[1 : n + 1]
    grid = s[:, None] + e[None, :]
    i, j = np.indices(grid.shape)
    grid = np.where((j >= i) & (j - i < MAX_SPAN_TOKENS), grid, -np.inf)
    first, last = divmod(int(np.argmax(grid)), n)
    return (first, last), bool(grid[first, last] > start[0] + end[0])


def collate(windows: list[Window], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad windows to the longest; gather indices place each target sentence's slots in its window."""
    width = max(len(w.input_ids) for w in windows)
    ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    types = torch.zeros((len(windows), width), dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    targets: list[tuple[int, Target]] = [(r, t) for r, w in enumerate(windows) for t in w.targets]
    slots = max(len(t.offsets) for _, t in targets) + 1
    rows = torch.tensor([r for r, _ in targets], dtype=torch.long)
    positions = torch.zeros((len(targets), slots), dtype=torch.long)
    sentence = torch.zeros((len(targets), slots), dtype=torch.long)
    for r, w in enumerate(windows):
        n = len(w.input_ids)
        ids[r, :n] = torch.tensor(w.input_ids)
        types[r, :n] = torch.tensor(w.token_type_ids)
        mask[r, :n] = 1
    for k, (_, t) in enumerate(targets):
        where = t.positions
        positions[k, : len(where)] = torch.tensor(where)
        sentence[k, : len(where)] = 1
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "token_type_ids": types,
        "rows": rows,
        "positions": positions,
        "sentence_mask": sentence,
    }
