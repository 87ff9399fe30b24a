"""gemm_int8.nn training: int8_linear's autograd, Int8TrainableLinear, convert(training=True)."""

import gemm_int8
import pytest
import torch
import torch.nn.functional as F
from conftest import requires_cuda
from gemm_int8.nn import Int8TrainableLinear, convert, unconvert
from gemm_int8.nn.functional import int8_linear
from torch import nn

ALL_INT8 = {"forward": "int8", "grad_input": "int8", "grad_weight": "int8"}
ALL_BF16 = {"forward": "bf16", "grad_input": "bf16", "grad_weight": "bf16"}


def rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Relative Frobenius error."""
    actual, expected = actual.double(), expected.double()
    return ((actual - expected).norm() / expected.norm()).item()


def deq(t: torch.Tensor, granularity: str) -> torch.Tensor:
    """The float64 dequantization of gemm_int8.quantize(t, granularity)."""
    q, scale = gemm_int8.quantize(t, granularity)
    return q.double() * scale.double()


def grads(fn, x, w, b, dy):
    x, w, b = (t.detach().clone().requires_grad_() for t in (x, w, b))
    out = fn(x, w, b)
    out.backward(dy)
    return out.detach(), x.grad, w.grad, b.grad


def operands(gen, device, t=48, k=96, n=40, dtype=torch.float32):
    def rand(*shape):
        return torch.randn(shape, generator=gen).to(dtype).to(device)

    return rand(2, t // 2, k), rand(n, k) / k**0.5, rand(n), rand(2, t // 2, n)


def test_int8_gradients_match_the_dequantized_reference(device, gen):
    # Stated tolerances: each int8 GEMM is within 1e-5 (relative Frobenius) of the
    # float64 product of its dequantized operands, and within 2e-2 of the exact
    # float gradient (the quantization error of two 8-bit operands).
    x, w, b, dy = operands(gen, device)
    out, dx, dw, db = grads(lambda *a: int8_linear(*a, **ALL_INT8), x, w, b, dy)
    _, fdx, fdw, fdb = grads(F.linear, x, w, b, dy)
    x2, dy2 = x.reshape(-1, 96), dy.reshape(-1, 40)
    ref_out = deq(x2, "row") @ deq(w, "row").T + b.double()
    ref_dx = deq(dy2, "row") @ deq(w, "col")
    ref_dw = deq(dy2, "col").T @ deq(x2, "col")
    assert out.shape == (2, 24, 40) and dx.shape == x.shape and dw.shape == w.shape
    assert rel_err(out.reshape(-1, 40), ref_out) < 1e-5
    assert rel_err(dx.reshape(-1, 96), ref_dx) < 1e-5
    assert rel_err(dw, ref_dw) < 1e-5
    assert rel_err(dx, fdx) < 2e-2 and rel_err(dw, fdw) < 2e-2
    # The bias gradient is the float32 sum of dY over tokens.
    torch.testing.assert_close(db, fdb, rtol=1e-6, atol=1e-5)


def test_tensor_granularity_matches_its_reference(device, gen):
    # One scale per operand (HALO's per-tensor scaling); same tolerances.
    x, w, b, dy = operands(gen, device)
    modes = dict(ALL_INT8, granularity="tensor")
    out, dx, dw, _ = grads(lambda *a: int8_linear(*a, **modes), x, w, b, dy)
    x2, dy2 = x.reshape(-1, 96), dy.reshape(-1, 40)
    assert rel_err(out.reshape(-1, 40), deq(x2, "tensor") @ deq(w, "tensor").T + b.double()) < 1e-5
    assert rel_err(dx.reshape(-1, 96), deq(dy2, "tensor") @ deq(w, "tensor")) < 1e-5
    assert rel_err(dw, deq(dy2, "tensor").T @ deq(x2, "tensor")) < 1e-5


def test_backward_operands_are_saved_int8_and_k_major(device, gen):
    # With every GEMM in int8 the forward saves X^T and W^T already quantized
    # and contiguous (the K-major operands of dW and dX): no float activation
    # is kept, and nothing is transposed later.
    x, w, b, dy = operands(gen, device, dtype=torch.bfloat16)
    x, w = x.requires_grad_(), w.requires_grad_()
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = int8_linear(x, w, **ALL_INT8)
    matrices = [t for t in saved if t.dim() == 2 and t.numel() > t.shape[0]]
    assert [(t.dtype, tuple(t.shape)) for t in matrices] == [
        (torch.int8, (96, 48)),  # X^T (K, T)
        (torch.int8, (96, 40)),  # W^T (K, N)
    ]
    assert all(t.is_contiguous() for t in matrices)
    out.backward(dy)
    assert x.grad.shape == x.shape and w.grad.shape == w.shape


def test_bad_granularity():
    with pytest.raises(ValueError, match="granularity: expected 'row' or 'tensor'"):
        int8_linear(torch.randn(4, 16), torch.randn(8, 16), granularity="col")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_gradient_dtypes_follow_the_inputs(device, gen, dtype):
    x, w, b, dy = operands(gen, device, dtype=dtype)
    w32 = w.float()  # a float32 master weight under bfloat16 activations
    out, dx, dw, db = grads(lambda *a: int8_linear(*a, **ALL_INT8), x, w32, b, dy)
    assert out.dtype == dtype and dx.dtype == dtype
    assert dw.dtype == torch.float32 and db.dtype == dtype


@pytest.mark.parametrize("option", ["forward", "grad_input", "grad_weight"])
def test_bf16_options_equal_f_linear(device, gen, option):
    # With an option at "bf16", that GEMM is F.linear's (float32 here: a tight
    # allclose, the only difference being the summation order of the BLAS
    # call); the others stay int8.
    x, w, b, dy = operands(gen, device)
    modes = dict(ALL_INT8, **{option: "bf16"})
    out, dx, dw, _ = grads(lambda *a: int8_linear(*a, **modes), x, w, b, dy)
    fout, fdx, fdw, _ = grads(F.linear, x, w, b, dy)
    got, want = {"forward": (out, fout), "grad_input": (dx, fdx), "grad_weight": (dw, fdw)}[option]
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    # And all three at bf16 is F.linear's autograd.
    actual = grads(lambda *a: int8_linear(*a, **ALL_BF16), x, w, b, dy)
    for got, want in zip(actual, grads(F.linear, x, w, b, dy), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_all_bf16_in_bfloat16_equals_f_linear(device, gen):
    # bfloat16 tensors: the plain path is F.linear's autograd (bf16 tolerances,
    # the bias gradient being summed in float32 here).
    x, w, b, dy = operands(gen, device, dtype=torch.bfloat16)
    actual = grads(lambda *a: int8_linear(*a, **ALL_BF16), x, w, b, dy)
    for got, want in zip(actual, grads(F.linear, x, w, b, dy), strict=True):
        assert got.dtype == torch.bfloat16
        torch.testing.assert_close(got, want)


def test_no_bias_and_frozen_inputs(gen):
    x, w, _, dy = operands(gen, "cpu")
    w = w.requires_grad_()
    out = int8_linear(x, w)  # x needs no gradient: dX is not computed
    out.backward(dy)
    assert w.grad is not None and x.grad is None


def _train(int8: bool, steps: int = 200, **options) -> tuple[float, float]:
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(512, 32, generator=g)
    teacher = torch.randn(32, 8, generator=g)
    y = torch.tanh(x @ teacher / 4) + 0.05 * torch.randn(512, 8, generator=g)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 8))
    if int8:
        assert convert(model, training=True, **ALL_INT8, **options) == ["0", "2"]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with torch.no_grad():
        initial = F.mse_loss(model(x), y).item()
    for step in range(steps):
        idx = torch.arange(step * 64, (step + 1) * 64) % 512
        loss = F.mse_loss(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return initial, F.mse_loss(model(x), y).item()


def test_convergence_matches_float():
    # A 32 -> 64 -> 8 MLP, same seed and data, 200 Adam steps: with all three
    # GEMMs in int8 the final loss is within 2% (relative) of float32's
    # (measured: 0.02579 float32, 0.02581 int8, +0.08%).
    float_initial, float_final = _train(False)
    int8_initial, int8_final = _train(True)
    assert float_final < 0.1 * float_initial and int8_final < 0.1 * int8_initial
    assert abs(int8_final - float_final) <= 0.02 * float_final, (float_final, int8_final)


def test_convergence_with_hadamard_matches_float():
    # The same MLP with HALO's rotation on both layers (K = 32 and 64): final
    # loss within 2% of float32's.
    _, float_final = _train(False)
    _, rotated_final = _train(True, hadamard=True)
    assert abs(rotated_final - float_final) <= 0.02 * float_final, (float_final, rotated_final)


def test_hadamard_gradients_match_the_rotated_reference(device, gen):
    # K = 96 = 12 * 8. Forward: q(X R) q(W R)^T; backward on the rotated
    # operands, then the rotation undone: dX = (q(dY) q((W R)^T)^T) R and
    # dW = (q(dY^T) q((X R)^T)^T) R. Tolerances as in the unrotated test.
    x, w, b, dy = operands(gen, device)
    modes = dict(ALL_INT8, hadamard=True)
    out, dx, dw, _ = grads(lambda *a: int8_linear(*a, **modes), x, w, b, dy)
    _, fdx, fdw, _ = grads(F.linear, x, w, b, dy)
    x2, dy2 = x.reshape(-1, 96), dy.reshape(-1, 40)
    rotation = gemm_int8.hadamard(torch.eye(96, device=device)).double()
    xr, wr = gemm_int8.hadamard(x2), gemm_int8.hadamard(w)
    assert rel_err(out.reshape(-1, 40), deq(xr, "row") @ deq(wr, "row").T + b.double()) < 1e-5
    assert rel_err(dx.reshape(-1, 96), deq(dy2, "row") @ deq(wr, "col") @ rotation) < 1e-5
    assert rel_err(dw, deq(dy2, "col").T @ deq(xr, "col") @ rotation) < 1e-5
    assert rel_err(dx, fdx) < 2e-2 and rel_err(dw, fdw) < 2e-2


def test_hadamard_autograd_is_the_rotation(device, gen):
    x = torch.randn((6, 28), generator=gen).to(device).requires_grad_()
    g = torch.randn((6, 28), generator=gen).to(device)
    gemm_int8.hadamard(x).backward(g)
    assert torch.equal(x.grad, gemm_int8.hadamard(g))


def _weight_step(layer, x, dy):
    x = x.clone().requires_grad_()
    layer.zero_grad()
    y = layer(x)
    y.backward(dy)
    return y.detach(), x.grad, layer.weight.grad, layer.bias.grad


def _count_quantize_with_transpose(monkeypatch, counted):
    """The tensors int8_linear passes to quantize_with_transpose for which counted(t) holds."""
    import gemm_int8.nn.functional as functional

    calls = []
    real = functional.quantize_with_transpose

    def counting(t, granularity="row"):
        if counted(t):
            calls.append(t)
        return real(t, granularity)

    monkeypatch.setattr(functional, "quantize_with_transpose", counting)
    return calls


def _count_activation_quantizations(monkeypatch, k):
    """Counts quantize_with_transpose calls on tensors of k columns (activations here)."""
    return _count_quantize_with_transpose(
        monkeypatch, lambda t: t.shape[-1] == k and t.shape[0] != 40
    )


def test_reused_weight_quantization_is_exact_and_follows_updates(device, gen, monkeypatch):
    # With reuse, a second micro-batch on an unchanged weight quantizes only x
    # and dY; an in-place update (what an optimizer step does) re-quantizes.
    # Every result is bit-identical to the layer without reuse.
    weight_calls = _count_quantize_with_transpose(monkeypatch, lambda t: t.shape == (40, 96))
    reuse = Int8TrainableLinear(96, 40, device=device, **ALL_INT8, reuse_weight_quantization=True)
    plain = Int8TrainableLinear(96, 40, device=device, **ALL_INT8)
    plain.load_state_dict(reuse.state_dict())
    x, _, _, dy = operands(gen, device)
    for i, update in enumerate((False, False, True, False)):
        if update:
            with torch.no_grad():
                reuse.weight.mul_(1.5)
                plain.weight.mul_(1.5)
        before = len(weight_calls)
        got = _weight_step(reuse, x, dy)
        quantized_here = len(weight_calls) - before
        expected = _weight_step(plain, x, dy)
        for a, e in zip(got, expected, strict=True):
            assert torch.equal(a, e)
        assert quantized_here == (1 if i == 0 or update else 0), (i, quantized_here)
    assert "reuse_weight_quantization=True" in repr(reuse)


@requires_cuda
def test_reused_weight_quantization_is_not_baked_into_a_graph(gen):
    layer = Int8TrainableLinear(96, 40, device="cuda", **ALL_INT8, reuse_weight_quantization=True)
    x, _, _, dy = operands(gen, "cuda")
    x = x.requires_grad_()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            layer(x).backward(dy)
    torch.cuda.current_stream().wait_stream(side)
    layer(x).backward(dy)  # an eager forward on the default stream fills the cache
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = layer(x)
    with torch.no_grad():
        layer.weight.mul_(-1)
    graph.replay()
    torch.cuda.synchronize()
    fresh = Int8TrainableLinear(96, 40, device="cuda", **ALL_INT8)
    fresh.load_state_dict(layer.state_dict())
    assert torch.equal(y, fresh(x))


def test_bad_inputs():
    x, w = torch.randn(4, 16), torch.randn(8, 16)
    with pytest.raises(TypeError, match="weight"):
        int8_linear(x, w.to(torch.int8))
    with pytest.raises(TypeError, match="^x"):
        int8_linear(x.to(torch.int32), w)
    with pytest.raises(ValueError, match="in_features=16"):
        int8_linear(torch.randn(4, 12), w)
    with pytest.raises(ValueError, match="bias"):
        int8_linear(x, w, torch.randn(7))
    with pytest.raises(ValueError, match="grad_weight"):
        int8_linear(x, w, grad_weight="fp8")
    with pytest.raises(ValueError, match="in_features=16"):
        Int8TrainableLinear(16, 8)(torch.randn(3, 12))
    with pytest.raises(ValueError, match="forward"):
        Int8TrainableLinear(16, 8, forward="int4")
    with pytest.raises(ValueError, match="training=True"):
        convert(nn.Sequential(nn.Linear(4, 4)), grad_weight="int8")
    with pytest.raises(ValueError, match="Hadamard rotation needs rows of n = 2"):
        Int8TrainableLinear(36, 8, hadamard=True)
    with pytest.raises(TypeError, match="hadamard: expected a bool"):
        int8_linear(x, w, hadamard="yes")
    with pytest.raises(ValueError, match="reuse_weight_quantization: not with hadamard"):
        int8_linear(x, w, hadamard=True, reuse_weight_quantization=True)


def test_module_from_linear_and_convert(gen):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    model.lm_head = nn.Linear(4, 4)
    params = [p for p in model.parameters()]
    assert convert(model, training=True, grad_weight="int8") == ["0", "2"]
    assert type(model.lm_head) is nn.Linear  # the same lm_head rule as convert
    layer = model[0]
    assert isinstance(layer, Int8TrainableLinear) and layer.grad_weight_mode == "int8"
    assert list(model.parameters()) == params  # shared, not copied
    assert sorted(layer.state_dict()) == ["bias", "weight"]
    assert "grad_weight=int8" in repr(layer)
    x = torch.randn((3, 5, 16), generator=gen)
    model(x).sum().backward()
    assert all(p.grad is not None for p in model[0].parameters())
    assert unconvert(model) == ["0", "2"]
    assert type(model[0]) is nn.Linear and list(model.parameters()) == params
    single = Int8TrainableLinear.from_linear(nn.Linear(8, 2, bias=False))
    assert single.bias is None and single(torch.randn(3, 8)).shape == (3, 2)


def _loss(model, x):
    return model(x).square().mean()


def _step(model, x):
    loss = _loss(model, x)
    loss.backward()
    return loss


def test_compile_forward_and_backward(gen):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 8))
    convert(model, training=True, **ALL_INT8)
    x = torch.randn((16, 32), generator=gen)
    eager = _step(model, x)
    eager_grads = [p.grad.clone() for p in model.parameters()]

    def check(loss):
        # Inductor's GELU and mean round differently from eager by an ulp, which
        # can flip an int8 rounding of dY: compare within a quantization step.
        torch.testing.assert_close(loss, eager, rtol=1e-4, atol=1e-6)
        for p, g in zip(model.parameters(), eager_grads, strict=True):
            assert rel_err(p.grad, g) < 1e-2
        model.zero_grad()

    model.zero_grad()
    # The autograd.Function traces under fullgraph: dynamo traces its forward,
    # AOTAutograd compiles its backward (the ops have fake impls), so the
    # loss.backward() below runs the compiled backward graph.
    compiled_loss = torch.compile(_loss, fullgraph=True)
    loss = compiled_loss(model, x)
    loss.backward()
    check(loss)
    # A whole step with loss.backward() inside cannot be fullgraph: dynamo does
    # not trace Tensor.backward() (a graph break unrelated to int8_linear,
    # "trace_autograd_ops is off"); without fullgraph it compiles around it.
    check(torch.compile(_step)(model, x))


@requires_cuda
def test_cuda_training_step_has_no_sync_and_captures():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 16)).cuda()
    convert(model, training=True, **ALL_INT8)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=True)
    x = torch.randn(32, 64, device="cuda")

    def step():
        optimizer.zero_grad(set_to_none=False)
        loss = model(x).square().mean()
        loss.backward()
        optimizer.step()
        return loss

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):  # warm up (allocator, Adam state) off the default stream
            step()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        loss = step()
    before = [p.detach().clone() for p in model.parameters()]
    graph.replay()
    torch.cuda.synchronize()
    assert torch.isfinite(loss)
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))


def _sibling_step(layers, x, dys):
    x = x.detach().clone().requires_grad_()
    outs = [layer(x) for layer in layers]
    torch.autograd.backward(outs, dys)
    return [o.detach() for o in outs], x.grad, [layer.weight.grad for layer in layers]


def test_layers_reading_one_input_quantize_it_once(device, gen, monkeypatch):
    # gate and up (or q, k, v) read the same x: its int8 forms are made once per
    # forward and give the same bits as separate quantizations.
    from gemm_int8.nn import clear_quantization_cache

    calls = _count_activation_quantizations(monkeypatch, 96)
    layers = [Int8TrainableLinear(96, 40, device=device, **ALL_INT8) for _ in range(3)]
    x, _, _, dy = operands(gen, device)
    dys = [dy * (i + 1) for i in range(3)]
    shared = _sibling_step(layers, x, dys)
    assert len(calls) == 1
    for layer in layers:
        layer.weight.grad = None
    separate = []
    for i, layer in enumerate(layers):
        clear_quantization_cache()
        xi = x.detach().clone().requires_grad_()
        out = layer(xi)
        out.backward(dys[i])
        separate.append((out.detach(), xi.grad, layer.weight.grad))
    assert len(calls) == 4
    # x.grad sums the three layers' dX; autograd's order of that float sum is its own.
    torch.testing.assert_close(shared[1], sum(s[1] for s in separate), rtol=1e-6, atol=1e-6)
    for i in range(3):
        assert torch.equal(shared[0][i], separate[i][0])
        assert torch.equal(shared[2][i], separate[i][2])


def test_a_modified_input_is_quantized_again(device, gen, monkeypatch):
    calls = _count_activation_quantizations(monkeypatch, 96)
    first, second = (Int8TrainableLinear(96, 40, device=device, **ALL_INT8) for _ in range(2))
    x = operands(gen, device)[0].requires_grad_()
    h = x * 1.0
    first(h)
    with torch.no_grad():
        h.mul_(2.0)  # in place: a new version of the same tensor
    y2 = second(h)
    assert len(calls) == 2
    fresh = Int8TrainableLinear(96, 40, device=device, **ALL_INT8)
    fresh.load_state_dict(second.state_dict())
    assert torch.equal(y2, fresh(h.detach().clone()))
