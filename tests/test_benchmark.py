"""Tests of the benchmark CLI (python -m gemm_int8.benchmark) on the CPU.

Nothing here judges speed: timings only have to exist. The GPU path is
exercised on a GPU machine by running the CLI itself (docs/benchmark.md).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import gemm_int8
import pytest
import torch
from gemm_int8.benchmark import cli, fused, report, runner
from gemm_int8.benchmark import shapes as S
from gemm_int8.benchmark.checks import (
    check_output,
    exact_accumulator,
    scaled_bf16,
    scaled_epilogue,
)
from gemm_int8.benchmark.compare import compare, load_results
from gemm_int8.benchmark.contenders import (
    CONTENDERS,
    Contender,
    Expect,
    Problem,
    describe_failure,
    select,
)
from gemm_int8.benchmark.progress import Progress
from gemm_int8.benchmark.results import run_benchmark

PYTHON_DIR = Path(gemm_int8.__file__).resolve().parents[1]


def _resolve(argv, device_type="cuda"):
    args = cli.build_parser().parse_args(argv)
    return cli.resolve_shapes(args, device_type)


def _labels(argv, device_type="cuda"):
    return [s.label for s in _resolve(argv, device_type)[0]]


# --- shape selection -------------------------------------------------------------------------


def test_seed_set_is_the_original_nine():
    labels = _labels(["--set", "seed"])
    want = {
        f"{m}x{n}x{k}"
        for m in (512, 1024, 2048)
        for n, k in ((4096, 4096), (14336, 4096), (4096, 14336))
    }
    assert len(labels) == 9 and set(labels) == want


def test_named_sets():
    decode = _resolve(["--set", "decode"])[0]
    assert len(decode) == 18
    assert sorted({s.m for s in decode}) == [1, 8, 16, 32, 64, 128]
    assert _labels(["--set", "large"]) == ["4096x28672x8192", "4096x8192x28672", "8192x8192x8192"]
    assert _labels(["--set", "ragged"]) == [
        "4095x4097x4096",
        "1000x1000x1000",
        "3x11008x4096",
        "2047x14337x4095",
        "4096x4096x4096",
    ]
    everything = _labels(["--set", "all"])
    assert len(everything) == len(set(everything)) == 9 + 18 + 3 + 5
    assert _labels(["--set", "seed,decode"]) == _labels(["--set", "seed", "--set", "decode"])


def test_default_is_seed_plus_decode():
    assert _labels([]) == _labels(["--set", "seed,decode"])


def test_explicit_shapes_and_dedup():
    assert _labels(["--shapes", "512x4096x4096,1x4096x4096"]) == ["512x4096x4096", "1x4096x4096"]
    assert _labels(["--shapes", " 2 X 3 x 4 "]) == ["2x3x4"]
    # A shape in both a set and --shapes runs once, tagged with both origins.
    shapes = _resolve(["--set", "seed", "--shapes", "512x4096x4096"])[0]
    assert len(shapes) == 9
    assert shapes[0].tags == ("seed", "explicit")


def test_model_presets():
    fused = _resolve(["--model", "llama3-8b", "--tokens", "2048"])[0]
    assert [s.label for s in fused] == [
        "2048x6144x4096",  # qkv_proj: 32 + 2 * 8 heads of 128
        "2048x4096x4096",  # o_proj
        "2048x28672x4096",  # gate_up_proj
        "2048x4096x14336",  # down_proj
    ]
    assert fused[0].tags == ("llama3-8b:qkv_proj",)
    unfused = _resolve(["--model", "llama3-8b", "--tokens", "16", "--unfused"])[0]
    assert [(s.n, s.k) for s in unfused] == [
        (4096, 4096),
        (1024, 4096),
        (14336, 4096),
        (4096, 14336),
    ]
    assert unfused[0].tags == ("llama3-8b:q_proj", "llama3-8b:o_proj")
    several = _labels(["--model", "llama3-70b,qwen2.5-7b", "--tokens", "1,128"])
    assert len(several) == 2 * 2 * 4
    assert "128x4608x3584" in several  # Qwen2.5-7B qkv: 28 + 2 * 4 heads of 128


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "nope"], "unknown shape set 'nope'"),
        (["--shapes", "12x3"], "expected MxNxK"),
        (["--shapes", "0x4096x4096"], "must all be positive"),
        (["--shapes", "4x-1x4"], "must all be positive"),
        (["--shapes", "axbxc"], "expected MxNxK"),
        (["--model", "gpt-9"], "unknown model 'gpt-9'"),
        (["--model", "llama3-8b", "--tokens", "0"], "must be positive"),
        (["--reps", "0"], "positive integer"),
        (["--alpha", "inf"], "finite"),
        (["--contenders", "nope"], "unknown contender"),
        (["--compare", "a.json", "b.json", "c.json"], "--compare takes"),
    ],
)
def test_bad_arguments_exit_nonzero_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_cpu_path_uses_small_shapes():
    cpu_set = [s.label for s in S.SHAPE_SETS["cpu"]]
    assert cpu_set == ["64x256x256", "128x512x512", "256x1024x1024"]
    assert _labels([], "cpu") == cpu_set
    shapes, notes = _resolve(["--set", "large"], "cpu")
    assert [s.label for s in shapes] == cpu_set and notes
    assert _labels(["--shapes", "8x16x32"], "cpu") == ["8x16x32"]


def test_list(capsys):
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "seed" in out and "llama3-8b" in out and "gemm_int8" in out


# --- reference and checks --------------------------------------------------------------------


def _int8(*shape, generator=None):
    return torch.randint(-128, 128, shape, dtype=torch.int8, generator=generator)


def test_reference_is_exact():
    g = torch.Generator().manual_seed(1)
    for m, n, k in [(5, 7, 3), (33, 17, 3000)]:  # 3000: several K slices
        x, y = _int8(m, k, generator=g), _int8(n, k, generator=g)
        acc = exact_accumulator(x, y)
        assert torch.equal(acc.to(torch.int64), x.long() @ y.long().T)
        brief = ((x.long() @ y.long().T).float() * 0.3).bfloat16()
        assert torch.equal(scaled_bf16(acc, 0.3).view(torch.int16), brief.view(torch.int16))
    # Zero sums are +0 (scaled by a negative alpha: -0), as int32 -> float32 gives them.
    x, y = _int8(4, 64, generator=g), _int8(6, 64, generator=g)
    x[1] = 0
    brief = ((x.long() @ y.long().T).float() * -0.7).bfloat16()
    assert torch.equal(
        scaled_bf16(exact_accumulator(x, y), -0.7).view(torch.int16), brief.view(torch.int16)
    )
    # Extremes: every partial sum at its largest, past float32's exact range overall.
    x = torch.full((2, 4096), -128, dtype=torch.int8)
    assert exact_accumulator(x, x)[0, 0].item() == 4096 * 128 * 128


def test_checks_flag_wrong_outputs():
    x, y = _int8(16, 64), _int8(8, 64)
    acc = exact_accumulator(x, y)
    exact = Expect(torch.bfloat16, exact=True, scaled=True)
    good = scaled_bf16(acc, 0.5)
    assert check_output(good, acc, 0.5, exact).ok
    bad = good.clone()
    bad.view(torch.int16)[3, 4] ^= 1  # one ulp
    result = check_output(bad, acc, 0.5, exact)
    assert not result.ok and result.mismatches == 1 and "(3, 4)" in result.detail
    assert not check_output(good[:, :4], acc, 0.5, exact).ok  # shape
    assert not check_output(good.float(), acc, 0.5, exact).ok  # dtype
    approx = Expect(torch.bfloat16, exact=False, scaled=False)
    assert check_output(x.bfloat16() @ y.bfloat16().T, acc, 0.5, approx).ok
    assert not check_output(torch.full_like(good, float("nan")), acc, 0.5, approx).ok
    int32 = Expect(torch.int32, exact=True, scaled=False)
    assert check_output(acc.to(torch.int32), acc, 0.5, int32).ok


def test_refusal_reasons():
    msg = "self.size(0) needs to be greater than 16, but got 8"
    assert describe_failure(RuntimeError(msg)) == ("refused", "M<=16")
    msg = "self.size(1) needs to be greater than 0 and a multiple of 8, but got 4095"
    assert describe_failure(RuntimeError(msg)) == ("refused", "K%8!=0")
    msg = "mat2.size(1) needs to be greater than 0 and a multiple of 8, but got 4097"
    assert describe_failure(RuntimeError(msg)) == ("refused", "N%8!=0")
    assert describe_failure(torch.OutOfMemoryError("CUDA out of memory"))[0] == "failed"
    assert describe_failure(KeyError("x"))[0] == "failed"


# --- a run on the CPU, in process ------------------------------------------------------------


def _refusing(p):
    def fn():
        raise RuntimeError("self.size(0) needs to be greater than 16, but got 8")

    return fn


def _zeros(p):
    return lambda: torch.zeros(p.x.shape[0], p.y.shape[0], dtype=torch.bfloat16)


def test_refused_and_wrong_contenders_show_in_the_table():
    exact = Expect(torch.bfloat16, exact=True, scaled=True)
    fakes = [
        Contender("refuser", "refuser", "always refuses", exact, _refusing, "int8", ("cpu",)),
        Contender("zeros", "zeros", "wrong answer", exact, _zeros, "int8", ("cpu",)),
    ]
    chosen = [c for c in CONTENDERS if c.name in ("torch_bf16", "gemm_int8")] + fakes
    settings = runner.Settings(reps=2, warmup=0, progress=False)
    doc = run_benchmark(settings, [], "cpu", [S.Shape(8, 16, 32)], chosen)
    entries = doc["results"][0]["contenders"]
    assert entries["gemm_int8"]["status"] == "ok" and entries["gemm_int8"]["median_us"] > 0
    assert entries["gemm_int8"]["check"]["detail"] == "bit-exact"
    assert entries["refuser"]["status"] == "refused" and "median_us" not in entries["refuser"]
    assert entries["zeros"]["status"] == "wrong" and "median_us" not in entries["zeros"]
    table = report.text_report(doc)
    assert "refused: M<=16" in table and "WRONG" in table
    assert doc["summary"]["zeros"]["status_counts"] == {"wrong": 1}


def _cpu_run(tmp_path, *extra):
    argv = ["--device", "cpu", "--reps", "2", "--warmup", "0", "--no-progress"]
    return cli.main([*argv, "--out-dir", str(tmp_path), *extra])


def test_plots_are_written(tmp_path):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pytest.skip("matplotlib is not installed")
    assert _cpu_run(tmp_path, "--shapes", "4x32x64,8x32x64") == 0
    for name in ("speedup.png", "time_vs_m.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_skipped_without_matplotlib(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now raises ImportError
    assert _cpu_run(tmp_path, "--shapes", "4x32x64", "--json", str(tmp_path / "x.json")) == 0
    assert "matplotlib is not installed" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.png"))
    assert (tmp_path / "x.json").exists() and not (tmp_path / "results.json").exists()


def test_progress_without_tqdm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    bar = Progress(2, "test")
    bar.start("a")
    bar.advance()
    bar.start("b")
    bar.close()
    assert "[2/2] b" in capsys.readouterr().err


# --- the real command, as a user runs it ------------------------------------------------------


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """``python -m gemm_int8.benchmark`` with the GPU hidden: the CPU path, default shapes."""
    out = tmp_path_factory.mktemp("bench_out")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PYTHON_DIR), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "gemm_int8.benchmark", "--reps", "3", "--out-dir", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    return done, out


def test_cpu_path_end_to_end(cli_run):
    done, out = cli_run
    assert done.returncode == 0, done.stderr
    assert "needs a CUDA GPU" in done.stderr
    assert "256x1024x1024" in done.stdout and "bit-exact" in done.stdout
    assert (out / "results.md").read_text().startswith("# gemm_int8 benchmark")


def test_json_schema(cli_run):
    _, out = cli_run
    doc = json.loads((out / "results.json").read_text())
    assert doc["schema"] == report.SCHEMA
    for key in ("created", "command", "settings", "environment", "device", "timer", "reference"):
        assert key in doc
    env = doc["environment"]
    for key in ("python", "platform", "torch", "torch_cuda", "cpu", "gpu", "gemm_int8"):
        assert key in env
    assert env["gpu"] is None  # the CPU path
    lib = env["gemm_int8"]
    assert lib["version"] == gemm_int8.__version__
    assert "git_commit" in lib and "git_dirty" in lib  # null outside a checkout
    assert doc["device"]["peak_source"] == "unknown peak"
    assert doc["device"]["copy_bandwidth"]["gb_per_s"] > 0
    names = [c["name"] for c in doc["contenders"]]
    assert names == ["torch_bf16", "gemm_int8", "torch_int64"]
    assert [r["shape"] for r in doc["results"]] == ["64x256x256", "128x512x512", "256x1024x1024"]
    for row in doc["results"]:
        assert {"m", "n", "k", "mem_floor_us", "memory_bound", "contenders"} <= set(row)
        for name in names:
            e = row["contenders"][name]
            assert e["status"] == "ok", e
            for key in ("median_us", "min_us", "max_us", "q1_us", "q3_us", "reps", "tops"):
                assert e[key] is not None
            assert "speedup_vs_bf16" in e and "pct_peak" in e and "time_over_mem_floor" in e
        assert row["contenders"]["gemm_int8"]["check"]["method"] == "bitwise"
    assert doc["summary"]["gemm_int8"]["status_counts"] == {"ok": 3}
    assert load_results(out / "results.json")["schema"] == report.SCHEMA


def test_compare_two_files(cli_run, tmp_path, capsys):
    _, out = cli_run
    old = json.loads((out / "results.json").read_text())
    new = copy.deepcopy(old)
    for row in new["results"]:
        row["contenders"]["gemm_int8"]["median_us"] *= 0.5
        row["contenders"]["torch_bf16"]["median_us"] *= 2.0
        row["contenders"]["torch_int64"]["median_us"] *= 1.01
    new["results"][0]["contenders"]["torch_int64"] = {"status": "wrong", "detail": "x"}
    result = compare(old, new, noise=0.03)
    totals = result["totals"]
    assert (totals["gemm_int8"]["faster"], totals["torch_bf16"]["slower"]) == (3, 3)
    assert totals["torch_int64"]["same"] == 2
    assert totals["gemm_int8"]["geomean_ratio"] == pytest.approx(0.5)
    assert any(r["verdict"] == "ok -> wrong" for r in result["rows"])

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(new))
    assert cli.main(["--compare", str(a), str(b), "--out-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "FASTER" in text and "SLOWER" in text and "ok -> wrong" in text
    assert (tmp_path / "compare.md").exists()


def test_compare_rejects_other_files(tmp_path, capsys):
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": 1}')
    with pytest.raises(SystemExit) as info:
        cli.main(["--compare", str(bogus), str(bogus)])
    assert info.value.code == 2
    assert "not a gemm_int8 benchmark results file" in capsys.readouterr().err


def test_kernels_expand_every_row_of_a_family():
    from gemm_int8.benchmark.contenders import expand_kernels

    rows = expand_kernels(["auto", "sm90:*", "skinny:*", "auto", "sm80"])
    assert rows[0] == "auto" and rows.count("auto") == 1 and rows[-1] == "sm80"
    assert "sm90_t128x256x128_c2x1_coop" in rows and "skinny_m16_r1_w8_u4" in rows
    assert all(r in ("auto", "sm80") or r.startswith(("sm90_", "skinny_")) for r in rows)
    with pytest.raises(ValueError, match="unknown kernel 'sm91_x'"):
        expand_kernels(["sm91_x"])


def test_kernels_option_adds_one_forced_contender_per_row():
    from gemm_int8.benchmark.contenders import select

    chosen = select("cuda", None, kernels=["auto", "skinny:*"])
    names = [c.name for c in chosen]
    assert names[0] == "torch_bf16" and "gemm_int8@auto" in names
    assert "gemm_int8@skinny_m8_r1_w8_u8" in names
    assert all(c.plain == "gemm_int8" for c in chosen[1:])
    both = select("cuda", ["torch_bf16", "gemm_int8"], kernels=["sm90"])
    assert [c.name for c in both] == ["torch_bf16", "gemm_int8", "gemm_int8@sm90"]
    assert [c.name for c in select("cpu", None, kernels=["auto"])] == ["torch_bf16"]


def test_forced_contender_sets_the_kernel_for_its_call_only(monkeypatch):
    import gemm_int8
    from gemm_int8.benchmark.contenders import Problem, kernel_contenders

    seen = []
    monkeypatch.setattr(
        gemm_int8, "matmul", lambda *a, **k: seen.append(os.environ.get("GEMM_INT8_FORCE_KERNEL"))
    )
    monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", "simt")
    (contender,) = kernel_contenders(["sm90"])
    x = torch.zeros(2, 16, dtype=torch.int8)
    contender.make(Problem(x, x, 1.0))()
    assert seen == ["sm90"] and os.environ["GEMM_INT8_FORCE_KERNEL"] == "simt"
    monkeypatch.delenv("GEMM_INT8_FORCE_KERNEL")
    contender.make(Problem(x, x, 1.0))()
    assert "GEMM_INT8_FORCE_KERNEL" not in os.environ


def test_once_calls_every_contender_and_writes_nothing(tmp_path, capsys):
    code = cli.main(
        ["--device", "cpu", "--shapes", "2x16x32", "--once", "--out-dir", str(tmp_path / "o")]
    )
    assert code == 0 and not (tmp_path / "o").exists()
    with pytest.raises(SystemExit):
        cli.main(["--device", "cpu", "--shapes", "2x16x32", "--kernels", "nope"])
    assert "unknown kernel 'nope'" in capsys.readouterr().err


def test_list_names_the_kernel_rows(capsys):
    assert cli.main(["--list"]) == 0
    text = capsys.readouterr().out
    assert "kernels (--kernels" in text and "skinny_m16_r1_w8_u4" in text


# --- fused-epilogue contenders (--epilogue) ----------------------------------------------------

EPILOGUE = ["scaled_mm_bf16", "scaled_mm_fp16", "gemm_int8_i32"]
EPILOGUE_TORCH = ["int_mm_epilogue_bf16", "int_mm_epilogue_fp16"]


def _contender(name):
    return next(c for c in CONTENDERS if c.name == name)


def test_epilogue_contenders_are_opt_in():
    for name in EPILOGUE + EPILOGUE_TORCH:
        assert _contender(name).opt_in == "epilogue"
    assert all(_contender(n).plain == "gemm_int8" for n in EPILOGUE)
    assert all(_contender(n).plain is None for n in EPILOGUE_TORCH)
    default = [c.name for c in select("cuda")]
    assert not set(default) & set(EPILOGUE + EPILOGUE_TORCH)
    chosen = [c.name for c in select("cuda", opt_ins={"epilogue"})]
    assert set(default + EPILOGUE + EPILOGUE_TORCH) == set(chosen)
    # torch._int_mm runs on CUDA only (as the plain _int_mm contenders); gemm_int8's on both.
    assert [c.name for c in select("cpu", opt_ins={"epilogue"})] == [
        "torch_bf16",
        "gemm_int8",
        *EPILOGUE,
        "torch_int64",
    ]
    assert [c.name for c in select("cpu", ["scaled_mm_fp16"])] == ["scaled_mm_fp16"]
    assert cli.build_parser().parse_args(["--epilogue"]).epilogue


def test_epilogue_operands_are_deterministic():
    x, y = _int8(40, 96), _int8(24, 96)
    a, b = Problem(x, y, 0.5, seed=7).epilogue, Problem(x, y, 0.5, seed=7).epilogue
    for t in (a.x_scale, a.y_scale, a.bias):
        assert t.dtype == torch.float32
    assert (a.x_scale.shape, a.y_scale.shape, a.bias.shape) == ((40,), (24,), (24,))
    for u, v in ((a.x_scale, b.x_scale), (a.y_scale, b.y_scale), (a.bias, b.bias)):
        assert torch.equal(u, v)
    assert not torch.equal(a.x_scale, Problem(x, y, 0.5, seed=8).epilogue.x_scale)
    assert bool((a.x_scale > 0).all() and (a.y_scale > 0).all())


def test_epilogue_reference_is_scaled_mm_contract():
    from reference import reference_scaled_mm

    g = torch.Generator().manual_seed(2)
    x, y = _int8(33, 3000, generator=g), _int8(20, 3000, generator=g)
    e = Problem(x, y, 1.0).epilogue
    acc = exact_accumulator(x, y)
    for dtype in (torch.bfloat16, torch.float16, torch.float32):
        want = scaled_epilogue(acc, e.x_scale, e.y_scale, e.bias, dtype)
        brief = reference_scaled_mm(x, y, e.x_scale, e.y_scale, bias=e.bias, out_dtype=dtype)
        assert torch.equal(want, brief)
        got = gemm_int8.scaled_mm(x, y, e.x_scale, e.y_scale, bias=e.bias, out_dtype=dtype)
        assert torch.equal(got, want)
    # A float64 sum rounded again to float32 would land on a tie here and round to even
    # (1 + 2**-22); fmaf rounds once: acc = 2**23 + 1, xs * ys = 2**-47 (1 - 2**-23), so the
    # exact value is 1 + 2**-23 + 2**-24 - 2**-70, just below the tie.
    x = torch.full((1, 513), -128, dtype=torch.int8)
    x[0, -1] = 1
    acc = exact_accumulator(x, x)
    xs, ys = torch.tensor([2.0**-47 * (1 - 2.0**-23)]), torch.tensor([1.0])
    for sign in (1.0, -1.0):
        bias = torch.tensor([sign * (1 + 2.0**-23)])
        want = scaled_epilogue(acc, sign * xs, ys, bias, torch.float32)
        assert want.item() == sign * (1 + 2.0**-23)
        got = gemm_int8.scaled_mm(x, x, sign * xs, ys, bias=bias, out_dtype=torch.float32)
        assert torch.equal(got, want)


@pytest.mark.parametrize("name", EPILOGUE + EPILOGUE_TORCH)
def test_epilogue_contenders_pass_their_checks(name):
    c = _contender(name)
    x, y = _int8(24, 128), _int8(40, 128)  # M > 16, K and N multiples of 8: _int_mm's limits
    problem = Problem(x, y, 0.25, seed=1)
    acc = exact_accumulator(x, y)
    out = c.make(problem)()
    check = check_output(out, acc, 0.25, c.expect, epilogue=problem.epilogue)
    assert check.ok, check.detail
    assert check.method == ("bitwise" if name in EPILOGUE else "relative error")
    if name in EPILOGUE_TORCH:
        assert 0 < check.rel_error < c.expect.tolerance / 4  # roundings, not a lost term


@pytest.mark.parametrize("name", ["scaled_mm_bf16", "scaled_mm_fp16", "int_mm_epilogue_bf16"])
def test_epilogue_checks_flag_wrong_outputs(name):
    c = _contender(name)
    x, y = _int8(24, 128), _int8(40, 128)
    problem = Problem(x, y, 0.25)
    e, acc = problem.epilogue, exact_accumulator(x, y)
    good = c.make(problem)()
    no_bias = gemm_int8.scaled_mm(x, y, e.x_scale, e.y_scale, out_dtype=c.expect.dtype)
    assert not check_output(no_bias, acc, 0.25, c.expect, epilogue=e).ok
    plain = gemm_int8.matmul(x, y, 0.25, out_dtype=c.expect.dtype)  # alpha, not the epilogue
    assert not check_output(plain, acc, 0.25, c.expect, epilogue=e).ok
    if c.expect.exact:
        bad = good.clone()
        bad.view(torch.int16)[5, 6] ^= 1  # one ulp
        result = check_output(bad, acc, 0.25, c.expect, epilogue=e)
        assert not result.ok and result.mismatches == 1 and "(5, 6)" in result.detail
    with pytest.raises(ValueError, match="Epilogue operands"):
        check_output(good, acc, 0.25, c.expect)


def _fused_doc(plain_us: float, fused_us: float, m: int) -> dict:
    """A results document holding one shape, plain gemm_int8 and two contenders beside it."""
    infos = [
        {"name": "gemm_int8", "label": "gemm_int8", "plain": None, "expect": {}},
        {"name": "f", "label": "fused", "plain": "gemm_int8", "expect": {"epilogue": True}},
        {"name": "i", "label": "i32", "plain": "gemm_int8", "expect": {"epilogue": False}},
    ]
    entry = {"status": "ok", "median_us": fused_us, "vs_plain": fused_us / plain_us}
    row = {
        "shape": f"{m}x64x64",
        "m": m,
        "contenders": {
            "gemm_int8": {"status": "ok", "median_us": plain_us},
            "f": entry,
            "i": dict(entry),
        },
    }
    return {"contenders": infos, "results": [row]}


@pytest.mark.parametrize(
    "plain_us, fused_us, m, verdict",
    [
        (10.0, 10.9, 1, "within"),  # +9 %
        (5.0, 5.9, 128, "within"),  # +18 %, but under 1 µs
        (10.0, 11.5, 64, "OVER"),  # +15 % and 1.5 µs
        (1000.0, 1049.0, 4096, "within"),
        (1000.0, 1051.0, 4096, "OVER"),  # +5.1 %, and no µs allowance past decode
        (20.0, 21.2, 256, "OVER"),  # +6 %: the µs allowance is for decode only
    ],
)
def test_fused_budget_verdicts(plain_us, fused_us, m, verdict):
    doc = _fused_doc(plain_us, fused_us, m)
    rows = fused.rows(doc)
    assert [r[1] for r in rows] == ["fused", "i32"]
    assert rows[0][4] == f"{fused_us / plain_us:.3f}x" and rows[0][-1] == verdict
    assert rows[1][-2:] == ["-", "-"]  # int32 out: a ratio, no target
    s = fused.summary(doc, "f")
    assert s["worst"] == pytest.approx(fused_us / plain_us) and s["shapes"] == 1
    assert s["over_budget"] == ([doc["results"][0]["shape"]] if verdict == "OVER" else [])
    assert fused.summary(doc, "i")["over_budget"] == []


def test_fused_table_without_plain_timing():
    doc = _fused_doc(10.0, 10.0, 1)
    doc["results"][0]["contenders"]["f"] = {"status": "wrong", "detail": "x"}
    del doc["results"][0]["contenders"]["i"]["vs_plain"]
    rows = fused.rows(doc)
    assert rows[0][3] == "WRONG" and rows[0][4] == "-" and rows[1][-1] == "-"
    assert fused.summary(doc, "f") is None
    assert fused.rows({"contenders": [], "results": doc["results"]}) == []


def test_epilogue_run_reports_ratio_over_plain():
    chosen = select("cpu", ["gemm_int8", *EPILOGUE])
    settings = runner.Settings(reps=2, warmup=0, progress=False)
    doc = run_benchmark(
        settings, ["--epilogue"], "cpu", [S.Shape(8, 16, 32)], chosen, epilogue=True
    )
    assert doc["settings"]["epilogue"] is True
    info = {c["name"]: c for c in doc["contenders"]}
    assert info["scaled_mm_fp16"]["plain"] == "gemm_int8" and info["gemm_int8"]["plain"] is None
    assert info["scaled_mm_fp16"]["expect"]["epilogue"] is True
    assert info["gemm_int8_i32"]["expect"] == {
        "dtype": "int32",
        "exact": True,
        "scaled": False,
        "tolerance": None,
        "epilogue": False,
    }
    entries = doc["results"][0]["contenders"]
    plain_us = entries["gemm_int8"]["median_us"]
    for name in EPILOGUE:
        e = entries[name]
        assert e["status"] == "ok" and e["check"]["detail"] == "bit-exact", e
        assert e["vs_plain"] == pytest.approx(e["median_us"] / plain_us)
        assert doc["summary"][name]["vs_plain"]["plain"] == "gemm_int8"
    assert (
        "vs_plain" not in entries["gemm_int8"] and doc["summary"]["gemm_int8"]["vs_plain"] is None
    )
    text, md = report.text_report(doc), report.markdown_report(doc)
    assert "Fused epilogues: time over plain gemm_int8" in text and "/ plain" in text
    assert "## Fused epilogues" in md and "| gemm_int8 scaled fp16 |" in md
    assert "/ gemm_int8: geomean" in text


def test_epilogue_cli_on_cpu(tmp_path, capsys):
    assert _cpu_run(tmp_path, "--epilogue", "--no-plot", "--shapes", "4x32x64") == 0
    out = capsys.readouterr().out
    assert "gemm_int8 scaled bf16" in out and "Fused epilogues" in out
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [c["name"] for c in doc["contenders"]] == [
        "torch_bf16",
        "gemm_int8",
        *EPILOGUE,
        "torch_int64",
    ]


def test_wrong_fused_contender_fails_the_command(tmp_path, monkeypatch, capsys):
    def wrong(x, y, *args, out_dtype=torch.bfloat16, **kwargs):
        return torch.zeros(x.shape[0], y.shape[0], dtype=out_dtype)

    monkeypatch.setattr(gemm_int8, "scaled_mm", wrong)
    argv = ["--contenders", "gemm_int8,scaled_mm_fp16", "--no-plot", "--shapes", "4x32x64"]
    assert _cpu_run(tmp_path, *argv) == 1
    assert "wrong answer on 4x32x64 (scaled_mm_fp16)" in capsys.readouterr().err


def test_host_summary_against_trivial_op_and_baseline():
    def entry(host):
        return {"status": "ok", "host_us_per_call": host}

    doc = {
        "timer": {"empty_kernel": {"trivial_op_host_us": 7.0}},
        "contenders": [
            {"name": "torch_bf16", "baseline": True},
            {"name": "gemm_int8", "baseline": False},
        ],
        "results": [
            {"shape": "1x8x16", "contenders": {"torch_bf16": entry(15.0), "gemm_int8": entry(8.0)}},
            {
                "shape": "64x8x16",
                "contenders": {"torch_bf16": entry(11.0), "gemm_int8": entry(12.5)},
            },
            {"shape": "2x8x16", "contenders": {"torch_bf16": entry(9.0), "gemm_int8": entry(9.5)}},
            {
                "shape": "3x8x16",
                "contenders": {"torch_bf16": {"status": "failed"}, "gemm_int8": entry(9.0)},
            },
        ],
    }
    h = report.host_summary(doc, "gemm_int8")
    assert h["shapes"] == 4 and h["worst_shape"] == "64x8x16"
    assert h["over_trivial_max_us"] == pytest.approx(5.5)
    assert h["over_trivial_median_us"] == pytest.approx(2.25)  # +1.0, +2.0, +2.5, +5.5
    assert h["within_margin"] == 3  # +2.5 itself counts
    assert (h["at_or_below_baseline"], h["baseline_shapes"]) == (1, 3)
    no_host = {**doc, "timer": {"empty_kernel": {}}}
    assert report.host_summary(no_host, "gemm_int8") is None
    # The trivial op timed beside a shape wins over the run's header figure.
    doc["results"][1]["trivial_op_host_us"] = 10.5
    h = report.host_summary(doc, "gemm_int8")
    assert h["worst_shape"] == "2x8x16" and h["over_trivial_max_us"] == pytest.approx(2.5)
    assert h["within_margin"] == 4
