// A small transformer over subword tokens (BERT-mini scale): token and learned position
// embeddings, pre-norm transformer layers that ignore padding keys, a final LayerNorm, and a
// pooled document feature ([CLS] token or the mean over real tokens). Parameter names follow
// BERT's for the embeddings and PyTorch's nn.TransformerEncoderLayer for the layers.
import * as torch from '@pretext/torch';
import { nn, type Tensor } from '@pretext/torch';
import type { Encoder } from '../../encoders/encoder.js';

/** What a text encoder was built for: its vocabulary's size and special ids, and its window. */
export interface TextVocabLayout {
  vocabSize: number;
  padId: number;
  clsId: number;
  sepId: number;
  maskId: number;
  /** Longest token window, [CLS] and [SEP] included. */
  maxLength: number;
}

export interface TextTransformerConfig extends TextVocabLayout {
  /** Hidden width (default 256). */
  dModel?: number;
  /** Transformer layers (default 4). */
  layers?: number;
  /** Attention heads (default 4). */
  heads?: number;
  /** Feed-forward width as a multiple of dModel (default 4). */
  ffnFactor?: number;
  dropout?: number;
  /** The document feature: the [CLS] token's output or the mean over non-padding tokens (default). */
  pooling?: 'cls' | 'mean';
}

/** An encoder of token windows, which text methods can ask for its vocabulary and per-token states. */
export interface TextEncoder extends Encoder {
  readonly layout: TextVocabLayout;
  /** Per-token states [B, L, D] of token ids [B, L], and the padding mask [B, L] (true = padding). */
  tokens(ids: Tensor): { hidden: Tensor; padding: Tensor };
  /** The token embedding table [V, D] (the MLM output layer is tied to it). */
  readonly wordEmbeddings: nn.Embedding;
}

export const isTextEncoder = (e: Encoder): e is TextEncoder => 'tokens' in e && 'wordEmbeddings' in e;

class TextEmbeddings extends nn.Module {
  readonly wordEmbeddings: nn.Embedding;
  readonly positionEmbeddings: nn.Embedding;
  private readonly dropout: nn.Dropout;
  constructor(vocab: number, maxLength: number, d: number, p: number) {
    super();
    this.wordEmbeddings = this.registerModule('word_embeddings', new nn.Embedding(vocab, d));
    this.positionEmbeddings = this.registerModule('position_embeddings', new nn.Embedding(maxLength, d));
    this.dropout = this.registerModule('dropout', new nn.Dropout(p));
    // BERT's initialization: N(0, 0.02) for both tables.
    torch.noGrad(() => {
      this.wordEmbeddings.weight.normal_(0, 0.02);
      this.positionEmbeddings.weight.normal_(0, 0.02);
    });
  }
  forward(ids: Tensor): Tensor {
    const L = ids.size(1);
    const pos = torch.arange(0, L, 1, { dtype: 'int64' });
    return this.dropout.forward(this.wordEmbeddings.forward(ids).add(this.positionEmbeddings.forward(pos)));
  }
}

export class TextTransformer extends nn.Module implements TextEncoder {
  readonly embeddings: TextEmbeddings;
  readonly layers: nn.ModuleList<nn.TransformerEncoderLayer>;
  readonly norm: nn.LayerNorm;
  readonly outDim: number;
  readonly layout: TextVocabLayout;
  private readonly pooling: 'cls' | 'mean';

  constructor(readonly config: TextTransformerConfig) {
    super();
    const { vocabSize, padId, clsId, sepId, maskId, maxLength } = config;
    this.layout = { vocabSize, padId, clsId, sepId, maskId, maxLength };
    const d = config.dModel ?? 256;
    const heads = config.heads ?? 4;
    if (d % heads !== 0) throw new RangeError(`dModel ${d} is not a multiple of heads ${heads}`);
    if (maxLength < 3) throw new RangeError(`maxLength ${maxLength} leaves no room for tokens between [CLS] and [SEP]`);
    const p = config.dropout ?? 0.1;
    this.embeddings = this.registerModule('embeddings', new TextEmbeddings(vocabSize, maxLength, d, p));
    const layers = Array.from(
      { length: config.layers ?? 4 },
      () =>
        new nn.TransformerEncoderLayer(d, heads, {
          dimFeedforward: Math.round(d * (config.ffnFactor ?? 4)),
          dropout: p,
          activation: 'gelu',
          batchFirst: true,
          normFirst: true,
        }),
    );
    this.layers = this.registerModule('layers', new nn.ModuleList(layers));
    this.norm = this.registerModule('norm', new nn.LayerNorm(d));
    this.outDim = d;
    this.pooling = config.pooling ?? 'mean';
  }

  get wordEmbeddings(): nn.Embedding {
    return this.embeddings.wordEmbeddings;
  }

  tokens(ids: Tensor): { hidden: Tensor; padding: Tensor } {
    const x = ids.dtype === 'int64' ? ids : ids.long();
    if (x.ndim !== 2) throw new TypeError(`a text encoder reads token ids [batch, length], got shape [${x.shape.join(', ')}]`);
    if (x.size(1) > this.layout.maxLength)
      throw new RangeError(`windows of ${x.size(1)} tokens are longer than the encoder's ${this.layout.maxLength}`);
    const padding = x.eq(this.layout.padId);
    let h = this.embeddings.forward(x);
    for (const layer of this.layers) h = layer.forward(h, { srcKeyPaddingMask: padding });
    return { hidden: this.norm.forward(h), padding };
  }

  forward(ids: Tensor): Tensor {
    const { hidden, padding } = this.tokens(ids);
    if (this.pooling === 'cls') return hidden.select(1, 0);
    const keep = padding.logicalNot().float().unsqueeze(2);
    return hidden.mul(keep).sum(1).div(keep.sum(1).clampMin(1));
  }

  blocks(): nn.Module[][] {
    return [[this.embeddings], ...[...this.layers].map((l) => [l]), [this.norm]];
  }
}
