#include "gemm_int8/linear.h"

#include "core/gemv_rows.h"
#include "core/messages.h"
#include "core/validate_parts.h"

namespace gemm_int8 {
Status validate_linear(const LinearProblem& p) {
  if (!is_float_input(p.x.dtype))
    return Status::type_error(
        cat("x: expected float32, bfloat16 or float16, got ", dtype_name(p.x.dtype)));
  if (p.weight.dtype != DType::kInt8)
    return Status::type_error(cat("weight: expected int8, got ", dtype_name(p.weight.dtype)));
  if (p.out.dtype != p.x.dtype)
    return Status::type_error(
        cat("out: expected x's dtype ", dtype_name(p.x.dtype), ", got ", dtype_name(p.out.dtype)));
  GEMM_INT8_RETURN_IF_ERROR(check_view("x", p.x));
  GEMM_INT8_RETURN_IF_ERROR(check_view("weight", p.weight));
  GEMM_INT8_RETURN_IF_ERROR(check_view("out", p.out));
  if (p.weight.cols != p.k())
    return Status::value_error(cat("weight: expected shape (N, K=", p.k(), ") for x of shape ",
                                   shape_of(p.x), ", got ", shape_of(p.weight)));
  if (p.k() > kMaxK)
    return Status::value_error(
        cat("x: K = ", p.k(), " exceeds ", kMaxK, " (int32 accumulators could overflow)"));
  if (p.out.rows != p.m() || p.out.cols != p.n())
    return Status::value_error(
        cat("out: expected shape (", p.m(), ", ", p.n(), "), got ", shape_of(p.out)));
  if (p.out.rows > 1 && p.out.cols > 1 && p.out.col_stride != 1)
    return Status::value_error(cat("out: expected rows of unit column stride, got strides (",
                                   p.out.row_stride, ", ", p.out.col_stride, ")"));
  GEMM_INT8_RETURN_IF_ERROR(check_no_internal_overlap(p.out));
  if (p.weight.device != p.x.device || p.out.device != p.x.device)
    return Status::value_error(cat("x is on ", p.x.device, ", weight on ", p.weight.device,
                                   ", out on ", p.out.device,
                                   "; all tensors must be on one device"));
  if (!p.weight_scale.present())
    return Status::value_error("weight_scale: required (float32, size N or 1)");
  GEMM_INT8_RETURN_IF_ERROR(check_vector("weight_scale", p.weight_scale, DType::kFloat32, p.n(),
                                         "one per row of weight", true, p.x.device));
  GEMM_INT8_RETURN_IF_ERROR(check_vector("bias", p.bias, DType::kFloat32, p.n(),
                                         "one per row of weight", false, p.x.device));
  const ByteRange out = byte_range(p.out);
  for (const ByteRange& input :
       {byte_range(p.x), byte_range(p.weight), byte_range(p.weight_scale), byte_range(p.bias)})
    if (out.overlaps(input))
      return Status::value_error("out: overlaps an input; write the result to separate memory");
  return {};
}

// One or two rows (the gemv rows, csrc/kernels/gemv/tile_configs.def): on
// the H200 (2026-11-30, docs/performance.md "Issue 10 — the gemv family")
// one launch that quantizes x itself beat quantize + GEMM at every decode
// shape of a Llama-3-8B block; from three rows on the tensor-core skinny
// rows behind a separate quantize win.
int fused_linear_row(const LinearProblem& p, const DeviceInfo& device) {
  if (device.cc() < 80 || !device.sm80_kernels_built) return -1;
  if (p.m() < 1 || p.m() > kFusedLinearMaxRows || p.n() < 1 || p.n() > INT32_MAX) return -1;
  if (p.k() < gemv::kGranule || p.k() % gemv::kGranule != 0) return -1;
  if (p.m() * p.k() > gemv::kMaxFusedXBytes) return -1;
  if (row_alignment_bytes(p.x) < 16 || row_alignment_bytes(p.weight) < 16) return -1;
  return gemv::row_for(p.m());
}

}  // namespace gemm_int8
