"""The scikit-learn baseline the transformer must beat.

TF-IDF features of the sentence (and, marked apart, its preceding sentence) with one
logistic regression per field and target, plus a rule-based speaker finder for the
span: the patterns of wire news ("…," he said; X said; according to X; X told Y).
"""

from __future__ import annotations

import re

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from inference.config import RunConfig
from inference.records import Article
from inference.resolve import SentencePrediction, resolve_article
from inference.schema import LabelSchema, label_value, stance_head
from training.data import LabelledArticle

_VERBS = (
    r"said|says|told|added|adds|warned|stressed|charged|claimed|noted|explained|insisted|argued|"
    r"accused|denied|confirmed|announced|urged|asserted|acknowledged|declared|wrote|believes|thinks"
)
_NP = r"((?:[A-Z][\w’'.-]*|the|a|an|he|she|they|He|She|They|The|A|An)(?:[\s-][\w’'.-]+){0,9}?)"
_PATTERNS = [
    re.compile(r"[Aa]ccording to " + r"((?:the |a |an )?[^,.;]{2,80}?)(?=[,.;]|$)"),
    re.compile(r"[,”\"’]\s+" + _NP + r",?\s+(?:" + _VERBS + r")\b"),
    re.compile(r"[,”\"]\s+(?:" + _VERBS + r")\s+" + r"([A-Z][\w’'.-]*(?:\s[\w’'.-]+){0,6}?)(?=[,.]|$)"),
    re.compile(r"^(?:[A-Z]+[^,]*?,\s*)?" + _NP + r"\s+(?:also\s+|later\s+)?(?:" + _VERBS + r")\b"),
    re.compile(r"\b(he|she|they|He|She|They)\s+(?:" + _VERBS + r")\b"),
]


def find_speaker_span(sentence: str) -> str | None:
    """The first source a wire-news attribution pattern names, or None."""
    for pattern in _PATTERNS:
        m = pattern.search(sentence)
        if m:
            span = m.group(1).strip(" ,")
            if span:
                return span
    return None


class Baseline:
    def __init__(self, config: RunConfig):
        self.config = config
        self.schema = LabelSchema.from_config(config.labels)

    def _features(self, articles: list[LabelledArticle] | list[Article], fit: bool = False):
        current, previous = [], []
        for a in articles:
            for i, s in enumerate(a.sentences):
                current.append(s)
                previous.append(a.sentences[i - 1] if i else "")
        if fit:
            self.words = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
            self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True)
            self.context = TfidfVectorizer(ngram_range=(1, 1), sublinear_tf=True)
            return hstack(
                [self.words.fit_transform(current), self.chars.fit_transform(current), 0.5 * self.context.fit_transform(previous)]
            ).tocsr()
        return hstack(
            [self.words.transform(current), self.chars.transform(current), 0.5 * self.context.transform(previous)]
        ).tocsr()

    def fit(self, articles: list[LabelledArticle]) -> Baseline:
        x = self._features(articles, fit=True)
        labels = [label for a in articles for label in a.labels]
        self.classifiers = {}
        for name in self.schema.heads:
            y = [label_value(label, name) for label in labels]
            clf = LogisticRegression(max_iter=2000, C=5.0, class_weight="balanced")
            self.classifiers[name] = clf.fit(x, y) if len(set(y)) > 1 else _Constant(y[0])
        return self

    def predict(self, articles: list[Article]) -> list[list[dict]]:
        if not articles:
            return []
        x = self._features(articles)
        outputs = {name: clf.predict(x) for name, clf in self.classifiers.items()}
        results, row = [], 0
        s = self.schema
        for a in articles:
            preds, stances = [], []
            for sentence in a.sentences:
                attribution = outputs["attribution"][row]
                affiliation = outputs["affiliation"][row]
                span = find_speaker_span(sentence) if attribution != s.no_attribution else None
                if attribution != s.no_attribution and affiliation == s.author_affiliation:
                    affiliation = "other" if "other" in s.affiliation else affiliation
                if attribution == s.no_attribution:
                    affiliation = s.author_affiliation
                preds.append(SentencePrediction(attribution, span, affiliation, {}))
                stances.append({t: outputs[stance_head(t)][row] for t in s.targets})
                row += 1
            resolved = resolve_article(preds, s.no_attribution, s.author_affiliation, self.config.model.carry_affiliation)
            results.append(
                [
                    {
                        "article_id": a.id,
                        "sentence_index": i,
                        "text": sentence,
                        "speaker": {
                            "attribution": p.attribution,
                            "span": p.span,
                            "mention": r.mention,
                            "affiliation": r.affiliation,
                        },
                        "stance": st,
                    }
                    for i, (sentence, p, r, st) in enumerate(zip(a.sentences, preds, resolved, stances))
                ]
            )
        return results


class _Constant:
    def __init__(self, value: str):
        self.value = value

    def predict(self, x) -> np.ndarray:
        return np.array([self.value] * x.shape[0])
