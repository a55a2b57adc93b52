"""Bounded load test of the scoring service on 127.0.0.1.

Starts `sourcestance serve` on a free port (or uses --url), then sends a fixed number of
requests from N concurrent clients and reports latency percentiles, sentences/s, errors
and lost responses. It runs the same load one request at a time first, so the gain from
micro-batching is measured in the same run:

    python benchmarks/service_load.py --model models/default --clients 16 --requests 400
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def payloads(path: Path, n: int, sentences_per_request: int) -> list[dict]:
    """Short articles cut from the sample corpus: what a newsroom feed sends one by one."""
    from inference.segment import split_sentences

    pool = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = json.loads(line)["text"]
        pool += [text[s.start : s.end] for s in split_sentences(text)]
    return [
        {
            "id": f"load-{i}",
            "sentences": [pool[(i * sentences_per_request + k) % len(pool)] for k in range(sentences_per_request)],
        }
        for i in range(n)
    ]


def run_load(url: str, bodies: list[dict], clients: int) -> dict:
    latencies, errors, sentences = [], [], 0
    lock = threading.Lock()
    queue = list(enumerate(bodies))

    def worker():
        nonlocal sentences
        with httpx.Client(timeout=120) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    _, body = queue.pop()
                start = time.perf_counter()
                try:
                    r = client.post(url + "/v1/score", json=body)
                    ok = r.status_code == 200 and len(r.json()["sentences"]) == len(body["sentences"])
                except httpx.HTTPError as e:
                    ok, r = False, e
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if ok:
                        sentences += len(body["sentences"])
                    else:
                        errors.append(str(r))

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100)
    return {
        "clients": clients,
        "requests": len(bodies),
        "answered": len(latencies),
        "errors": len(errors),
        "p50_ms": 1000 * q[49],
        "p95_ms": 1000 * q[94],
        "p99_ms": 1000 * q[98],
        "sentences_per_s": sentences / wall,
        "seconds": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--url", help="an already running service; default: start one")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--sentences-per-request", type=int, default=2)
    parser.add_argument("--input", default=str(ROOT / "data" / "sample.jsonl"))
    args = parser.parse_args()

    proc = None
    url = args.url
    if url is None:
        from inference.service import start_local_service

        proc, url = start_local_service(args.model, "--max-wait-ms", "10", cwd=ROOT)
    try:
        bodies = payloads(Path(args.input), args.requests, args.sentences_per_request)
        run_load(url, bodies[:20], 4)  # warm-up
        sequential = run_load(url, bodies, 1)
        concurrent = run_load(url, bodies, args.clients)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
    for name, r in (("one at a time", sequential), (f"{args.clients} clients", concurrent)):
        print(
            f"{name:>14}: {r['requests']} requests, {r['answered']} answered, {r['errors']} errors; "
            f"p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms; "
            f"{r['sentences_per_s']:.1f} sentences/s"
        )
    print(
        f"micro-batching gain: {concurrent['sentences_per_s'] / sequential['sentences_per_s']:.1f}x "
        f"({args.sentences_per_request} sentences per request, {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
