"""Merge writers' draft parts (labels inline) into data/articles.jsonl and data/labels.jsonl.

Splits are assigned by position inside each part, so every topic batch lands in every
split at about 70/15/15: of each 20 articles, numbers 4, 11, 18 go to test and 7, 14, 20
to dev.

Usage: python data/drafts/merge.py data/drafts/part-*.jsonl
"""

import json
import os
import sys

TEST, DEV = {4, 11, 18}, {7, 14, 20}


def adjudicated(path: str) -> dict:
    """Final labels for sentences the two passes disagreed on (adjudicated-K beside part-K)."""
    decisions = path.replace("part-", "adjudicated-")
    if not os.path.exists(decisions):
        return {}
    out = {}
    for line in open(decisions, encoding="utf-8"):
        if line.strip():
            d = json.loads(line)
            out[(d["id"], d["index"])] = {"speaker": d["speaker"], "stance": d["stance"]}
    return out


articles, labels, changed = [], [], 0
for path in sorted(sys.argv[1:]):
    decided = adjudicated(path)
    with open(path, encoding="utf-8") as f:
        for position, line in enumerate((x for x in f if x.strip()), 1):
            art = json.loads(line)
            k = (position - 1) % 20 + 1
            split = "test" if k in TEST else "dev" if k in DEV else "train"
            sentences = [s["text"].strip() for s in art["sentences"]]
            articles.append({"id": art["id"], "title": art["title"], "date": art["date"], "split": split, "sentences": sentences})
            for i, s in enumerate(art["sentences"]):
                if (art["id"], i) in decided:
                    s = decided[(art["id"], i)]
                    changed += 1
                labels.append(
                    {
                        "article_id": art["id"],
                        "sentence_index": i,
                        "text": sentences[i],
                        "speaker": s["speaker"],
                        "stance": s["stance"],
                    }
                )
with open("data/articles.jsonl", "w", encoding="utf-8") as f:
    f.writelines(json.dumps(a, ensure_ascii=False) + "\n" for a in articles)
with open("data/labels.jsonl", "w", encoding="utf-8") as f:
    f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in labels)
# The sample corpus for the README's main job: test-split articles as running text, a
# sentence without final punctuation (a headline or dateline fragment) on its own line.
with open("data/sample.jsonl", "w", encoding="utf-8") as f:
    for a in articles:
        if a["split"] == "test":
            text = ""
            for s in a["sentences"]:
                text += s + ("\n" if not s.rstrip("”’\"')").endswith((".", "?", "!")) else " ")
            f.write(
                json.dumps({"id": a["id"], "title": a["title"], "date": a["date"], "text": text.strip()}, ensure_ascii=False)
                + "\n"
            )
print(f"{len(articles)} articles, {len(labels)} sentences, {changed} adjudicated labels applied")
