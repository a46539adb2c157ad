// The engine's layers as ONNX nodes, in inference mode (dropout is the identity, BatchNorm uses
// its running statistics). Each writer takes the name of its input value and returns the name
// of its output; weights are added as initializers under their state-dict keys. A module with
// no writer is refused with its path and class, so an export never writes a partial graph.
import { nn, type Tensor } from '@pretext/torch';
import { OnnxExportError, type OnnxGraph } from './graph.js';

/** The graph being written and the state-dict key of every parameter and buffer of the root module. */
export class ExportContext {
  private readonly keys = new Map<Tensor, string>();
  private readonly paths = new Map<nn.Module, string>();

  /** `roots`: modules with the prefix of their keys ('' for the encoder, 'head' for a classifier head). */
  constructor(
    readonly g: OnnxGraph,
    roots: [string, nn.Module][],
  ) {
    const join = (prefix: string, k: string): string => (prefix && k ? `${prefix}.${k}` : prefix || k);
    for (const [prefix, root] of roots) {
      for (const [k, t] of root.namedParameters()) this.keys.set(t, join(prefix, k));
      for (const [k, t] of root.namedBuffers()) this.keys.set(t, join(prefix, k));
      for (const [k, m] of root.namedModules()) this.paths.set(m, join(prefix, k) || '(root)');
    }
  }

  /** An initializer for one of the root's tensors, named by its state-dict key. */
  weight(t: Tensor): string {
    const key = this.keys.get(t);
    if (key === undefined) throw new OnnxExportError('a tensor outside the exported module tree was asked for');
    return this.g.weight(key, t);
  }

  path(m: nn.Module): string {
    return this.paths.get(m) ?? m.constructor.name;
  }

  /** An int64 constant. */
  ints(values: number[], hint = 'const'): string {
    return this.g.int64s(hint, values);
  }

  /** A 0-d int64 constant (an index that drops its axis in Gather). */
  index(v: number, hint = 'index'): string {
    return this.g.int64s(hint, [v], []);
  }

  /** A float scalar constant. */
  scalar(v: number, hint = 'const'): string {
    return this.g.floats(hint, [v], []);
  }

  unsupported(m: nn.Module, why: string): never {
    throw new OnnxExportError(`cannot export module '${this.path(m)}' (${m.constructor.name}) to ONNX: ${why}`);
  }
}

const pair = (v: number | number[] | undefined, dims: number, fallback: number): number[] =>
  v === undefined ? Array<number>(dims).fill(fallback) : typeof v === 'number' ? Array<number>(dims).fill(v) : v;

/** GELU as ONNX 17 has no Gelu op: 0.5 x (1 + erf(x / sqrt 2)), or the tanh approximation. */
export function gelu(c: ExportContext, x: string, approximate: 'none' | 'tanh' = 'none'): string {
  const g = c.g;
  let inner: string;
  if (approximate === 'none') inner = g.op('Erf', [g.op('Mul', [x, c.scalar(Math.SQRT1_2)])]);
  else {
    const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
    const arg = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, c.scalar(0.044715)])]), c.scalar(Math.sqrt(2 / Math.PI))]);
    inner = g.op('Tanh', [arg]);
  }
  return g.op('Mul', [g.op('Mul', [x, c.scalar(0.5)]), g.op('Add', [inner, c.scalar(1)])], {}, 'gelu');
}

/** x W^T + b over the last axis, for inputs of any rank. */
export function linear(c: ExportContext, m: nn.Linear, x: string, rank: number): string {
  const g = c.g;
  const w = c.weight(m.weight);
  if (rank === 2) return g.op('Gemm', m.bias ? [x, w, c.weight(m.bias)] : [x, w], { transB: 1 }, 'linear');
  const y = g.op('MatMul', [x, g.op('Transpose', [w], { perm: [1, 0] })], {}, 'matmul');
  return m.bias ? g.op('Add', [y, c.weight(m.bias)], {}, 'linear') : y;
}

