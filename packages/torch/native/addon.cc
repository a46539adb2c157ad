// Tensor handles, typed-array conversion, autograd entry points, random generators and
// threads. Everything here converts arguments, calls libtorch and converts results.
#include "common.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/version.h>

#include <cmath>
#include <cstring>
#include <unordered_map>
#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace pretext {

namespace {

struct StorageCount {
  int64_t refs;
  int64_t bytes;
};
// Views share storage: bytes are counted once per storage, not once per handle.
std::unordered_map<const void*, StorageCount> g_storages;
int64_t g_countedBytes = 0;
int64_t g_liveTensors = 0;
// V8 only uses external memory as a GC heuristic; reporting every 8-byte tensor would cost
// more than the op itself, so deltas are batched.
int64_t g_pendingExternal = 0;
constexpr int64_t kReportEveryBytes = 1 << 20;

void reportExternal(Napi::Env env, int64_t delta) {
  g_pendingExternal += delta;
  if (g_pendingExternal >= kReportEveryBytes || g_pendingExternal <= -kReportEveryBytes) {
    Napi::MemoryManagement::AdjustExternalMemory(env, g_pendingExternal);
    g_pendingExternal = 0;
  }
}

// A handle is a number: slot index + generation * 2^24. A freed slot bumps its generation,
// so a handle used after dispose() is recognised and refused rather than reaching freed or
// reused memory.
struct Slot {
  at::Tensor t;
  const void* storage = nullptr;
  uint32_t generation = 0;
};
constexpr uint32_t kSlotBits = 24;
constexpr double kSlotSpan = static_cast<double>(1u << kSlotBits);
std::vector<Slot> g_slots;
std::vector<uint32_t> g_freeSlots;

void countStorage(Napi::Env env, Slot& slot) {
  const at::Tensor& t = slot.t;
  if (!t.has_storage()) return;
  const void* key = t.storage().unsafeGetStorageImpl();
  auto [it, inserted] = g_storages.try_emplace(key, StorageCount{1, 0});
  if (!inserted) {
    it->second.refs++;
  } else {
    int64_t bytes = static_cast<int64_t>(t.storage().nbytes());
    it->second.bytes = bytes;
    g_countedBytes += bytes;
    reportExternal(env, bytes);
  }
  slot.storage = key;
}

void uncountStorage(Napi::Env env, Slot& slot) {
  if (slot.storage == nullptr) return;
  auto it = g_storages.find(slot.storage);
  slot.storage = nullptr;
  if (it == g_storages.end()) return;
  if (--it->second.refs == 0) {
    int64_t bytes = it->second.bytes;
    g_storages.erase(it);
    g_countedBytes -= bytes;
    reportExternal(env, -bytes);
  }
}

Slot* findSlot(const Napi::Value& v) {
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || std::floor(d) != d) return nullptr;
  uint64_t h = static_cast<uint64_t>(d);
  uint64_t index = h & ((1u << kSlotBits) - 1);
  uint64_t generation = h >> kSlotBits;
  if (index >= g_slots.size()) return nullptr;
  Slot& slot = g_slots[index];
  if (slot.generation != generation || !slot.t.defined()) return nullptr;
  return &slot;
}

void finalizeGenerator(Napi::Env, GeneratorBox* box) { delete box; }

bool isTypedArrayLike(const Napi::Value& v) { return v.IsTypedArray() || v.IsDataView(); }

}  // namespace

Napi::Value wrapTensor(Napi::Env env, at::Tensor t) {
  uint32_t index;
  if (!g_freeSlots.empty()) {
    index = g_freeSlots.back();
    g_freeSlots.pop_back();
  } else {
    if (g_slots.size() >= (1u << kSlotBits)) throw ArgError("more than 16M live tensors: dispose some");
    index = static_cast<uint32_t>(g_slots.size());
    g_slots.emplace_back();
  }
  Slot& slot = g_slots[index];
  slot.t = std::move(t);
  countStorage(env, slot);
  g_liveTensors++;
  return Napi::Number::New(env, static_cast<double>(index) + static_cast<double>(slot.generation) * kSlotSpan);
}

// Frees the tensor behind a handle; a stale or unknown handle is ignored, so dispose() and
// the GC safety net may both reach the same tensor.
void releaseHandle(Napi::Env env, const Napi::Value& v) {
  if (!v.IsNumber()) throw ArgError("tensor must be a Tensor");
  Slot* slot = findSlot(v);
  if (slot == nullptr) return;
  uncountStorage(env, *slot);
  slot->t.reset();
  slot->generation = (slot->generation + 1) & ((1u << 28) - 1);
  g_liveTensors--;
  g_freeSlots.push_back(static_cast<uint32_t>(slot - g_slots.data()));
}

