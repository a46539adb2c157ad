// PyTorch's own distributed engine (c10d) with its Gloo backend: a process group built on a
// TCPStore (rank 0 hosts it) or a FileStore, and the collectives data-parallel training needs.
// Every collective has a timeout; a peer that dies or hangs makes the wait fail with Gloo's
// error instead of blocking forever. Work runs on Gloo's threads: `start` returns a handle,
// `wait` blocks on it (the JavaScript side decides when to wait, so communication can overlap
// computation).
//
// Three pieces run inside autograd's backward, where JavaScript cannot reach (the engine's
// backward is one native call): the differentiable all-gather (what
// torch.distributed.nn.functional provides in Python), SyncBatchNorm's step, and the gradient
// reducer, whose hooks start each bucket's all-reduce as soon as its last gradient is
// computed, so communication overlaps the rest of backward, as DistributedDataParallel's
// Reducer does. They hold no training logic: which tensors to gather and when to arm the
// reducer is TypeScript.
#include "common.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
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

// Starts an all-reduce of `tensors` in place with the group's timeout.
c10::intrusive_ptr<c10d::Work> startAllReduce(std::vector<at::Tensor> tensors, c10d::ReduceOp op = c10d::ReduceOp::SUM) {
  auto& g = current();
  c10d::AllreduceOptions opts;
  opts.reduceOp = op;
  opts.timeout = g.timeout;
  return g.pg->allreduce(tensors, opts);
}

void allReduceNow(at::Tensor& t, c10d::ReduceOp op = c10d::ReduceOp::SUM) { startAllReduce({t}, op)->wait(current().timeout); }

// Every rank's rows, concatenated in rank order along dim 0. Backward sums the gradient of the
// whole result over the ranks and hands each rank the rows of its own input, so a loss computed
// on the gathered batch on every rank gets every rank's contribution.
struct GatherWithGrad : torch::autograd::Function<GatherWithGrad> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input) {
    auto& g = current();
    auto x = input.contiguous();
    // Gloo needs equal sizes; a mismatch is named here instead of failing deep inside Gloo.
    // One all-reduce (max of the rows and of their negation) gives the largest and the smallest.
    auto range = at::empty({2}, at::kLong);
    range[0] = x.size(0);
    range[1] = -x.size(0);
    allReduceNow(range, c10d::ReduceOp::MAX);
    int64_t hi = range[0].item<int64_t>(), lo = -range[1].item<int64_t>();
    if (lo != hi)
      throw ArgError("allGatherWithGrad needs the same number of rows on every rank (rank " + std::to_string(g.rank) + " has " +
                     std::to_string(x.size(0)) + ", others between " + std::to_string(lo) + " and " + std::to_string(hi) + ")");
    std::vector<std::vector<at::Tensor>> outs(1);
    for (int r = 0; r < g.size; r++) outs[0].push_back(at::empty_like(x));
    std::vector<at::Tensor> ins{x};
    c10d::AllgatherOptions opts;
    opts.timeout = g.timeout;
    g.pg->allgather(outs, ins, opts)->wait(g.timeout);
    ctx->saved_data["rows"] = x.size(0);
    return {at::cat(outs[0], 0)};
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto grad = grads[0].contiguous().clone();
    allReduceNow(grad);
    int64_t rows = ctx->saved_data["rows"].toInt();
    return {grad.narrow(0, current().rank * rows, rows).clone()};
  }
};

// SyncBatchNorm's training step over every rank's examples, with one all-reduce forward (each
// rank's mean and sum of squared deviations, combined about a shift the ranks share, so the
// combination does not cancel) and one backward (the sums of dy and dy * (x - mean)), and the
// normalization itself in libtorch's fused kernel, as PyTorch's SyncBatchNorm does on CUDA.
// Returns y, and the global mean and unbiased variance (for the running statistics).
struct SyncBatchNormStep : torch::autograd::Function<SyncBatchNormStep> {
  static std::vector<int64_t> perChannel(const at::Tensor& x) {
    std::vector<int64_t> shape(x.dim(), 1);
    shape[1] = x.size(1);
    return shape;
  }
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                                                const at::Tensor& bias, const at::Tensor& shift, double eps) {
    auto x = input.contiguous();
    int64_t c = x.size(1);
    double count = static_cast<double>(x.numel() / c);
    // The local mean and biased variance from BatchNorm's own statistics kernel (without
    // running statistics to update).
    auto local = at::batch_norm_update_stats(x, {}, {}, 0.0);
    auto offset = std::get<0>(local) - shift;
    auto stats = at::cat({offset * count, std::get<1>(local) * count + offset * offset * count, at::full({1}, count, x.options())});
    allReduceNow(stats);
    double n = stats[2 * c].item<double>();
    auto s1 = stats.narrow(0, 0, c);
    auto mean = shift + s1 / n;
    auto var = ((stats.narrow(0, c, c) - s1 * s1 / n) / n).clamp_min(0);
    auto y = at::batch_norm(x, weight, bias, mean, var, /*training=*/false, 0.0, eps, /*cudnn_enabled=*/false);
    auto unbiased = var * (n / std::max(n - 1, 1.0));
    ctx->save_for_backward({x, weight, mean, var});
    ctx->saved_data["n"] = n;
    ctx->saved_data["eps"] = eps;
    ctx->mark_non_differentiable({mean, unbiased});
    return {y, mean, unbiased};
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto &x = saved[0], &weight = saved[1], &mean = saved[2], &var = saved[3];
    double n = ctx->saved_data["n"].toDouble();
    double eps = ctx->saved_data["eps"].toDouble();
    int64_t c = x.size(1);
    auto shape = perChannel(x);
    auto dy = grads[0].defined() ? grads[0].contiguous() : at::zeros_like(x);
    // The fixed-statistics backward (one fused pass) gives dy * w * invstd and the local sums
    // of dy and dy * (x - mean) * invstd; the terms through the global statistics follow.
    auto fixed = at::native_batch_norm_backward(dy, x, weight, mean, var, {}, {}, /*train=*/false, eps, {true, true, true});
    auto invstd = (var + eps).rsqrt();
    auto gradWeight = std::get<1>(fixed);
    auto sumDy = std::get<2>(fixed);
    auto both = at::cat({sumDy, gradWeight / invstd});
    allReduceNow(both);
    auto scale = weight * invstd;
    auto a = scale * both.narrow(0, 0, c) / n;
    auto b = scale * invstd * invstd * both.narrow(0, c, c) / n;
    // dy * w * invstd - a - (x - mean) * b, in two passes over the activations.
    auto gradInput = std::get<0>(fixed).add_((mean * b - a).view(shape)).addcmul_(x, b.view(shape), -1);
    return {gradInput, gradWeight, sumDy, at::Tensor(), at::Tensor()};
  }
};

