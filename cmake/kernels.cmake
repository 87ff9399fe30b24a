# The CUDA core: planner/runner, shared kernels, and one translation unit per
# row of each family's config table (generated, rewritten only on change).

# gemm_int8_family_sources(<out-var> <family>): one .cu per row of
# csrc/kernels/<family>/tile_configs.def and output dtype (tags as in
# csrc/kernels/common/out_tags.h), plus the family's registry.
function(gemm_int8_family_sources out_var family)
  string(TOUPPER "${family}" upper)
  set(table "${PROJECT_SOURCE_DIR}/csrc/kernels/${family}/tile_configs.def")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${table}")
  file(STRINGS "${table}" rows REGEX "^GEMM_INT8_${upper}_CONFIG\\(")
  set(sources "")
  foreach(row IN LISTS rows)
    string(REGEX MATCH "^GEMM_INT8_${upper}_CONFIG\\(([A-Za-z0-9_]+)," _ "${row}")
    set(name "${CMAKE_MATCH_1}")
    foreach(out bf16 f16 f32 i32)
      set(file "${CMAKE_BINARY_DIR}/generated/${family}_${name}_${out}.cu")
      file(CONFIGURE OUTPUT "${file}" @ONLY CONTENT
        "// Generated from csrc/kernels/${family}/tile_configs.def; do not edit.\n#include \"kernels/${family}/${family}_gemm.cuh\"\n#define GEMM_INT8_OUT ${out}\n${row}\n")
      list(APPEND sources "${file}")
    endforeach()
    # sm90: the plain bfloat16 matmul's own kernel (kernels/sm90/sm90_plain.cuh).
    if(family STREQUAL "sm90")
      set(file "${CMAKE_BINARY_DIR}/generated/${family}_${name}_plain.cu")
      file(CONFIGURE OUTPUT "${file}" @ONLY CONTENT
        "// Generated from csrc/kernels/${family}/tile_configs.def; do not edit.\n#include \"kernels/sm90/sm90_plain.cuh\"\n${row}\n")
      list(APPEND sources "${file}")
    endif()
  endforeach()
  list(APPEND sources "${PROJECT_SOURCE_DIR}/csrc/kernels/${family}/${family}_registry.cu")
  set(${out_var} "${sources}" PARENT_SCOPE)
endfunction()

add_library(gemm_int8_cuda STATIC
  csrc/core/cuda_runner.cpp
  csrc/core/fused_linear_cuda.cpp
  csrc/kernels/common/staging.cu
  csrc/kernels/common/row_sums.cu
  csrc/kernels/common/quantize.cu
  csrc/kernels/common/quantize_transpose.cu
  csrc/kernels/common/hadamard.cu
  csrc/kernels/simt/simt_gemm.cu)
target_include_directories(gemm_int8_cuda PUBLIC include PRIVATE csrc)
target_link_libraries(gemm_int8_cuda PUBLIC gemm_int8_host CUDA::cudart PRIVATE gemm_int8_cutlass)
string(REPLACE ";" "," _archs_str "${GEMM_INT8_CUDA_ARCHS}")
target_compile_definitions(gemm_int8_cuda PRIVATE GEMM_INT8_CUDA_ARCHS_STR="${_archs_str}")
target_compile_options(gemm_int8_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -Xcudafe=--diag_suppress=177>)

# Each family compiles only for the architectures it can run on.
set_source_files_properties(csrc/kernels/common/staging.cu csrc/kernels/simt/simt_gemm.cu
  PROPERTIES COMPILE_OPTIONS "${GEMM_INT8_GENCODE_ALL}")
set_source_files_properties(csrc/kernels/common/row_sums.cu csrc/kernels/common/quantize.cu
  csrc/kernels/common/quantize_transpose.cu csrc/kernels/common/hadamard.cu
  PROPERTIES COMPILE_OPTIONS "${GEMM_INT8_GENCODE_ALL}")
foreach(family sm80 sm90)
  string(TOUPPER "${family}" upper)
  if(GEMM_INT8_GENCODE_${upper})
    gemm_int8_family_sources(_sources ${family})
    target_sources(gemm_int8_cuda PRIVATE ${_sources})
    set_source_files_properties(${_sources} PROPERTIES COMPILE_OPTIONS "${GEMM_INT8_GENCODE_${upper}}")
    target_compile_definitions(gemm_int8_cuda PRIVATE GEMM_INT8_HAS_${upper}=1)
  endif()
endforeach()
# Families whose rows compile in seconds share one translation unit:
# gemm_int8_single_unit_family(<family> <source> <gencode flags>).
function(gemm_int8_single_unit_family family source gencode)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
    "${PROJECT_SOURCE_DIR}/csrc/kernels/${family}/tile_configs.def")
  target_sources(gemm_int8_cuda PRIVATE ${source})
  set_source_files_properties(${source} PROPERTIES COMPILE_OPTIONS "${gencode}")
endfunction()
# skinny (mma.sync) and gemv (dp4a) run on sm_80 and newer: they share the
# sm80 family's flags.
if(GEMM_INT8_GENCODE_SM80)
  gemm_int8_single_unit_family(skinny csrc/kernels/skinny/skinny_gemm.cu "${GEMM_INT8_GENCODE_SM80}")
  gemm_int8_single_unit_family(gemv csrc/kernels/gemv/gemv.cu "${GEMM_INT8_GENCODE_SM80}")
endif()