const at::Tensor& unwrapTensor(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw ArgError(std::string(what) + " must be a Tensor");
  Slot* slot = findSlot(v);
  if (slot == nullptr) throw ArgError(std::string(what) + " is a Tensor that was already disposed");
  return slot->t;
}

at::Generator unwrapGenerator(const Napi::Value& v, const char* what) {
  if (!v.IsExternal()) throw ArgError(std::string(what) + " must be a Generator");
  return v.As<Napi::External<GeneratorBox>>().Data()->g;
}

std::vector<int64_t> toIntVector(const Napi::Value& v, const char* what) {
  if (v.IsNumber()) return {v.As<Napi::Number>().Int64Value()};
  if (!v.IsArray()) throw ArgError(std::string(what) + " must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (e.IsBigInt()) {
      bool lossless;
      out[i] = e.As<Napi::BigInt>().Int64Value(&lossless);
      continue;
    }
    if (!e.IsNumber()) throw ArgError(std::string(what) + " must be an array of integers");
    double d = e.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || std::floor(d) != d)
      throw ArgError(std::string(what) + " must hold integers, got " + std::to_string(d));
    out[i] = static_cast<int64_t>(d);
  }
  return out;
}

c10::ScalarType toScalarType(const Napi::Value& v) {
  if (!v.IsNumber()) throw ArgError("dtype must be a dtype code");
  int code = v.As<Napi::Number>().Int32Value();
  if (code < 0 || code >= static_cast<int>(c10::ScalarType::NumOptions))
    throw ArgError("unknown dtype code " + std::to_string(code));
  return static_cast<c10::ScalarType>(code);
}

at::Scalar toScalar(const Napi::Value& v, const char* what) {
  if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
  if (v.IsBigInt()) {
    bool lossless;
    return at::Scalar(static_cast<int64_t>(v.As<Napi::BigInt>().Int64Value(&lossless)));
  }
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    // Integers stay integral so that `intTensor.add(1)` keeps its dtype, as in PyTorch.
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9007199254740992.0)
      return at::Scalar(static_cast<int64_t>(d));
    return at::Scalar(d);
  }
  throw ArgError(std::string(what) + " must be a number or boolean");
}

namespace {

// fromBuffer(view, dtype, shape, requiresGrad?) -> handle. One copy: the bytes of the
// typed array are copied into a fresh tensor, so later writes to the array do not alias it.
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    if (!isTypedArrayLike(info[0])) throw ArgError("data must be a typed array");
    c10::ScalarType st = toScalarType(info[1]);
    std::vector<int64_t> shape = toIntVector(info[2], "shape");
    int64_t numel = 1;
    for (int64_t s : shape) {
      if (s < 0) throw ArgError("shape entries must be non-negative");
      numel *= s;
    }
    const uint8_t* data;
    size_t byteLength;
    if (info[0].IsTypedArray()) {
      Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
      data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
      byteLength = ta.ByteLength();
    } else {
      Napi::DataView dv = info[0].As<Napi::DataView>();
      data = static_cast<const uint8_t*>(dv.ArrayBuffer().Data()) + dv.ByteOffset();
      byteLength = dv.ByteLength();
    }
    size_t expected = static_cast<size_t>(numel) * c10::elementSize(st);
    if (byteLength != expected)
      throw ArgError("data holds " + std::to_string(byteLength) + " bytes but shape " +
                     c10::str(c10::IntArrayRef(shape)) + " of " + c10::toString(st) +
                     " needs " + std::to_string(expected));
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(st));
    if (expected > 0) std::memcpy(t.data_ptr(), data, expected);
    if (info.Length() > 3 && info[3].ToBoolean()) t.set_requires_grad(true);
    return wrapTensor(env, std::move(t));
  })
}

// toBuffer(handle) -> ArrayBuffer with the elements in row-major order (one copy).
Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    at::Tensor t = unwrapTensor(info[0], "tensor").detach();
    if (!t.device().is_cpu()) t = t.cpu();
    t = t.contiguous();
    size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, bytes);
    if (bytes > 0) std::memcpy(ab.Data(), t.data_ptr(), bytes);
    return ab;
  })
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    const at::Tensor& t = unwrapTensor(info[0], "tensor");
    if (t.numel() != 1)
      throw ArgError("item() needs a tensor with one element, this one has " +
                     std::to_string(t.numel()));
    at::Scalar s = t.item();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    if (s.isIntegral(false)) return Napi::Number::New(env, static_cast<double>(s.toLong()));
    return Napi::Number::New(env, s.toDouble());
  })
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    const at::Tensor& t = unwrapTensor(info[0], "tensor");
    auto sizes = t.sizes();
    Napi::Array a = Napi::Array::New(env, sizes.size());
    for (size_t i = 0; i < sizes.size(); i++)
      a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(sizes[i])));
    return a;
  })
}

