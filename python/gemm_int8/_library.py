"""Loads the compiled op library (registered through TORCH_LIBRARY)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

_LIBRARY_NAME = "libgemm_int8_ops.so"


def library_path() -> Path:
    """The op library: GEMM_INT8_LIBRARY if set, else the one next to this file."""
    override = os.environ.get("GEMM_INT8_LIBRARY")
    return Path(override) if override else Path(__file__).with_name(_LIBRARY_NAME)


def load() -> None:
    path = library_path()
    if not path.exists():
        raise ImportError(
            f"gemm_int8: compiled op library not found at {path}; "
            "install the package with `pip install .` (see README.md)"
        )
    torch.ops.load_library(str(path))
