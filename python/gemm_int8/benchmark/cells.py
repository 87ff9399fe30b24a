"""Cell formatting and the fixed-width table shared by the report, the "/ plain" table and
--compare."""

from __future__ import annotations

import math

__all__ = ["format_table", "geomean", "md_escape", "num", "status_cell", "us"]


def us(v) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:.0f}"


def num(v, spec: str, suffix: str = "") -> str:
    return "-" if v is None else f"{v:{spec}}{suffix}"


def status_cell(e: dict) -> str:
    status = e.get("status", "not run")
    if status == "wrong":
        return "WRONG"
    if status in ("refused", "failed"):
        return f"{status}: {e.get('detail', '?')}"
    return status


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    """Fixed-width text table; columns after the first two are right-aligned numbers."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells):
        parts = [
            c.ljust(w) if i < 2 or i == len(cells) - 1 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    for r in rows:
        if r[0] and len(out) > 2:
            out.append("")  # a blank line between shapes
        out.append(line(r))
    return "\n".join(out)


def geomean(values: list[float]) -> float | None:
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def md_escape(cell: str) -> str:
    return cell.replace("|", "\\|") or " "


def md_table(headers: list[str], rows: list[list[str]], left: int) -> list[str]:
    """A markdown table's lines: the first ``left`` columns and the last one
    left-aligned (labels, notes), the others right-aligned (numbers)."""
    align = ["---"] * left + ["---:"] * (len(headers) - left - 1) + ["---"]
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    return out + ["| " + " | ".join(md_escape(c) for c in r) + " |" for r in rows]
