# CUTLASS headers: from CUTLASS_DIR (a CUTLASS checkout or the wheel's
# cutlass_library/source folder), else from the pinned nvidia-cutlass package
# of the Python that drives the build. Never vendored.
set(CUTLASS_DIR "$ENV{CUTLASS_DIR}" CACHE PATH "CUTLASS source root (holds include/cutlass)")
if(NOT CUTLASS_DIR)
  find_package(Python COMPONENTS Interpreter REQUIRED)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
      "import importlib.util as u, os; s = u.find_spec('cutlass_library'); print(os.path.join(s.submodule_search_locations[0], 'source'))"
    OUTPUT_VARIABLE _cutlass_root OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc ERROR_QUIET)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR
      "CUTLASS not found: install the pinned headers with 'pip install --no-deps nvidia-cutlass==4.2.0.0' "
      "or set CUTLASS_DIR to a CUTLASS source tree.")
  endif()
  set(CUTLASS_DIR "${_cutlass_root}")
endif()
if(NOT EXISTS "${CUTLASS_DIR}/include/cutlass/cutlass.h")
  message(FATAL_ERROR "CUTLASS_DIR='${CUTLASS_DIR}' has no include/cutlass/cutlass.h")
endif()
message(STATUS "gemm_int8: CUTLASS from ${CUTLASS_DIR}")
add_library(gemm_int8_cutlass INTERFACE)
target_include_directories(gemm_int8_cutlass SYSTEM INTERFACE
  "${CUTLASS_DIR}/include" "${CUTLASS_DIR}/tools/util/include")
