// Thin binding of SentencePiece (libsentencepiece-dev 0.1.97): the trainer fed sentences
// from JS memory, and the processor loaded from a serialized model. Every failed call becomes
// a JS exception carrying SentencePiece's own status message.
#include <napi.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

// Exported by libsentencepiece but not declared in its public headers: the trainer's INFO
// lines (dozens per run) would otherwise flood a user's terminal.
namespace sentencepiece::logging {
void SetMinLogLevel(int v);
}

namespace {

void Check(Napi::Env env, const sentencepiece::util::Status& s, const char* what) {
  if (!s.ok()) throw Napi::Error::New(env, std::string("sentencepiece ") + what + ": " + s.ToString());
}

// Sentences handed over from JS, one at a time, to the trainer.
class VectorIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorIterator(std::vector<std::string> v) : v_(std::move(v)) {}
  bool done() const override { return i_ >= v_.size(); }
  void Next() override { i_++; }
  const std::string& value() const override { return v_[i_]; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  std::vector<std::string> v_;
  size_t i_ = 0;
};

std::vector<std::string> Strings(const Napi::Value& v) {
  auto arr = v.As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value s = arr.Get(i);
    if (!s.IsString()) throw Napi::TypeError::New(v.Env(), "expected an array of strings");
    out.push_back(s.As<Napi::String>().Utf8Value());
  }
  return out;
}

// train(sentences: string[], options: Record<string, string>, seed?: number) -> Buffer (the model proto).
Napi::Value Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  VectorIterator it(Strings(info[0]));
  std::unordered_map<std::string, std::string> kwargs;
  auto opts = info[1].As<Napi::Object>();
  auto keys = opts.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
    kwargs[k] = opts.Get(k).ToString().Utf8Value();
  }
  // The seed is a process-wide setting in SentencePiece, not a trainer field.
  if (info.Length() > 2 && info[2].IsNumber()) sentencepiece::SetRandomGeneratorSeed(info[2].As<Napi::Number>().Uint32Value());
  std::string model;
  Check(env, sentencepiece::SentencePieceTrainer::Train(kwargs, &it, &model), "training");
  return Napi::Buffer<char>::Copy(env, model.data(), model.size());
}

using Processor = sentencepiece::SentencePieceProcessor;

Processor* Unwrap(const Napi::Value& v) {
  if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), "expected a SentencePiece processor handle");
  return v.As<Napi::External<Processor>>().Data();
}

// load(model: Buffer) -> handle
Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto buf = info[0].As<Napi::Buffer<char>>();
  auto p = std::make_unique<Processor>();
  Check(env, p->LoadFromSerializedProto(std::string(buf.Data(), buf.Length())), "loading the model");
  return Napi::External<Processor>::New(env, p.release(), [](Napi::Env, Processor* q) { delete q; });
}

// encode(handle, texts: string[]) -> { ids: Int32Array, offsets: Int32Array (texts + 1) }
Napi::Value Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Processor* p = Unwrap(info[0]);
  auto texts = Strings(info[1]);
  std::vector<int> all;
  std::vector<int> offsets{0};
  std::vector<int> ids;
  for (const auto& t : texts) {
    ids.clear();
    Check(env, p->Encode(t, &ids), "encoding");
    all.insert(all.end(), ids.begin(), ids.end());
    offsets.push_back(static_cast<int>(all.size()));
  }
  auto outIds = Napi::Int32Array::New(env, all.size());
  std::copy(all.begin(), all.end(), outIds.Data());
  auto outOffsets = Napi::Int32Array::New(env, offsets.size());
  std::copy(offsets.begin(), offsets.end(), outOffsets.Data());
  auto out = Napi::Object::New(env);
  out.Set("ids", outIds);
  out.Set("offsets", outOffsets);
  return out;
}

// pieces(handle, text) -> string[]
Napi::Value Pieces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Processor* p = Unwrap(info[0]);
  std::vector<std::string> pieces;
  Check(env, p->Encode(info[1].As<Napi::String>().Utf8Value(), &pieces), "encoding");
  auto out = Napi::Array::New(env, pieces.size());
  for (size_t i = 0; i < pieces.size(); i++) out.Set(static_cast<uint32_t>(i), pieces[i]);
  return out;
}

// decode(handle, ids: Int32Array) -> string
Napi::Value Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Processor* p = Unwrap(info[0]);
  auto arr = info[1].As<Napi::Int32Array>();
  int size = p->GetPieceSize();
  std::vector<int> ids(arr.Data(), arr.Data() + arr.ElementLength());
  for (int id : ids)
    if (id < 0 || id >= size) throw Napi::RangeError::New(env, "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(size));
  std::string text;
  Check(env, p->Decode(ids, &text), "decoding");
  return Napi::String::New(env, text);
}

// vocab(handle) -> { pieces: string[], kinds: Uint8Array (0 normal, 1 unknown, 2 control, 3 unused, 4 byte, 5 user-defined), unk, bos, eos, pad }
Napi::Value Vocab(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Processor* p = Unwrap(info[0]);
  int n = p->GetPieceSize();
  auto pieces = Napi::Array::New(env, n);
  auto kinds = Napi::Uint8Array::New(env, n);
  for (int i = 0; i < n; i++) {
    pieces.Set(static_cast<uint32_t>(i), p->IdToPiece(i));
    uint8_t k = 0;
    if (p->IsUnknown(i)) k = 1;
    else if (p->IsControl(i)) k = 2;
    else if (p->IsUnused(i)) k = 3;
    else if (p->IsByte(i)) k = 4;
    kinds[i] = k;
  }
  auto out = Napi::Object::New(env);
  out.Set("pieces", pieces);
  out.Set("kinds", kinds);
  out.Set("unk", p->unk_id());
  out.Set("bos", p->bos_id());
  out.Set("eos", p->eos_id());
  out.Set("pad", p->pad_id());
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  sentencepiece::logging::SetMinLogLevel(1);
  exports.Set("train", Napi::Function::New(env, Train));
  exports.Set("load", Napi::Function::New(env, Load));
  exports.Set("encode", Napi::Function::New(env, Encode));
  exports.Set("pieces", Napi::Function::New(env, Pieces));
  exports.Set("decode", Napi::Function::New(env, Decode));
  exports.Set("vocab", Napi::Function::New(env, Vocab));
  return exports;
}

}  // namespace

NODE_API_MODULE(pretext_sentencepiece, Init)
