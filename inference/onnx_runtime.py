"""The encoder under ONNX Runtime, in fp32 or int8, as a drop-in for the PyTorch encoder.

Only the encoder is exported: it is nearly all the compute, and the heads (gathers,
pooling, small linear layers) stay in PyTorch, shared with the other runtime. The int8
model quantises weights per output channel: one scale per tensor flips many decisions.
Exported files live in the model directory beside the weights, written once.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch

from inference.model import ModelLoadError

log = logging.getLogger(__name__)

ONNX_FILES = {"onnx": "encoder.onnx", "onnx-int8": "encoder.int8.onnx"}
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class RuntimeUnavailable(ModelLoadError):
    """The requested runtime needs a package that is not installed."""


class _EncoderOutput(torch.nn.Module):
    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state


def export_encoder(encoder: torch.nn.Module, directory: str | Path, runtime: str) -> Path:
    """Write the encoder for ``runtime`` into ``directory`` (atomically) and return its path."""
    _require("onnx", "onnxruntime")
    directory = Path(directory)
    target = directory / ONNX_FILES[runtime]
    fp32 = directory / ONNX_FILES["onnx"]
    if not fp32.is_file():
        _export_fp32(encoder, fp32)
    if runtime == "onnx-int8" and not target.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            staged = Path(tmp) / target.name
            # Weight matrices only (MatMul with a constant operand): quantising the embedding
            # tables or the activation-by-activation products of attention flips decisions.
            root = logging.getLogger()
            level = root.level
            root.setLevel(logging.ERROR)  # the quantiser logs advice about image models at WARNING
            try:
                quantize_dynamic(
                    str(fp32),
                    str(staged),
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    op_types_to_quantize=["MatMul"],
                    extra_options={"MatMulConstBOnly": True},
                )
            finally:
                root.setLevel(level)
            os.replace(staged, target)
    return target


def _export_fp32(encoder: torch.nn.Module, path: Path) -> None:
    # Eager attention always applies the padding mask; the SDPA path drops it when a traced
    # example has no padding, which would bake "no padding" into the graph.
    previous = encoder.config._attn_implementation
    encoder.config._attn_implementation = "eager"
    example = {
        "input_ids": torch.tensor([[101, 2000, 2001, 102], [101, 2000, 102, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
        "token_type_ids": torch.tensor([[0, 0, 0, 1], [0, 0, 1, 0]]),
    }
    try:
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp, warnings.catch_warnings():
            # The tracer warns about shape checks that hold for every input we build.
            warnings.simplefilter("ignore")
            staged = Path(tmp) / path.name
            torch.onnx.export(
                _EncoderOutput(encoder).eval(),
                tuple(example[k] for k in _INPUTS),
                str(staged),
                dynamo=False,
                input_names=list(_INPUTS),
                output_names=["hidden"],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "hidden")},
                opset_version=17,
            )
            os.replace(staged, path)
    finally:
        encoder.config._attn_implementation = previous
    log.info("exported the encoder to %s", path)


class OnnxEncoder:
    """Callable like the PyTorch encoder path: ids, mask, types in; last hidden state out."""

    def __init__(self, path: str | Path, threads: int | None = None):
        _require("onnxruntime")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.path = Path(path)

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        (hidden,) = self.session.run(None, {k: v.numpy() for k, v in feeds.items()})
        return torch.from_numpy(hidden)


def _require(*modules: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeUnavailable(f"this runtime needs {' and '.join(missing)}: pip install 'sourcestance[onnx]'")
