"""Tables of ``gemm_int8.benchmark.training``: the layers report's rows and header, per step."""

from __future__ import annotations

from gemm_int8.benchmark import layers_report
from gemm_int8.benchmark.cells import format_table, md_table
from gemm_int8.benchmark.layers_report import _header_lines, table_rows

__all__ = ["SCHEMA", "markdown_report", "text_report", "wrong_rows"]

SCHEMA = "gemm_int8.benchmark.training/1"
HEADERS = ["tokens", "contender", "µs / step", "IQR µs", "vs bf16", "rel err", "note"]
OURS = ("int8", "int8-wgrad-bf16")
STEP = "step: y = down(silu(gate(x)) * up(x)), then y.backward(dy); grads of x, gate, up, down"


def wrong_rows(doc: dict) -> list[str]:
    return layers_report.wrong_rows(doc, OURS)


def _header(doc: dict) -> list[str]:
    lines = _header_lines(doc)  # its "block:" line lists gate, up and down; STEP follows it
    at = next((i + 1 for i, line in enumerate(lines) if line.startswith("block:")), len(lines))
    return lines[:at] + [STEP] + lines[at:]


def text_report(doc: dict) -> str:
    parts = _header(doc) + ["", format_table(HEADERS, table_rows(doc))]
    if doc.get("stopped"):
        parts += ["", f"RUN STOPPED EARLY: {doc['stopped']}"]
    return "\n".join(parts)


def markdown_report(doc: dict) -> str:
    out = ["# gemm_int8 training benchmark: a Llama-3-8B MLP block, forward + backward", ""]
    out += [f"- {line}" for line in _header(doc)]
    out += [f"- command: `{' '.join(doc['command'])}`", ""]
    out += md_table(HEADERS, table_rows(doc), left=2)
    out += ["", "## Contenders", ""]
    out += [f"- `{c['name']}`: {c['description']}" for c in doc["contenders"]]
    if doc.get("stopped"):
        out += ["", f"**Run stopped early:** {doc['stopped']}"]
    out += [
        "",
        "µs / step: median time of one eager forward + backward (timing line above); vs bf16"
        " = bf16 median / this median; rel err: max over y, x.grad and the three weight grads"
        " of ||t - bf16 t|| / ||bf16 t||, measured on the last timed step, FLAG above"
        f" {doc['settings']['flag_above']:g}. See docs/benchmark.md.",
        "",
    ]
    return "\n".join(out)
