"""Compare the first labelling pass (part-K) with the blind second pass (pass2-K).

Prints per-field agreement and Cohen's kappa, and writes disputes-K.jsonl: every
sentence where the passes differ, with the article's sentences for context, for
adjudication. Usage: python data/drafts/agreement.py 1 2 3 ...
"""

import json
import sys
from collections import Counter

FIELDS = ["attribution", "affiliation", "span", "mention", "stance.egypt", "stance.hamas", "stance.pa"]


def get(label, field):
    if field.startswith("stance."):
        return label["stance"][field[7:]]
    value = label["speaker"][field]
    return " ".join(value.split()).lower() if isinstance(value, str) else value


def kappa(pairs):
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    ca, cb = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


pairs = {f: [] for f in FIELDS}
for k in sys.argv[1:]:
    first = [json.loads(x) for x in open(f"data/drafts/part-{k}.jsonl", encoding="utf-8") if x.strip()]
    second = {a["id"]: a for a in (json.loads(x) for x in open(f"data/drafts/pass2-{k}.jsonl", encoding="utf-8") if x.strip())}
    with open(f"data/drafts/disputes-{k}.jsonl", "w", encoding="utf-8") as out:
        for art in first:
            other = second[art["id"]]
            assert [s["text"] for s in art["sentences"]] == [s["text"] for s in other["sentences"]], art["id"]
            disputes = []
            for i, (a, b) in enumerate(zip(art["sentences"], other["sentences"])):
                differ = []
                for f in FIELDS:
                    pairs[f].append((get(a, f), get(b, f)))
                    if get(a, f) != get(b, f):
                        differ.append(f)
                if differ:
                    disputes.append(
                        {
                            "index": i,
                            "fields": differ,
                            "A": {"speaker": a["speaker"], "stance": a["stance"]},
                            "B": {"speaker": b["speaker"], "stance": b["stance"]},
                        }
                    )
            if disputes:
                out.write(
                    json.dumps(
                        {
                            "id": art["id"],
                            "title": art["title"],
                            "sentences": [s["text"] for s in art["sentences"]],
                            "disputes": disputes,
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
n = len(pairs[FIELDS[0]])
print(f"{n} sentences double-labelled")
print("| field | agreement | Cohen's kappa |\n| --- | ---: | ---: |")
for f in FIELDS:
    agree = sum(a == b for a, b in pairs[f]) / n
    kap = kappa(pairs[f]) if f not in ("span", "mention") else float("nan")
    print(f"| {f} | {100 * agree:.1f}% | {'' if kap != kap else f'{kap:.2f}'} |")
