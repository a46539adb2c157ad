// One generic entry point for every ATen operator: look the operator up once by its schema
// name ("aten::conv2d", "aten::sum.dim_IntList"), then call it boxed through the c10
// dispatcher, converting each JavaScript argument by the type the schema declares. Autograd,
// dtype promotion and device dispatch all happen in the dispatcher, exactly as in PyTorch.
// Which operator to call and with what is decided in TypeScript.
#include "common.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <cmath>
#include <deque>

namespace pretext {

namespace {

enum class Base {
  Tensor,
  Int,
  Float,
  Bool,
  Scalar,
  IntList,
  FloatList,
  BoolList,
  TensorList,
  OptTensorList,
  String,
  Generator,
  Device,
  Unsupported,
};

struct ArgSpec {
  std::string name;
  Base base;
  bool optional;
  c10::optional<c10::IValue> defaultValue;
};

struct OpEntry {
  std::string qualified;
  c10::OperatorHandle handle;
  std::vector<ArgSpec> args;
  std::vector<bool> returnWritesInput;  // in-place results come back as undefined
};

// A deque keeps addresses stable; entries live for the whole process.
std::deque<OpEntry> g_ops;

Base baseOf(const c10::TypePtr& type) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      return Base::Tensor;
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      return Base::Int;
    case c10::TypeKind::FloatType:
      return Base::Float;
    case c10::TypeKind::BoolType:
      return Base::Bool;
    case c10::TypeKind::NumberType:
      return Base::Scalar;
    case c10::TypeKind::StringType:
      return Base::String;
    case c10::TypeKind::GeneratorType:
      return Base::Generator;
    case c10::TypeKind::DeviceObjType:
      return Base::Device;
    case c10::TypeKind::ListType: {
      const c10::TypePtr& elem = type->castRaw<c10::ListType>()->getElementType();
      switch (elem->kind()) {
        case c10::TypeKind::IntType:
        case c10::TypeKind::SymIntType:
          return Base::IntList;
        case c10::TypeKind::FloatType:
          return Base::FloatList;
        case c10::TypeKind::BoolType:
          return Base::BoolList;
        case c10::TypeKind::TensorType:
          return Base::TensorList;
        case c10::TypeKind::OptionalType:
          if (elem->castRaw<c10::OptionalType>()->getElementType()->kind() == c10::TypeKind::TensorType)
            return Base::OptTensorList;
          return Base::Unsupported;
        default:
          return Base::Unsupported;
      }
    }
    default:
      return Base::Unsupported;
  }
}

int64_t toInt(const Napi::Value& v, const std::string& what) {
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Int64Value(&lossless);
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!v.IsNumber()) throw ArgError(what + " must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d)
    throw ArgError(what + " must be an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

c10::IValue convert(const Napi::Value& v, const ArgSpec& spec, const std::string& what) {
  switch (spec.base) {
    case Base::Tensor:
      return unwrapTensor(v, what.c_str());
    case Base::Int:
      return toInt(v, what);
    case Base::Float:
      if (!v.IsNumber()) throw ArgError(what + " must be a number");
      return v.As<Napi::Number>().DoubleValue();
    case Base::Bool:
      if (!v.IsBoolean()) throw ArgError(what + " must be a boolean");
      return v.As<Napi::Boolean>().Value();
    case Base::Scalar:
      return toScalar(v, what.c_str());
    case Base::IntList:
      return c10::IValue(toIntVector(v, what.c_str()));
    case Base::FloatList: {
      if (!v.IsArray()) throw ArgError(what + " must be an array of numbers");
      Napi::Array a = v.As<Napi::Array>();
      std::vector<double> out(a.Length());
      for (uint32_t i = 0; i < a.Length(); i++) {
        Napi::Value e = a.Get(i);
        if (!e.IsNumber()) throw ArgError(what + " must be an array of numbers");
        out[i] = e.As<Napi::Number>().DoubleValue();
      }
      return c10::IValue(out);
    }
    case Base::BoolList: {
      if (!v.IsArray()) throw ArgError(what + " must be an array of booleans");
      Napi::Array a = v.As<Napi::Array>();
      c10::List<bool> out;
      for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).ToBoolean());
      return c10::IValue(out);
    }
    case Base::TensorList: {
      if (!v.IsArray()) throw ArgError(what + " must be an array of Tensors");
      Napi::Array a = v.As<Napi::Array>();
      c10::List<at::Tensor> out;
      out.reserve(a.Length());
      for (uint32_t i = 0; i < a.Length(); i++) out.push_back(unwrapTensor(a.Get(i), what.c_str()));
      return c10::IValue(out);
    }
    case Base::OptTensorList: {
      if (!v.IsArray()) throw ArgError(what + " must be an array of Tensors or nulls");
      Napi::Array a = v.As<Napi::Array>();
      c10::List<c10::optional<at::Tensor>> out;
      for (uint32_t i = 0; i < a.Length(); i++) {
        Napi::Value e = a.Get(i);
        if (e.IsNull() || e.IsUndefined())
          out.push_back(c10::nullopt);
        else
          out.push_back(unwrapTensor(e, what.c_str()));
      }
      return c10::IValue(out);
    }
    case Base::String:
      if (!v.IsString()) throw ArgError(what + " must be a string");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case Base::Generator:
      return c10::IValue(unwrapGenerator(v, what.c_str()));
    case Base::Device:
      if (!v.IsString()) throw ArgError(what + " must be a device string such as 'cpu'");
      return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    case Base::Unsupported:
      break;
  }
  throw ArgError(what + " has a type the binding does not convert");
}

