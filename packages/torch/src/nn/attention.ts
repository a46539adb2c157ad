// Multi-head attention and the Transformer encoder layer, with PyTorch's parameter names
// (in_proj_weight, out_proj.weight, linear1, norm1 ...) and sequence-first layout by default.
import { empty, zeros } from '../creation.js';
import { tidy } from '../scope.js';
import { Tensor } from '../tensor.js';
import * as F from './functional.js';
import * as init from './init.js';
import { Dropout, LayerNorm, Linear } from './layers.js';
import { Module } from './module.js';

export interface AttentionOptions {
  /** Bool [L, S] (true = may not attend) or float [L, S] added to the scores. */
  attnMask?: Tensor | null;
  /** Bool [batch, S]: true marks padding keys to ignore. */
  keyPaddingMask?: Tensor | null;
  needWeights?: boolean;
  averageAttnWeights?: boolean;
}

export class MultiheadAttention extends Module {
  readonly inProjWeight: Tensor;
  readonly inProjBias: Tensor | null;
  readonly outProj: Linear;
  readonly headDim: number;
  private readonly dropout: number;
  readonly batchFirst: boolean;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    o: { dropout?: number; bias?: boolean; batchFirst?: boolean } = {},
  ) {
    super();
    if (embedDim % numHeads !== 0) throw new RangeError(`embedDim (${embedDim}) must be divisible by numHeads (${numHeads})`);
    this.headDim = embedDim / numHeads;
    this.dropout = o.dropout ?? 0;
    this.batchFirst = o.batchFirst ?? false;
    const bias = o.bias ?? true;
    this.inProjWeight = this.registerParameter('in_proj_weight', empty([3 * embedDim, embedDim]));
    this.inProjBias = this.registerParameter('in_proj_bias', bias ? zeros([3 * embedDim]) : null);
    this.outProj = this.registerModule('out_proj', new Linear(embedDim, embedDim, bias));
    init.xavierUniform_(this.inProjWeight);
    if (this.outProj.bias) init.zeros_(this.outProj.bias);
  }

  /** query [L, N, E], key/value [S, N, E] ([N, L, E] with batchFirst) -> output and weights [N, L, S]. */
  forward(query: Tensor, key: Tensor, value: Tensor, o: AttentionOptions = {}): { output: Tensor; weights: Tensor | null } {
    // One scope: the projections, scores and probabilities go when the output is made.
    return tidy(() => this.attend(query, key, value, o));
  }

  private attend(query: Tensor, key: Tensor, value: Tensor, o: AttentionOptions): { output: Tensor; weights: Tensor | null } {
    const [q0, k0, v0] = this.batchFirst ? [query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)] : [query, key, value];
    const [L, N, E] = q0.shape as [number, number, number];
    const S = k0.shape[0]!;
    if (E !== this.embedDim) throw new TypeError(`query has embedding size ${E}, the layer expects ${this.embedDim}`);
    const H = this.numHeads;
    const hd = this.headDim;
    const heads = (x: Tensor, len: number): Tensor => x.reshape(len, N * H, hd).transpose(0, 1);
    let qp: Tensor, kp: Tensor, vp: Tensor;
    if (query === key && key === value) {
      // Self-attention: one projection of the input to q, k and v together, as PyTorch does.
      [qp, kp, vp] = F.linear(q0, this.inProjWeight, this.inProjBias).chunk(3, -1) as [Tensor, Tensor, Tensor];
    } else {
      const [wq, wk, wv] = this.inProjWeight.chunk(3);
      const [bq, bk, bv] = this.inProjBias ? this.inProjBias.chunk(3) : [null, null, null];
      [qp, kp, vp] = [F.linear(q0, wq!, bq), F.linear(k0, wk!, bk), F.linear(v0, wv!, bv)];
    }
    const q = heads(qp, L).mul(1 / Math.sqrt(hd));
    const k = heads(kp, S);
    const v = heads(vp, S);
    // Both masks become one additive float mask (-inf where a key is hidden), added inside the
    // score product as PyTorch's functional attention does, instead of a pass of its own.
    const mask = additiveMask(o.attnMask ?? null, o.keyPaddingMask ?? null, N, H, S, q.dtype);
    const scores = mask ? mask.baddbmm(q, k.transpose(1, 2)) : q.bmm(k.transpose(1, 2)); // [N*H, L, S]
    let attn = scores.softmax(-1);
    if (this.training && this.dropout > 0) attn = F.dropout(attn, this.dropout, true);
    const out = attn
      .bmm(v)
      .transpose(0, 1)
      .reshape(L * N, E);
    let output = this.outProj.forward(out).view(L, N, E);
    if (this.batchFirst) output = output.transpose(0, 1);
    if (!(o.needWeights ?? true)) return { output, weights: null };
    const w = attn.reshape(N, H, L, S);
    return { output, weights: (o.averageAttnWeights ?? true) ? w.mean(1) : w };
  }
}

