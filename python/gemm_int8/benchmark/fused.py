"""The "/ plain" comparison: each fused-epilogue contender's time over plain gemm_int8's.

A contender names its plain counterpart (``Contender.plain``); on every shape
where both ran, the runner stores ``vs_plain`` = its median / plain's median.
This module turns that into the report's table, a budget verdict and a summary.
"""

from __future__ import annotations

from gemm_int8.benchmark.cells import geomean, num, status_cell, us

__all__ = ["HEADERS", "budget", "rows", "summary", "title"]

HEADERS = ["shape", "contender", "plain µs", "median µs", "/ plain", "+µs", "budget", "verdict"]


def budget(m: int) -> tuple[float, float]:
    """(time ratio, µs) a fused epilogue may cost over plain gemm_int8: meeting either suffices.

    The scaled_mm targets: decode batches (M <= 128) within 10 % or 1 µs, where a
    launch-bound call makes a ratio alone too strict; larger shapes within 5 %.
    """
    return (1.10, 1.0) if m <= 128 else (1.05, 0.0)


def _pairs(doc: dict):
    """(row, contender info, entry, plain entry) for every contender with a plain counterpart."""
    infos = [c for c in doc["contenders"] if c.get("plain")]
    for row in doc["results"]:
        for c in infos:
            e = row["contenders"].get(c["name"], {"status": "not run"})
            yield row, c, e, row["contenders"].get(c["plain"], {})


def _verdict(row: dict, c: dict, e: dict, plain: dict) -> str | None:
    """ "within" or "OVER" for a fused epilogue timed beside plain; None otherwise.

    Only epilogue contenders get one: int32 out writes twice plain's bytes, so
    its ratio is information, not a target.
    """
    if not c["expect"].get("epilogue") or e.get("vs_plain") is None:
        return None
    ratio, extra_us = budget(row["m"])
    within = e["vs_plain"] <= ratio or e["median_us"] - plain["median_us"] <= extra_us
    return "within" if within else "OVER"


def rows(doc: dict) -> list[list[str]]:
    """Table rows (HEADERS); empty when no contender has a plain counterpart."""
    out, last = [], None
    for row, c, e, plain in _pairs(doc):
        plain_us = plain.get("median_us") if plain.get("status") == "ok" else None
        shape = row["shape"] if row["shape"] != last else ""
        last = row["shape"]
        ratio, extra_us = budget(row["m"])
        limit = "-"
        if c["expect"].get("epilogue"):
            limit = f"{ratio:.2f}x" + (f" or +{extra_us:g} µs" if extra_us else "")
        if e.get("status") != "ok" or e.get("median_us") is None:
            out.append([shape, c["label"], us(plain_us), status_cell(e), "-", "-", limit, "-"])
            continue
        extra = e["median_us"] - plain_us if plain_us else None
        cells = [us(plain_us), us(e["median_us"]), num(e.get("vs_plain"), ".3f", "x")]
        cells += [num(extra, "+.2f"), limit, _verdict(row, c, e, plain) or "-"]
        out.append([shape, c["label"], *cells])
    return out


def summary(doc: dict, name: str) -> dict | None:
    """Geomean and worst "/ plain" of one contender, and the shapes over budget; None if none."""
    pairs = [(row, c, e, p) for row, c, e, p in _pairs(doc) if c["name"] == name]
    ratios = [(e["vs_plain"], row["shape"]) for row, _, e, _ in pairs if e.get("vs_plain")]
    if not ratios:
        return None
    worst = max(ratios)
    return {
        "plain": pairs[0][1]["plain"],
        "geomean": geomean([r for r, _ in ratios]),
        "worst": worst[0],
        "worst_shape": worst[1],
        "shapes": len(ratios),
        "over_budget": [row["shape"] for row, c, e, p in pairs if _verdict(row, c, e, p) == "OVER"],
    }


def title(doc: dict) -> str:
    plain = sorted({c["plain"] for c in doc["contenders"] if c.get("plain")})
    return f"Fused epilogues: time over plain {', '.join(plain)} on the same shape"