Napi::Value toJs(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return wrapTensor(env, v.toTensor());
  if (v.isNone()) return env.Null();
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    Napi::Array a = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) a.Set(static_cast<uint32_t>(i), wrapTensor(env, list.get(i)));
    return a;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    Napi::Array a = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) a.Set(static_cast<uint32_t>(i), toJs(env, elems[i]));
    return a;
  }
  if (v.isIntList()) {
    auto list = v.toIntList();
    Napi::Array a = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++)
      a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(list.get(i))));
    return a;
  }
  throw ArgError(std::string("result of type ") + v.tagKind() + " is not converted");
}

// opLookup("aten::add.Tensor") -> id
Napi::Value OpLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    if (!info[0].IsString()) throw ArgError("operator name must be a string");
    std::string qualified = info[0].As<Napi::String>().Utf8Value();
    auto dot = qualified.find('.');
    std::string name = qualified.substr(0, dot);
    std::string overload = dot == std::string::npos ? "" : qualified.substr(dot + 1);
    auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
    if (!handle) throw ArgError("libtorch has no operator " + qualified);
    OpEntry entry{qualified, *handle, {}, {}};
    const c10::FunctionSchema& schema = handle->schema();
    for (const auto& arg : schema.arguments()) {
      ArgSpec spec;
      spec.name = arg.name();
      c10::TypePtr type = arg.type();
      spec.optional = type->kind() == c10::TypeKind::OptionalType;
      if (spec.optional) type = type->castRaw<c10::OptionalType>()->getElementType();
      spec.base = baseOf(type);
      spec.defaultValue = arg.default_value();
      entry.args.push_back(std::move(spec));
    }
    for (const auto& ret : schema.returns())
      entry.returnWritesInput.push_back(ret.alias_info() != nullptr && ret.alias_info()->isWrite());
    g_ops.push_back(std::move(entry));
    return Napi::Number::New(env, static_cast<double>(g_ops.size() - 1));
  })
}

// opCall(id, ...args): missing trailing arguments take the schema's defaults; null passes
// None to an optional argument.
Napi::Value OpCall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    if (id >= g_ops.size()) throw ArgError("unknown operator id");
    const OpEntry& op = g_ops[id];
    size_t given = info.Length() - 1;
    if (given > op.args.size())
      throw ArgError(op.qualified + " takes " + std::to_string(op.args.size()) + " arguments, got " +
                     std::to_string(given));
    torch::jit::Stack stack;
    stack.reserve(op.args.size());
    for (size_t i = 0; i < op.args.size(); i++) {
      const ArgSpec& spec = op.args[i];
      Napi::Value v = i < given ? info[i + 1] : env.Undefined();
      if (v.IsUndefined()) {
        if (spec.defaultValue) {
          stack.push_back(*spec.defaultValue);
          continue;
        }
        if (spec.optional) {
          stack.emplace_back();
          continue;
        }
        throw ArgError(op.qualified + ": argument '" + spec.name + "' is required");
      }
      if (v.IsNull()) {
        if (!spec.optional) throw ArgError(op.qualified + ": argument '" + spec.name + "' cannot be null");
        stack.emplace_back();
        continue;
      }
      stack.push_back(convert(v, spec, op.qualified + ": argument '" + spec.name + "'"));
    }
    op.handle.callBoxed(stack);
    if (stack.size() == 1) {
      if (op.returnWritesInput.size() == 1 && op.returnWritesInput[0]) return env.Undefined();
      return toJs(env, stack[0]);
    }
    if (stack.empty()) return env.Undefined();
    Napi::Array out = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); i++) {
      bool skip = i < op.returnWritesInput.size() && op.returnWritesInput[i];
      out.Set(static_cast<uint32_t>(i), skip ? env.Undefined() : toJs(env, stack[i]));
    }
    return out;
  })
}

Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    if (id >= g_ops.size()) throw ArgError("unknown operator id");
    return Napi::String::New(env, c10::toString(g_ops[id].handle.schema()));
  })
}

}  // namespace

void initDispatch(Napi::Env env, Napi::Object exports) {
  exports.Set("opLookup", Napi::Function::New(env, OpLookup, "opLookup"));
  exports.Set("opCall", Napi::Function::New(env, OpCall, "opCall"));
  exports.Set("opSchema", Napi::Function::New(env, OpSchema, "opSchema"));
}

}  // namespace pretext
