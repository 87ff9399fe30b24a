"""Problem shapes: named sets, model presets and explicit ``MxNxK`` lists.

A shape is the GEMM ``out[M, N] = x[M, K] @ y[N, K].T``: M is the token (row)
count, N the output features, K the reduction length, always written MxNxK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "MODELS",
    "SHAPE_SETS",
    "Model",
    "Shape",
    "merge_shapes",
    "model_shapes",
    "parse_shape",
    "parse_shape_list",
    "set_shapes",
]


@dataclass(frozen=True)
class Shape:
    m: int
    n: int
    k: int
    # Where the shape came from ("seed", "llama3-8b:qkv_proj", ...); not part of its identity.
    tags: tuple[str, ...] = field(default=(), compare=False)

    @property
    def label(self) -> str:
        return f"{self.m}x{self.n}x{self.k}"

    @property
    def flops(self) -> int:
        return 2 * self.m * self.n * self.k

    @property
    def min_bytes(self) -> int:
        """Bytes any kernel must move once: int8 x and y in, bfloat16 out."""
        return self.m * self.k + self.n * self.k + 2 * self.m * self.n


def _grid(ms, nks, tag):
    return [Shape(m, n, k, (tag,)) for n, k in nks for m in ms]


# The original library's nine shapes: Llama/Mistral-7B-class MLP and attention widths.
_SEED_NK = [(4096, 4096), (14336, 4096), (4096, 14336)]

SHAPE_SETS: dict[str, list[Shape]] = {
    "seed": _grid([512, 1024, 2048], _SEED_NK, "seed"),
    # Generation-time batches: small M is where launch overhead and memory bandwidth dominate.
    "decode": _grid([1, 8, 16, 32, 64, 128], _SEED_NK, "decode"),
    "large": [
        Shape(4096, 28672, 8192, ("large",)),
        Shape(4096, 8192, 28672, ("large",)),
        Shape(8192, 8192, 8192, ("large",)),
    ],
    # Sizes that are not multiples of the tile or of 8; 4096^3 is the aligned neighbour.
    "ragged": [
        Shape(4095, 4097, 4096, ("ragged",)),
        Shape(1000, 1000, 1000, ("ragged",)),
        Shape(3, 11008, 4096, ("ragged",)),
        Shape(2047, 14337, 4095, ("ragged",)),
        Shape(4096, 4096, 4096, ("ragged",)),
    ],
    # Used in place of the GPU sets when no CUDA GPU is present: small enough for any CPU.
    "cpu": [
        Shape(64, 256, 256, ("cpu",)),
        Shape(128, 512, 512, ("cpu",)),
        Shape(256, 1024, 1024, ("cpu",)),
    ],
}
# "all" means every GPU set; the CPU set would only add noise to a GPU table.
SET_NAMES = [*SHAPE_SETS, "all"]
DEFAULT_SETS = ("seed", "decode")


@dataclass(frozen=True)
class Model:
    """A decoder block's projection widths, from the model's config.json."""

    title: str
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int

    def linears(self, fused: bool = True) -> list[tuple[str, int, int]]:
        """(layer, N, K) of each Linear; fused as vLLM/TensorRT-LLM run them, or as in HF."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        if fused:
            return [
                ("qkv_proj", q + 2 * kv, self.hidden),
                ("o_proj", self.hidden, q),
                ("gate_up_proj", 2 * self.intermediate, self.hidden),
                ("down_proj", self.hidden, self.intermediate),
            ]
        return [
            ("q_proj", q, self.hidden),
            ("k_proj", kv, self.hidden),
            ("v_proj", kv, self.hidden),
            ("o_proj", self.hidden, q),
            ("gate_proj", self.intermediate, self.hidden),
            ("up_proj", self.intermediate, self.hidden),
            ("down_proj", self.hidden, self.intermediate),
        ]


MODELS: dict[str, Model] = {
    "llama3-8b": Model("Llama-3-8B", 4096, 14336, 32, 8, 128),
    "llama3-70b": Model("Llama-3-70B", 8192, 28672, 64, 8, 128),
    "llama3-405b": Model("Llama-3.1-405B", 16384, 53248, 128, 8, 128),
    "mistral-7b": Model("Mistral-7B", 4096, 14336, 32, 8, 128),
    "qwen2.5-7b": Model("Qwen2.5-7B", 3584, 18944, 28, 4, 128),
    "qwen2.5-72b": Model("Qwen2.5-72B", 8192, 29568, 64, 8, 128),
}

_SHAPE_RE = re.compile(r"^\s*(-?\d+)\s*[xX*]\s*(-?\d+)\s*[xX*]\s*(-?\d+)\s*$")


def parse_shape(text: str) -> Shape:
    """``"512x4096x4096"`` -> Shape(512, 4096, 4096); ValueError with a readable reason."""
    match = _SHAPE_RE.match(text)
    if not match:
        raise ValueError(
            f"bad shape {text!r}: expected MxNxK with three integers, e.g. 512x4096x4096"
        )
    m, n, k = (int(g) for g in match.groups())
    if min(m, n, k) <= 0:
        raise ValueError(f"bad shape {text!r}: M, N and K must all be positive")
    return Shape(m, n, k, ("explicit",))


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_shape_list(text: str) -> list[Shape]:
    shapes = [parse_shape(part) for part in _split(text)]
    if not shapes:
        raise ValueError("no shapes given: expected a comma-separated list of MxNxK")
    return shapes


def set_shapes(names: str) -> list[Shape]:
    """Shapes of comma-separated set names, ``all`` being every set except ``cpu``."""
    shapes: list[Shape] = []
    for name in _split(names.lower()):
        if name == "all":
            shapes += [s for key, group in SHAPE_SETS.items() if key != "cpu" for s in group]
        elif name in SHAPE_SETS:
            shapes += SHAPE_SETS[name]
        else:
            raise ValueError(f"unknown shape set {name!r}; known sets: {', '.join(SET_NAMES)}")
    if not shapes:
        raise ValueError(f"no shape set named; known sets: {', '.join(SET_NAMES)}")
    return shapes


def parse_tokens(text: str) -> list[int]:
    try:
        tokens = [int(part) for part in _split(text)]
    except ValueError:
        raise ValueError(
            f"bad token counts {text!r}: expected integers such as 2048 or 1,16,2048"
        ) from None
    if not tokens or min(tokens) <= 0:
        raise ValueError(f"bad token counts {text!r}: they must be positive")
    return tokens


def model_shapes(names: str, tokens: list[int], fused: bool = True) -> list[Shape]:
    """Every Linear of each named model at each token count (M = tokens)."""
    shapes: list[Shape] = []
    for name in _split(names.lower()):
        if name not in MODELS:
            raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
        for t in tokens:
            for layer, n, k in MODELS[name].linears(fused):
                shapes.append(Shape(t, n, k, (f"{name}:{layer}",)))
    return shapes


def merge_shapes(shapes: list[Shape]) -> list[Shape]:
    """Drop repeats, keeping first-seen order and the union of their tags."""
    merged: dict[tuple[int, int, int], Shape] = {}
    for s in shapes:
        key = (s.m, s.n, s.k)
        if key in merged:
            old = merged[key]
            tags = old.tags + tuple(t for t in s.tags if t not in old.tags)
            merged[key] = Shape(s.m, s.n, s.k, tags)
        else:
            merged[key] = s
    return list(merged.values())
