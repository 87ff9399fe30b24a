// Status: the result of every core call. The core never throws and never
// aborts; callers (the torch layer, C++ users) decide how to surface errors.
#pragma once

#include <string>
#include <utility>

namespace gemm_int8 {

enum class StatusCode {
  kOk = 0,
  kTypeError,     // an argument has the wrong dtype
  kValueError,    // an argument has the wrong shape, stride, device or value
  kNotSupported,  // valid request this build or device cannot serve
  kCudaError,     // the CUDA runtime reported an error
  kOutOfMemory,   // host or device memory could not be obtained
};

class Status {
 public:
  Status() = default;  // ok
  static Status type_error(std::string msg) { return {StatusCode::kTypeError, std::move(msg)}; }
  static Status value_error(std::string msg) { return {StatusCode::kValueError, std::move(msg)}; }
  static Status not_supported(std::string msg) {
    return {StatusCode::kNotSupported, std::move(msg)};
  }
  static Status cuda_error(std::string msg) { return {StatusCode::kCudaError, std::move(msg)}; }
  static Status out_of_memory(std::string msg) {
    return {StatusCode::kOutOfMemory, std::move(msg)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace gemm_int8

// Propagates a non-ok Status out of the calling function.
#define GEMM_INT8_RETURN_IF_ERROR(expr)            \
  do {                                             \
    ::gemm_int8::Status _gemm_int8_st = (expr);    \
    if (!_gemm_int8_st.ok()) return _gemm_int8_st; \
  } while (0)
