#include "gemm_int8/plan_key.h"

#include <sstream>

namespace gemm_int8 {
namespace {

uint32_t form_of(const Epilogue& e) {
  uint32_t form = 0;
  int bit = 0;
  for (const VectorView* v : {&e.x_scale, &e.y_scale, &e.bias, &e.x_zero_point, &e.y_sums}) {
    form |= uint32_t{v->present()} << bit++;
    form |= uint32_t{v->per_element()} << bit++;
  }
  return form | (static_cast<uint32_t>(e.bias.dtype) << 16);
}

template <typename A>
void mismatch(std::ostringstream& os, const char* what, const A& planned, const A& given) {
  if (os.tellp() == 0 && !(planned == given))
    os << what << ": planned " << planned << ", given " << given;
}

}  // namespace

bool PlanKey::operator==(const PlanKey& o) const {
  return m == o.m && n == o.n && k == o.k && device == o.device && x_align == o.x_align &&
         y_align == o.y_align && out_align == o.out_align && x_pitch_align == o.x_pitch_align &&
         y_pitch_align == o.y_pitch_align && x_strides[0] == o.x_strides[0] &&
         x_strides[1] == o.x_strides[1] && y_strides[0] == o.y_strides[0] &&
         y_strides[1] == o.y_strides[1] && out_strides[0] == o.out_strides[0] &&
         out_strides[1] == o.out_strides[1] && out_dtype == o.out_dtype &&
         epilogue_form == o.epilogue_form;
}

PlanKey plan_key(const GemmProblem& p) {
  PlanKey key;
  key.m = p.m(), key.n = p.n(), key.k = p.k();
  key.device = p.x.device;
  key.x_align = row_alignment_bytes(p.x);
  key.y_align = row_alignment_bytes(p.y);
  key.out_align = row_alignment_bytes(p.out);
  key.x_pitch_align = pitch_alignment_bytes(p.x);
  key.y_pitch_align = pitch_alignment_bytes(p.y);
  key.x_strides[0] = p.x.row_stride, key.x_strides[1] = p.x.col_stride;
  key.y_strides[0] = p.y.row_stride, key.y_strides[1] = p.y.col_stride;
  key.out_strides[0] = p.out.row_stride, key.out_strides[1] = p.out.col_stride;
  key.out_dtype = p.out.dtype;
  key.epilogue_form = form_of(p.epilogue);
  return key;
}

std::string plan_key_mismatch(const PlanKey& a, const PlanKey& b) {
  std::ostringstream os;
  mismatch(os, "M", a.m, b.m);
  mismatch(os, "N", a.n, b.n);
  mismatch(os, "K", a.k, b.k);
  mismatch(os, "device", a.device, b.device);
  mismatch(os, "x row alignment (bytes)", a.x_align, b.x_align);
  mismatch(os, "y row alignment (bytes)", a.y_align, b.y_align);
  mismatch(os, "out row alignment (bytes)", a.out_align, b.out_align);
  mismatch(os, "x pitch alignment (bytes)", a.x_pitch_align, b.x_pitch_align);
  mismatch(os, "y pitch alignment (bytes)", a.y_pitch_align, b.y_pitch_align);
  mismatch(os, "x row stride", a.x_strides[0], b.x_strides[0]);
  mismatch(os, "x column stride", a.x_strides[1], b.x_strides[1]);
  mismatch(os, "y row stride", a.y_strides[0], b.y_strides[0]);
  mismatch(os, "y column stride", a.y_strides[1], b.y_strides[1]);
  mismatch(os, "out row stride", a.out_strides[0], b.out_strides[0]);
  mismatch(os, "out column stride", a.out_strides[1], b.out_strides[1]);
  mismatch(os, "out dtype", a.out_dtype, b.out_dtype);
  mismatch(os, "epilogue operands", a.epilogue_form, b.epilogue_form);
  return os.str();
}

}  // namespace gemm_int8
