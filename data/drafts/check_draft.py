"""Quick checker for draft corpus parts (one article per line, labels inline).

Usage: python data/drafts/check_draft.py data/drafts/part-1.jsonl
"""

import collections
import json
import sys

ATT = {"direct", "indirect", "none"}
AFF = {"hamas", "pa", "egypt", "israel", "other", "author"}
ST = {"favor", "against", "none"}
TARGETS = ("egypt", "hamas", "pa")

problems = 0
counts = collections.Counter()
n = 0
lengths = []
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                art = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"{path}:{ln}: bad JSON: {e}")
                problems += 1
                continue
            for key in ("id", "title", "date", "sentences"):
                if key not in art:
                    print(f"{path}:{ln}: missing {key}")
                    problems += 1
            for i, s in enumerate(art.get("sentences", [])):
                where = f"{path}:{ln} {art.get('id')} sentence {i}"
                t = s.get("text", "")
                sp = s.get("speaker", {})
                stn = s.get("stance", {})
                if sp.get("attribution") not in ATT:
                    print(where, "bad attribution", sp.get("attribution"))
                    problems += 1
                if sp.get("affiliation") not in AFF:
                    print(where, "bad affiliation", sp.get("affiliation"))
                    problems += 1
                if (sp.get("attribution") == "none") != (sp.get("affiliation") == "author"):
                    print(where, "affiliation author iff attribution none")
                    problems += 1
                if sp.get("attribution") == "none" and (sp.get("span") is not None or sp.get("mention") is not None):
                    print(where, "attribution none needs span and mention null")
                    problems += 1
                if sp.get("attribution") != "none" and not sp.get("mention"):
                    print(where, "attributed sentence needs a mention")
                    problems += 1
                if sp.get("span") is not None and sp["span"] not in t:
                    print(where, "span not an exact substring:", sp["span"])
                    problems += 1
                for tg in TARGETS:
                    if stn.get(tg) not in ST:
                        print(where, "bad stance", tg, stn.get(tg))
                        problems += 1
                n += 1
                lengths.append(len(t.split()))
                counts["aff:" + str(sp.get("affiliation"))] += 1
                counts["att:" + str(sp.get("attribution"))] += 1
                for tg in TARGETS:
                    counts[f"{tg}:{stn.get(tg)}"] += 1
print(f"{n} sentences, {problems} problems, words min {min(lengths, default=0)} max {max(lengths, default=0)}")
for k in sorted(counts):
    print(f"  {k:20s} {counts[k]:5d}  {100 * counts[k] / max(n, 1):5.1f}%")
sys.exit(1 if problems else 0)
