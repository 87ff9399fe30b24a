"""Drop-in int8 layers: :class:`Int8Linear` and whole-model :func:`convert`.

Weights are int8 with one float32 scale per output channel; activations are
quantized per token on the fly (:func:`gemm_int8.quantize`) and multiplied
with :func:`gemm_int8.scaled_mm`, bias fused, in the input's dtype.
"""

from gemm_int8.nn.convert import convert, unconvert
from gemm_int8.nn.linear import Int8Linear

__all__ = ["Int8Linear", "convert", "unconvert"]
