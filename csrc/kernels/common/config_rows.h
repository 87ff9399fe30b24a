// A family's launchers are a table indexed by its config row (the rows of
// its tile_configs.def); a row outside the table is refused the same way
// for every family.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "gemm_int8/status.h"

namespace gemm_int8::kernels {

inline Status check_config_row(const char* family, int row, int rows) {
  if (row < 0 || row >= rows)
    return Status::value_error(std::string(family) + ": no config row " + std::to_string(row));
  return {};
}

template <class Launcher, size_t kRows, class... Args>
Status launch_config_row(const Launcher (&table)[kRows], const char* family, int row,
                         Args&&... args) {
  GEMM_INT8_RETURN_IF_ERROR(check_config_row(family, row, static_cast<int>(kRows)));
  return table[row](std::forward<Args>(args)...);
}

}  // namespace gemm_int8::kernels
