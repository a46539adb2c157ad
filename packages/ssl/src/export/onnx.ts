// `pretext export --format onnx`: an encoder (and optionally a classifier head on it) written
// as one ONNX graph with a dynamic batch axis, for onnxruntime anywhere. What each family reads:
//   images     float pixels in [0, 1], [batch, C, H, W]; the input normalization is in the graph
//   tables     encoded rows [batch, F] (the encoder's features.json sidecar turns raw rows into them)
//   text       token ids int64 [batch, length <= maxLength] (the SentencePiece sidecar makes them;
//              padding is the pad id, the graph masks it)
//   histories  encoded histories [batch, events, C] (the events.json sidecar makes them)
// The output is the embedding [batch, outDim]; a classifier adds class probabilities.
import type { nn } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';
import { SmallCnn } from '../encoders/smallCnn.js';
import { BasicBlock, ResNet18 } from '../encoders/resnet.js';
import { FeatureTokenizer, FtTransformer, TabularMlp } from '../modalities/tabular/encoders.js';
import { TextTransformer } from '../modalities/text/encoder.js';
import { DocumentEncoder } from '../modalities/text/document.js';
import { EventGru } from '../modalities/sequence/encoder.js';
import type { EncoderMeta } from '../pipeline.js';
import { OnnxExportError, OnnxGraph, type ValueInfo } from './graph.js';
import { ExportContext, exportModule, gru, layerNorm, transformerLayer } from './layers.js';

export const PRODUCER_VERSION = '0.1.0';

/** Which input an exported family reads. */
export type OnnxFamily = 'small-cnn' | 'resnet18' | 'tabular-mlp' | 'ft-transformer' | 'text-transformer' | 'event-gru';

export interface OnnxExportOptions {
  /** A classifier head on the features: its logits become probabilities (softmax). */
  head?: nn.Linear;
  classes?: string[];
  /** Extra metadata_props (e.g. the hub version the encoder was pulled from). */
  metadata?: Record<string, string>;
  /**
   * An image-text tower: the encoder's features projected into the shared space and
   * L2-normalized. `keys`: the state-dict prefixes of the encoder and the projection.
   */
  projection?: { linear: nn.Linear; keys: [string, string] };
}

export interface OnnxExport {
  bytes: Uint8Array;
  input: ValueInfo;
  outputs: ValueInfo[];
  metadata: Record<string, string>;
  nodes: number;
}

function basicBlock(c: ExportContext, b: BasicBlock, x: string): string {
  const g = c.g;
  const y1 = g.op('Relu', [exportModule(c, b.bn1, exportModule(c, b.conv1, x, 4).out, 4).out]);
  const y2 = exportModule(c, b.bn2, exportModule(c, b.conv2, y1, 4).out, 4).out;
  const skip = b.downsample ? exportModule(c, b.downsample, x, 4).out : x;
  return g.op('Relu', [g.op('Add', [y2, skip], {}, 'residual')]);
}

function resnet(c: ExportContext, m: ResNet18, x: string): string {
  const g = c.g;
  let y = g.op('Relu', [exportModule(c, m.bn1, exportModule(c, m.conv1, x, 4).out, 4).out]);
  for (const stage of m.stages)
    for (let i = 0; i < stage.length; i++) {
      const block = stage.at(i);
      if (!(block instanceof BasicBlock)) c.unsupported(block as nn.Module, 'a ResNet stage holds only basic blocks');
      y = basicBlock(c, block, y);
    }
  return g.op('ReduceMean', [y], { axes: [2, 3], keepdims: 0 }, 'pool');
}

/** Columns [start, start + n) of axis `axis`. */
function slice(c: ExportContext, x: string, axis: number, start: number, n: number): string {
  return c.g.op('Slice', [x, c.ints([start], 'starts'), c.ints([start + n], 'ends'), c.ints([axis], 'axes')]);
}

