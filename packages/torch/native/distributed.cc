// PyTorch's own distributed engine (c10d) with its Gloo backend: a process group built on a
// TCPStore (rank 0 hosts it) or a FileStore, and the collectives data-parallel training needs.
// Every collective has a timeout; a peer that dies or hangs makes the wait fail with Gloo's
// error instead of blocking forever. Work runs on Gloo's threads: `start` returns a handle,
// `wait` blocks on it (the JavaScript side decides when to wait, so communication can overlap
// computation).
#include "common.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <memory>
#include <unordered_map>

namespace pretext {
namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int rank = 0;
  int size = 1;
  std::chrono::milliseconds timeout{30000};
};

std::unique_ptr<Group> group;
std::unordered_map<int64_t, c10::intrusive_ptr<c10d::Work>> works;
int64_t nextWork = 1;

Group& current() {
  if (!group) throw ArgError("the process group is not initialized (call distributed.init first)");
  return *group;
}

std::vector<at::Tensor> tensorList(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw ArgError(std::string(what) + " must be an array of tensors");
  auto arr = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(unwrapTensor(arr.Get(i), what));
  return out;
}

Napi::Value keepWork(Napi::Env env, c10::intrusive_ptr<c10d::Work> w) {
  int64_t id = nextWork++;
  works.emplace(id, std::move(w));
  return Napi::Number::New(env, static_cast<double>(id));
}

// init({ store: 'tcp' | 'file', host, port, path, rank, size, timeoutMs, interface })
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    if (group) throw ArgError("the process group is already initialized (call distributed.destroy first)");
    auto o = info[0].As<Napi::Object>();
    auto g = std::make_unique<Group>();
    g->rank = o.Get("rank").As<Napi::Number>().Int32Value();
    g->size = o.Get("size").As<Napi::Number>().Int32Value();
    g->timeout = std::chrono::milliseconds(o.Get("timeoutMs").As<Napi::Number>().Int64Value());
    std::string kind = o.Get("store").As<Napi::String>().Utf8Value();
    if (kind == "tcp") {
      c10d::TCPStoreOptions so;
      so.port = static_cast<std::uint16_t>(o.Get("port").As<Napi::Number>().Uint32Value());
      so.isServer = g->rank == 0;
      so.numWorkers = g->size;
      so.waitWorkers = true;
      so.timeout = g->timeout;
      g->store = c10::make_intrusive<c10d::TCPStore>(o.Get("host").As<Napi::String>().Utf8Value(), so);
    } else if (kind == "file") {
      g->store = c10::make_intrusive<c10d::FileStore>(o.Get("path").As<Napi::String>().Utf8Value(), g->size);
    } else {
      throw ArgError("store must be 'tcp' or 'file'");
    }
    g->store->setTimeout(g->timeout);
    auto opts = c10d::ProcessGroupGloo::Options::create();
    opts->timeout = g->timeout;
    std::string iface = o.Has("interface") ? o.Get("interface").As<Napi::String>().Utf8Value() : "";
    std::string host = o.Has("deviceHost") ? o.Get("deviceHost").As<Napi::String>().Utf8Value() : "";
    opts->devices.push_back(!iface.empty()  ? c10d::ProcessGroupGloo::createDeviceForInterface(iface)
                            : !host.empty() ? c10d::ProcessGroupGloo::createDeviceForHostname(host)
                                            : c10d::ProcessGroupGloo::createDefaultDevice());
    opts->threads = 2;
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>("pretext", g->store);
    g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, g->rank, g->size, opts);
    group = std::move(g);
    return env.Undefined();
  });
}

