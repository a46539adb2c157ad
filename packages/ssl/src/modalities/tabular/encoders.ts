// Encoders for table rows. Input: encoded rows [B, F] as packages/data's encodeFeatures
// writes them: `continuous` scaled numbers and missing indicators, then one code per
// categorical column. Both encoders start from a feature tokenizer (every column its own
// d-dimensional token: a learned vector scaled by the number, or an embedding of the
// category with an unknown slot), then either flatten the tokens into an MLP or run a
// transformer over them with a [CLS] token (FT-Transformer, Gorishniy et al. 2021).
import * as torch from '@pretext/torch';
import { nn, type Tensor } from '@pretext/torch';
import type { Encoder } from '../../encoders/encoder.js';

/** Where each input column sits: how many continuous values, then each categorical column's code count. */
export interface TabularLayout {
  continuous: number;
  cardinalities: number[];
}

/** An encoder of table rows, which the tabular methods can ask for the column layout. */
export interface TabularEncoder extends Encoder {
  readonly layout: TabularLayout;
}

export const isTabularEncoder = (e: Encoder): e is TabularEncoder => 'layout' in e;

/** Every column to a d-dimensional token: [B, F] -> [B, continuous + categorical, d]. */
export class FeatureTokenizer extends nn.Module {
  readonly numWeight: Tensor | null;
  readonly numBias: Tensor | null;
  readonly catEmbed: nn.Embedding | null;
  readonly catBias: Tensor | null;
  private readonly offsets: Tensor | null;

  constructor(
    readonly layout: TabularLayout,
    readonly dim: number,
  ) {
    super();
    const { continuous: c, cardinalities } = layout;
    const bound = 1 / Math.sqrt(dim);
    const uniform = (shape: number[]): Tensor =>
      torch
        .rand(shape)
        .mul(2 * bound)
        .sub(bound);
    this.numWeight = c > 0 ? this.registerParameter('num_weight', uniform([c, dim])) : null;
    this.numBias = c > 0 ? this.registerParameter('num_bias', uniform([c, dim])) : null;
    const total = cardinalities.reduce((a, b) => a + b, 0);
    this.catEmbed = cardinalities.length ? this.registerModule('cat_embed', new nn.Embedding(total, dim)) : null;
    if (this.catEmbed) torch.noGrad(() => this.catEmbed!.weight.uniform_(-bound, bound));
    this.catBias = cardinalities.length ? this.registerParameter('cat_bias', uniform([cardinalities.length, dim])) : null;
    const starts = cardinalities.map((_, i) => cardinalities.slice(0, i).reduce((a, b) => a + b, 0));
    this.offsets = cardinalities.length
      ? this.registerBuffer('cat_offsets', torch.tensor(BigInt64Array.from(starts, BigInt)), false)
      : null;
  }

  get tokens(): number {
    return this.layout.continuous + this.layout.cardinalities.length;
  }

  forward(x: Tensor): Tensor {
    const c = this.layout.continuous;
    const parts: Tensor[] = [];
    if (this.numWeight && this.numBias) parts.push(x.narrow(1, 0, c).unsqueeze(2).mul(this.numWeight).add(this.numBias));
    if (this.catEmbed && this.catBias && this.offsets) {
      const codes = x.narrow(1, c, this.layout.cardinalities.length).long().add(this.offsets);
      parts.push(this.catEmbed.forward(codes).add(this.catBias));
    }
    return parts.length === 1 ? parts[0]! : torch.cat(parts, 1);
  }
}

export interface TabularMlpConfig extends TabularLayout {
  /** Token width per column (default 8). */
  tokenDim?: number;
  /** Hidden layer widths; the last is the feature size (default [256, 256]). */
  hidden?: number[];
  dropout?: number;
  /**
   * The normalization in each block (default 'batch'). 'layer' normalizes each row on its own:
   * what record-level DP-SGD needs, since batch statistics mix every row into every other's
   * gradient.
   */
  norm?: 'batch' | 'layer';
}

