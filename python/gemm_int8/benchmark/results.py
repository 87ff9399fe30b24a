"""Assembles the results document (the JSON's content) around one benchmark run."""

from __future__ import annotations

from datetime import datetime, timezone

import torch

from gemm_int8.benchmark import runner
from gemm_int8.benchmark.env import collect_environment
from gemm_int8.benchmark.report import SCHEMA, summarize_results

__all__ = ["run_benchmark", "settings_from_args"]

REFERENCE = (
    "float32 GEMM over K-slices of 1024, slices summed in float64: exact for int8 inputs; "
    "bf16 = round(float32(acc) * float32(alpha)); epilogue = round(fmaf(float32(x_scale[m] "
    "* y_scale[n]), float32(acc), bias[n])), the fma emulated exactly (float64, round to odd)"
)

# Defaults that differ between the GPU benchmark and the CPU path.
_DEFAULTS = {
    "cuda": {"warmup": 5, "budget_s": 0.5, "min_reps": 20, "max_reps": 1000},
    "cpu": {"warmup": 1, "budget_s": 0.2, "min_reps": 3, "max_reps": 50},
}


def settings_from_args(args, device) -> runner.Settings:
    d = _DEFAULTS["cuda" if device.type == "cuda" else "cpu"]
    return runner.Settings(
        alpha=args.alpha,
        seed=args.seed,
        warmup=d["warmup"] if args.warmup is None else args.warmup,
        reps=args.reps,
        budget_s=args.time_per_shape or d["budget_s"],
        min_reps=d["min_reps"],
        max_reps=d["max_reps"],
        save_samples=args.save_samples,
        progress=not args.no_progress,
        flush=args.flush,
        timing=args.timing,
    )


def _contender_info(c) -> dict:
    e = c.expect
    return {
        "name": c.name,
        "label": c.label,
        "description": c.description,
        "math": c.math,
        "baseline": c.baseline,
        "plain": c.plain,
        "expect": {
            "dtype": str(e.dtype).replace("torch.", ""),
            "exact": e.exact,
            "scaled": e.scaled,
            "tolerance": None if e.exact else e.tolerance,
            "epilogue": e.epilogue,
        },
    }


def run_benchmark(
    settings, argv: list[str], device, shapes, contenders, compile_=False, epilogue=False
) -> dict:
    """Runs the benchmark and returns the results document written to the JSON file."""
    device = torch.device(device)
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    out = runner.run(shapes, contenders, settings, device)
    doc = {
        "schema": SCHEMA,
        "created": created,
        "command": ["python", "-m", "gemm_int8.benchmark", *argv],
        "settings": {
            **settings.as_dict(),
            "device": str(device),
            "compile": bool(compile_),
            "epilogue": bool(epilogue),
        },
        # Collected after the run, so the clocks read are those of a warm GPU.
        "environment": collect_environment(device),
        "device": out["device"],
        "timer": out["timer"],
        "reference": REFERENCE,
        "contenders": [_contender_info(c) for c in contenders],
        "results": out["results"],
        "stopped": out["stopped"],
    }
    doc["summary"] = summarize_results(doc)
    return doc