function lambda(c: ExportContext, m: nn.Lambda, x: string, rank: number): string {
  const g = c.g;
  const op = m.op;
  switch (op.kind) {
    case 'relu':
      return g.op('Relu', [x]);
    case 'sigmoid':
      return g.op('Sigmoid', [x]);
    case 'tanh':
      return g.op('Tanh', [x]);
    case 'silu':
      return g.op('Mul', [x, g.op('Sigmoid', [x])], {}, 'silu');
    case 'identity':
      return x;
    case 'gelu':
      return gelu(c, x, op.approximate);
    case 'softmax':
      return g.op('Softmax', [x], { axis: op.dim });
    case 'flatten': {
      const end = op.endDim < 0 ? rank + op.endDim : op.endDim;
      if (end !== rank - 1) c.unsupported(m, `flatten up to axis ${op.endDim} of a ${rank}-D input`);
      return g.op('Flatten', [x], { axis: op.startDim });
    }
    case 'maxPool':
    case 'avgPool': {
      const k = pair(op.kernelSize, op.dims, 1);
      const pads = pair(op.options.padding, op.dims, 0);
      const attrs = {
        kernel_shape: k,
        strides: pair(op.options.stride ?? k, op.dims, 1),
        pads: [...pads, ...pads],
        ceil_mode: op.options.ceilMode ? 1 : 0,
      };
      // PyTorch's average pooling counts the zero padding by default.
      return op.kind === 'maxPool' ? g.op('MaxPool', [x], attrs) : g.op('AveragePool', [x], { ...attrs, count_include_pad: 1 });
    }
    case 'adaptiveAvgPool': {
      const out = pair(op.outputSize, op.dims, 1);
      if (out.some((s) => s !== 1)) c.unsupported(m, `adaptive pooling to ${out.join('x')} (only global pooling, output size 1)`);
      return g.op('GlobalAveragePool', [x]);
    }
  }
}

/** BatchNorm in inference mode; over [N, C] it is folded into one scale and shift per feature. */
function batchNorm(c: ExportContext, m: nn.BatchNorm1d | nn.BatchNorm2d, x: string, rank: number): string {
  const g = c.g;
  if (!m.runningMean || !m.runningVar) c.unsupported(m, 'BatchNorm without running statistics normalizes by each batch');
  const n = m.numFeatures;
  const ones = Array<number>(n).fill(1);
  const zeros = Array<number>(n).fill(0);
  const path = c.path(m);
  if (rank >= 3) {
    const scale = m.weight ? c.weight(m.weight) : g.floats(`${path}.weight`, ones, [n]);
    const bias = m.bias ? c.weight(m.bias) : g.floats(`${path}.bias`, zeros, [n]);
    return g.op(
      'BatchNormalization',
      [x, scale, bias, c.weight(m.runningMean), c.weight(m.runningVar)],
      { epsilon: { float: m.eps } },
      'batchnorm',
    );
  }
  const mean = m.runningMean.data() as Float32Array;
  const variance = m.runningVar.data() as Float32Array;
  const w = m.weight ? (m.weight.data() as Float32Array) : Float32Array.from(ones);
  const b = m.bias ? (m.bias.data() as Float32Array) : Float32Array.from(zeros);
  const scale = new Float32Array(n);
  const shift = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = w[i]! / Math.sqrt(variance[i]! + m.eps);
    scale[i] = s;
    shift[i] = b[i]! - mean[i]! * s;
  }
  const y = g.op('Mul', [x, g.floats(`${path}.folded_scale`, scale, [n])]);
  return g.op('Add', [y, g.floats(`${path}.folded_shift`, shift, [n])], {}, 'batchnorm');
}

function conv(c: ExportContext, m: nn.Conv1d | nn.Conv2d, x: string): string {
  const dims = m.kernelSize.length;
  const o = m.options;
  if (typeof o.padding === 'string' && o.padding === 'same' && m.kernelSize.some((k) => k % 2 === 0))
    c.unsupported(m, "padding 'same' with an even kernel (asymmetric padding)");
  const pad =
    o.padding === 'valid'
      ? Array<number>(dims).fill(0)
      : o.padding === 'same'
        ? m.kernelSize.map((k, i) => ((k - 1) * pair(o.dilation, dims, 1)[i]!) / 2)
        : pair(o.padding, dims, 0);
  const inputs = [x, c.weight(m.weight)];
  if (m.bias) inputs.push(c.weight(m.bias));
  return c.g.op('Conv', inputs, {
    kernel_shape: m.kernelSize,
    strides: pair(o.stride, dims, 1),
    pads: [...pad, ...pad],
    dilations: pair(o.dilation, dims, 1),
    group: o.groups ?? 1,
  });
}

