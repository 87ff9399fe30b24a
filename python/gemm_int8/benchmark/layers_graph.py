"""CUDA graphs for ``gemm_int8.benchmark.layers``: capture, and capture in a child process.

A capture that fails inside a library (reported for bitsandbytes) can leave the
process's CUDA context unusable, which would end the whole run. Contenders marked
``isolate_graph`` are therefore captured and timed in a child process running the
same module with ``--in-subprocess``, after the parent has measured everything else.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

__all__ = ["capture", "isolated_graphs"]

TIMEOUT_S = 900  # a hung capture must not hang the parent


def capture(fn, device, calls: int = 1):
    """Captures ``calls`` back-to-back calls of ``fn`` in one CUDA graph; returns
    replay() -> the last call's outputs. Several calls per replay put the replay's own
    launch cost on all of them, as a model's graph of many blocks does."""
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):  # warm-up on a side stream, as torch.cuda.graphs advises
        for _ in range(3):
            fn()
    torch.cuda.current_stream(device).wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            out = fn()

    def replay():
        graph.replay()
        return out

    return replay


def isolated_graphs(args, device, results, names) -> None:
    """Captures and times ``names``' graphs in a child process; merges its rows in."""
    tokens = sorted({r["tokens"] for r in results})
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "gemm_int8.benchmark.layers", "--in-subprocess"]
        cmd += ["--device", str(device), "--modes", "graph", "--out-dir", tmp]
        cmd += ["--tokens", ",".join(map(str, tokens)), "--contenders", ",".join(names)]
        cmd += ["--seed", str(args.seed), "--graph-calls", str(args.graph_calls)]
        for flag, value in (("--warmup", args.warmup), ("--reps", args.reps)):
            if value is not None:
                cmd += [flag, str(value)]
        if args.time_per_row:
            cmd += ["--time-per-row", str(args.time_per_row)]
        if args.tiny:
            cmd.append("--tiny")
        print(f"capturing {', '.join(names)} graphs in a subprocess", file=sys.stderr, flush=True)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            why = f"subprocess exited {done.returncode}: {last}"
        except subprocess.TimeoutExpired:
            why = f"subprocess timed out after {TIMEOUT_S} s"
        path = Path(tmp) / "layers.json"
        child = json.loads(path.read_text()) if path.exists() else {"results": []}
    got = {r["tokens"]: r["contenders"] for r in child["results"] if r["mode"] == "graph"}
    for row in results:
        if row["mode"] != "graph":
            continue
        for name in names:
            e = got.get(row["tokens"], {}).get(name)
            if row["contenders"].get(name, {}).get("status") != "pending":
                continue
            if e is None:
                e = {"status": "failed", "detail": why[:200]}
            elif e.get("median_us"):
                e["note"] = "timed in a subprocess; speedup vs that process's bf16 graph"
            row["contenders"][name] = e
