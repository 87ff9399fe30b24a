"""Tables, target lines and package versions of ``gemm_int8.benchmark.layers``."""

from __future__ import annotations

from importlib import metadata

from gemm_int8.benchmark.cells import format_table, md_table, num, us

__all__ = [
    "SCHEMA",
    "markdown_report",
    "package_versions",
    "target_lines",
    "text_report",
    "wrong_rows",
]

SCHEMA = "gemm_int8.benchmark.layers/1"
HEADERS = ["tokens", "contender", "µs / block", "IQR µs", "vs bf16", "rel err", "note"]
OURS = ("gemm_int8", "gemm_int8_fused", "gemm_int8_shared")
# Issue 10's targets for the plain Int8Linear block.
PREFILL_MIN_TOKENS, PREFILL_TARGET = 512, 1.7
DECODE_MAX_TOKENS, DECODE_TARGET = 32, 1.8  # in graph mode, where launches are not timed


def package_versions() -> dict:
    """Installed versions of the optional contenders' packages (None: not installed)."""
    out = {}
    for name in ("torchao", "bitsandbytes"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _note(e: dict) -> str:
    if e.get("status") != "ok":
        detail = e.get("detail", "")
        return f"{e.get('status', 'not run')}: {detail}" if detail else e.get("status", "")
    return e.get("note", "")


def table_rows(doc: dict) -> list[list[str]]:
    names = [c["name"] for c in doc["contenders"]]
    rows = []
    for row in doc["results"]:
        for i, name in enumerate(names):
            e = row["contenders"].get(name, {"status": "not run"})
            err = e.get("rel_error")
            err_cell = "-" if err is None else f"{err:.1e}" + (" FLAG" if e.get("flagged") else "")
            rows.append(
                [
                    f"{row['tokens']} {row['mode']}" if i == 0 else "",
                    name,
                    us(e.get("median_us")),
                    us(e.get("iqr_us")),
                    num(e.get("speedup_vs_bf16"), ".2f", "x"),
                    err_cell,
                    _note(e),
                ]
            )
    return rows


def _against(entry: dict, target: float | None) -> str:
    speed = entry.get("speedup_vs_bf16")
    text = f"{num(speed, '.2f', 'x')} bf16"
    if target is not None and speed is not None:
        text += f" (target {target}x: {'met' if speed >= target else 'MISSED'})"
    return text


def target_lines(doc: dict) -> list[str]:
    """Per (tokens, mode): gemm_int8 against bf16's target and against each other int8 row."""
    lines = []
    for row in doc["results"]:
        c = row["contenders"]
        ours = c.get("gemm_int8", {})
        if not ours.get("median_us"):
            continue
        t, mode = row["tokens"], row["mode"]
        target = None
        if t >= PREFILL_MIN_TOKENS:
            target = PREFILL_TARGET
        elif t <= DECODE_MAX_TOKENS and mode == "graph":
            target = DECODE_TARGET
        text = f"{t} tokens, {mode}: gemm_int8 {_against(ours, target)}"
        for other in ("gemm_int8_fused", "gemm_int8_shared", "torchao", "bnb"):
            e = c.get(other)
            if e is None:
                continue
            if not e.get("median_us"):
                text += f"; {other}: {e.get('status', 'not run')}"
            elif other == "gemm_int8_fused":
                text += f"; fused siblings {_against(e, target)}"
            elif other == "gemm_int8_shared":
                text += f"; shared quantize {num(e.get('speedup_vs_bf16'), '.2f', 'x')} bf16"
            else:
                ratio = e["median_us"] / ours["median_us"]
                text += f"; {ratio:.2f}x faster than {other}" + ("" if ratio > 1 else " (SLOWER)")
        lines.append(text)
    return lines


def wrong_rows(doc: dict, ours: tuple[str, ...] = OURS) -> list[str]:
    """The rows where one of ``ours`` (gemm_int8's contenders) was flagged."""
    return [
        f"{row['tokens']} tokens {row['mode']} ({name})"
        for row in doc["results"]
        for name in ours
        if row["contenders"].get(name, {}).get("flagged")
    ]


def _header_lines(doc: dict) -> list[str]:
    dev, env, s = doc["device"], doc["environment"], doc["settings"]
    lib = env["gemm_int8"]
    commit = lib.get("git_commit")
    commit_text = f" @ {commit[:12]}{' (dirty)' if lib.get('git_dirty') else ''}" if commit else ""
    pkgs = ", ".join(f"{k} {v or 'not installed'}" for k, v in doc["packages"].items())
    layers = ", ".join(f"{x['name']} {x['in']}->{x['out']}" for x in doc["layers"])
    tiny = " (--tiny: widths / 64)" if s["tiny"] else ""
    return [
        f"device: {dev['name']}",
        f"copy bandwidth: {dev['copy_bandwidth']['gb_per_s']:.0f} GB/s (read + write, measured)",
        f"timing: {doc['timer']['method']}; warm-up {s['warmup']} rounds; reps {s['reps']}"
        + (
            f"; graph mode: {s['graph_calls']} block calls per replay, time per call"
            if "graph_calls" in s
            else ""
        ),
        f"block: Llama-3-8B{tiny}, bf16 activations, no bias: {layers}",
        f"gemm_int8 {lib.get('version')}{commit_text}; torch {env['torch']}; {pkgs}",
        f"date: {doc['created']}",
    ]


def text_report(doc: dict) -> str:
    parts = _header_lines(doc) + ["", format_table(HEADERS, table_rows(doc)), ""]
    parts += target_lines(doc)
    if doc.get("stopped"):
        parts.append(f"RUN STOPPED EARLY: {doc['stopped']}")
    return "\n".join(parts)


def markdown_report(doc: dict) -> str:
    out = ["# gemm_int8 layers benchmark: a Llama-3-8B block", ""]
    out += [f"- {line}" for line in _header_lines(doc)]
    out += [f"- command: `{' '.join(doc['command'])}`", ""]
    out += md_table(HEADERS, table_rows(doc), left=2)
    out += ["", "## Targets", "", f"prefill (≥ {PREFILL_MIN_TOKENS} tokens) ≥ {PREFILL_TARGET}x"]
    out[-1] += f" bf16; decode (≤ {DECODE_MAX_TOKENS} tokens, graph) ≥ {DECODE_TARGET}x bf16;"
    out[-1] += " faster than torchao and bitsandbytes on every row."
    out += [""] + [f"- {line}" for line in target_lines(doc)]
    if doc.get("stopped"):
        out += ["", f"**Run stopped early:** {doc['stopped']}"]
    out += [
        "",
        "µs / block: median time of one call of all seven layers; vs bf16 = bf16 median / this"
        " median (same mode); rel err: max over the layers of ||out - bf16 out|| / ||bf16 out||,"
        f" FLAG above {doc['settings']['flag_above']:g}. See docs/benchmark.md.",
        "",
    ]
    return "\n".join(out)