function tokenizer(c: ExportContext, t: FeatureTokenizer, x: string): string {
  const g = c.g;
  const k = t.layout.continuous;
  const parts: string[] = [];
  if (t.numWeight && t.numBias) {
    const num = g.op('Unsqueeze', [slice(c, x, 1, 0, k), c.ints([2], 'axes')]);
    parts.push(g.op('Add', [g.op('Mul', [num, c.weight(t.numWeight)]), c.weight(t.numBias)], {}, 'num_tokens'));
  }
  if (t.catEmbed && t.catBias) {
    const codes = g.op('Cast', [slice(c, x, 1, k, t.layout.cardinalities.length)], { to: 7 });
    const starts = t.layout.cardinalities.map((_, i) => t.layout.cardinalities.slice(0, i).reduce((a, b) => a + b, 0));
    const rows = g.op('Add', [codes, c.ints(starts, 'cat_offsets')]);
    parts.push(g.op('Add', [g.op('Gather', [c.weight(t.catEmbed.weight), rows], { axis: 0 }), c.weight(t.catBias)], {}, 'cat_tokens'));
  }
  return parts.length === 1 ? parts[0]! : g.op('Concat', parts, { axis: 1 }, 'tokens');
}

function tabularMlp(c: ExportContext, m: TabularMlp, x: string): string {
  let h = c.g.op('Flatten', [tokenizer(c, m.tokenizer, x)], { axis: 1 });
  for (const block of m.layers) h = exportModule(c, block, h, 2).out;
  return h;
}

/** The batch size of `x` as a 1-element int64 value. */
const batchOf = (c: ExportContext, x: string): string =>
  c.g.op('Slice', [c.g.op('Shape', [x]), c.ints([0], 'starts'), c.ints([1], 'ends')], {}, 'batch');

function ftTransformer(c: ExportContext, m: FtTransformer, x: string): string {
  const g = c.g;
  const tokens = tokenizer(c, m.tokenizer, x);
  const shape = g.op('Concat', [batchOf(c, x), c.ints([1, m.outDim], 'cls_shape')], { axis: 0 });
  let h = g.op('Concat', [g.op('Expand', [c.weight(m.cls), shape]), tokens], { axis: 1 });
  for (const layer of m.layers) h = transformerLayer(c, layer, h, null);
  return layerNorm(c, m.norm, g.op('Gather', [h, c.index(0, 'cls_index')], { axis: 1 }, 'cls'));
}

function textTransformer(c: ExportContext, m: TextTransformer, ids: string): string {
  const g = c.g;
  const padding = g.op('Equal', [ids, c.ints([m.layout.padId], 'pad_id')], {}, 'padding');
  const length = g.op('Slice', [g.op('Shape', [ids]), c.ints([1], 'starts'), c.ints([2], 'ends')], {}, 'length');
  const positions = g.op('Slice', [c.weight(m.embeddings.positionEmbeddings.weight), c.ints([0], 'starts'), length, c.ints([0], 'axes')]);
  let h = g.op('Add', [g.op('Gather', [c.weight(m.wordEmbeddings.weight), ids], { axis: 0 }), positions], {}, 'embeddings');
  for (const layer of m.layers) h = transformerLayer(c, layer, h, padding);
  h = layerNorm(c, m.norm, h);
  if (m.config.pooling === 'cls') return g.op('Gather', [h, c.index(0, 'cls_index')], { axis: 1 }, 'cls');
  const keep = g.op('Unsqueeze', [g.op('Cast', [g.op('Not', [padding])], { to: 1 }), c.ints([2], 'axes')]);
  const sum = g.op('ReduceSum', [g.op('Mul', [h, keep]), c.ints([1], 'axes')], { keepdims: 0 });
  const count = g.op('Max', [g.op('ReduceSum', [keep, c.ints([1], 'axes')], { keepdims: 0 }), c.scalar(1)]);
  return g.op('Div', [sum, count], {}, 'mean_pool');
}

/**
 * A text classifier's document encoder: [B, W * L] ids as W windows, each encoded; windows
 * that are all padding (first token the pad id) are left out of the mean, as in Pretext.
 */
