"""``python -m gemm_int8.benchmark.layers``: the Linear layers of a Llama-3-8B block, end to end.

Times one block (q, k, v, o, gate, up, down; layer_contenders.py) per call, for
every contender and token count, eagerly (CUDA events around the call, L2 flushed
before it: the benchmark's CudaTimer) and as a CUDA graph replay (launch overhead
gone). Quantization of the activations is part of every int8 contender's time.
Outputs are checked against the bf16 block. docs/benchmark.md has the command.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from gemm_int8.benchmark import layer_contenders as L
from gemm_int8.benchmark.cli import _pick_device
from gemm_int8.benchmark.env import collect_environment
from gemm_int8.benchmark.failures import describe_failure
from gemm_int8.benchmark.layers_graph import capture, isolated_graphs
from gemm_int8.benchmark.layers_report import (
    SCHEMA,
    markdown_report,
    package_versions,
    text_report,
    wrong_rows,
)
from gemm_int8.benchmark.report import write_json
from gemm_int8.benchmark.runner import describe_device
from gemm_int8.benchmark.shapes import parse_tokens
from gemm_int8.benchmark.timing import CpuTimer, CudaTimer, measure, spin_up, summarize

__all__ = ["build_parser", "main", "run"]

MODES = ("eager", "graph")
# Blocks per graph replay. A served model replays one graph of all its blocks, so a
# replay's launch is shared; the same weights called again stream from memory anyway
# (a block's weights are several times the L2).
GRAPH_CALLS = 8
FLAG_ABOVE = 5e-2  # relative error vs the bf16 block; W8A8 on random data gives ~1e-2
DEFAULTS = {  # warm-up rounds, timed seconds per (tokens, mode), reps clamp
    "cuda": {"warmup": 5, "budget_s": 0.5, "rep_range": (20, 1000)},
    "cpu": {"warmup": 1, "budget_s": 0.2, "rep_range": (3, 50)},
}


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def contender_names(contenders):
    """The --contenders parser for ``contenders``: known names, bf16 first."""
    known = [c.name for c in contenders]

    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if n not in known]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"unknown contender(s) {bad}; known: {', '.join(known)}"
            )
        return ["bf16"] + [n for n in names if n != "bf16"]  # bf16 is the reference: always run

    return parse


def _modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    if not modes or any(m not in MODES for m in modes):
        raise argparse.ArgumentTypeError(f"bad --modes {text!r}: expected eager, graph or both")
    return modes


def _tokens(text: str) -> list[int]:
    try:
        return parse_tokens(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_common_arguments(p, contenders, tokens: str, out_dir: str) -> None:
    """The options the layers and training benchmarks share (default --tokens ``tokens``)."""
    p.add_argument("--device", default="auto", help="auto (default), cuda, cuda:N or cpu")
    p.add_argument("--tokens", type=_tokens, default=parse_tokens(tokens), help=f"default {tokens}")
    p.add_argument(
        "--contenders",
        type=contender_names(contenders),
        default=[c.name for c in contenders],
        help="subset of " + ",".join(c.name for c in contenders) + " (default: all)",
    )
    p.add_argument("--tiny", action="store_true", help=f"widths / {L.TINY_DIVISOR} (CPU tests)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up rounds (cuda 5, cpu 1)")
    p.add_argument("--reps", type=int, default=None, help="timed rounds (default: adaptive)")
    p.add_argument("--time-per-row", type=float, default=None, help="adaptive budget, seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", type=Path, default=Path(out_dir))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gemm_int8.benchmark.layers",
        description="Llama-3-8B block Linear layers: gemm_int8 Int8Linear vs bf16, torchao, "
        "bitsandbytes; eager and CUDA-graph timings per token count.",
    )
    add_common_arguments(p, L.CONTENDERS, "1,8,16,2048", "bench_out/layers")
    p.add_argument("--modes", type=_modes, default=list(MODES), help="eager,graph (default)")
    p.add_argument(
        "--graph-calls",
        type=int,
        default=GRAPH_CALLS,
        help=f"graph mode: block calls per captured graph, time per call reported (default "
        f"{GRAPH_CALLS}; 1 puts a whole graph launch on every call)",
    )
    # Set on the child process that captures the isolated contenders' graphs.
    p.add_argument("--in-subprocess", action="store_true", help=argparse.SUPPRESS)
    return p


def _rel_error(outs, refs) -> float:
    """Max over the layers of ||out - ref|| / ||ref|| (Frobenius, float32)."""
    errs = []
    for out, ref in zip(outs, refs, strict=True):
        ref32 = ref.float()
        errs.append(((out.float() - ref32).norm() / ref32.norm().clamp_min(1e-30)).item())
    return max(errs)


def _failed(exc: BaseException, prefix: str = "") -> dict:
    _, reason = describe_failure(exc)
    return {"status": "failed", "detail": prefix + reason, "error": str(exc)[:2000]}


def _time(timer, fns, entries, refs, cfg, calls: int = 1) -> None:
    """Times ``fns`` interleaved; fills each entry with the figures (per call: each of
    ``fns`` makes ``calls`` calls) and the last call's check."""
    try:
        times, last = measure(
            timer,
            fns,
            warmup=cfg["warmup"],
            reps=cfg["reps"],
            budget_s=cfg["budget_s"],
            rep_range=cfg["rep_range"],
        )
    except Exception as exc:
        _check_device(getattr(timer, "device", torch.device("cpu")))
        for name in fns:
            entries[name] = _failed(exc, "while timing: ")
        return
    for name, out in last.items():
        err = _rel_error(out, refs)  # the last timed call: a stale buffer would show here
        per_call = [t / calls for t in times[name]]
        entries[name].update(summarize(per_call), rel_error=err, flagged=err > FLAG_ABOVE)


