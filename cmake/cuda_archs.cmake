# CUDA architectures, as a list of entries "NN" (machine code for sm_NN),
# "NNa" (arch-specific machine code, e.g. 90a for wgmma) or "NN-ptx" (PTX
# that the driver compiles for newer GPUs). Set GEMM_INT8_CUDA_ARCHS in the
# environment or as a cache variable.
set(_default_archs "75;80;89;90a;90-ptx")
if(DEFINED ENV{GEMM_INT8_CUDA_ARCHS} AND NOT "$ENV{GEMM_INT8_CUDA_ARCHS}" STREQUAL "")
  set(_default_archs "$ENV{GEMM_INT8_CUDA_ARCHS}")
endif()
set(GEMM_INT8_CUDA_ARCHS "${_default_archs}" CACHE STRING "CUDA architectures to build")

# We pass -gencode flags ourselves, per kernel family.
set(CMAKE_CUDA_ARCHITECTURES OFF)
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)

# gemm_int8_gencode(<out-var> MIN_CC <cc> [COLLAPSE_MAJOR])
# Turns GEMM_INT8_CUDA_ARCHS into -gencode flags, keeping entries >= MIN_CC.
# COLLAPSE_MAJOR drops sm_8x entries above the lowest one kept: sm_80 machine
# code runs on every 8.x GPU, and each extra entry costs a full compile.
function(gemm_int8_gencode out_var)
  cmake_parse_arguments(ARG "COLLAPSE_MAJOR" "MIN_CC" "" ${ARGN})
  set(flags "")
  set(seen_majors "")
  foreach(entry IN LISTS GEMM_INT8_CUDA_ARCHS)
    if(NOT entry MATCHES "^([0-9]+)(a?)(-ptx)?$")
      message(FATAL_ERROR "GEMM_INT8_CUDA_ARCHS: cannot parse '${entry}' (expected e.g. 80, 90a, 90-ptx)")
    endif()
    set(cc "${CMAKE_MATCH_1}")
    set(suffix "${CMAKE_MATCH_2}")
    set(ptx "${CMAKE_MATCH_3}")
    if(cc LESS ARG_MIN_CC)
      continue()
    endif()
    math(EXPR major "${cc} / 10")
    if(ARG_COLLAPSE_MAJOR AND NOT ptx AND NOT suffix AND major EQUAL 8 AND major IN_LIST seen_majors)
      continue()
    endif()
    if(ptx)
      list(APPEND flags "-gencode=arch=compute_${cc}${suffix},code=compute_${cc}${suffix}")
    else()
      list(APPEND flags "-gencode=arch=compute_${cc}${suffix},code=sm_${cc}${suffix}")
      list(APPEND seen_majors ${major})
    endif()
  endforeach()
  set(${out_var} "${flags}" PARENT_SCOPE)
endfunction()

gemm_int8_gencode(GEMM_INT8_GENCODE_ALL MIN_CC 75)
gemm_int8_gencode(GEMM_INT8_GENCODE_SM80 MIN_CC 80 COLLAPSE_MAJOR)
message(STATUS "gemm_int8: CUDA ${CMAKE_CUDA_COMPILER_VERSION}, archs '${GEMM_INT8_CUDA_ARCHS}'")
message(STATUS "gemm_int8: simt/common kernels: ${GEMM_INT8_GENCODE_ALL}")
if(GEMM_INT8_GENCODE_SM80)
  message(STATUS "gemm_int8: sm80 tensor-core kernels: ${GEMM_INT8_GENCODE_SM80}")
else()
  message(STATUS "gemm_int8: sm80 tensor-core kernels: not built (no arch >= 80 requested)")
endif()