// allreduce(tensors, op: 'sum' | 'min' | 'max' | 'product') -> work id (in place)
Napi::Value AllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    auto tensors = tensorList(info[0], "tensors");
    std::string op = info[1].As<Napi::String>().Utf8Value();
    c10d::AllreduceOptions opts;
    opts.reduceOp = op == "sum"       ? c10d::ReduceOp::SUM
                    : op == "min"     ? c10d::ReduceOp::MIN
                    : op == "max"     ? c10d::ReduceOp::MAX
                    : op == "product" ? c10d::ReduceOp::PRODUCT
                                      : throw ArgError("op must be sum, min, max or product");
    opts.timeout = current().timeout;
    return keepWork(env, current().pg->allreduce(tensors, opts));
  });
}

// broadcast(tensors, root) -> work id (in place)
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    auto tensors = tensorList(info[0], "tensors");
    c10d::BroadcastOptions opts;
    opts.rootRank = info[1].As<Napi::Number>().Int64Value();
    opts.timeout = current().timeout;
    return keepWork(env, current().pg->broadcast(tensors, opts));
  });
}

// allgather(outputs: tensor[] (one per rank), input) -> work id
Napi::Value AllGather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    std::vector<std::vector<at::Tensor>> outputs{tensorList(info[0], "outputs")};
    std::vector<at::Tensor> inputs{unwrapTensor(info[1], "input")};
    c10d::AllgatherOptions opts;
    opts.timeout = current().timeout;
    return keepWork(env, current().pg->allgather(outputs, inputs, opts));
  });
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    c10d::BarrierOptions opts;
    opts.timeout = current().timeout;
    return keepWork(env, current().pg->barrier(opts));
  });
}

// wait(work id): blocks until the collective finished; throws its error (a timeout, a dead peer).
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    int64_t id = info[0].As<Napi::Number>().Int64Value();
    auto it = works.find(id);
    if (it == works.end()) throw ArgError("unknown or already awaited work handle");
    auto w = it->second;
    works.erase(it);
    w->wait(current().timeout);
    return env.Undefined();
  });
}

Napi::Value IsCompleted(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    auto it = works.find(info[0].As<Napi::Number>().Int64Value());
    if (it == works.end()) throw ArgError("unknown or already awaited work handle");
    return Napi::Boolean::New(env, it->second->isCompleted());
  });
}

// Store access for small metadata (e.g. a run id chosen by rank 0).
Napi::Value StoreSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    std::string v = info[1].As<Napi::String>().Utf8Value();
    current().store->set("user/" + info[0].As<Napi::String>().Utf8Value(), std::vector<uint8_t>(v.begin(), v.end()));
    return env.Undefined();
  });
}

Napi::Value StoreGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    auto v = current().store->get("user/" + info[0].As<Napi::String>().Utf8Value());
    return Napi::String::New(env, std::string(v.begin(), v.end()));
  });
}

Napi::Value Destroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    works.clear();
    group.reset();
    return env.Undefined();
  });
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("initialized", Napi::Boolean::New(env, group != nullptr));
  if (group) {
    o.Set("rank", Napi::Number::New(env, group->rank));
    o.Set("size", Napi::Number::New(env, group->size));
  }
  return o;
}

}  // namespace

void initDistributed(Napi::Env env, Napi::Object exports) {
  auto d = Napi::Object::New(env);
  d.Set("init", Napi::Function::New(env, Init, "init"));
  d.Set("allreduce", Napi::Function::New(env, AllReduce, "allreduce"));
  d.Set("broadcast", Napi::Function::New(env, Broadcast, "broadcast"));
  d.Set("allgather", Napi::Function::New(env, AllGather, "allgather"));
  d.Set("barrier", Napi::Function::New(env, Barrier, "barrier"));
  d.Set("wait", Napi::Function::New(env, Wait, "wait"));
  d.Set("isCompleted", Napi::Function::New(env, IsCompleted, "isCompleted"));
  d.Set("storeSet", Napi::Function::New(env, StoreSet, "storeSet"));
  d.Set("storeGet", Napi::Function::New(env, StoreGet, "storeGet"));
  d.Set("destroy", Napi::Function::New(env, Destroy, "destroy"));
  d.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("distributed", d);
}

}  // namespace pretext
