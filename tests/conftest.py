import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))

import gemm_int8  # noqa: E402,F401  (loads the op library once)

HAS_CUDA = torch.cuda.is_available()
requires_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")

DEVICES = ["cpu", pytest.param("cuda", marks=requires_cuda)]


def cuda_graph(fn):
    """fn() recorded into a new CUDA graph: (graph, what fn returned)."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph, out


def _cuda_families() -> list[str]:
    if not HAS_CUDA:
        return []
    families = ["auto", "simt"]
    if torch.cuda.get_device_capability() >= (8, 0):
        families += ["sm80", "skinny", "gemv"]
    if torch.cuda.get_device_capability() == (9, 0):
        families.append("sm90")
    return families


CUDA_FAMILIES = _cuda_families()


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def _force_family(monkeypatch, family: str) -> None:
    if family == "auto":
        monkeypatch.delenv("GEMM_INT8_FORCE_KERNEL", raising=False)
    else:
        monkeypatch.setenv("GEMM_INT8_FORCE_KERNEL", family)


@pytest.fixture(params=CUDA_FAMILIES or [pytest.param("none", marks=requires_cuda)])
def cuda_family(request, monkeypatch):
    """Runs a CUDA test once per kernel family through GEMM_INT8_FORCE_KERNEL."""
    _force_family(monkeypatch, request.param)
    return request.param


TARGETS = ["cpu"] + [f"cuda/{family}" for family in CUDA_FAMILIES]
if not CUDA_FAMILIES:
    TARGETS.append(pytest.param("cuda/none", marks=requires_cuda))


@pytest.fixture(params=TARGETS)
def target(request, monkeypatch):
    """The device to run on: cpu, or cuda once per kernel family. Returns the device."""
    device, _, family = request.param.partition("/")
    if device == "cuda":
        _force_family(monkeypatch, family)
    return device


@pytest.fixture
def gen():
    """A CPU generator with a random seed (GEMM_INT8_TEST_SEED to replay one);
    the seed is printed, so pytest shows it with a failure's captured output."""
    seed = int(os.environ.get("GEMM_INT8_TEST_SEED") or int.from_bytes(os.urandom(4), "little"))
    print(f"generator seed: {seed} (replay with GEMM_INT8_TEST_SEED={seed})")
    return torch.Generator().manual_seed(seed)
