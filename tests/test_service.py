"""The service, tested against a real uvicorn process on loopback."""

import json
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from inference.service import start_local_service
from tests.conftest import ROOT
from tests.test_score import _score

ARTICLE = {
    "id": "a1",
    "title": "Crossing",
    "text": "Egypt reopened the Rafah crossing on Monday. "
    "“We will keep it open,” an Egyptian official said. He added that trucks would enter daily.",
}
SPLIT = {"id": "a2", "sentences": ["The talks in Cairo ended without a deal.", "“Hamas is to blame,” said a PA official."]}


def _start(model, *extra):
    return start_local_service(model, "--max-articles", "3", "--max-chars", "2000", *extra, cwd=ROOT)


@pytest.fixture(scope="module")
def service(tiny_model):
    proc, url = _start(tiny_model)
    yield url
    proc.terminate()
    proc.wait(10)


def test_health_ready_and_model(service, tiny_model):
    assert httpx.get(service + "/healthz").json() == {"status": "ok"}
    assert httpx.get(service + "/readyz").json() == {"status": "ready"}
    info = httpx.get(service + "/v1/model").json()
    assert info["name"] == "sourcestance-tiny" and info["targets"] == ["egypt", "hamas", "pa"]
    assert info["labels"]["attribution"] == ["direct", "indirect", "none"]
    assert "stance/f_avg" in info["metrics"]["test"]


def test_scores_equal_the_batch_scorer(service, tiny_model, tmp_path):
    response = httpx.post(service + "/v1/score", json=[ARTICLE, SPLIT], timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["articles"] == 2 and body["model"]["name"] == "sourcestance-tiny"
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(ARTICLE) + "\n" + json.dumps(SPLIT) + "\n")
    result = _score(tiny_model, src, out)
    assert result.returncode == 0, result.stderr
    assert body["sentences"] == [json.loads(line) for line in out.read_text().splitlines()]
    single = httpx.post(service + "/v1/score", json=ARTICLE, timeout=30).json()
    assert single["sentences"] == body["sentences"][:3]


def test_targets_subset(service):
    body = httpx.post(service + "/v1/score?targets=hamas", json=SPLIT, timeout=30).json()
    assert all(set(r["stance"]) == {"hamas"} and set(r["scores"]["stance"]) == {"hamas"} for r in body["sentences"])


@pytest.mark.parametrize(
    "payload, status, kind, field",
    [
        (b"{not json", 400, "invalid_json", None),
        ({"id": "x"}, 422, "invalid_request", None),
        ({"text": "No id."}, 422, "invalid_request", "id"),
        ({"id": "x", "text": 42}, 422, "invalid_request", "text"),
        ({"id": "x", "sentences": "not a list"}, 422, "invalid_request", "sentences"),
        ({"id": "x", "text": "   "}, 422, "invalid_request", "0.text"),
        ([], 422, "invalid_request", "body"),
        ([SPLIT] * 4, 413, "too_many_articles", None),
        ({"id": "x", "text": "word " * 500}, 413, "too_large", None),
    ],
)
def test_bad_requests_get_clear_errors(service, payload, status, kind, field):
    if isinstance(payload, bytes):
        response = httpx.post(service + "/v1/score", content=payload, headers={"content-type": "application/json"})
    else:
        response = httpx.post(service + "/v1/score", json=payload)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["kind"] == kind and error["message"]
    if field is not None:
        assert error["field"] is not None and error["field"].endswith(field), error


def test_unknown_target_and_oversized_body(service):
    response = httpx.post(service + "/v1/score?targets=qatar", json=SPLIT)
    assert response.status_code == 422 and response.json()["error"] == {
        "kind": "unknown_target",
        "field": "targets",
        "message": response.json()["error"]["message"],
    }
    huge = b'{"id": "x", "text": "' + b"a" * 200_000 + b'"}'
    response = httpx.post(service + "/v1/score", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_concurrent_requests_are_batched_and_all_answered(service):
    results = []

    def call(i):
        r = httpx.post(service + "/v1/score", json={**SPLIT, "id": f"c{i}"}, timeout=60)
        results.append((i, r.status_code, r.json()["sentences"][0]["article_id"]))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [(i, 200, f"c{i}") for i in range(12)]
    metrics = httpx.get(service + "/metrics").text
    assert "sourcestance_sentences_scored_total" in metrics
    assert 'sourcestance_requests_total{endpoint="/v1/score",status="200"}' in metrics
    assert 'sourcestance_errors_total{kind="invalid_json"}' in metrics or "sourcestance_errors" in metrics
    batched = [line for line in metrics.splitlines() if line.startswith("sourcestance_batch_sentences_count")]
    calls = float(batched[0].split()[-1])
    scored = sum(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith('sourcestance_requests_total{endpoint="/v1/score",status="200"}')
    )
    assert calls < scored, "concurrent requests should share model calls"


def test_api_key(tiny_model, tmp_path):
    key = tmp_path / "key.txt"
    key.write_text("s3cret\n")
    proc, url = _start(tiny_model, "--api-key-file", str(key))
    try:
        assert httpx.post(url + "/v1/score", json=SPLIT).status_code == 401
        assert httpx.post(url + "/v1/score", json=SPLIT, headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = httpx.post(url + "/v1/score", json=SPLIT, headers={"Authorization": "Bearer s3cret"}, timeout=30)
        assert ok.status_code == 200
        assert httpx.get(url + "/healthz").status_code == 200  # probes stay open
    finally:
        proc.terminate()
        proc.wait(10)


def test_model_failure_is_a_500_and_the_service_keeps_serving(tiny_model):
    from fastapi.testclient import TestClient

    from inference.predict import Predictor
    from inference.service import ServiceSettings, create_app

    predictor = Predictor.from_dir(tiny_model)
    real = predictor.predict
    calls = {"n": 0}

    def flaky(articles):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return real(articles)

    predictor.predict = flaky
    with TestClient(create_app(predictor, ServiceSettings())) as client:
        failed = client.post("/v1/score", json=SPLIT)
        assert failed.status_code == 500 and failed.json()["error"]["kind"] == "model_error"
        assert client.post("/v1/score", json=SPLIT).status_code == 200


def test_committed_openapi_schema_is_current():
    from inference.service import ServiceSettings, create_app

    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == create_app(None, ServiceSettings()).openapi()


def test_schemathesis_finds_no_server_error(service):
    """Property-based requests generated from the committed schema never get a 500."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            str(ROOT / "docs" / "openapi.json"),
            "--url",
            service,
            "--checks",
            "not_a_server_error",
            "-n",
            "50",
            "--seed",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Server error" not in result.stdout and " passed" in result.stdout