function documentEncoder(c: ExportContext, m: DocumentEncoder, ids: string): string {
  const g = c.g;
  const L = m.text.layout.maxLength;
  const D = m.outDim;
  if (!(m.text instanceof TextTransformer)) c.unsupported(m.text, 'a document encoder exports over the text transformer only');
  const flat = g.op('Reshape', [ids, c.ints([-1, L], 'window_shape')], {}, 'windows');
  const features = textTransformer(c, m.text, flat);
  const first = g.op('Gather', [flat, c.index(0, 'first_token')], { axis: 1 });
  const real = g.op('Not', [g.op('Equal', [first, c.ints([m.text.layout.padId], 'pad_id')])], {}, 'real_window');
  // An all-padding window attends to nothing (NaN features); Where drops it before the mean.
  const kept = g.op('Where', [g.op('Unsqueeze', [real, c.ints([1], 'axes')]), features, c.scalar(0)], {}, 'kept_windows');
  const sum = g.op('ReduceSum', [g.op('Reshape', [kept, c.ints([-1, m.windows, D], 'doc_shape')]), c.ints([1], 'axes')], { keepdims: 0 });
  const counts = g.op(
    'ReduceSum',
    [g.op('Reshape', [g.op('Cast', [real], { to: 1 }), c.ints([-1, m.windows], 'count_shape')]), c.ints([1], 'axes')],
    { keepdims: 1 },
  );
  return g.op('Div', [sum, g.op('Max', [counts, c.scalar(1)])], {}, 'document');
}

function eventGru(c: ExportContext, m: EventGru, x: string): string {
  const g = c.g;
  const k = m.layout.cardinalities.length;
  const parts: string[] = [];
  if (k > 0) {
    const codes = g.op('Cast', [slice(c, x, 2, 0, k)], { to: 7 });
    [...m.fields].forEach((emb, f) => {
      const field = g.op('Gather', [codes, c.index(f, 'field')], { axis: 2 });
      parts.push(g.op('Gather', [c.weight(emb.weight), field], { axis: 0 }, 'field_embedding'));
    });
  }
  parts.push(slice(c, x, 2, k, m.channels - k - 1));
  const states = gru(c, m.gru, parts.length === 1 ? parts[0]! : g.op('Concat', parts, { axis: 2 }, 'event_inputs'));
  // The state after the last real event: the count of valid flags, at least 1, minus 1.
  const valid = g.op('Squeeze', [slice(c, x, 2, m.channels - 1, 1), c.ints([2], 'axes')]);
  const count = g.op('Max', [g.op('ReduceSum', [valid, c.ints([1], 'axes')], { keepdims: 0 }), c.scalar(1)]);
  const last = g.op('Sub', [g.op('Cast', [count], { to: 7 }), c.ints([1], 'one')]);
  const index = g.op('Expand', [
    g.op('Reshape', [last, c.ints([-1, 1, 1], 'index_shape')]),
    g.op('Concat', [batchOf(c, x), c.ints([1, m.outDim], 'gather_shape')], { axis: 0 }),
  ]);
  return g.op('Squeeze', [g.op('GatherElements', [states, index], { axis: 1 }), c.ints([1], 'axes')], {}, 'last_state');
}

/** The graph's input for an encoder with this description. */
function inputFor(family: OnnxFamily, meta: EncoderMeta, encoder: Encoder): ValueInfo {
  switch (family) {
    case 'small-cnn':
    case 'resnet18':
      return { name: 'pixels', type: 'float32', shape: ['batch', ...meta.inputShape] };
    case 'tabular-mlp':
    case 'ft-transformer':
      return {
        name: 'features',
        type: 'float32',
        shape: ['batch', (encoder as TabularMlp).layout.continuous + (encoder as TabularMlp).layout.cardinalities.length],
      };
    case 'text-transformer':
      return encoder instanceof DocumentEncoder
        ? { name: 'input_ids', type: 'int64', shape: ['batch', encoder.windows * encoder.text.layout.maxLength] }
        : { name: 'input_ids', type: 'int64', shape: ['batch', 'length'] };
    case 'event-gru':
      return { name: 'events', type: 'float32', shape: ['batch', 'events', (encoder as EventGru).channels] };
  }
}

