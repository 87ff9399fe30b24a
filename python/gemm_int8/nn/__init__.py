"""Drop-in int8 layers: :class:`Int8Linear` and whole-model :func:`convert`.

Weights are int8 with one float32 scale per output channel; activations are
quantized per token on the fly (:func:`gemm_int8.quantize`) and multiplied
with :func:`gemm_int8.scaled_mm`, bias fused, in the input's dtype.

For training, :class:`Int8TrainableLinear` (``convert(model, training=True)``)
keeps float master weights and runs the forward and backward GEMMs in int8
through :func:`gemm_int8.nn.functional.int8_linear`.

:func:`fuse_siblings` (or ``convert(model, fuse_siblings=True)``) runs layers
that read the same input, such as q/k/v and gate/up, as one GEMM.
"""

from gemm_int8.nn import functional
from gemm_int8.nn.convert import convert, unconvert
from gemm_int8.nn.linear import Int8Linear, clear_quantization_cache
from gemm_int8.nn.siblings import DEFAULT_SIBLINGS, SiblingGroup, fuse_siblings, unfuse_siblings
from gemm_int8.nn.training import Int8TrainableLinear

__all__ = [
    "DEFAULT_SIBLINGS",
    "Int8Linear",
    "Int8TrainableLinear",
    "SiblingGroup",
    "clear_quantization_cache",
    "convert",
    "functional",
    "fuse_siblings",
    "unconvert",
    "unfuse_siblings",
]