def _check_device(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # raises if a fault left the context unusable


@torch.no_grad()
def _run_tokens(t, fns, block, layers, args, device, timer, cfg) -> list[dict]:
    inputs = L.make_inputs(layers, t, device, args.seed)
    refs = block(inputs)
    entries = {m: {} for m in args.modes}
    ready = {}
    for name, fn in fns.items():
        if isinstance(fn, dict):  # unavailable, or failed to build
            for m in args.modes:
                entries[m][name] = dict(fn)
            continue
        try:
            _rel_error(fn(inputs), refs)  # the first call compiles where a contender does
            _check_device(device)
            ready[name] = fn
        except Exception as exc:
            _check_device(device)
            for m in args.modes:
                entries[m][name] = _failed(exc)
    if "eager" in args.modes and ready:
        for name in ready:
            entries["eager"][name] = {"status": "ok"}
        calls = {n: (lambda f=f: f(inputs)) for n, f in ready.items()}
        _time(timer, calls, entries["eager"], refs, cfg)
    if "graph" in args.modes and ready:
        isolated = {c.name for c in L.CONTENDERS if c.isolate_graph}
        # Isolated contenders go last, and to a child process unless this is it.
        order = sorted(ready, key=lambda n: n in isolated)
        replays = {}
        for name in order:
            if name in isolated and not args.in_subprocess:
                entries["graph"][name] = {"status": "pending", "detail": "subprocess"}
                continue
            try:
                replays[name] = capture(lambda f=ready[name]: f(inputs), device, args.graph_calls)
                entries["graph"][name] = {"status": "ok"}
            except Exception as exc:
                entries["graph"][name] = _failed(exc, "graph capture: ")
                _check_device(device)
        if replays:
            _time(timer, replays, entries["graph"], refs, cfg, args.graph_calls)
        del replays
    for m in args.modes:
        add_speedups(entries[m])
    return [{"tokens": t, "mode": m, "contenders": entries[m]} for m in args.modes]


def add_speedups(entries: dict) -> None:
    """Each timed entry's speedup over the bf16 entry's median."""
    base = entries.get("bf16", {}).get("median_us")
    for e in entries.values():
        if base and e.get("median_us"):
            e["speedup_vs_bf16"] = base / e["median_us"]


def timing_setup(args, device):
    """(cfg, timer): the device's defaults overridden by --warmup, --reps and
    --time-per-row, and the timer for the device (spun up on CUDA)."""
    cfg = dict(DEFAULTS[device.type])
    cfg["warmup"] = cfg["warmup"] if args.warmup is None else args.warmup
    cfg["reps"] = args.reps
    cfg["budget_s"] = args.time_per_row or cfg["budget_s"]
    if device.type != "cuda":
        return cfg, CpuTimer()
    torch.cuda.set_device(device)
    spin_up(device)
    return cfg, CudaTimer(device)


def run_token_counts(tokens, one, device, label=lambda t: f"{t} tokens"):
    """``one(t)`` (a list of result rows) for each token count, until a fault
    stops the run: (rows, None) or (rows so far, why it stopped)."""
    results, stopped = [], None
    for t in tokens:
        _say(label(t))
        try:
            results += one(t)
        except KeyboardInterrupt:
            stopped = "interrupted"
            break
        except Exception as exc:  # a fault that left the device unusable, or OOM
            stopped = f"stopped at {t} tokens: {describe_failure(exc)[1]}"
            break
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return results, stopped


def document(module, args, device, cfg, timer, head, layers, contenders, results, stopped):
    """The JSON document of a layers or training run; ``head`` holds what was read
    before it (created, device, environment, packages, extra settings)."""
    return {
        "schema": head["schema"],
        "created": head["created"],
        "command": ["python", "-m", f"gemm_int8.benchmark.{module}", *args.argv],
        "settings": {
            "device": str(device),
            "tokens": args.tokens,
            **head.get("settings", {}),
            "contenders": args.contenders,
            "tiny": args.tiny,
            "seed": args.seed,
            "warmup": cfg["warmup"],
            "reps": "auto" if args.reps is None else args.reps,
            "flag_above": FLAG_ABOVE,
        },
        "environment": head["environment"],
        "packages": head["packages"],
        "device": head["device"],
        "timer": {"method": timer.kind, "l2_flush_bytes": timer.flush_bytes},
        "layers": layers,
        "contenders": [
            {"name": c.name, "description": c.description}
            for c in contenders
            if c.name in args.contenders
        ],
        "results": results,
        "stopped": stopped,
    }


def run_head(schema, device, packages) -> dict:
    """What a run records before it starts (a CUDA fault later would make these raise)."""
    return {
        "schema": schema,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": describe_device(device),
        "environment": collect_environment(device),
        "packages": packages,
    }


def run(args, device) -> dict:
    cfg, timer = timing_setup(args, device)
    head = run_head(SCHEMA, device, package_versions())
    head["settings"] = {"modes": args.modes, "graph_calls": args.graph_calls}
    layers = L.block_layers(L.TINY_DIVISOR if args.tiny else 1)
    block = L.Block.random(layers, device, args.seed)
    fns = build_contenders(L.CONTENDERS, args.contenders, block, device)
    results, stopped = run_token_counts(
        args.tokens,
        lambda t: _run_tokens(t, fns, block, layers, args, device, timer, cfg),
        device,
        lambda t: f"{t} tokens: {', '.join(args.modes)}",
    )
    isolated = [c.name for c in L.CONTENDERS if c.isolate_graph and callable(fns.get(c.name))]
    if isolated and "graph" in args.modes and not args.in_subprocess and results:
        isolated_graphs(args, device, results, ["bf16", *isolated])
    layer_rows = [{"name": n, "in": k, "out": o} for n, k, o in layers]
    return document("layers", args, device, cfg, timer, head, layer_rows, L.CONTENDERS,
                    results, stopped)  # fmt: skip


def parse_command_line(argv: list[str] | None, build_parser):
    """(args, device) of a layers-style benchmark; args.argv keeps the arguments."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    return args, _pick_device(args, parser)


def main(argv: list[str] | None = None) -> int:
    args, device = parse_command_line(argv, build_parser)
    if device.type == "cpu" and "graph" in args.modes:
        args.modes = [m for m in args.modes if m != "graph"] or ["eager"]
        _say("CPU: CUDA graphs need a GPU; timing eager calls only")
    doc = run(args, device)
    return finish(doc, args.out_dir, "layers", markdown_report, text_report, wrong_rows)


def build_contenders(contenders, names, subject, device) -> dict:
    """name -> what ``c.build(subject, device)`` returned, or an entry saying why not."""
    built = {}
    for c in contenders:
        if c.name not in names:
            continue
        try:
            built[c.name] = c.build(subject, device)
        except L.Unavailable as exc:
            built[c.name] = {"status": "unavailable", "detail": str(exc)}
            _say(f"{c.name}: unavailable: {exc}")
        except Exception as exc:
            built[c.name] = _failed(exc, "build: ")
    return built


def finish(doc, out_dir: Path, stem: str, markdown_report, text_report, wrong_rows) -> int:
    """Writes ``<stem>.json`` and ``<stem>.md``, prints the table; the exit status."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(doc, out_dir / f"{stem}.json")
    (out_dir / f"{stem}.md").write_text(markdown_report(doc))
    print(text_report(doc))
    print(f"\nwrote {out_dir / f'{stem}.json'}, {out_dir / f'{stem}.md'}")
    wrong = wrong_rows(doc)
    if wrong:
        _say(f"ERROR: gemm_int8 error above {FLAG_ABOVE:g} vs bf16 on: {', '.join(wrong)}")
        return 1
    if doc["stopped"]:
        _say(f"run stopped early: {doc['stopped']}")
        return 130 if doc["stopped"] == "interrupted" else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
