"""Throughput of our runtimes against the naive peer, measured side by side in one run.

The naive peer is what a user would write first: an HF text-classification `pipeline`
per stance target, called once per sentence and target, on the same encoder (MiniLM-L6).
It is measured twice: reading the sentence alone (it cannot then tell who "he" is), and
reading the sentence with the same context our model reads (two sentences before, one
after, as a text pair). Ours answers every head, spans included, for a window of
sentences in one encoder pass, in length-sorted batches; it runs on PyTorch (fp32 and
bfloat16) and on ONNX Runtime (fp32 and per-channel int8), for each model given. The
other runtimes are checked against the same model's first one on the labelled test
split: label agreement per field and the largest probability difference.

    python benchmarks/throughput.py --model models/default models/fast --articles 100

Prints a markdown table (sentences/s, ratio to each peer) and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_articles(path: Path, n: int) -> list[dict]:
    base = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{**base[i % len(base)], "id": f"bench-{i}"} for i in range(n)]


def peer_inputs(articles, limit: int) -> tuple[list[str], list[dict]]:
    """Sentences alone, and the same sentences paired with the context our model reads."""
    alone, paired = [], []
    for article in articles:
        s = article.sentences
        for i, sentence in enumerate(s):
            alone.append(sentence)
            paired.append({"text": sentence, "text_pair": " ".join(s[max(0, i - 2) : i] + s[i + 1 : i + 2])})
    return alone[:limit], paired[:limit]


def time_peer(peers, inputs) -> float:
    peers[0](inputs[0])  # warm-up
    start = time.perf_counter()
    for item in inputs:
        for classify in peers:
            classify(item)
    return len(inputs) / (time.perf_counter() - start)


def time_ours(predictor, articles, repeats: int = 2) -> float:
    predictor.predict(articles[:4])  # warm-up
    n = sum(len(a.sentences) for a in articles)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.predict(articles)
        best = max(best, n / (time.perf_counter() - start))
    return best


def agreement(reference: list[dict], other: list[dict]) -> dict[str, float]:
    """Share of equal labels per field, and the largest difference of any probability."""
    fields = {"attribution": lambda r: r["speaker"]["attribution"], "span": lambda r: r["speaker"]["span"]}
    fields["affiliation"] = lambda r: r["speaker"]["affiliation"]
    for target in reference[0]["stance"]:
        fields[f"stance/{target}"] = lambda r, t=target: r["stance"][t]
    out = {name: sum(get(a) == get(b) for a, b in zip(reference, other)) / len(reference) for name, get in fields.items()}
    worst = 0.0
    for a, b in zip(reference, other):
        for group in ("speaker", "stance"):
            for name, probs in a["scores"][group].items():
                worst = max(worst, max(abs(p - b["scores"][group][name][k]) for k, p in probs.items()))
    out["max_prob_diff"] = worst
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", default=["models/default"], help="one or more model directories")
    parser.add_argument("--input", default="data/sample.jsonl")
    parser.add_argument("--articles", type=int, default=100, help="articles for our runtimes")
    parser.add_argument("--peer-sentences", type=int, default=150, help="sentences for each naive peer (they are slow)")
    parser.add_argument("--runtimes", default="torch,torch-bf16,onnx,onnx-int8")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--articles-file", default="data/articles.jsonl", help="labelled articles for the agreement check")
    parser.add_argument("--labels-file", default="data/labels.jsonl")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
    from transformers.utils import logging as hf_logging

    from inference.config import RunConfig
    from inference.model import CONFIG_FILE, resolve_base_model
    from inference.predict import Predictor
    from inference.records import article_from_record
    from training.data import load_corpus, select_split

    hf_logging.set_verbosity_error()
    articles = [article_from_record(r) for r in load_articles(Path(args.input), args.articles)]
    labelled = [a.as_input() for a in select_split(load_corpus(args.articles_file, args.labels_file), args.split)]
    n_sentences = sum(len(a.sentences) for a in articles)
    labelled_sentences = sum(len(a.sentences) for a in labelled)

    # The fast runtimes export into the model directory; work on a copy to leave it as it was.
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, model in enumerate(args.model):
            model_dir = Path(tmp) / f"model-{k}"
            shutil.copytree(model, model_dir)
            reference, first = None, None
            for runtime in args.runtimes.split(","):
                predictor = Predictor.from_dir(model_dir, runtime=runtime, threads=args.threads)
                name = f"{model}, {runtime}"
                rows[name] = {"sentences_s": time_ours(predictor, articles)}
                scored = [r for records in predictor.predict(labelled) for r in records]
                if reference is None:
                    reference, first = scored, name
                else:
                    rows[name]["agreement"] = agreement(reference, scored)
                    rows[name]["reference"] = first
                del predictor

    first_model = RunConfig.load(Path(args.model[0]) / CONFIG_FILE)
    base = resolve_base_model(first_model.model.base_model)
    tokenizer = AutoTokenizer.from_pretrained(base)
    targets = first_model.labels.targets
    peers = [
        pipeline(
            "text-classification",
            model=AutoModelForSequenceClassification.from_pretrained(base, num_labels=3),
            tokenizer=tokenizer,
        )
        for _ in targets
    ]
    alone, paired = peer_inputs(articles, args.peer_sentences)
    peer_alone, peer_context = time_peer(peers, alone), time_peer(peers, paired)

    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, threads {args.threads}")
    print(
        f"our runtimes: {n_sentences} sentences ({len(articles)} articles); peers: {len(alone)} sentences x {len(peers)} targets"
    )
    print()
    print("| system | sentences/s | vs peer (sentence alone) | vs peer (with context) |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| naive peer, sentence alone | {peer_alone:.1f} | 1.0x | |")
    print(f"| naive peer, with context | {peer_context:.1f} | | 1.0x |")
    for runtime, row in rows.items():
        rate = row["sentences_s"]
        print(f"| sourcestance, {runtime} | {rate:.1f} | {rate / peer_alone:.1f}x | {rate / peer_context:.1f}x |")
    for runtime, row in rows.items():
        if "agreement" in row:
            a, first = row["agreement"], row["reference"]
            same = ", ".join(f"{k} {v:.3f}" for k, v in a.items() if k != "max_prob_diff")
            speedup = row["sentences_s"] / rows[first]["sentences_s"]
            print(
                f"\n{runtime} vs {first}: {speedup:.2f}x; on the {args.split} split ({labelled_sentences} sentences) "
                "label agreement:"
            )
            print(f"  {same}; max probability difference {a['max_prob_diff']:.4f}")
    print(f"\npeak RSS {rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
