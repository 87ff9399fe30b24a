"""PNG plots, drawn only when matplotlib is importable.

speedup.png: one panel, a row per shape and a bar per contender, its speedup
over torch bf16 on a log axis drawn from the 1x line (faster to the right).
time_vs_m.png: median time against M for every (N, K) measured at several
M, i.e. the decode sweep, one line per contender.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_plots"]


def _load_matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never needs a display
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        return None
    return Figure, matplotlib.colormaps["viridis"], FuncFormatter


def _ok_median(entry: dict):
    return entry.get("median_us") if entry.get("status") == "ok" else None


def _nk_groups(results: list[dict]) -> dict[tuple[int, int], list[dict]]:
    groups: dict[tuple[int, int], list[dict]] = {}
    for row in results:
        groups.setdefault((row["n"], row["k"]), []).append(row)
    return groups


def _speedup(row: dict, name: str):
    return row["contenders"].get(name, {}).get("speedup_vs_bf16")


def _speedup_figure(mpl, doc: dict, path: Path) -> bool:
    Figure, cmap, FuncFormatter = mpl
    contenders = [c for c in doc["contenders"] if not c["baseline"]]
    plotted = [c for c in contenders if any(_speedup(r, c["name"]) for r in doc["results"])]
    rows = [r for r in doc["results"] if any(_speedup(r, c["name"]) for c in plotted)]
    if not plotted:
        return False
    # One panel: a row per shape, the contenders' bars side by side, each bar
    # drawn from 1x (bf16) to its speedup on a log axis, so a 14x outlier
    # neither flattens the rest nor hides a slowdown.
    colors = [cmap(j / max(1, len(plotted) - 1)) for j in range(len(plotted))]
    bar_h = 0.8 / len(plotted)
    height = 1.6 + 0.16 * len(rows) * max(2, len(plotted))
    fig = Figure(figsize=(9.0, min(height, 60.0)), layout="constrained")
    ax = fig.subplots()
    values = []
    for j, c in enumerate(plotted):
        for i, row in enumerate(rows):
            s = _speedup(row, c["name"])
            if not s:
                continue
            y = i + (j - (len(plotted) - 1) / 2) * bar_h
            ax.barh(y, s - 1.0, bar_h, left=1.0, color=colors[j], label=c["label"] if i else None)
            ax.annotate(f"{s:.2f}x", (s, y), xytext=(3 if s >= 1 else -3, 0),
                        textcoords="offset points", ha="left" if s >= 1 else "right",
                        va="center", fontsize=6)  # fmt: skip
            values.append(s)
    ax.set_xscale("log", base=2)
    ax.set_xlim(min(0.5, min(values) / 1.3), max(2.0, max(values) * 1.5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.axvline(1.0, color="black", linewidth=0.9)
    ax.set_yticks(range(len(rows)), [r["shape"] for r in rows], fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # the first shape at the top
    ax.grid(True, axis="x", which="major", linewidth=0.3)
    ax.set_xlabel("speedup over torch bf16 matmul (log scale; left of 1x is slower)")
    handles, labels = ax.get_legend_handles_labels()
    by_label = dict(zip(labels, handles, strict=True))
    fig.legend(list(by_label.values()), list(by_label), loc="outside lower center",
               ncol=min(4, len(by_label)), fontsize="small")  # fmt: skip
    ax.set_title(f"speedup over torch bf16 — {doc['device']['name']}")
    fig.savefig(path, dpi=120)
    return True


def _time_vs_m_figure(mpl, doc: dict, path: Path) -> bool:
    Figure, _, FuncFormatter = mpl
    plain = FuncFormatter(lambda v, _: f"{v:g}")  # 40, not 4 x 10^1
    # Minor ticks: label only 2, 3 and 5 times a power of ten, or they run together.
    sparse = FuncFormatter(lambda v, _: f"{v:g}" if f"{v:e}"[0] in "235" else "")
    groups = {
        nk: sorted(rows, key=lambda r: r["m"])
        for nk, rows in _nk_groups(doc["results"]).items()
        if len({r["m"] for r in rows}) >= 2
    }
    if not groups:
        return False
    groups = dict(list(groups.items())[:9])  # keeps the figure readable
    cols = min(3, len(groups))
    size = (5.0 * cols, 3.8 * ((len(groups) + cols - 1) // cols))
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots((len(groups) + cols - 1) // cols, cols, squeeze=False).flatten()
    for ax, ((n, k), rows) in zip(axes, groups.items(), strict=False):
        for c in doc["contenders"]:
            pts = [(r["m"], _ok_median(r["contenders"].get(c["name"], {}))) for r in rows]
            pts = [(m, t) for m, t in pts if t]
            if pts:
                # A leading underscore would hide the label from the legend.
                ax.plot(*zip(*pts, strict=True), marker="o", label=" " + c["label"])
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(sparse)
        ax.set_xlabel("M (tokens)")
        ax.set_ylabel("median µs")
        ax.set_title(f"N={n}, K={k}")
        ax.grid(True, which="both", linewidth=0.3)
    for ax in axes[len(groups) :]:
        ax.set_visible(False)
    handles = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    fig.legend(
        list(handles.values()),
        [k.strip() for k in handles],
        loc="outside lower center",
        ncol=len(handles),
    )
    fig.suptitle(f"time vs M — {doc['device']['name']}")
    fig.savefig(path, dpi=120)
    return True


def write_plots(doc: dict, out_dir: Path) -> tuple[list[Path], str | None]:
    """Writes the PNGs; returns (paths written, reason for writing none or None)."""
    mpl = _load_matplotlib()
    if mpl is None:
        return [], "matplotlib is not installed: skipping plots (pip install matplotlib)"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in (("speedup.png", _speedup_figure), ("time_vs_m.png", _time_vs_m_figure)):
        if draw(mpl, doc, out_dir / name):
            written.append(out_dir / name)
    return written, None if written else "nothing to plot (no shape with a bf16 speedup)"
