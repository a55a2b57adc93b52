from pathlib import Path

import pytest

from inference.config import ConfigError, RunConfig

ROOT = Path(__file__).resolve().parents[1]


def test_every_config_file_loads():
    files = sorted((ROOT / "configs").rglob("*.yaml"))
    assert [f.name for f in files] == ["default.yaml", "fast.yaml", "tiny.yaml"]  # a new file is added here on purpose
    for path in files:
        RunConfig.load(path)


def test_every_config_starts_with_the_command_that_runs_it():
    for path in (ROOT / "configs").rglob("*.yaml"):
        assert path.read_text().startswith("# "), path


def test_unknown_key_and_bad_values_are_reported_together(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  base_modle: x\n  context_before: -1\ntrain:\n  epochs: zero\n  learning_rate: 5\n")
    with pytest.raises(ConfigError) as info:
        RunConfig.load(bad)
    message = str(info.value)
    assert "model.base_modle: unknown key" in message
    assert "train.epochs: expected an integer" in message
    assert str(bad) in message


def test_range_checks_name_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  context_before: 40\ntrain:\n  learning_rate: 5.0\n")
    with pytest.raises(ConfigError) as info:
        RunConfig.load(bad)
    assert "model.context_before: must be between 0 and 20" in str(info.value)
    assert "train.learning_rate: must be in (0, 1)" in str(info.value)


def test_label_values_must_be_consistent():
    with pytest.raises(ConfigError, match="labels.no_stance"):
        RunConfig.from_dict({"labels": {"stance": ["pro", "con"]}})


def test_saved_config_round_trips(tmp_path):
    cfg = RunConfig.from_dict({"labels": {"targets": ["egypt", "hamas", "pa", "israel"]}, "train": {"seed": 3}})
    cfg.save(tmp_path / "c.yaml")
    again = RunConfig.load(tmp_path / "c.yaml")
    assert again == cfg
    assert again.labels.targets[-1] == "israel"


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        RunConfig.load(tmp_path / "nope.yaml")
