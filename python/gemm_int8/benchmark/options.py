"""The argument parser of ``python -m gemm_int8.benchmark`` and its value checks.

Every malformed value is rejected here, before any GPU work, with argparse's
usage line, the reason, and exit status 2.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from gemm_int8.benchmark import shapes as S
from gemm_int8.benchmark.contenders import CONTENDERS

__all__ = ["build_parser"]


def _typed(parse):
    """Wraps a parser raising ValueError so argparse reports its message and exits 2."""

    def convert(text):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, got {text!r}") from None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _int(text)
    if value <= 0:
        raise ValueError(f"expected a positive integer, got {text}")
    return value


def _nonnegative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise ValueError(f"expected a non-negative integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = _float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"expected a positive number, got {text}")
    return value


def _finite_float(text: str) -> float:
    value = _float(text)
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {text}")
    return value


def _model_names(text: str) -> str:
    S.model_shapes(text, [1])  # validates the names
    return text


def _contender_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = [c.name for c in CONTENDERS]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"unknown contender(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def _kernel_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError("expected a comma-separated list of kernels")
    return names


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gemm_int8.benchmark",
        description="Benchmarks gemm_int8.matmul against torch bf16 matmul, torch._int_mm and "
        "(with --compile) Triton, and (with --epilogue) gemm_int8.scaled_mm against _int_mm "
        "plus scale, bias and cast, checking every output against an exact reference.",
        epilog="Without --set/--shapes/--model: --set seed,decode. Without a CUDA GPU the CPU "
        "path runs small shapes. Details: docs/benchmark.md.",
    )
    g = p.add_argument_group("shapes (combined; repeats dropped)")
    g.add_argument(
        "--set",
        dest="sets",
        action="append",
        type=_typed(S.set_shapes),
        metavar="NAMES",
        help=f"named shape sets, comma-separated: {', '.join(S.SET_NAMES)}",
    )
    g.add_argument(
        "--shapes",
        action="append",
        type=_typed(S.parse_shape_list),
        metavar="MxNxK,...",
        help="explicit shapes, e.g. 512x4096x4096,1x4096x4096",
    )
    g.add_argument(
        "--model",
        dest="models",
        action="append",
        type=_typed(_model_names),
        metavar="NAMES",
        help=f"model presets' Linear layers: {', '.join(S.MODELS)}",
    )
    g.add_argument(
        "--tokens",
        type=_typed(S.parse_tokens),
        default=[2048],
        metavar="T,...",
        help="M for --model shapes (default 2048)",
    )
    g.add_argument(
        "--unfused",
        action="store_true",
        help="--model: separate q/k/v and gate/up projections (as in HF) instead of "
        "fused qkv_proj and gate_up_proj (as in vLLM)",
    )

    r = p.add_argument_group("run")
    r.add_argument("--device", default="auto", help="auto (default), cuda, cuda:N or cpu")
    r.add_argument(
        "--contenders",
        type=_typed(_contender_names),
        metavar="NAMES",
        help=f"run only these, comma-separated: {', '.join(c.name for c in CONTENDERS)}",
    )
    r.add_argument(
        "--kernels",
        type=_typed(_kernel_names),
        metavar="NAMES",
        help="add one gemm_int8.matmul contender per kernel, forced with GEMM_INT8_FORCE_KERNEL "
        "(the dispatch tuning sweeps): auto, a family (sm90), a row name (--list) or family:* "
        "for every row of a family; the other contenders are then torch bf16 alone unless "
        "--contenders names them",
    )
    r.add_argument(
        "--once",
        action="store_true",
        help="call every contender twice per shape, untimed, and report nothing: for a "
        "profiler (ncu, nsys) wrapped around the run",
    )
    r.add_argument(
        "--compile",
        action="store_true",
        help='add torch.compile(mode="max-autotune-no-cudagraphs") of _int_mm + scale '
        "+ cast (slow: autotunes every shape)",
    )
    r.add_argument(
        "--prepack",
        action="store_true",
        help="add gemm_int8 with y prepacked once (gemm_int8.prepack: rows 16 bytes apart, "
        "read in place by the Hopper rows whatever K is); the report adds its time over plain "
        "gemm_int8",
    )
    r.add_argument(
        "--epilogue",
        action="store_true",
        help="add the fused-epilogue contenders: gemm_int8.scaled_mm (per-token x per-channel "
        "scales + bias, bf16 and fp16 out), gemm_int8.matmul int32 out, and _int_mm followed "
        "by scale, bias and cast; the report adds their time over plain gemm_int8",
    )
    r.add_argument(
        "--reps",
        type=_typed(_positive_int),
        help="timed calls per contender and shape (default: adaptive, 20-1000)",
    )
    r.add_argument(
        "--warmup",
        type=_typed(_nonnegative_int),
        help="untimed rounds before timing (default 5; CPU 1)",
    )
    r.add_argument(
        "--time-per-shape",
        type=_typed(_positive_float),
        metavar="SECONDS",
        help="timing budget of one shape when --reps is adaptive (default 0.5; CPU 0.2)",
    )
    r.add_argument(
        "--flush",
        choices=("read", "write"),
        default="read",
        help="how L2 is flushed before each timed call: read a max(2x L2, 256 MiB) buffer "
        "(default), or zero it as triton's do_bench does (write: the call then also pays to "
        "write back dirty lines); see docs/benchmark.md",
    )
    r.add_argument(
        "--timing",
        choices=("events", "graph", "auto"),
        default="auto",
        help="events: CUDA events around each call, L2 flushed before it; graph: CUDA-graph "
        "replay of back-to-back calls over operand copies larger than 2x L2, replay time / "
        "calls; auto (default): graph where the fastest contender's events median is below "
        "50 µs, else events. Every shape also gets the events median and host µs/call",
    )
    r.add_argument(
        "--alpha",
        type=_typed(_finite_float),
        default=0.01,
        help="the scale (default 0.01: not a power of two, so rounding is checked)",
    )
    r.add_argument("--seed", type=int, default=0, help="seed of the random int8 inputs")

    o = p.add_argument_group("output")
    o.add_argument(
        "--out-dir", type=Path, help="results.json, results.md, PNGs (default bench_out/)"
    )
    o.add_argument(
        "--json", type=Path, metavar="PATH", help="JSON path (default OUT_DIR/results.json)"
    )
    o.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
    o.add_argument(
        "--save-samples", action="store_true", help="keep every per-call time in the JSON"
    )
    o.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    o.add_argument(
        "--compare",
        nargs="+",
        metavar="JSON",
        help="OLD: run, then compare with OLD; OLD NEW: compare two files, run nothing",
    )
    o.add_argument(
        "--noise",
        type=_typed(_positive_float),
        default=0.03,
        help="--compare: relative change treated as noise (default 0.03)",
    )
    o.add_argument("--list", action="store_true", help="list shape sets, models and contenders")
    return p
