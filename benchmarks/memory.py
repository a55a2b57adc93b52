"""Peak memory of `sourcestance score` against corpus size: it must stay flat.

Writes corpora of N articles (articles of the sample corpus, cut to a few sentences each
so that 20,000 articles score in minutes), scores each in a fresh process and reads that
process's peak RSS from the kernel.

    python benchmarks/memory.py --model models/default --sizes 2000 20000 --runtime onnx-int8
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_corpus(path: Path, source: Path, n: int, sentences: int) -> int:
    """N articles in JSONL; returns the number of sentences."""
    from inference.segment import split_sentences

    base = []
    for line in source.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        kept = [record["text"][s.start : s.end] for s in split_sentences(record["text"])][:sentences]
        base.append({"title": record.get("title"), "date": record.get("date"), "sentences": kept})
    total = 0
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            record = {"id": f"mem-{i}", **base[i % len(base)]}
            total += len(record["sentences"])
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--input", default="data/sample.jsonl")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--sentences-per-article", type=int, default=3)
    parser.add_argument("--runtime", default="onnx-int8")
    args = parser.parse_args()

    print("| articles | sentences | seconds | sentences/s | peak RSS (MiB) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            corpus, out = Path(tmp) / f"corpus-{n}.jsonl", Path(tmp) / f"scored-{n}.jsonl"
            sentences = write_corpus(corpus, Path(args.input), n, args.sentences_per_article)
            command = [sys.executable, "-m", "sourcestance", "-q", "score", "--model", args.model, "--input", str(corpus)]
            command += ["--output", str(out), "--runtime", args.runtime, "--overwrite"]
            start = time.time()
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.time() - start
            if status != 0:
                raise SystemExit(f"scoring {n} articles failed with status {status}")
            scored = sum(1 for _ in open(out, encoding="utf-8"))
            assert scored == sentences, (scored, sentences)
            print(f"| {n} | {sentences} | {seconds:.0f} | {sentences / seconds:.0f} | {usage.ru_maxrss / 1024:.0f} |")


if __name__ == "__main__":
    main()
