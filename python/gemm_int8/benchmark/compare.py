"""``--compare``: how one run's medians differ from another's, shape by shape."""

from __future__ import annotations

import json
import math
from pathlib import Path

from gemm_int8.benchmark.report import SCHEMA, format_table

__all__ = ["compare", "compare_markdown", "compare_text", "load_results"]


def load_results(path: str | Path) -> dict:
    """Reads a results JSON; ValueError naming the file if it is not one."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable as JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or "results" not in doc:
        raise ValueError(f"{path}: not a gemm_int8 benchmark results file (schema {SCHEMA})")
    return doc


def _labels(*docs) -> dict[str, str]:
    labels = {}
    for doc in docs:
        labels.update({c["name"]: c["label"] for c in doc["contenders"]})
    return labels


def _env_differences(old: dict, new: dict) -> list[str]:
    def facts(doc):
        env, lib = doc["environment"], doc["environment"]["gemm_int8"]
        gpu = env.get("gpu") or {}
        return {
            "device": doc["device"]["name"],
            "driver": gpu.get("driver"),
            "torch": env.get("torch"),
            "gemm_int8 version": lib.get("version"),
            "gemm_int8 commit": lib.get("git_commit"),
            "timing": doc.get("timer", {}).get("method"),
            "timing mode": doc.get("timer", {}).get("timing", "events"),
            "alpha": doc["settings"].get("alpha"),
            "reps": doc["settings"].get("reps"),
        }

    a, b = facts(old), facts(new)
    return [f"{k}: {a[k]} -> {b[k]}" for k in a if a[k] != b[k]]


def _times(a: dict, b: dict) -> tuple[float | None, float | None, str | None]:
    """Old and new µs measured alike, and the basis when that is not each one's median.

    Where one run's median came from the graph timer and the other's from per-call
    events, both runs' events medians are compared (files from before --timing: events).
    """
    a_ok = a.get("status") == "ok" and a.get("median_us")
    b_ok = b.get("status") == "ok" and b.get("median_us")
    ta, tb = a.get("timing", "events"), b.get("timing", "events")
    if not (a_ok and b_ok) or ta == tb:
        return (a["median_us"] if a_ok else None), (b["median_us"] if b_ok else None), None

    def events(e):
        return (
            e["median_us"] if e.get("timing", "events") == "events" else e.get("events_median_us")
        )

    return events(a), events(b), f"events ({ta} -> {tb})"


def compare(old: dict, new: dict, noise: float = 0.03) -> dict:
    """Rows for every (shape, contender) in both runs, and per-contender totals.

    A ratio new/old beyond 1 +- ``noise`` is called slower/faster; within it, "same".
    """
    old_rows = {r["shape"]: r for r in old["results"]}
    new_shapes = {r["shape"] for r in new["results"]}
    names = [c["name"] for c in new["contenders"]]
    names += [c["name"] for c in old["contenders"] if c["name"] not in names]
    rows, totals = [], {n: {"faster": 0, "slower": 0, "same": 0, "ratios": []} for n in names}
    for new_row in new["results"]:
        old_row = old_rows.get(new_row["shape"])
        if old_row is None:
            continue
        for name in names:
            a, b = old_row["contenders"].get(name), new_row["contenders"].get(name)
            if a is None or b is None:
                continue
            old_us, new_us, basis = _times(a, b)
            ratio = new_us / old_us if old_us and new_us else None
            if ratio is None and a.get("status") == b.get("status"):
                continue  # refused then, refused now: nothing to compare
            if ratio is None:
                verdict = f"{a.get('status')} -> {b.get('status')}"
            elif ratio < 1 - noise:
                verdict = "faster"
            elif ratio > 1 + noise:
                verdict = "slower"
            else:
                verdict = "same"
            if basis and ratio is not None:
                verdict += f", {basis}"
            if ratio is not None:
                totals[name][verdict.split(",")[0]] += 1
                totals[name]["ratios"].append(ratio)
            rows.append(
                {
                    "shape": new_row["shape"],
                    "contender": name,
                    "old_us": old_us,
                    "new_us": new_us,
                    "ratio": ratio,
                    "verdict": verdict,
                }
            )
    for t in totals.values():
        ratios = t.pop("ratios")
        t["geomean_ratio"] = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else None
    return {
        "noise": noise,
        "rows": rows,
        "totals": {n: t for n, t in totals.items() if t["geomean_ratio"] is not None},
        "only_old": [s for s in old_rows if s not in new_shapes],
        "only_new": [r["shape"] for r in new["results"] if r["shape"] not in old_rows],
        "environment_changes": _env_differences(old, new),
        "labels": _labels(old, new),
    }


def _cells(result: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["shape", "contender", "old µs", "new µs", "new/old", "verdict"]
    rows, last_shape = [], None
    for r in result["rows"]:
        rows.append(
            [
                r["shape"] if r["shape"] != last_shape else "",
                result["labels"].get(r["contender"], r["contender"]),
                "-" if r["old_us"] is None else f"{r['old_us']:.2f}",
                "-" if r["new_us"] is None else f"{r['new_us']:.2f}",
                "-" if r["ratio"] is None else f"{r['ratio']:.3f}",
                _verdict_cell(r["verdict"]),
            ]
        )
        last_shape = r["shape"]
    return headers, rows


def _verdict_cell(verdict: str) -> str:
    head, sep, tail = verdict.partition(",")
    return (head.upper() if head in ("faster", "slower") else head) + sep + tail


def _summary(result: dict) -> list[str]:
    lines = []
    for name, t in result["totals"].items():
        g = t["geomean_ratio"]
        change = f"{(1 - g) * 100:.1f}% faster" if g < 1 else f"{(g - 1) * 100:.1f}% slower"
        lines.append(
            f"{result['labels'].get(name, name)}: {t['faster']} faster, {t['slower']} slower, "
            f"{t['same']} same (noise {result['noise']:.0%}); geomean new/old {g:.3f} ({change})"
        )
    for key, where in (("only_old", "old"), ("only_new", "new")):
        shapes = result[key]
        if shapes:
            more = f" and {len(shapes) - 6} more" if len(shapes) > 6 else ""
            lines.append(
                f"{len(shapes)} shapes only in the {where} run: {', '.join(shapes[:6])}{more}"
            )
    return lines


def _title(old_name: str, new_name: str, result: dict) -> list[str]:
    lines = [f"comparing {old_name} (old) -> {new_name} (new)"]
    lines += [f"  changed: {c}" for c in result["environment_changes"]]
    if any(c.startswith("device:") for c in result["environment_changes"]):
        lines.append("  WARNING: different devices; the ratios compare hardware, not code")
    return lines


def compare_text(result: dict, old_name: str, new_name: str) -> str:
    if not result["rows"]:
        return "\n".join(
            _title(old_name, new_name, result) + ["no shape in common"] + _summary(result)
        )
    table = format_table(*_cells(result))
    return "\n".join(_title(old_name, new_name, result) + ["", table, ""] + _summary(result))


def compare_markdown(result: dict, old_name: str, new_name: str) -> str:
    headers, rows = _cells(result)
    out = ["# gemm_int8 benchmark comparison", ""] + [
        f"- {x.strip()}" for x in _title(old_name, new_name, result)
    ]
    out += ["", "| " + " | ".join(headers) + " |", "|---|---|---:|---:|---:|---|"]
    out += ["| " + " | ".join(c or " " for c in r) + " |" for r in rows]
    out += [""] + [f"- {line}" for line in _summary(result)] + [""]
    return "\n".join(out)