export function layerNorm(c: ExportContext, m: nn.LayerNorm, x: string): string {
  const g = c.g;
  const shape = m.normalizedShape;
  const n = shape.reduce((a, b) => a * b, 1);
  const scale = m.weight ? c.weight(m.weight) : g.floats(`${c.path(m)}.weight`, Array<number>(n).fill(1), shape);
  const inputs = [x, scale];
  if (m.bias) inputs.push(c.weight(m.bias));
  return g.op('LayerNormalization', inputs, { axis: -shape.length, epsilon: { float: m.o.eps ?? 1e-5 } }, 'layernorm');
}

/**
 * GroupNorm over [N, C, ...] (opset 17 has no GroupNormalization): each image's channels in
 * groups as [N, G, rest], standardized over the last axis, back to the input's shape, then the
 * per-channel scale and shift.
 */
function groupNorm(c: ExportContext, m: nn.GroupNorm, x: string, rank: number): string {
  const g = c.g;
  if (rank < 3) c.unsupported(m, `GroupNorm over a ${rank}-D input`);
  const grouped = g.op('Reshape', [x, c.ints([0, m.numGroups, -1], 'group_shape')]);
  const centred = g.op('Sub', [grouped, g.op('ReduceMean', [grouped], { axes: [-1], keepdims: 1 })]);
  const variance = g.op('ReduceMean', [g.op('Mul', [centred, centred])], { axes: [-1], keepdims: 1 });
  const normalized = g.op('Div', [centred, g.op('Sqrt', [g.op('Add', [variance, c.scalar(m.o.eps ?? 1e-5, 'eps')])])]);
  let y = g.op('Reshape', [normalized, g.op('Shape', [x])]);
  // Per-channel parameters as [C, 1, ...] broadcast over the spatial axes.
  const perChannel = c.ints([m.numChannels, ...Array<number>(rank - 2).fill(1)], 'channel_shape');
  if (m.weight) y = g.op('Mul', [y, g.op('Reshape', [c.weight(m.weight), perChannel])]);
  if (m.bias) y = g.op('Add', [y, g.op('Reshape', [c.weight(m.bias), perChannel])]);
  return y;
}

/**
 * Self-attention of a batch-first [N, L, E] input as PyTorch computes it: one projection to
 * q, k, v, heads, scaled scores, padding keys (bool [N, L], true = padding) set to -inf,
 * softmax, the output projection.
 */
function selfAttention(c: ExportContext, m: nn.MultiheadAttention, x: string, padding: string | null): string {
  const g = c.g;
  const E = m.embedDim;
  const H = m.numHeads;
  const hd = m.headDim;
  const qkv = g.op('MatMul', [x, g.op('Transpose', [c.weight(m.inProjWeight)], { perm: [1, 0] })], {}, 'qkv');
  const proj = m.inProjBias ? g.op('Add', [qkv, c.weight(m.inProjBias)]) : qkv;
  const [q, k, v] = g.opN('Split', [proj, c.ints([E, E, E], 'split')], 3, { axis: 2 }, 'qkv_split') as [string, string, string];
  // [N, L, E] -> [N, H, L, hd]
  const heads = (t: string): string =>
    g.op('Transpose', [g.op('Reshape', [t, c.ints([0, 0, H, hd], 'heads_shape')])], { perm: [0, 2, 1, 3] }, 'heads');
  const qh = g.op('Mul', [heads(q), c.scalar(1 / Math.sqrt(hd))]);
  let scores = g.op('MatMul', [qh, g.op('Transpose', [heads(k)], { perm: [0, 1, 3, 2] })], {}, 'scores');
  if (padding) {
    const pad = g.op('Unsqueeze', [padding, c.ints([1, 2], 'axes')]); // [N, 1, 1, L]
    scores = g.op('Where', [pad, c.scalar(-Infinity, 'neg_inf'), scores], {}, 'masked_scores');
  }
  const attn = g.op('Softmax', [scores], { axis: -1 }, 'attention');
  const out = g.op('Transpose', [g.op('MatMul', [attn, heads(v)])], { perm: [0, 2, 1, 3] });
  const merged = g.op('Reshape', [out, c.ints([0, 0, E], 'merge_shape')]);
  return linear(c, m.outProj, merged, 3);
}

