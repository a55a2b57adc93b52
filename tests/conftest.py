import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _run_from_root(monkeypatch):
    """Configs name data paths relative to the project root, as the CLI is run there."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A real model trained for a few steps on configs/tiny.yaml: small, but every part is real."""
    from inference.config import RunConfig
    from training.trainer import train

    out = tmp_path_factory.mktemp("tiny-model")
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        train(RunConfig.load(ROOT / "configs" / "tiny.yaml"), out, progress=False)
    finally:
        os.chdir(cwd)
    return out