Napi::Value Strides(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    const at::Tensor& t = unwrapTensor(info[0], "tensor");
    auto strides = t.strides();
    Napi::Array a = Napi::Array::New(env, strides.size());
    for (size_t i = 0; i < strides.size(); i++)
      a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(strides[i])));
    return a;
  })
}

Napi::Value Dtype(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    return Napi::Number::New(env, static_cast<int>(unwrapTensor(info[0], "tensor").scalar_type()));
  })
}

Napi::Value DeviceOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, { return Napi::String::New(env, unwrapTensor(info[0], "tensor").device().str()); })
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    releaseHandle(env, info[0]);
    return env.Undefined();
  })
}

Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    if (!info[0].IsNumber()) throw ArgError("tensor must be a Tensor");
    return Napi::Boolean::New(env, findSlot(info[0]) == nullptr);
  })
}

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, { return Napi::Boolean::New(env, unwrapTensor(info[0], "tensor").requires_grad()); })
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    at::Tensor t = unwrapTensor(info[0], "tensor");
    t.set_requires_grad(info[1].ToBoolean());
    return env.Undefined();
  })
}

// backward(loss, gradOrNull, retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    const at::Tensor& t = unwrapTensor(info[0], "tensor");
    std::vector<at::Tensor> grads;
    if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined())
      grads.push_back(unwrapTensor(info[1], "gradient"));
    bool retain = info.Length() > 2 && info[2].ToBoolean();
    bool create = info.Length() > 3 && info[3].ToBoolean();
    torch::autograd::backward({t}, grads, retain, create);
    return env.Undefined();
  })
}

Napi::Value Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    const at::Tensor& g = unwrapTensor(info[0], "tensor").grad();
    if (!g.defined()) return env.Null();
    return wrapTensor(env, g);
  })
}

Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    at::Tensor t = unwrapTensor(info[0], "tensor");
    if (info[1].IsNull() || info[1].IsUndefined()) {
      t.mutable_grad().reset();
    } else {
      t.mutable_grad() = unwrapTensor(info[1], "gradient");
    }
    return env.Undefined();
  })
}

// setData(param, source): replaces the data behind a tensor in place (PyTorch's
// `param.data = ...`), keeping the identity that modules and optimizers hold.
Napi::Value SetData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    at::Tensor t = unwrapTensor(info[0], "tensor");
    t.set_data(unwrapTensor(info[1], "source"));
    return env.Undefined();
  })
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  c10::GradMode::set_enabled(info[0].ToBoolean());
  return info.Env().Undefined();
}

uint64_t toSeed(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  if (!v.IsNumber()) throw ArgError("seed must be a non-negative integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || std::floor(d) != d) throw ArgError("seed must be a non-negative integer");
  return static_cast<uint64_t>(d);
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    uint64_t seed = toSeed(info[0]);
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
    return env.Undefined();
  })
}

Napi::Value NewGenerator(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    uint64_t seed = toSeed(info[0]);
    auto* box = new GeneratorBox{at::make_generator<at::CPUGeneratorImpl>(seed)};
    return Napi::External<GeneratorBox>::New(env, box, finalizeGenerator);
  })
}

at::Generator generatorArg(const Napi::Value& v) {
  if (v.IsNull() || v.IsUndefined()) return at::detail::getDefaultCPUGenerator();
  return unwrapGenerator(v, "generator");
}

// getRngState(generatorOrNull) -> uint8 tensor; setRngState(generatorOrNull, tensor)
Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    at::Generator gen = generatorArg(info[0]);
    std::lock_guard<std::mutex> lock(gen.mutex());
    return wrapTensor(env, at::Tensor(gen.get_state()));
  })
}

Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    at::Generator gen = generatorArg(info[0]);
    const at::Tensor& state = unwrapTensor(info[1], "state");
    if (state.scalar_type() != at::kByte || state.dim() != 1)
      throw ArgError("an RNG state is a 1-D uint8 tensor from getRngState()");
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
    return env.Undefined();
  })
}

Napi::Value GeneratorSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    at::Generator gen = generatorArg(info[0]);
    return Napi::BigInt::New(env, static_cast<uint64_t>(gen.current_seed()));
  })
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    int n = info[0].As<Napi::Number>().Int32Value();
    if (n < 1) throw ArgError("number of threads must be at least 1");
    at::set_num_threads(n);
    return env.Undefined();
  })
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0);
}

// tuneMalloc(mmapThresholdBytes, trimThresholdBytes) -> whether glibc took both.
Napi::Value TuneMalloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#ifdef __GLIBC__
  int mmap = info[0].As<Napi::Number>().Int32Value();
  int trim = info[1].As<Napi::Number>().Int32Value();
  bool ok = mallopt(M_MMAP_THRESHOLD, mmap) == 1 && mallopt(M_TRIM_THRESHOLD, trim) == 1;
  return Napi::Boolean::New(env, ok);