/** Tokens flattened, then Linear-BatchNorm-ReLU blocks (the strong MLP baseline of tabular work). */
export class TabularMlp extends nn.Module implements TabularEncoder {
  readonly tokenizer: FeatureTokenizer;
  readonly layers: nn.ModuleList<nn.Sequential>;
  readonly outDim: number;
  readonly layout: TabularLayout;

  constructor(readonly config: TabularMlpConfig) {
    super();
    this.layout = { continuous: config.continuous, cardinalities: config.cardinalities };
    const d = config.tokenDim ?? 8;
    this.tokenizer = this.registerModule('tokenizer', new FeatureTokenizer(this.layout, d));
    const hidden = config.hidden ?? [256, 256];
    if (hidden.length === 0) throw new RangeError('a tabular MLP needs at least one hidden layer');
    let inDim = this.tokenizer.tokens * d;
    const blocks: nn.Sequential[] = [];
    for (const h of hidden) {
      const norm = config.norm === 'layer' ? new nn.LayerNorm(h) : new nn.BatchNorm1d(h);
      blocks.push(new nn.Sequential(new nn.Linear(inDim, h), norm, new nn.ReLU(), new nn.Dropout(config.dropout ?? 0)));
      inDim = h;
    }
    this.layers = this.registerModule('layers', new nn.ModuleList(blocks));
    this.outDim = inDim;
  }

  forward(x: Tensor): Tensor {
    let h = this.tokenizer.forward(x).flatten(1);
    for (const b of this.layers) h = b.forward(h);
    return h;
  }

  blocks(): nn.Module[][] {
    return [[this.tokenizer], ...[...this.layers].map((b) => [b])];
  }
}

export interface FtTransformerConfig extends TabularLayout {
  /** Token width (default 64). */
  dModel?: number;
  layers?: number;
  heads?: number;
  /** Feed-forward width as a multiple of dModel (default 4/3, as in the paper's default). */
  ffnFactor?: number;
  dropout?: number;
}

/** FT-Transformer: feature tokens and a [CLS] token through pre-norm transformer layers; the [CLS] output is the feature. */
export class FtTransformer extends nn.Module implements TabularEncoder {
  readonly tokenizer: FeatureTokenizer;
  readonly cls: Tensor;
  readonly layers: nn.ModuleList<nn.TransformerEncoderLayer>;
  readonly norm: nn.LayerNorm;
  readonly outDim: number;
  readonly layout: TabularLayout;

  constructor(readonly config: FtTransformerConfig) {
    super();
    this.layout = { continuous: config.continuous, cardinalities: config.cardinalities };
    const d = config.dModel ?? 64;
    const heads = config.heads ?? 8;
    if (d % heads !== 0) throw new RangeError(`dModel ${d} is not a multiple of heads ${heads}`);
    this.tokenizer = this.registerModule('tokenizer', new FeatureTokenizer(this.layout, d));
    this.cls = this.registerParameter(
      'cls',
      torch
        .rand([1, 1, d])
        .mul(2 / Math.sqrt(d))
        .sub(1 / Math.sqrt(d)),
    );
    const ffn = Math.round(d * (config.ffnFactor ?? 4 / 3));
    const layers = Array.from(
      { length: config.layers ?? 3 },
      () =>
        new nn.TransformerEncoderLayer(d, heads, {
          dimFeedforward: ffn,
          dropout: config.dropout ?? 0.1,
          activation: 'gelu',
          batchFirst: true,
          normFirst: true,
        }),
    );
    this.layers = this.registerModule('layers', new nn.ModuleList(layers));
    this.norm = this.registerModule('norm', new nn.LayerNorm(d));
    this.outDim = d;
  }

  forward(x: Tensor): Tensor {
    const tokens = this.tokenizer.forward(x);
    let h = torch.cat([this.cls.expand(x.size(0), 1, this.outDim), tokens], 1);
    for (const layer of this.layers) h = layer.forward(h);
    return this.norm.forward(h.select(1, 0));
  }

  blocks(): nn.Module[][] {
    return [[this.tokenizer], ...[...this.layers].map((l) => [l]), [this.norm]];
  }
}
