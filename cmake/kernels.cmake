# The CUDA core: planner/runner, shared kernels, and one translation unit per
# row of each family's config table (generated, rewritten only on change).
set(_gen_dir "${CMAKE_BINARY_DIR}/generated")
set(_sm80_sources "")
if(GEMM_INT8_GENCODE_SM80)
  set(_table "${PROJECT_SOURCE_DIR}/csrc/kernels/sm80/tile_configs.def")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_table}")
  file(STRINGS "${_table}" _rows REGEX "^GEMM_INT8_SM80_CONFIG\\(")
  foreach(row IN LISTS _rows)
    string(REGEX MATCH "^GEMM_INT8_SM80_CONFIG\\(([A-Za-z0-9_]+)," _ "${row}")
    set(_file "${_gen_dir}/sm80_${CMAKE_MATCH_1}.cu")
    set(_content "// Generated from csrc/kernels/sm80/tile_configs.def; do not edit.\n#include \"kernels/sm80/sm80_gemm.cuh\"\n${row}\n")
    file(CONFIGURE OUTPUT "${_file}" CONTENT "${_content}" @ONLY)
    list(APPEND _sm80_sources "${_file}" )
  endforeach()
  list(APPEND _sm80_sources "${PROJECT_SOURCE_DIR}/csrc/kernels/sm80/sm80_registry.cu")
endif()

set(_common_sources
  csrc/core/cuda_runner.cpp
  csrc/kernels/common/staging.cu
  csrc/kernels/simt/simt_gemm.cu)

add_library(gemm_int8_cuda STATIC ${_common_sources} ${_sm80_sources})
target_include_directories(gemm_int8_cuda PUBLIC include PRIVATE csrc)
target_link_libraries(gemm_int8_cuda PUBLIC gemm_int8_host CUDA::cudart PRIVATE gemm_int8_cutlass)
set_target_properties(gemm_int8_cuda PROPERTIES CUDA_SEPARABLE_COMPILATION OFF)
string(REPLACE ";" "," _archs_str "${GEMM_INT8_CUDA_ARCHS}")
target_compile_definitions(gemm_int8_cuda PRIVATE GEMM_INT8_CUDA_ARCHS_STR="${_archs_str}")
if(_sm80_sources)
  target_compile_definitions(gemm_int8_cuda PRIVATE GEMM_INT8_HAS_SM80=1)
endif()
target_compile_options(gemm_int8_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -Xcudafe=--diag_suppress=177>)

# Each family compiles only for the architectures it can run on.
set_source_files_properties(csrc/kernels/common/staging.cu csrc/kernels/simt/simt_gemm.cu
  PROPERTIES COMPILE_OPTIONS "${GEMM_INT8_GENCODE_ALL}")
if(_sm80_sources)
  set_source_files_properties(${_sm80_sources} PROPERTIES COMPILE_OPTIONS "${GEMM_INT8_GENCODE_SM80}")
endif()
