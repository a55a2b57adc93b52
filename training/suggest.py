"""Active learning: the sentences the model is least sure of, spread across articles.

A sentence's uncertainty is that of its least certain head (attribution, affiliation, a
stance per target), each normalised to [0, 1] so heads with more values do not dominate;
the mean over heads breaks ties. Labelling the most uncertain sentences first teaches the
model most per label, but the most uncertain sentences often cluster in one odd article,
so at most ``per_article`` come from one article, taken round robin: every article's most
uncertain sentence first, then every article's second, and so on.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

STRATEGIES = ("entropy", "margin")


def head_scores(record: dict) -> list[dict[str, float]]:
    """The probability distribution of every head in a scored record (``scores`` of the contract)."""
    scores = record.get("scores") or {}
    heads = list((scores.get("speaker") or {}).values()) + list((scores.get("stance") or {}).values())
    return [h for h in heads if isinstance(h, dict)]


def head_uncertainty(probs: dict[str, float], strategy: str = "entropy") -> float:
    """0 for a certain head, 1 for a uniform one: normalised entropy, or one minus the top-two margin."""
    p = [max(0.0, float(v)) for v in probs.values() if isinstance(v, (int, float))]
    total = sum(p)
    if len(p) < 2 or total <= 0:
        return 0.0
    p = sorted((v / total for v in p), reverse=True)
    if strategy == "margin":
        return 1.0 - (p[0] - p[1])
    if strategy != "entropy":
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    return -sum(v * math.log(v) for v in p if v > 0) / math.log(len(p))


def uncertainty(record: dict, strategy: str = "entropy") -> tuple[float, float]:
    """(max, mean) uncertainty over the heads of a scored record; (0, 0) when it has no scores."""
    values = [head_uncertainty(h, strategy) for h in head_scores(record)]
    if not values:
        return 0.0, 0.0
    return max(values), sum(values) / len(values)


@dataclass(frozen=True)
class Suggestion:
    record: dict
    uncertainty: float
    payload: Any = None  # what the caller attached to the article (its sentences, for context)


@dataclass
class _Article:
    best: tuple
    items: list = field(default_factory=list)  # a min-heap of (key, record), at most per_article long
    payload: Any = None


class Ranker:
    """Collects scored articles one at a time, keeping only what can still be suggested.

    With ``n`` suggestions to make, only the ``n`` articles with the most uncertain best
    sentence can contribute (round robin takes every article's best first), and of each
    only its ``per_article`` most uncertain sentences: memory stays bounded by ``n``.
    """

    def __init__(self, n: int, per_article: int = 2, strategy: str = "entropy"):
        if n < 1 or per_article < 1:
            raise ValueError("n and per_article must be at least 1")
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        self.n, self.per_article, self.strategy = n, per_article, strategy
        self._articles: dict[int, _Article] = {}
        self._by_best: list[tuple] = []  # min-heap of (best key, article number)
        self._count = 0  # input order, the last tie-breaker: earlier first

    def add_article(self, records: Iterable[dict], payload: Any = None) -> None:
        items: list = []
        for record in records:
            self._count += 1
            key = (*uncertainty(record, self.strategy), -self._count)
            if len(items) < self.per_article:
                heapq.heappush(items, (key, record))
            elif key > items[0][0]:
                heapq.heapreplace(items, (key, record))
        if not items:
            return
        number = self._count
        best = max(key for key, _ in items)
        self._articles[number] = _Article(best, items, payload)
        heapq.heappush(self._by_best, (best, number))
        if len(self._by_best) > self.n:
            _, dropped = heapq.heappop(self._by_best)
            del self._articles[dropped]

    def top(self) -> list[Suggestion]:
        """At most ``n`` suggestions, round by round, most uncertain first within a round."""
        ordered = [(a, sorted(a.items, reverse=True)) for a in self._articles.values()]
        picked: list[Suggestion] = []
        for round_ in range(self.per_article):
            this = [(items[round_][0], items[round_][1], a.payload) for a, items in ordered if len(items) > round_]
            this.sort(key=lambda item: item[0], reverse=True)
            picked += [Suggestion(record, key[0], payload) for key, record, payload in this]
            if len(picked) >= self.n:
                break
        return picked[: self.n]


def rank(records: Iterable[dict], n: int, per_article: int = 2, strategy: str = "entropy") -> list[Suggestion]:
    """The ``n`` scored records to label next (see the module docstring), grouped by ``article_id``."""
    by_article: dict[Any, list[dict]] = {}
    for record in records:
        by_article.setdefault(record.get("article_id"), []).append(record)
    ranker = Ranker(n, per_article, strategy)
    for group in by_article.values():
        ranker.add_article(group)
    return ranker.top()