// Gradient averaging overlapped with backward. Parameters are bucketed in reverse order (the
// order backward produces their gradients); a hook on each parameter copies its gradient into
// its bucket while the reducer is armed, and the bucket's all-reduce starts on Gloo's threads
// the moment its last gradient arrives. `finish` starts any bucket still incomplete (parameters
// that got no gradient contribute zeros, on every rank alike), waits, and writes the averages
// into the parameters' gradients. It replaces the gradient of this backward; accumulating
// several backwards before one step is not supported.
struct Reducer {
  struct Bucket {
    std::vector<size_t> params;
    std::vector<int64_t> offsets;
    at::Tensor flat;
    size_t pending = 0;
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<at::Tensor> params;
  std::vector<unsigned> hooks;
  std::vector<std::pair<size_t, size_t>> where;  // parameter -> (bucket, slot)
  std::vector<bool> got;
  std::vector<Bucket> buckets;
  bool armed = false;
  double waitMs = 0;  // time finish() last spent blocked on communication

  void launch(Bucket& b) { b.work = startAllReduce({b.flat}); }
  void onGrad(size_t i, const at::Tensor& grad) {
    if (!armed) return;
    auto [bi, slot] = where[i];
    auto& b = buckets[bi];
    b.flat.narrow(0, b.offsets[slot], params[i].numel()).copy_(grad.reshape({-1}));
    if (!got[i]) {
      got[i] = true;
      if (--b.pending == 0) launch(b);
    }
  }
  void prepare() {
    for (auto& b : buckets) {
      b.flat.zero_();
      b.pending = b.params.size();
      b.work.reset();
    }
    std::fill(got.begin(), got.end(), false);
    armed = true;
  }
  void finish() {
    if (!armed) throw ArgError("the reducer is not armed (call prepare before backward)");
    armed = false;
    auto& g = current();
    for (auto& b : buckets)
      if (!b.work) launch(b);
    auto t0 = std::chrono::steady_clock::now();
    for (auto& b : buckets) b.work->wait(g.timeout);
    waitMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    for (auto& b : buckets) {
      b.flat.div_(g.size);
      for (size_t s = 0; s < b.params.size(); s++) {
        auto& p = params[b.params[s]];
        if (!got[b.params[s]] || !p.grad().defined()) continue;
        p.mutable_grad().copy_(b.flat.narrow(0, b.offsets[s], p.numel()).view(p.sizes()));
      }
    }
  }
  void removeHooks() {
    for (size_t i = 0; i < params.size(); i++) params[i].remove_hook(hooks[i]);
    hooks.clear();
  }
};

std::unordered_map<int64_t, std::unique_ptr<Reducer>> reducers;
int64_t nextReducer = 1;

Reducer& reducerAt(const Napi::Value& v) {
  auto it = reducers.find(v.As<Napi::Number>().Int64Value());
  if (it == reducers.end()) throw ArgError("unknown or destroyed gradient reducer");
  return *it->second;
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
    auto reduce = op == "sum"       ? c10d::ReduceOp::SUM
                  : op == "min"     ? c10d::ReduceOp::MIN
                  : op == "max"     ? c10d::ReduceOp::MAX
                  : op == "product" ? c10d::ReduceOp::PRODUCT
                                    : throw ArgError("op must be sum, min, max or product");
    return keepWork(env, startAllReduce(tensors, reduce));
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

// Whether every key is set, without waiting.
Napi::Value StoreCheck(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    auto arr = info[0].As<Napi::Array>();
    std::vector<std::string> keys;
    for (uint32_t i = 0; i < arr.Length(); i++) keys.push_back("user/" + arr.Get(i).As<Napi::String>().Utf8Value());
    return Napi::Boolean::New(env, current().store->check(keys));
  });
}