/**
 * The attention mask ([L, S] or [N*H, L, S]; bool: true hides) and the key padding mask
 * ([N, S]; true hides) as one float mask to add to the scores, or null when there is neither.
 */
function additiveMask(
  attnMask: Tensor | null,
  keyPadding: Tensor | null,
  N: number,
  H: number,
  S: number,
  dtype: Tensor['dtype'],
): Tensor | null {
  const asFloat = (m: Tensor): Tensor => (m.dtype === 'bool' ? zeros(m.shape, { dtype }).maskedFill(m, -Infinity) : m);
  const attn = attnMask ? asFloat(attnMask) : null;
  if (!keyPadding) return attn;
  const pad = asFloat(
    keyPadding
      .reshape(N, 1, 1, S)
      .expand(N, H, 1, S)
      .reshape(N * H, 1, S),
  );
  return attn ? attn.add(pad) : pad;
}

export interface TransformerEncoderLayerOptions {
  dimFeedforward?: number;
  dropout?: number;
  activation?: 'relu' | 'gelu';
  layerNormEps?: number;
  batchFirst?: boolean;
  normFirst?: boolean;
}

/** Self-attention and a feed-forward block, each with a residual and LayerNorm (Vaswani et al.). */
export class TransformerEncoderLayer extends Module {
  readonly selfAttn: MultiheadAttention;
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  private readonly drop: Dropout;
  private readonly drop1: Dropout;
  private readonly drop2: Dropout;
  readonly o: TransformerEncoderLayerOptions;

  constructor(dModel: number, nhead: number, o: TransformerEncoderLayerOptions = {}) {
    super();
    this.o = o;
    const p = o.dropout ?? 0.1;
    const eps = o.layerNormEps ?? 1e-5;
    this.selfAttn = this.registerModule(
      'self_attn',
      new MultiheadAttention(dModel, nhead, { dropout: p, batchFirst: o.batchFirst ?? false }),
    );
    this.linear1 = this.registerModule('linear1', new Linear(dModel, o.dimFeedforward ?? 2048));
    this.drop = this.registerModule('dropout', new Dropout(p));
    this.linear2 = this.registerModule('linear2', new Linear(o.dimFeedforward ?? 2048, dModel));
    this.norm1 = this.registerModule('norm1', new LayerNorm(dModel, { eps }));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dModel, { eps }));
    this.drop1 = this.registerModule('dropout1', new Dropout(p));
    this.drop2 = this.registerModule('dropout2', new Dropout(p));
  }

  forward(src: Tensor, o: { srcMask?: Tensor | null; srcKeyPaddingMask?: Tensor | null } = {}): Tensor {
    // Each block in its own scope, so its temporaries go as soon as it returns (what autograd
    // needs it holds itself), as Python's reference counting frees them in PyTorch: the next
    // block then reuses memory that is still in cache instead of touching fresh pages.
    const sa = (x: Tensor): Tensor =>
      tidy(() =>
        this.drop1.forward(
          this.selfAttn.forward(x, x, x, { attnMask: o.srcMask ?? null, keyPaddingMask: o.srcKeyPaddingMask ?? null, needWeights: false })
            .output,
        ),
      );
    const act = (x: Tensor): Tensor => (this.o.activation === 'gelu' ? x.gelu() : x.relu());
    const ff = (x: Tensor): Tensor => tidy(() => this.drop2.forward(this.linear2.forward(this.drop.forward(act(this.linear1.forward(x))))));
    if (this.o.normFirst) {
      const x = src.add(sa(this.norm1.forward(src)));
      return x.add(ff(this.norm2.forward(x)));
    }
    const x = this.norm1.forward(src.add(sa(src)));
    return this.norm2.forward(x.add(ff(x)));
  }
}
