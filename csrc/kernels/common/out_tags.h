// Output dtype tags for the generated translation units: each row of a
// family's table is compiled once per tag, in the order of kOutDtypes
// (kernels/launchers.h). A generated file defines GEMM_INT8_OUT to its tag
// before expanding its row; registries expand GEMM_INT8_FOR_EACH_OUT.
#pragma once

#define GEMM_INT8_FOR_EACH_OUT(X, ...) \
  X(bf16, __VA_ARGS__) X(f16, __VA_ARGS__) X(f32, __VA_ARGS__) X(i32, __VA_ARGS__)

// Pastes a name and the tag GEMM_INT8_OUT expands to: launch_row_f32.
#define GEMM_INT8_PASTE_(a, b) a##_##b
#define GEMM_INT8_PASTE(a, b) GEMM_INT8_PASTE_(a, b)