/** (x - mean) / std, per channel when the statistics are arrays. */
function normalize(c: ExportContext, meta: EncoderMeta, x: string): string {
  const stat = (v: number | number[], hint: string): string =>
    typeof v === 'number' ? c.scalar(v, hint) : c.g.floats(hint, v, [v.length, 1, 1]);
  return c.g.op(
    'Div',
    [c.g.op('Sub', [x, stat(meta.inputNorm.mean, 'input_mean')]), stat(meta.inputNorm.std, 'input_std')],
    {},
    'normalized',
  );
}

/** Writes `encoder` (eval mode, with the run's encoder.json as `meta`) as an ONNX model. */
export function exportEncoderOnnx(encoder: Encoder, meta: EncoderMeta, o: OnnxExportOptions = {}): OnnxExport {
  const family = meta.encoder.type;
  const wasTraining = encoder.training;
  encoder.eval();
  try {
    const g = new OnnxGraph();
    // Initializers are named by state-dict keys: the encoder's own, or a classifier's (encoder.*, head.*).
    const c = new ExportContext(
      g,
      o.head
        ? [
            ['encoder', encoder],
            ['head', o.head],
          ]
        : o.projection
          ? [
              [o.projection.keys[0], encoder],
              [o.projection.keys[1], o.projection.linear],
            ]
          : [['', encoder]],
    );
    const input = inputFor(family, meta, encoder);
    g.fresh(input.name);
    let features: string;
    if (encoder instanceof SmallCnn) features = exportModule(c, encoder.features, normalize(c, meta, input.name), 4).out;
    else if (encoder instanceof ResNet18) features = resnet(c, encoder, normalize(c, meta, input.name));
    else if (encoder instanceof TabularMlp) features = tabularMlp(c, encoder, input.name);
    else if (encoder instanceof FtTransformer) features = ftTransformer(c, encoder, input.name);
    else if (encoder instanceof TextTransformer) features = textTransformer(c, encoder, input.name);
    else if (encoder instanceof DocumentEncoder) features = documentEncoder(c, encoder, input.name);
    else if (encoder instanceof EventGru) features = eventGru(c, encoder, input.name);
    else throw new OnnxExportError(`cannot export encoder type '${family}' (${encoder.constructor.name}) to ONNX`);
    let outDim = encoder.outDim;
    if (o.projection) {
      // torch's normalize: x / max(|x|, 1e-12).
      const z = exportModule(c, o.projection.linear, features, 2).out;
      const norm = g.op('Max', [g.op('ReduceL2', [z], { axes: [1], keepdims: 1 }), c.scalar(1e-12, 'norm_eps')]);
      features = g.op('Div', [z, norm], {}, 'normalized_embedding');
      outDim = o.projection.linear.outFeatures;
    }
    const outputs: ValueInfo[] = [{ name: 'embedding', type: 'float32', shape: ['batch', outDim] }];
    g.opNamed('Identity', [features], 'embedding');
    if (o.head) {
      const logits = exportModule(c, o.head, 'embedding', 2).out;
      g.opNamed('Softmax', [logits], 'probabilities', { axis: -1 });
      outputs.push({ name: 'probabilities', type: 'float32', shape: ['batch', o.head.outFeatures] });
    }
    const metadata: Record<string, string> = {
      'pretext.format': 'pretext-onnx/1',
      'pretext.modality': meta.modality ?? 'image',
      'pretext.encoder': family,
      'pretext.method': meta.method,
      'pretext.dataset': meta.dataset,
      'pretext.data_fingerprint': meta.dataFingerprint,
      'pretext.created_at': meta.createdAt,
      'pretext.out_dim': String(outDim),
      'pretext.input': `${input.name}: ${inputDoc(family)}`,
      ...(meta.modality === 'image' || meta.modality === undefined ? { 'pretext.input_norm': JSON.stringify(meta.inputNorm) } : {}),
      ...(o.classes ? { 'pretext.classes': JSON.stringify(o.classes) } : {}),
      ...o.metadata,
    };
    const bytes = g.serialize({
      name: `pretext-${family}`,
      inputs: [input],
      outputs,
      metadata,
      producerVersion: PRODUCER_VERSION,
      docString: inputDoc(family),
    });
    return { bytes, input, outputs, metadata, nodes: g.nodeCount };
  } finally {
    if (wasTraining) encoder.train();
  }
}

