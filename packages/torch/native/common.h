// Shared pieces of the native layer: how a tensor travels to JavaScript (an External
// a numeric handle into a slot table), how native memory is reported to V8, and how every libtorch exception
// becomes a JavaScript Error. No training logic lives in C++.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace pretext {

struct GeneratorBox {
  at::Generator g;
};

// Tensors travel to JavaScript as numeric handles into a native slot table (an N-API
// External with a weak finalizer costs more than a small op itself). Storage bytes are
// reported to V8 once per storage.
Napi::Value wrapTensor(Napi::Env env, at::Tensor t);
// Reads the tensor behind a handle; throws a JS-friendly error for anything else or a
// disposed tensor. `what` names the argument in the message.
const at::Tensor& unwrapTensor(const Napi::Value& v, const char* what);
at::Generator unwrapGenerator(const Napi::Value& v, const char* what);
// Frees the tensor now (dispose()); stale handles are ignored.
void releaseHandle(Napi::Env env, const Napi::Value& v);

std::vector<int64_t> toIntVector(const Napi::Value& v, const char* what);
c10::ScalarType toScalarType(const Napi::Value& v);
at::Scalar toScalar(const Napi::Value& v, const char* what);

// Thrown for bad arguments detected in this layer; turned into a JS TypeError.
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void initDispatch(Napi::Env env, Napi::Object exports);
// distributed.*: c10d's Gloo process group and its collectives (distributed.cc).
void initDistributed(Napi::Env env, Napi::Object exports);

}  // namespace pretext

// Every entry point runs its body through this: c10::Error (shape mismatch, wrong dtype,
// index out of range ...) and any std::exception become a thrown JS Error whose message is
// libtorch's, without the C++ backtrace.
#define PRETEXT_GUARD(env, ...)                                                   \
  try {                                                                            \
    __VA_ARGS__                                                                    \
  } catch (const Napi::Error&) {                                                   \
    throw;                                                                         \
  } catch (const pretext::ArgError& e) {                                           \
    throw Napi::TypeError::New(env, e.what());                                     \
  } catch (const c10::Error& e) {                                                  \
    throw Napi::Error::New(env, e.what_without_backtrace());                       \
  } catch (const std::exception& e) {                                              \
    throw Napi::Error::New(env, e.what());                                         \
  }