/** A Transformer encoder layer over batch-first [N, L, E]; padding is a bool [N, L] value or null. */
export function transformerLayer(c: ExportContext, m: nn.TransformerEncoderLayer, x: string, padding: string | null): string {
  if (!m.selfAttn.batchFirst) c.unsupported(m, 'only batch-first layers are exported');
  const g = c.g;
  const sa = (t: string): string => selfAttention(c, m.selfAttn, t, padding);
  const ff = (t: string): string => {
    const h = linear(c, m.linear1, t, 3);
    return linear(c, m.linear2, m.o.activation === 'gelu' ? gelu(c, h) : g.op('Relu', [h]), 3);
  };
  if (m.o.normFirst) {
    const h = g.op('Add', [x, sa(layerNorm(c, m.norm1, x))], {}, 'residual');
    return g.op('Add', [h, ff(layerNorm(c, m.norm2, h))], {}, 'residual');
  }
  const h = layerNorm(c, m.norm1, g.op('Add', [x, sa(x)], {}, 'residual'));
  return layerNorm(c, m.norm2, g.op('Add', [h, ff(h)], {}, 'residual'));
}

/**
 * A GRU over batch-first [N, L, I] -> every step's output [N, L, H] (last layer). ONNX orders
 * the gates z, r, h where PyTorch has r, z, n; PyTorch applies the reset gate after the
 * hidden projection (linear_before_reset = 1).
 */
export function gru(c: ExportContext, m: nn.GRU, x: string): string {
  const g = c.g;
  if (m.bidirectional) c.unsupported(m, 'bidirectional GRUs are not exported yet');
  if (!m.o.batchFirst) c.unsupported(m, 'only batch-first GRUs are exported');
  const Hs = m.hiddenSize;
  const params = new Map(m.namedParameters());
  const reorder = (t: Tensor, cols: number): Float32Array => {
    const src = t.data() as Float32Array;
    const out = new Float32Array(src.length);
    const block = Hs * cols;
    out.set(src.subarray(block, 2 * block), 0); // z
    out.set(src.subarray(0, block), block); // r
    out.set(src.subarray(2 * block, 3 * block), 2 * block); // n
    return out;
  };
  let y = g.op('Transpose', [x], { perm: [1, 0, 2] }, 'seq_first');
  for (let layer = 0; layer < m.numLayers; layer++) {
    const wIh = params.get(`weight_ih_l${layer}`)!;
    const wHh = params.get(`weight_hh_l${layer}`)!;
    const path = `${c.path(m)}.l${layer}`;
    const W = g.floats(`${path}.W`, reorder(wIh, wIh.size(1)), [1, 3 * Hs, wIh.size(1)]);
    const R = g.floats(`${path}.R`, reorder(wHh, Hs), [1, 3 * Hs, Hs]);
    const inputs = [y, W, R];
    if (m.o.bias) {
      const b = new Float32Array(6 * Hs);
      b.set(reorder(params.get(`bias_ih_l${layer}`)!, 1), 0);
      b.set(reorder(params.get(`bias_hh_l${layer}`)!, 1), 3 * Hs);
      inputs.push(g.floats(`${path}.B`, b, [1, 6 * Hs]));
    }
    const [Y] = g.opN('GRU', inputs, 1, { hidden_size: Hs, linear_before_reset: 1 }, 'gru');
    y = g.op('Squeeze', [Y!, c.ints([1], 'axes')]); // [L, 1, N, H] -> [L, N, H]
  }
  return g.op('Transpose', [y], { perm: [1, 0, 2] }, 'batch_first');
}

/** A single-input module by its class: Sequential chains, the common layers, Lambda ops. `rank` is the input's. */
export function exportModule(c: ExportContext, m: nn.Module, x: string, rank: number): { out: string; rank: number } {
  if (m instanceof nn.Sequential) {
    let y = { out: x, rank };
    for (let i = 0; i < m.length; i++) y = exportModule(c, m.at(i) as nn.Module, y.out, y.rank);
    return y;
  }
  if (m instanceof nn.Linear) return { out: linear(c, m, x, rank), rank };
  if (m instanceof nn.Conv1d || m instanceof nn.Conv2d) return { out: conv(c, m, x), rank };
  if (m instanceof nn.BatchNorm1d || m instanceof nn.BatchNorm2d) return { out: batchNorm(c, m, x, rank), rank };
  if (m instanceof nn.LayerNorm) return { out: layerNorm(c, m, x), rank };
  if (m instanceof nn.GroupNorm) return { out: groupNorm(c, m, x, rank), rank };
  if (m instanceof nn.Dropout) return { out: x, rank };
  if (m instanceof nn.Lambda) {
    const out = lambda(c, m, x, rank);
    const op = m.op;
    const next = op.kind === 'flatten' ? op.startDim + 1 : rank;
    return { out, rank: next };
  }
  return c.unsupported(m, 'no ONNX writer for this module');
}