/** What the input holds and which sidecar file makes it. */
function inputDoc(family: OnnxFamily): string {
  switch (family) {
    case 'small-cnn':
    case 'resnet18':
      return 'float pixels in [0, 1] (normalization is in the graph)';
    case 'tabular-mlp':
    case 'ft-transformer':
      return "rows encoded by the encoder's features.json (scaled numbers, missing flags, then category codes)";
    case 'text-transformer':
      return "token ids from the encoder's SentencePiece vocabulary, [CLS] first, padded with the pad id";
    case 'event-gru':
      return "histories encoded by the encoder's events.json (codes, numeric pairs, gap, time to end, valid flag)";
  }
}

/** Random inputs for an encoder of this family (parity checks): valid codes, ids and histories. */
export function randomOnnxInputs(
  family: OnnxFamily,
  encoder: Encoder,
  meta: EncoderMeta,
  n: number,
  seed: number,
): { data: Float32Array | BigInt64Array; dims: number[] } {
  let s = seed >>> 0 || 1;
  const rand = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  if (family === 'small-cnn' || family === 'resnet18') {
    const dims = [n, ...meta.inputShape];
    return { data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, rand), dims };
  }
  if (family === 'tabular-mlp' || family === 'ft-transformer') {
    const { continuous, cardinalities } = (encoder as TabularMlp).layout;
    const F = continuous + cardinalities.length;
    const data = new Float32Array(n * F);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < F; j++) data[i * F + j] = j < continuous ? normal() : Math.floor(rand() * cardinalities[j - continuous]!);
    return { data, dims: [n, F] };
  }
  if (family === 'text-transformer') {
    // A document encoder (text classifiers) reads W full windows per row; windows after the
    // first may be all padding, as a short document's are.
    const doc = encoder instanceof DocumentEncoder ? encoder : null;
    const { layout } = doc ? doc.text : (encoder as TextTransformer);
    const L = doc ? layout.maxLength : Math.min(layout.maxLength, 32);
    const W = doc ? doc.windows : 1;
    const data = new BigInt64Array(n * W * L).fill(BigInt(layout.padId));
    const special = new Set([layout.padId, layout.clsId, layout.sepId, layout.maskId]);
    for (let i = 0; i < n; i++) {
      const windows = 1 + Math.floor(rand() * W);
      for (let w = 0; w < windows; w++) {
        const at = (i * W + w) * L;
        const len = 2 + Math.floor(rand() * (L - 1));
        data[at] = BigInt(layout.clsId);
        for (let t = 1; t < len - 1; t++) {
          let id = Math.floor(rand() * layout.vocabSize);
          while (special.has(id)) id = Math.floor(rand() * layout.vocabSize);
          data[at + t] = BigInt(id);
        }
        data[at + len - 1] = BigInt(layout.sepId);
      }
    }
    return { data, dims: [n, W * L] };
  }
  const e = encoder as EventGru;
  const L = 24;
  const C = e.channels;
  const k = e.layout.cardinalities.length;
  const data = new Float32Array(n * L * C);
  for (let i = 0; i < n; i++) {
    const len = Math.floor(rand() * (L + 1)); // 0 (an empty history) to L events
    for (let t = 0; t < len; t++) {
      const at = (i * L + t) * C;
      for (let f = 0; f < k; f++) data[at + f] = 1 + Math.floor(rand() * (e.layout.cardinalities[f]! - 1));
      for (let j = k; j < C - 1; j++) data[at + j] = normal();
      data[at + C - 1] = 1;
    }
  }
  return { data, dims: [n, L, C] };
}
