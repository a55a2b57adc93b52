"""The scoring service: a FastAPI app that micro-batches concurrent requests.

Requests are validated at the edge (size first, then shape), then queued; one worker
gathers what is waiting, up to a sentence budget or a short deadline, and scores it in
a single model call on a dedicated thread, so throughput under load approaches the
batch scorer's while a lone request waits only ``max_wait_ms``. The service never reads
a path or loads a model from request data.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field, model_validator

from inference.predict import Predictor
from inference.records import Article, RecordError, article_from_record

log = logging.getLogger(__name__)


@dataclass
class ServiceSettings:
    max_articles: int = 64
    max_chars: int = 200_000
    max_batch_sentences: int = 256
    max_wait_ms: float = 5.0
    api_key: str | None = None


class ArticleIn(BaseModel):
    """One article, in either form of the contract; extra fields are carried through."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [{"id": "a1", "text": "Egypt reopened the crossing."}]}
    )

    id: str | int = Field(description="article id, echoed as article_id")
    text: str | None = Field(default=None, description="full article text; sentences are split with offsets")
    sentences: list[str] | None = Field(default=None, description="pre-split sentences (no offsets in the output)")

    @model_validator(mode="after")
    def _one_form(self) -> ArticleIn:
        if (self.text is None) == (self.sentences is None):
            raise ValueError("needs exactly one of 'text' or 'sentences'")
        return self


class ServiceError(Exception):
    def __init__(self, status: int, kind: str, message: str, field: str | None = None):
        self.status, self.kind, self.message, self.field = status, kind, message, field


def _error(status: int, kind: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"kind": kind, "message": message, "field": field}}, status_code=status)


class MicroBatcher:
    """Gathers concurrent requests into one model call: bounded wait, bounded batch."""

    def __init__(
        self,
        predict: Callable[[list[Article]], list[list[dict]]],
        max_sentences: int,
        max_wait_ms: float,
        observe: Callable[[int], None] = lambda n: None,
    ):
        self.predict = predict
        self.observe = observe
        self.max_sentences = max_sentences
        self.max_wait = max_wait_ms / 1000
        self.queue: asyncio.Queue = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        self.executor.shutdown(wait=False)

    async def submit(self, articles: list[Article]) -> list[list[dict]]:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((articles, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self.queue.get()
            batch = [first]
            size = sum(len(a.sentences) for a in first[0])
            deadline = loop.time() + self.max_wait
            while size < self.max_sentences:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), timeout)
                except asyncio.TimeoutError:
                    break
                batch.append(item)
                size += sum(len(a.sentences) for a in item[0])
            articles = [a for items, _ in batch for a in items]
            try:
                results = await loop.run_in_executor(self.executor, self.predict, articles)
            except Exception as e:  # a model failure fails these requests, not the process
                log.exception("model call failed")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            self.observe(size)
            start = 0
            for items, future in batch:
                if not future.done():
                    future.set_result(results[start : start + len(items)])
                start += len(items)


