"""Which engine runs the encoder of a model directory; the heads always run in PyTorch.

``torch`` is the reference. ``torch-bf16`` runs the same module with its matrix products
in bfloat16 (autocast), about twice as fast on CPUs with AVX512-BF16 or AMX, and needs
nothing else. ``onnx`` and ``onnx-int8`` export the encoder once into the directory and run
it with ONNX Runtime (inference/onnx_runtime.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI reads RUNTIMES without loading torch
    import torch

log = logging.getLogger(__name__)

RUNTIMES = ("torch", "torch-bf16", "onnx", "onnx-int8")

EncoderRuntime = Callable[["torch.Tensor", "torch.Tensor", "torch.Tensor"], "torch.Tensor"]


class Bf16Encoder:
    """The PyTorch encoder under bfloat16 autocast; hidden states come back in float32 for the heads."""

    def __init__(self, encoder: torch.nn.Module):
        self.encoder = encoder
        if not _native_bf16():
            log.warning("this CPU has no native bfloat16 instructions: torch-bf16 will be slower than torch")

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return out.last_hidden_state.float()


def load_runtime(
    encoder: torch.nn.Module, directory: str | Path, runtime: str, threads: int | None = None
) -> EncoderRuntime | None:
    """The encoder runtime for a model directory; None means plain PyTorch. ONNX files are exported on first use."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if runtime == "torch":
        return None
    if runtime == "torch-bf16":
        return Bf16Encoder(encoder)
    from inference.onnx_runtime import ONNX_FILES, OnnxEncoder, RuntimeUnavailable, export_encoder

    path = Path(directory) / ONNX_FILES[runtime]
    if not path.is_file():
        log.info("no %s in %s yet: exporting it once", path.name, directory)
        try:
            export_encoder(encoder, directory, runtime)
        except PermissionError as e:
            raise RuntimeUnavailable(
                f"cannot write {path} for the {runtime} runtime ({e}); copy the model somewhere writable"
            ) from e
    return OnnxEncoder(path, threads)


def _native_bf16() -> bool:
    """Whether an x86 CPU has AVX512-BF16 or AMX; other machines and unreadable flags count as native (no false alarm)."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True
    return "avx512_bf16" in flags or "amx_bf16" in flags
