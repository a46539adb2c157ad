// Thin binding of XGBoost's C API (libxgboost-dev): each function converts its arguments,
// makes one or a few C calls, and turns a failed call into a JS exception carrying
// XGBGetLastError(). Handles are external values freed by finalizers.
#include <napi.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <string>
#include <vector>

namespace {

void Check(Napi::Env env, int rc) {
  if (rc != 0) throw Napi::Error::New(env, std::string("xgboost: ") + XGBGetLastError());
}

using Handle = Napi::External<void>;

Handle WrapDMatrix(Napi::Env env, DMatrixHandle h) {
  return Handle::New(env, h, [](Napi::Env, void* p) { XGDMatrixFree(p); });
}

Handle WrapBooster(Napi::Env env, BoosterHandle h) {
  return Handle::New(env, h, [](Napi::Env, void* p) { XGBoosterFree(p); });
}

void* Unwrap(const Napi::Value& v, const char* what) {
  if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), std::string("expected a ") + what + " handle");
  return v.As<Handle>().Data();
}

// dmatrix(data: Float32Array, rows, cols, label?: Float32Array, weight?: Float32Array); NaN is missing.
Napi::Value DMatrix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto data = info[0].As<Napi::Float32Array>();
  auto rows = info[1].As<Napi::Number>().Int64Value();
  auto cols = info[2].As<Napi::Number>().Int64Value();
  if (rows < 0 || cols < 0 || static_cast<int64_t>(data.ElementLength()) != rows * cols)
    throw Napi::RangeError::New(env, "data length is not rows x cols");
  DMatrixHandle h;
  Check(env, XGDMatrixCreateFromMat(data.Data(), rows, cols, std::nanf(""), &h));
  Handle out = WrapDMatrix(env, h);
  const char* fields[] = {"label", "weight"};
  for (int k = 0; k < 2; k++) {
    if (info.Length() > static_cast<size_t>(3 + k) && info[3 + k].IsTypedArray()) {
      auto v = info[3 + k].As<Napi::Float32Array>();
      if (static_cast<int64_t>(v.ElementLength()) != rows) throw Napi::RangeError::New(env, std::string(fields[k]) + " length is not rows");
      Check(env, XGDMatrixSetFloatInfo(h, fields[k], v.Data(), v.ElementLength()));
    }
  }
  return out;
}

std::vector<DMatrixHandle> Matrices(const Napi::Value& v) {
  auto arr = v.As<Napi::Array>();
  std::vector<DMatrixHandle> out;
  for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(Unwrap(arr.Get(i), "DMatrix"));
  return out;
}

// booster(cache: DMatrix[])
Napi::Value Booster(const Napi::CallbackInfo& info) {
  auto mats = Matrices(info[0]);
  BoosterHandle h;
  Check(info.Env(), XGBoosterCreate(mats.data(), mats.size(), &h));
  return WrapBooster(info.Env(), h);
}

Napi::Value SetParam(const Napi::CallbackInfo& info) {
  Check(info.Env(), XGBoosterSetParam(Unwrap(info[0], "Booster"), info[1].As<Napi::String>().Utf8Value().c_str(),
                                      info[2].As<Napi::String>().Utf8Value().c_str()));
  return info.Env().Undefined();
}

Napi::Value UpdateOneIter(const Napi::CallbackInfo& info) {
  Check(info.Env(), XGBoosterUpdateOneIter(Unwrap(info[0], "Booster"), info[1].As<Napi::Number>().Int32Value(),
                                           Unwrap(info[2], "DMatrix")));
  return info.Env().Undefined();
}

// evalOneIter(booster, iter, mats, names) -> "[iter]\tname-metric:value..."
Napi::Value EvalOneIter(const Napi::CallbackInfo& info) {
  auto mats = Matrices(info[2]);
  auto names = info[3].As<Napi::Array>();
  std::vector<std::string> keep;
  std::vector<const char*> ptrs;
  for (uint32_t i = 0; i < names.Length(); i++) keep.push_back(names.Get(i).As<Napi::String>().Utf8Value());
  for (auto& s : keep) ptrs.push_back(s.c_str());
  if (ptrs.size() != mats.size()) throw Napi::RangeError::New(info.Env(), "one name per DMatrix");
  const char* out;
  Check(info.Env(), XGBoosterEvalOneIter(Unwrap(info[0], "Booster"), info[1].As<Napi::Number>().Int32Value(), mats.data(), ptrs.data(),
                                         mats.size(), &out));
  return Napi::String::New(info.Env(), out);
}

// predict(booster, dmat, configJson) -> Float32Array
Napi::Value Predict(const Napi::CallbackInfo& info) {
  bst_ulong const* shape;
  bst_ulong dim, len = 1;
  const float* result;
  Check(info.Env(), XGBoosterPredictFromDMatrix(Unwrap(info[0], "Booster"), Unwrap(info[1], "DMatrix"),
                                                info[2].As<Napi::String>().Utf8Value().c_str(), &shape, &dim, &result));
  for (bst_ulong i = 0; i < dim; i++) len *= shape[i];
  auto out = Napi::Float32Array::New(info.Env(), len);
  std::copy(result, result + len, out.Data());
  return out;
}

// save(booster) -> Buffer holding the model as JSON
Napi::Value Save(const Napi::CallbackInfo& info) {
  bst_ulong len;
  const char* buf;
  Check(info.Env(), XGBoosterSaveModelToBuffer(Unwrap(info[0], "Booster"), "{\"format\": \"json\"}", &len, &buf));
  return Napi::Buffer<char>::Copy(info.Env(), buf, len);
}

// load(buffer) -> Booster
Napi::Value Load(const Napi::CallbackInfo& info) {
  auto buf = info[0].As<Napi::Buffer<char>>();
  BoosterHandle h;
  Check(info.Env(), XGBoosterCreate(nullptr, 0, &h));
  Handle out = WrapBooster(info.Env(), h);
  Check(info.Env(), XGBoosterLoadModelFromBuffer(h, buf.Data(), buf.Length()));
  return out;
}

Napi::Value Version(const Napi::CallbackInfo& info) {
  int major, minor, patch;
  XGBoostVersion(&major, &minor, &patch);
  return Napi::String::New(info.Env(), std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("dmatrix", Napi::Function::New(env, DMatrix));
  exports.Set("booster", Napi::Function::New(env, Booster));
  exports.Set("setParam", Napi::Function::New(env, SetParam));
  exports.Set("updateOneIter", Napi::Function::New(env, UpdateOneIter));
  exports.Set("evalOneIter", Napi::Function::New(env, EvalOneIter));
  exports.Set("predict", Napi::Function::New(env, Predict));
  exports.Set("save", Napi::Function::New(env, Save));
  exports.Set("load", Napi::Function::New(env, Load));
  exports.Set("version", Napi::Function::New(env, Version));
  return exports;
}

}  // namespace

NODE_API_MODULE(pretext_xgboost, Init)
