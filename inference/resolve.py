"""Speaker resolution: turn per-sentence spans into sources that persist across sentences.

"He said", "the official charged" and a quotation's later sentences name no one; they
belong to the source named before. This pass walks an article in order, links each
such sentence to its antecedent and gives it that source's most informative mention
(and, by default, its affiliation: the name, not the pronoun, tells whose side it is).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PRONOUNS = {"he", "she", "they", "we", "i", "it", "him", "her", "them"}
_DEFINITE = {"the", "this", "that", "these", "those"}
# Title words that do not identify a person on their own.
_GENERIC = {
    "Abu",
    "Al",
    "El",
    "President",
    "Prime",
    "Minister",
    "Foreign",
    "Spokesman",
    "Spokeswoman",
    "General",
    "Gen",
    "Sheikh",
    "Dr",
    "Mr",
    "Mrs",
    "Ms",
    "The",
    "A",
    "An",
    "Hamas",
    "Fatah",
    "Egyptian",
    "Israeli",
    "Palestinian",
    "PA",
    "Egypt",
    "Israel",
    "Authority",
    "Deputy",
    "Head",
}


@dataclass
class SentencePrediction:
    """What the heads said about one sentence, before resolution."""

    attribution: str
    span: str | None
    affiliation: str
    affiliation_scores: dict[str, float]


@dataclass
class Resolved:
    mention: str | None
    affiliation: str
    affiliation_scores: dict[str, float]


@dataclass
class _Source:
    mention: str
    affiliation: str
    scores: dict[str, float]
    names: set[str] = field(default_factory=set)


def is_anaphoric(span: str) -> bool:
    """A pronoun or a short definite description ("the official") points back to a source."""
    words = span.split()
    if not words:
        return False
    first = words[0].lower()
    if len(words) == 1:
        return first in PRONOUNS
    if first not in _DEFINITE or len(words) > 4:
        return False
    return not any(w[:1].isupper() for w in words[1:])


def _names(text: str) -> set[str]:
    return {w for w in re.findall(r"[A-Z][\w'’-]+", text) if w not in _GENERIC}


def resolve_article(
    predictions: list[SentencePrediction], no_attribution: str, author: str, carry_affiliation: bool = True
) -> list[Resolved]:
    """Resolve mentions (and carried affiliations) for one article's sentences, in order."""
    sources: list[_Source] = []
    last: _Source | None = None
    # Each sentence's source, with its mention as known at that sentence (never a later one).
    linked: list[tuple[_Source, str] | None] = []
    for p in predictions:
        source = None
        if p.attribution == no_attribution:
            linked.append(None)
            continue
        if p.span is None:
            source = last
        elif is_anaphoric(p.span):
            same_side = [s for s in reversed(sources) if s.affiliation == p.affiliation]
            source = same_side[0] if same_side else last
        else:
            names = _names(p.span)
            for s in reversed(sources):
                if names and names & s.names:
                    source = s
                    if len(p.span.split()) > len(s.mention.split()):
                        s.mention = p.span
                    s.names |= names
                    break
            if source is None:
                source = _Source(p.span, p.affiliation, p.affiliation_scores, names)
                sources.append(source)
        if source is None and p.span is not None:
            source = _Source(p.span, p.affiliation, p.affiliation_scores, _names(p.span))
            sources.append(source)
        linked.append((source, source.mention) if source is not None else None)
        if source is not None:
            last = source
    # A quotation whose speaker is named only after it ("“A. B,” he said.") takes the next source.
    for i in range(len(linked) - 2, -1, -1):
        p = predictions[i]
        if linked[i] is None and p.attribution != no_attribution and linked[i + 1] is not None:
            linked[i] = linked[i + 1]

    out = []
    for p, link in zip(predictions, linked):
        if p.attribution == no_attribution:
            out.append(Resolved(None, author, p.affiliation_scores))
        elif link is None:
            out.append(Resolved(p.span, p.affiliation, p.affiliation_scores))
        else:
            source, mention = link
            if carry_affiliation and (p.span is None or is_anaphoric(p.span)):
                out.append(Resolved(mention, source.affiliation, source.scores))
            else:
                out.append(Resolved(mention, p.affiliation, p.affiliation_scores))
    return out
