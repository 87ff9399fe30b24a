"""gemm_int8: exact int8 GEMM for PyTorch on NVIDIA GPUs and CPUs."""

from gemm_int8 import _library

_library.load()

from gemm_int8 import nn  # noqa: E402
from gemm_int8.ops import (  # noqa: E402
    hadamard,
    matmul,
    prepack,
    quantize,
    quantize_with_transpose,
    quantized_linear,
    row_sums,
    scaled_mm,
)

__version__ = "0.1.0"
__all__ = [
    "hadamard",
    "matmul",
    "nn",
    "prepack",
    "quantize",
    "quantize_with_transpose",
    "quantized_linear",
    "row_sums",
    "scaled_mm",
    "__version__",
]
