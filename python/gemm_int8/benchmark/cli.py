"""Command line of ``python -m gemm_int8.benchmark``: parse, run, report, compare."""

from __future__ import annotations

import sys
from pathlib import Path

from gemm_int8.benchmark import shapes as S
from gemm_int8.benchmark.compare import compare, compare_markdown, compare_text, load_results
from gemm_int8.benchmark.contenders import CONTENDERS, FAMILIES, select, table_rows
from gemm_int8.benchmark.options import build_parser

__all__ = ["build_parser", "main", "resolve_shapes"]

NO_GPU_MESSAGE = (
    "No CUDA GPU found: the GPU benchmark needs a CUDA GPU. Running the CPU path instead "
    "(gemm_int8's CPU matmul vs torch bf16 and int64 matmuls on small shapes)."
)
DEFAULT_OUT_DIR = Path("bench_out")


def resolve_shapes(args, device_type: str = "cuda") -> tuple[list[S.Shape], list[str]]:
    """The shapes to run, and notes for the user about choices made for them."""
    sets = [s for group in args.sets or [] for s in group]
    explicit = [s for group in args.shapes or [] for s in group]
    models = [
        s
        for names in args.models or []
        for s in S.model_shapes(names, args.tokens, not args.unfused)
    ]
    notes = []
    if device_type == "cpu":
        # GPU-sized sets would take hours through the CPU int64 contender.
        dropped = [s for s in sets if "cpu" not in s.tags] + models
        sets = [s for s in sets if "cpu" in s.tags]
        if dropped:
            notes.append("CPU path: skipping GPU-sized --set/--model shapes; use --shapes to pick")
        if not (sets or explicit):
            sets = list(S.SHAPE_SETS["cpu"])
    elif not (sets or explicit or models):
        sets = [s for name in S.DEFAULT_SETS for s in S.SHAPE_SETS[name]]
    return S.merge_shapes(sets + explicit + models), notes


def _list_text() -> str:
    lines = ["shape sets (MxNxK):"]
    for name, group in S.SHAPE_SETS.items():
        lines.append(f"  {name:8} {' '.join(s.label for s in group)}")
    lines.append("  all      every set above except cpu")
    lines.append("models (--model NAME --tokens T; N x K per Linear, fused):")
    for name, model in S.MODELS.items():
        layers = ", ".join(f"{layer} {n}x{k}" for layer, n, k in model.linears())
        lines.append(f"  {name:12} {model.title}: {layers}")
    lines.append("contenders:")
    width = max(len(c.name) for c in CONTENDERS)
    for c in CONTENDERS:
        extra = f" [--{c.opt_in}]" if c.opt_in else ""
        lines.append(f"  {c.name:{width}} {'/'.join(c.devices):9} {c.description}{extra}")
    lines.append("kernels (--kernels; auto, a family, family:* or a row):")
    import torch

    rows = torch.ops.gemm_int8.kernel_configs()
    for family in FAMILIES:
        lines.append(f"  {family:7} {' '.join(table_rows(family, rows))}")
    return "\n".join(lines)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _compare_files(args, parser) -> int:
    if args.sets or args.shapes or args.models:
        parser.error(
            "--compare OLD NEW compares two files and runs nothing; drop the shape options"
        )
    try:
        old, new = (load_results(p) for p in args.compare)
    except ValueError as exc:
        parser.error(str(exc))
    result = compare(old, new, args.noise)
    print(compare_text(result, args.compare[0], args.compare[1]))
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "compare.md").write_text(compare_markdown(result, *args.compare))
    return 0


def _pick_device(args, parser):
    import torch

    want = args.device.strip().lower()
    if want == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        _say(NO_GPU_MESSAGE)
        return torch.device("cpu")
    try:
        device = torch.device(want)
    except RuntimeError:
        parser.error(f"--device {args.device}: expected auto, cuda, cuda:N or cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            parser.error(f"--device {args.device}: no CUDA GPU is visible to torch")
        index = device.index if device.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            parser.error(f"--device {args.device}: only {torch.cuda.device_count()} GPU(s) visible")
        return torch.device("cuda", index)
    if device.type != "cpu":
        parser.error(f"--device {args.device}: expected auto, cuda, cuda:N or cpu")
    return device


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        print(_list_text())
        return 0
    if args.compare and len(args.compare) > 2:
        parser.error("--compare takes OLD (then runs) or OLD NEW (runs nothing)")
    if args.compare and len(args.compare) == 2:
        return _compare_files(args, parser)
    old = None
    if args.compare:
        try:  # read it now: a typo should not cost a whole run
            old = load_results(args.compare[0])
        except ValueError as exc:
            parser.error(str(exc))

    from gemm_int8.benchmark.results import run_benchmark, settings_from_args

    device = _pick_device(args, parser)
    shapes, notes = resolve_shapes(args, device.type)
    try:
        opt_ins = {flag for flag in ("compile", "epilogue", "prepack") if getattr(args, flag)}
        contenders = select(device.type, args.contenders, opt_ins, args.kernels)
    except ValueError as exc:
        parser.error(str(exc))
    if not contenders:
        parser.error(f"none of the chosen contenders runs on {device.type}")
    if args.compile and device.type == "cpu":
        notes.append("--compile applies to the GPU benchmark only")
    for note in notes:
        _say(note)
    if args.once:
        from gemm_int8.benchmark.runner import call_once

        call_once(shapes, contenders, args.alpha, args.seed, device)
        return 0
    settings = settings_from_args(args, device)
    doc = run_benchmark(settings, argv, device, shapes, contenders, args.compile, args.epilogue)
    return _finish(args, doc, old)


def _finish(args, doc: dict, old: dict | None) -> int:
    from gemm_int8.benchmark.plots import write_plots
    from gemm_int8.benchmark.report import markdown_report, text_report, write_json

    out_dir = args.out_dir or DEFAULT_OUT_DIR
    json_path = args.json or out_dir / "results.json"
    write_json(doc, json_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.md").write_text(markdown_report(doc))
    print(text_report(doc))
    written = [json_path, out_dir / "results.md"]
    if not args.no_plot:
        pngs, why_not = write_plots(doc, out_dir)
        written += pngs
        if why_not:
            _say(why_not)
    if old is not None:
        result = compare(old, doc, args.noise)
        print()
        print(compare_text(result, args.compare[0], "this run"))
        (out_dir / "compare.md").write_text(compare_markdown(result, args.compare[0], "this run"))
        written.append(out_dir / "compare.md")
    print("\nwrote " + ", ".join(str(p) for p in written))

    # The library's own contenders: plain gemm_int8 and those measured against it.
    ours = {"gemm_int8"} | {c["name"] for c in doc["contenders"] if c.get("plain")}
    wrong = [
        f"{r['shape']} ({name})"
        for r in doc["results"]
        for name in sorted(ours)
        if r["contenders"].get(name, {}).get("status") == "wrong"
    ]
    if wrong:
        _say(f"ERROR: gemm_int8 gave a wrong answer on {', '.join(wrong)} (see the check column)")
        return 1
    if doc.get("stopped"):
        _say(f"run stopped early: {doc['stopped']}")
        return 130 if doc["stopped"] == "interrupted" else 1
    return 0
