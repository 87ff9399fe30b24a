"""The environment block of the JSON, known device peaks, and SM clock readings.

Everything here is best effort: a missing nvidia-smi, pynvml or git must
never stop a benchmark, so each probe returns None when it cannot answer.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import torch

__all__ = ["ClockReader", "collect_environment", "cpu_model", "known_peak"]

# Dense (no sparsity) tensor-core peaks in TOPS / TFLOPS at boost clock, from
# NVIDIA's datasheets. First matching pattern wins, so variants come first.
_PEAKS = [
    (r"H100.*PCIe", "H100 PCIe", {"int8": 1513.0, "bf16": 756.0}),
    (r"H100.*NVL", "H100 NVL", {"int8": 1671.0, "bf16": 835.0}),
    (r"H200.*NVL", "H200 NVL", {"int8": 1671.0, "bf16": 835.0}),
    (r"GH200", "GH200", {"int8": 1979.0, "bf16": 989.0}),
    (r"H200", "H200 SXM", {"int8": 1979.0, "bf16": 989.0}),
    (r"H100", "H100 SXM", {"int8": 1979.0, "bf16": 989.0}),
    (r"A100", "A100", {"int8": 624.0, "bf16": 312.0}),
    (r"L40S", "L40S", {"int8": 733.0, "bf16": 362.0}),
    (r"RTX 4090$", "RTX 4090", {"int8": 661.0, "bf16": 165.0}),
]


def known_peak(device_name: str) -> tuple[str, dict] | None:
    """(matched entry, {"int8": TOPS, "bf16": TFLOPS}) for a known GPU, else None."""
    for pattern, entry, peaks in _PEAKS:
        if re.search(pattern, device_name.strip(), re.IGNORECASE):
            return entry, dict(peaks)
    return None


def _run(cmd: list[str], timeout: float = 10.0) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


_SMI_FIELDS = [
    "driver_version",
    "clocks.sm",
    "clocks.max.sm",
    "clocks.mem",
    "power.limit",
    "temperature.gpu",
    "pstate",
]


def _nvidia_smi(device: torch.device) -> dict | None:
    """nvidia-smi's view of the GPU, addressed by UUID so CUDA_VISIBLE_DEVICES cannot mislead."""
    uuid = getattr(torch.cuda.get_device_properties(device), "uuid", None)
    query = ["nvidia-smi", f"--query-gpu={','.join(_SMI_FIELDS)}", "--format=csv,noheader,nounits"]
    text = _run([*query, "-i", f"GPU-{uuid}"]) if uuid else None
    if not text:
        # Unaddressable by UUID: trust an unfiltered answer only if it can mean one GPU.
        text = _run(query)
        if not text or len(text.splitlines()) != 1:
            return None
    values = [v.strip() for v in text.splitlines()[0].split(",")]
    if len(values) != len(_SMI_FIELDS):
        return None
    return {
        f: (None if v in ("[N/A]", "N/A", "") else v)
        for f, v in zip(_SMI_FIELDS, values, strict=True)
    }


class ClockReader:
    """Reads the current SM clock (MHz), through pynvml if torch can use it, else nvidia-smi."""

    def __init__(self, device: torch.device):
        self.device = device
        self.method: str | None = None
        for method in ("pynvml", "nvidia-smi"):
            if self._read(method) is not None:
                self.method = method
                break

    def _read(self, method: str) -> int | None:
        try:
            if method == "pynvml":
                return int(torch.cuda.clock_rate(self.device))
            info = _nvidia_smi(self.device)
            return int(float(info["clocks.sm"])) if info and info.get("clocks.sm") else None
        except Exception:  # any failure only means "no reading"
            return None

    def read(self) -> int | None:
        return self._read(self.method) if self.method else None


def _git_info() -> dict:
    """Commit of the checkout this package was imported from, if it is one."""
    package = Path(__file__).resolve().parents[1]
    top = _run(["git", "-C", str(package), "rev-parse", "--show-toplevel"], timeout=5)
    # Only trust a checkout whose python/gemm_int8 is this package, not some
    # unrelated repository that happens to contain a site-packages folder.
    if not top or (Path(top) / "python" / "gemm_int8").resolve() != package:
        return {"git_commit": None, "git_dirty": None}
    commit = _run(["git", "-C", top, "rev-parse", "HEAD"], timeout=5)
    status = _run(["git", "-C", top, "status", "--porcelain", "--untracked-files=no"], timeout=5)
    dirty = None if commit is None or status is None else bool(status)
    return {"git_commit": commit, "git_dirty": dirty}


def _library_info() -> dict:
    info: dict = {"version": None, "library": None}
    try:
        import gemm_int8
        from gemm_int8 import _library

        info["version"] = getattr(gemm_int8, "__version__", None)
        info["library"] = str(_library.library_path())
    except Exception as exc:
        info["error"] = str(exc)
    info.update(_git_info())
    return info


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cuda_driver_version() -> str | None:
    """The CUDA version the driver supports (cuDriverGetVersion), e.g. "13.0"."""
    try:
        import ctypes

        version = ctypes.c_int()
        if ctypes.CDLL("libcuda.so.1").cuDriverGetVersion(ctypes.byref(version)) != 0:
            return None
        return f"{version.value // 1000}.{version.value % 1000 // 10}"
    except (OSError, AttributeError):
        return None


def _gpu_info(device: torch.device) -> dict:
    props = torch.cuda.get_device_properties(device)
    info = {
        "name": props.name,
        "capability": f"{props.major}.{props.minor}",
        "sm_count": props.multi_processor_count,
        "memory_gib": round(props.total_memory / 2**30, 2),
        "l2_bytes": getattr(props, "L2_cache_size", None),
        "cuda_driver_api": None,
        "driver": None,
        "sm_clock_mhz_after_run": None,
        "sm_clock_max_mhz": None,
        "mem_clock_mhz": None,
        "power_limit_w": None,
        "temperature_c_after_run": None,
        "pstate_after_run": None,
    }
    info["cuda_driver_api"] = _cuda_driver_version()
    smi = _nvidia_smi(device)
    if smi:
        info["driver"] = smi["driver_version"]
        info["sm_clock_mhz_after_run"] = smi["clocks.sm"]
        info["sm_clock_max_mhz"] = smi["clocks.max.sm"]
        info["mem_clock_mhz"] = smi["clocks.mem"]
        info["power_limit_w"] = smi["power.limit"]
        info["temperature_c_after_run"] = smi["temperature.gpu"]
        info["pstate_after_run"] = smi["pstate"]
    return info


def collect_environment(device: torch.device) -> dict:
    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "torch_git": getattr(torch.version, "git_version", None),
        "triton": None,
        "gemm_int8": _library_info(),
        "cpu": {
            "model": cpu_model(),
            "logical_cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
        "gpu": _gpu_info(device) if device.type == "cuda" else None,
        "env_vars": {
            k: os.environ[k]
            for k in ("CUDA_VISIBLE_DEVICES", "GEMM_INT8_LIBRARY", "OMP_NUM_THREADS")
            if k in os.environ
        },
    }
    try:
        import triton

        env["triton"] = triton.__version__
    except Exception:
        pass
    return env