def create_app(predictor: Predictor | None, settings: ServiceSettings, model_dir: str | Path | None = None) -> FastAPI:
    """The app; ``predictor`` None means not ready yet (``/readyz`` answers 503)."""
    registry = CollectorRegistry()
    requests = Counter("sourcestance_requests", "HTTP requests", ["endpoint", "status"], registry=registry)
    errors = Counter("sourcestance_errors", "errors by kind", ["kind"], registry=registry)
    latency = Histogram(
        "sourcestance_request_seconds",
        "request latency",
        ["endpoint"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    )
    sentences_scored = Counter("sourcestance_sentences_scored", "sentences scored", registry=registry)
    batch_sentences = Histogram(
        "sourcestance_batch_sentences",
        "sentences per model call",
        registry=registry,
        buckets=(1, 4, 16, 32, 64, 128, 256, 512, 1024),
    )
    state: dict[str, Any] = {"predictor": predictor, "batcher": None}

    async def lifespan(app: FastAPI):
        if state["predictor"] is not None:
            state["batcher"] = MicroBatcher(
                state["predictor"].predict, settings.max_batch_sentences, settings.max_wait_ms, batch_sentences.observe
            )
            state["batcher"].start()
        yield
        if state["batcher"] is not None:
            await state["batcher"].stop()

    app = FastAPI(
        title="sourcestance",
        version="1",
        description="Speaker attribution and stance toward configured targets, per sentence of news articles.",
        lifespan=lifespan,
    )
    app.state.batcher = lambda: state["batcher"]

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable]):
        start = time.perf_counter()
        endpoint = request.url.path
        response = None
        try:
            if settings.api_key and endpoint.startswith("/v1/"):
                given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
                if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
                    errors.labels("unauthorized").inc()
                    response = _error(401, "unauthorized", "missing or wrong API key (Authorization: Bearer KEY)")
            if response is None and request.method == "POST":
                declared = request.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > _byte_limit(settings):
                    errors.labels("too_large").inc()
                    response = _error(413, "too_large", f"request body over {_byte_limit(settings)} bytes")
            if response is None:
                response = await call_next(request)
        finally:
            status = response.status_code if response is not None else 500
            requests.labels(endpoint, str(status)).inc()
            latency.labels(endpoint).observe(time.perf_counter() - start)
        return response

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        errors.labels(exc.kind).inc()
        return _error(exc.status, exc.kind, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        if first.get("type") == "json_invalid":
            errors.labels("invalid_json").inc()
            return _error(400, "invalid_json", f"body is not valid JSON: {first.get('msg')}")
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body",)]
        loc = [p for p in loc if p not in ("ArticleIn", "list[ArticleIn]", "function-after[_one_form(), ArticleIn]")]
        field = ".".join(loc) or None
        errors.labels("invalid_request").inc()
        return _error(422, "invalid_request", first.get("msg", "invalid request"), field)

    @app.get("/healthz", summary="the process is alive")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", summary="the model is loaded and the batcher runs")
    async def readyz():
        if state["predictor"] is None or state["batcher"] is None:
            return _error(503, "not_ready", "model not loaded")
        return {"status": "ready"}

    @app.get("/v1/model", summary="name, version, targets, labels and metrics of the loaded model")
    async def model_info():
        p = _ready(state)
        metrics = {}
        if model_dir is not None and (Path(model_dir) / "metrics.json").is_file():
            raw = json.loads((Path(model_dir) / "metrics.json").read_text(encoding="utf-8"))
            metrics = {split: raw[split] for split in ("dev", "test") if split in raw}
        return {
            **p.model_info,
            "targets": list(p.schema.targets),
            "labels": {name: list(values) for name, values in p.schema.heads.items()},
            "metrics": metrics,
        }

    @app.post("/v1/score", summary="score one article or a list of articles")
    async def score(
        body: ArticleIn | list[ArticleIn],
        targets: str | None = Query(default=None, description="comma-separated subset of the model's targets"),
    ):
        p = _ready(state)
        items = body if isinstance(body, list) else [body]
        if not items:
            raise ServiceError(422, "invalid_request", "no articles in the request", "body")
        if len(items) > settings.max_articles:
            raise ServiceError(413, "too_many_articles", f"{len(items)} articles, over the limit of {settings.max_articles}")
        wanted = _targets(targets, p)
        total = sum(len(a.text or "") + sum(map(len, a.sentences or [])) for a in items)
        if total > settings.max_chars:
            raise ServiceError(413, "too_large", f"{total} characters, over the limit of {settings.max_chars}")
        articles = []
        for i, item in enumerate(items):
            try:
                articles.append(article_from_record(item.model_dump(exclude_none=True)))
            except RecordError as e:
                field = f"{i}.text" if "text" in e.reason else f"{i}.sentences" if "sentence" in e.reason else str(i)
                raise ServiceError(422, "invalid_request", e.reason, field) from None
        try:
            results = await state["batcher"].submit(articles)
        except Exception as e:
            raise ServiceError(500, "model_error", f"the model failed on this request: {type(e).__name__}") from None
        records = [r for rs in results for r in rs]
        if wanted is not None:
            for r in records:
                r["stance"] = {t: v for t, v in r["stance"].items() if t in wanted}
                r["scores"]["stance"] = {t: v for t, v in r["scores"]["stance"].items() if t in wanted}
        sentences_scored.inc(len(records))
        return {"model": p.model_info, "articles": len(articles), "sentences": records}

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics():
        return PlainTextResponse(generate_latest(registry).decode(), media_type=CONTENT_TYPE_LATEST)

    return app


def _ready(state: dict) -> Predictor:
    if state["predictor"] is None or state["batcher"] is None:
        raise ServiceError(503, "not_ready", "model not loaded")
    return state["predictor"]


def _targets(raw: str | None, predictor: Predictor) -> set[str] | None:
    if raw is None:
        return None
    wanted = {t.strip() for t in raw.split(",") if t.strip()}
    unknown = sorted(wanted - set(predictor.schema.targets))
    if unknown or not wanted:
        raise ServiceError(
            422, "unknown_target", f"unknown target(s) {unknown}; the model has {list(predictor.schema.targets)}", "targets"
        )
    return wanted


def _byte_limit(settings: ServiceSettings) -> int:
    # JSON escaping can grow text up to 6x (\uXXXX); beyond that a body cannot be within max_chars.
    return settings.max_chars * 6 + 64 * 1024


def start_local_service(model_dir: str | Path, *args: str, cwd: str | Path | None = None, timeout: float = 60.0):
    """Run `sourcestance serve` on a free loopback port and wait until ready; for tests and benchmarks.

    Returns the process and its base URL; the caller terminates the process.
    """
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "sourcestance", "-q", "serve", "--model", str(model_dir), "--port", str(port), *args]
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"service exited: {proc.stdout.read().decode(errors='replace')}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"service on {url} not ready after {timeout:.0f} s")
