"""Merge writers' draft parts (labels inline) into data/articles.jsonl and data/labels.jsonl.

Splits are assigned by position inside each part, so every topic batch lands in every
split at about 70/15/15: of each 20 articles, numbers 4, 11, 18 go to test and 7, 14, 20
to dev.

Usage: python data/drafts/merge.py data/drafts/part-*.jsonl
"""

import json
import sys

TEST, DEV = {4, 11, 18}, {7, 14, 20}

articles, labels = [], []
for path in sorted(sys.argv[1:]):
    with open(path, encoding="utf-8") as f:
        for position, line in enumerate((x for x in f if x.strip()), 1):
            art = json.loads(line)
            k = (position - 1) % 20 + 1
            split = "test" if k in TEST else "dev" if k in DEV else "train"
            sentences = [s["text"].strip() for s in art["sentences"]]
            articles.append({"id": art["id"], "title": art["title"], "date": art["date"], "split": split, "sentences": sentences})
            for i, s in enumerate(art["sentences"]):
                labels.append({"article_id": art["id"], "sentence_index": i, "text": sentences[i],
                               "speaker": s["speaker"], "stance": s["stance"]})
with open("data/articles.jsonl", "w", encoding="utf-8") as f:
    f.writelines(json.dumps(a, ensure_ascii=False) + "\n" for a in articles)
with open("data/labels.jsonl", "w", encoding="utf-8") as f:
    f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in labels)
print(f"{len(articles)} articles, {len(labels)} sentences")
