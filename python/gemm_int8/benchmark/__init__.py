"""Benchmark CLI of gemm_int8: ``python -m gemm_int8.benchmark --help``.

Races gemm_int8.matmul against torch bf16 matmul, torch._int_mm (alone and
with the scale and cast a PyTorch user adds) and, on request, torch.compile's
Triton kernels (--compile) and gemm_int8.scaled_mm's fused epilogues against
_int_mm followed by scale, bias and cast (--epilogue); checks every output
against an exact reference; writes a table, a JSON file, a markdown report and
plots. docs/benchmark.md explains the columns and the timing method.
"""

from gemm_int8.benchmark.cli import main

__all__ = ["main"]
