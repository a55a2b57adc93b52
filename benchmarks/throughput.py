"""Throughput of our PyTorch path against the naive peer, measured in one run.

The naive peer is what a user would write first: an HF text-classification `pipeline`
per target, called once per sentence and target, on the same encoder architecture
(MiniLM-L6), reading the sentence alone. Our path reads each sentence *with* its context
and answers every head in one encoder pass, in length-sorted batches.

    python benchmarks/throughput.py --model models/default --articles 200

Prints sentences/s for both, the ratio, and the peak RSS of this process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_articles(path: Path, n: int) -> list[dict]:
    base = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{**base[i % len(base)], "id": f"bench-{i}"} for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--input", default="data/sample.jsonl")
    parser.add_argument("--articles", type=int, default=200, help="articles for our path")
    parser.add_argument("--peer-sentences", type=int, default=300, help="sentences for the naive peer (it is slow)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
    from transformers.utils import logging as hf_logging

    from inference.model import resolve_base_model
    from inference.predict import Predictor
    from inference.records import article_from_record

    hf_logging.set_verbosity_error()
    predictor = Predictor.from_dir(args.model)
    articles = [article_from_record(r) for r in load_articles(Path(args.input), args.articles)]
    sentences = [s for a in articles for s in a.sentences]
    predictor.predict(articles[:4])  # warm-up
    start = time.perf_counter()
    predictor.predict(articles)
    ours = len(sentences) / (time.perf_counter() - start)

    base = resolve_base_model(predictor.config.model.base_model)
    tokenizer = AutoTokenizer.from_pretrained(base)
    peers = [
        pipeline(
            "text-classification",
            model=AutoModelForSequenceClassification.from_pretrained(base, num_labels=3),
            tokenizer=tokenizer,
            device=-1,
        )
        for _ in predictor.config.labels.targets
    ]
    sample = sentences[: args.peer_sentences]
    peers[0](sample[0])  # warm-up
    start = time.perf_counter()
    for sentence in sample:
        for classify in peers:
            classify(sentence)
    peer = len(sample) / (time.perf_counter() - start)

    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, threads {args.threads}")
    print(f"naive peer (pipeline per sentence x {len(peers)} targets): {peer:8.1f} sentences/s  ({len(sample)} sentences)")
    print(f"sourcestance PyTorch path:                       {ours:8.1f} sentences/s  ({len(sentences)} sentences)")
    print(f"ratio: {ours / peer:.1f}x; peak RSS {rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
