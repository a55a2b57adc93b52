"""Execute the analysis notebooks and save their figures as PNG (by default the README's, in docs/figures).

    python notebooks/render_figures.py                                  # models/default -> docs/figures
    python notebooks/render_figures.py --model models/try1 --figures /tmp/figures --executed /tmp/executed

Each notebook runs top to bottom in a fresh kernel of this very interpreter, with
SOURCESTANCE_MODEL and SOURCESTANCE_FIGURES set; the committed notebooks are not changed
(``--executed DIR`` writes copies with their outputs). Other SOURCESTANCE_* variables in
the environment (the split, the corpus to score) pass through to the notebooks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOTEBOOKS = ("evaluate.ipynb", "score_corpus.ipynb")
KERNEL = "sourcestance-python"


def run_notebook(path: str | Path, env: dict[str, str], cwd: str | Path | None = None, timeout: int = 900):
    """Execute a notebook in a kernel of ``sys.executable``, with ``env`` added to the environment; returns it executed.

    The kernelspec is written to a temporary folder, so neither a user's own ``python3``
    kernel nor another interpreter on the PATH can stand in for this one. A failing cell
    raises ``nbclient.exceptions.CellExecutionError`` naming the cell and the error.
    """
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as kernels:
        spec = Path(kernels) / KERNEL / "kernel.json"
        spec.parent.mkdir()
        argv = [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec.write_text(json.dumps({"argv": argv, "display_name": "sourcestance", "language": "python"}))
        specs = KernelSpecManager(kernel_dirs=[kernels])
        manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs, transport="ipc", ip=str(Path(kernels) / "kernel"))
        client = NotebookClient(notebook, km=manager, timeout=timeout, resources={"metadata": {"path": str(cwd or path.parent)}})
        try:
            client.execute(env={**os.environ, **env})
        finally:  # a kernel manager handed to nbclient is the caller's to shut down
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "default"), help="model directory (default: models/default)")
    parser.add_argument("--figures", default=str(ROOT / "docs" / "figures"), help="where the PNGs go (default: docs/figures)")
    parser.add_argument("--executed", help="also write the executed notebooks, with their outputs, to this folder")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    figures = Path(args.figures).resolve()
    env = {"SOURCESTANCE_MODEL": str(Path(args.model).resolve()), "SOURCESTANCE_FIGURES": str(figures)}
    for name in NOTEBOOKS:
        print(f"running {name} ...", flush=True)
        notebook = run_notebook(HERE / name, env, timeout=args.timeout)
        if args.executed:
            Path(args.executed).mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, Path(args.executed) / name)
    for png in sorted(figures.glob("*.png")):
        print(f"  {png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}  ({png.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
