"""Benchmark CLI of gemm_int8: ``python -m gemm_int8.benchmark --help``.

Races gemm_int8.matmul against torch bf16 matmul, torch._int_mm (alone and
with the scale and cast a PyTorch user adds) and, on request, torch.compile's
Triton kernels; checks every output against an exact reference; writes a
table, a JSON file, a markdown report and plots. docs/benchmark.md explains
the columns and the timing method.
"""

from gemm_int8.benchmark.cli import main

__all__ = ["main"]
