# PyTorch, located through the Python that drives the build. We link the C++
# libraries directly (no libtorch_python): the op library is Python-ABI free.
find_package(Python COMPONENTS Interpreter REQUIRED)
execute_process(
  COMMAND "${Python_EXECUTABLE}" -c
"import os, torch
print(os.path.join(os.path.dirname(torch.__file__), 'include'))
print(os.path.join(os.path.dirname(torch.__file__), 'lib'))
print(int(torch._C._GLIBCXX_USE_CXX11_ABI))
print(torch.version.cuda or '')
print(torch.__version__)"
  OUTPUT_VARIABLE _torch_info OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "PyTorch not found by ${Python_EXECUTABLE}: install torch first (see README.md)")
endif()
string(REPLACE "\n" ";" _torch_info "${_torch_info}")
list(GET _torch_info 0 TORCH_INCLUDE_DIR)
list(GET _torch_info 1 TORCH_LIB_DIR)
list(GET _torch_info 2 TORCH_CXX11_ABI)
list(GET _torch_info 3 TORCH_CUDA_VERSION)
list(GET _torch_info 4 TORCH_VERSION)
message(STATUS "gemm_int8: torch ${TORCH_VERSION} (CUDA '${TORCH_CUDA_VERSION}') from ${TORCH_LIB_DIR}")

if(GEMM_INT8_WITH_CUDA)
  if(TORCH_CUDA_VERSION STREQUAL "")
    message(FATAL_ERROR "torch ${TORCH_VERSION} is a CPU-only build; install a CUDA build of torch "
                        "or configure with -DGEMM_INT8_WITH_CUDA=OFF")
  endif()
  string(REGEX MATCH "^[0-9]+" _torch_cuda_major "${TORCH_CUDA_VERSION}")
  string(REGEX MATCH "^[0-9]+" _nvcc_major "${CMAKE_CUDA_COMPILER_VERSION}")
  if(NOT _torch_cuda_major STREQUAL _nvcc_major)
    message(FATAL_ERROR
      "CUDA mismatch: torch ${TORCH_VERSION} was built with CUDA ${TORCH_CUDA_VERSION} but nvcc is "
      "${CMAKE_CUDA_COMPILER_VERSION}. Linking both runtimes into one process is not supported: "
      "install a torch built for CUDA ${_nvcc_major}.x or point CUDACXX at a CUDA ${_torch_cuda_major}.x nvcc.")
  endif()
endif()

add_library(gemm_int8_torch INTERFACE)
target_include_directories(gemm_int8_torch SYSTEM INTERFACE
  "${TORCH_INCLUDE_DIR}" "${TORCH_INCLUDE_DIR}/torch/csrc/api/include")
target_compile_definitions(gemm_int8_torch INTERFACE _GLIBCXX_USE_CXX11_ABI=${TORCH_CXX11_ABI})
set(_torch_libs c10 torch_cpu)
if(GEMM_INT8_WITH_CUDA)
  list(APPEND _torch_libs c10_cuda torch_cuda)
endif()
foreach(lib IN LISTS _torch_libs)
  target_link_libraries(gemm_int8_torch INTERFACE "${TORCH_LIB_DIR}/lib${lib}.so")
endforeach()
if(GEMM_INT8_WITH_CUDA)
  target_link_libraries(gemm_int8_torch INTERFACE CUDA::cudart)
endif()