Napi::Value AllGatherWithGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, { return wrapTensor(env, GatherWithGrad::apply(unwrapTensor(info[0], "input"))[0]); });
}

// syncBatchNorm(input, weight, bias, shift, eps) -> [y, mean, var]
Napi::Value SyncBatchNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    auto outs = SyncBatchNormStep::apply(unwrapTensor(info[0], "input"), unwrapTensor(info[1], "weight"), unwrapTensor(info[2], "bias"),
                                         unwrapTensor(info[3], "shift"), info[4].As<Napi::Number>().DoubleValue());
    auto arr = Napi::Array::New(env, outs.size());
    for (uint32_t i = 0; i < outs.size(); i++) arr.Set(i, wrapTensor(env, outs[i]));
    return arr;
  });
}

// reducerCreate(params, firstBucketBytes, bucketBytes) -> reducer id
Napi::Value ReducerCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    current();
    auto params = tensorList(info[0], "params");
    int64_t first = info[1].As<Napi::Number>().Int64Value();
    int64_t limit = info[2].As<Napi::Number>().Int64Value();
    auto r = std::make_unique<Reducer>();
    r->params = params;
    r->where.resize(params.size());
    r->got.assign(params.size(), false);
    int64_t bytes = 0;
    int64_t cap = first;
    for (size_t k = params.size(); k-- > 0;) {
      auto& p = params[k];
      if (!p.requires_grad() || !p.is_leaf()) throw ArgError("every parameter given to the reducer must be a leaf that requires grad");
      if (p.scalar_type() != at::kFloat) throw ArgError("the gradient reducer takes float32 parameters");
      int64_t b = p.numel() * 4;
      if (r->buckets.empty() || bytes + b > cap) {
        if (!r->buckets.empty()) cap = limit;
        r->buckets.emplace_back();
        bytes = 0;
      }
      auto& bucket = r->buckets.back();
      r->where[k] = {r->buckets.size() - 1, bucket.params.size()};
      bucket.params.push_back(k);
      bucket.offsets.push_back(bytes / 4);
      bytes += b;
    }
    for (auto& bucket : r->buckets) {
      int64_t n = 0;
      for (auto k : bucket.params) n += params[k].numel();
      bucket.flat = at::zeros({n}, at::kFloat);
    }
    Reducer* raw = r.get();
    for (size_t k = 0; k < params.size(); k++)
      r->hooks.push_back(params[k].register_hook([raw, k](const at::Tensor& grad) { raw->onGrad(k, grad); }));
    int64_t id = nextReducer++;
    reducers.emplace(id, std::move(r));
    return Napi::Number::New(env, static_cast<double>(id));
  });
}

Napi::Value ReducerPrepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    reducerAt(info[0]).prepare();
    return env.Undefined();
  });
}

// reducerFinish(id) -> milliseconds spent waiting for communication after backward
Napi::Value ReducerFinish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    auto& r = reducerAt(info[0]);
    r.finish();
    return Napi::Number::New(env, r.waitMs);
  });
}

// reducerInfo(id) -> bytes per bucket, in launch order
Napi::Value ReducerInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    auto& r = reducerAt(info[0]);
    auto out = Napi::Array::New(env, r.buckets.size());
    for (uint32_t i = 0; i < r.buckets.size(); i++)
      out.Set(i, Napi::Number::New(env, static_cast<double>(r.buckets[i].flat.numel() * 4)));
    return out;
  });
}

Napi::Value ReducerDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    auto it = reducers.find(info[0].As<Napi::Number>().Int64Value());
    if (it != reducers.end()) {
      it->second->removeHooks();
      reducers.erase(it);
    }
    return env.Undefined();
  });
}

Napi::Value Destroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PRETEXT_GUARD(env, {
    for (auto& [id, r] : reducers) r->removeHooks();
    reducers.clear();
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
  d.Set("storeCheck", Napi::Function::New(env, StoreCheck, "storeCheck"));
  d.Set("allgatherWithGrad", Napi::Function::New(env, AllGatherWithGrad, "allgatherWithGrad"));
  d.Set("syncBatchNorm", Napi::Function::New(env, SyncBatchNorm, "syncBatchNorm"));
  d.Set("reducerCreate", Napi::Function::New(env, ReducerCreate, "reducerCreate"));
  d.Set("reducerPrepare", Napi::Function::New(env, ReducerPrepare, "reducerPrepare"));
  d.Set("reducerFinish", Napi::Function::New(env, ReducerFinish, "reducerFinish"));
  d.Set("reducerInfo", Napi::Function::New(env, ReducerInfo, "reducerInfo"));
  d.Set("reducerDestroy", Napi::Function::New(env, ReducerDestroy, "reducerDestroy"));
  d.Set("destroy", Napi::Function::New(env, Destroy, "destroy"));
  d.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("distributed", d);
}

}  // namespace pretext
