"""PNG plots, drawn only when matplotlib is importable.

speedup.png: per (N, K) a group of bars, one bar per M, of each contender's
speedup over torch bf16 (the layout of the original library's figure).
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


def _speedup_figure(mpl, doc: dict, path: Path) -> bool:
    Figure, cmap, _ = mpl
    contenders = [c for c in doc["contenders"] if not c["baseline"]]
    groups = _nk_groups(doc["results"])
    plotted = [
        c
        for c in contenders
        if any(r["contenders"].get(c["name"], {}).get("speedup_vs_bf16") for r in doc["results"])
    ]
    if not plotted:
        return False
    ms = sorted({r["m"] for r in doc["results"]})
    colors = {m: cmap(j / max(1, len(ms) - 1)) for j, m in enumerate(ms)}
    width = max(6.0, 1.0 + 0.25 * len(ms) * len(groups))
    fig = Figure(figsize=(min(width, 30.0), 3.2 * len(plotted)), layout="constrained")
    axes = fig.subplots(len(plotted), 1, squeeze=False)[:, 0]
    label_bars = len(ms) * len(groups) <= 48  # value labels only while they stay legible
    bar_w = 0.8 / max(len({r["m"] for r in rows}) for rows in groups.values())
    for ax, c in zip(axes, plotted, strict=True):
        seen = set()
        for gi, rows in enumerate(groups.values()):
            bars = [
                (r["m"], r["contenders"].get(c["name"], {}).get("speedup_vs_bf16")) for r in rows
            ]
            bars = sorted((m, s) for m, s in bars if s)
            for j, (m, s) in enumerate(bars):
                x = gi + (j - (len(bars) - 1) / 2) * bar_w  # centred on the group's tick
                # One legend entry per M, however many groups it appears in.
                label = f"M={m}" if m not in seen else None
                seen.add(m)
                ax.bar(x, s, bar_w, color=colors[m], label=label)
                if label_bars:
                    turn = 90 if len(bars) > 5 else 0  # side by side they would overlap
                    ax.annotate(
                        f"{s:.2f}", (x, s), ha="center", va="bottom", fontsize=6, rotation=turn
                    )
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(groups)), [f"N={n}\nK={k}" for n, k in groups])
        ax.set_ylabel(f"{c['label']}\nspeedup over bf16")
        handles, labels = ax.get_legend_handles_labels()
        order = sorted(range(len(labels)), key=lambda i: int(labels[i][2:]))
        # Outside the axes, so it never hides a bar or its value.
        ax.legend(
            [handles[i] for i in order],
            [labels[i] for i in order],
            fontsize="small",
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
        )
    axes[0].set_title(f"speedup over torch bf16 matmul — {doc['device']['name']}")
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