#else
  return Napi::Boolean::New(env, false);
#endif
}

Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("liveTensors", Napi::Number::New(env, static_cast<double>(g_liveTensors)));
  o.Set("storages", Napi::Number::New(env, static_cast<double>(g_storages.size())));
  o.Set("externalBytes", Napi::Number::New(env, static_cast<double>(g_countedBytes)));
  return o;
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  o.Set("config", Napi::String::New(env, at::show_config()));
  o.Set("parallel", Napi::String::New(env, at::get_parallel_info()));
  return o;
}

// The hot arithmetic gets unboxed entry points: the generic boxed path (dispatch.cc)
// costs a stack of IValues per call, which dominates for tiny tensors.
using BinaryFn = at::Tensor (*)(const at::Tensor&, const at::Tensor&);
using ScalarFn = at::Tensor (*)(const at::Tensor&, const at::Scalar&);

at::Tensor addT(const at::Tensor& a, const at::Tensor& b) { return at::add(a, b); }
at::Tensor subT(const at::Tensor& a, const at::Tensor& b) { return at::sub(a, b); }
at::Tensor mulT(const at::Tensor& a, const at::Tensor& b) { return at::mul(a, b); }
at::Tensor divT(const at::Tensor& a, const at::Tensor& b) { return at::div(a, b); }
at::Tensor matmulT(const at::Tensor& a, const at::Tensor& b) { return at::matmul(a, b); }
at::Tensor addS(const at::Tensor& a, const at::Scalar& b) { return at::add(a, b); }
at::Tensor subS(const at::Tensor& a, const at::Scalar& b) { return at::sub(a, b); }
at::Tensor mulS(const at::Tensor& a, const at::Scalar& b) { return at::mul(a, b); }
at::Tensor divS(const at::Tensor& a, const at::Scalar& b) { return at::div(a, b); }

struct BinaryEntry {
  const char* name;
  BinaryFn fn;
};
struct ScalarEntry {
  const char* name;
  ScalarFn fn;
};
const BinaryEntry kBinary[] = {
    {"add", addT}, {"sub", subT}, {"mul", mulT}, {"div", divT}, {"matmul", matmulT}};
const ScalarEntry kScalar[] = {{"addScalar", addS}, {"subScalar", subS}, {"mulScalar", mulS}, {"divScalar", divS}};

Napi::Value CallBinary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto fn = reinterpret_cast<BinaryFn>(info.Data());
  PRETEXT_GUARD(env, { return wrapTensor(env, fn(unwrapTensor(info[0], "self"), unwrapTensor(info[1], "other"))); })
}

Napi::Value CallScalar(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto fn = reinterpret_cast<ScalarFn>(info.Data());
  PRETEXT_GUARD(env, { return wrapTensor(env, fn(unwrapTensor(info[0], "self"), toScalar(info[1], "other"))); })
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  const Entry entries[] = {
      {"fromBuffer", FromBuffer},       {"toBuffer", ToBuffer},
      {"item", Item},                   {"shape", Shape},
      {"strides", Strides},             {"dtype", Dtype},
      {"device", DeviceOf},             {"dispose", Dispose},
      {"isDisposed", IsDisposed},       {"requiresGrad", RequiresGrad},
      {"setRequiresGrad", SetRequiresGrad}, {"backward", Backward},
      {"grad", Grad},                   {"setGrad", SetGrad},
      {"setData", SetData},
      {"isGradEnabled", IsGradEnabled}, {"setGradEnabled", SetGradEnabled},
      {"manualSeed", ManualSeed},       {"newGenerator", NewGenerator},
      {"getRngState", GetRngState},     {"setRngState", SetRngState},
      {"generatorSeed", GeneratorSeed}, {"setNumThreads", SetNumThreads},
      {"getNumThreads", GetNumThreads}, {"cudaDeviceCount", CudaDeviceCount},
      {"memoryStats", MemoryStats},     {"buildInfo", BuildInfo},
      {"tuneMalloc", TuneMalloc},
  };
  for (const Entry& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  for (const BinaryEntry& e : kBinary)
    exports.Set(e.name, Napi::Function::New(env, CallBinary, e.name, reinterpret_cast<void*>(e.fn)));
  for (const ScalarEntry& e : kScalar)
    exports.Set(e.name, Napi::Function::New(env, CallScalar, e.name, reinterpret_cast<void*>(e.fn)));
  initDispatch(env, exports);
  initDistributed(env, exports);
  return exports;
}

}  // namespace

}  // namespace pretext

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return pretext::Init(env, exports); }

NODE_API_MODULE(pretext_torch, InitModule)
