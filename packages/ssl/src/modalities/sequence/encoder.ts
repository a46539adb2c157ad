// An encoder of event histories (the CoLES shape, Babaev et al. 2022): each event's fields are
// embedded (an embedding per categorical field; numeric values with their present flags; the
// log time since the previous event and until the history's end) and concatenated, a GRU reads
// the events in time order, and the history's feature is the GRU's state after its last real
// event. Input: encoded histories [B, L, C] as packages/data's encodeHistories writes them
// (codes first, then numeric pairs, gap, time to end, and a valid flag per event).
import * as torch from '@pretext/torch';
import { nn, type Tensor } from '@pretext/torch';
import type { Encoder } from '../../encoders/encoder.js';

/** What an event encoder reads: each categorical field's code count and the numeric field count. */
export interface EventInputLayout {
  cardinalities: number[];
  numeric: number;
}

export interface EventGruConfig extends EventInputLayout {
  /** Embedding width per categorical field (default 16). */
  embedDim?: number;
  /** GRU state width, the feature size (default 256). */
  hidden?: number;
  /** GRU layers (default 1). */
  layers?: number;
  /** Dropout on the event inputs while training (default 0.1). */
  dropout?: number;
}

/** An encoder of event histories, which sequence methods can ask for per-event states. */
export interface SequenceEncoder extends Encoder {
  readonly layout: EventInputLayout;
  /** Channels per event: codes, 2 per numeric field, gap, time to end, valid. */
  readonly channels: number;
  /** Per-event states [B, L, D] and the valid mask [B, L] (true = a real event). */
  events(x: Tensor): { hidden: Tensor; valid: Tensor };
}

export const isSequenceEncoder = (e: Encoder): e is SequenceEncoder => 'events' in e && 'channels' in e;

export const eventChannels = (l: EventInputLayout): number => l.cardinalities.length + 2 * l.numeric + 3;

/** Real events per history: the count of valid flags, at least 1 (an empty history reads one blank event). */
export const historyLengths = (x: Tensor): Tensor =>
  x
    .select(2, x.size(2) - 1)
    .sum(1)
    .clampMin(1)
    .long();

export class EventGru extends nn.Module implements SequenceEncoder {
  readonly fields: nn.ModuleList<nn.Embedding>;
  readonly gru: nn.GRU;
  readonly outDim: number;
  readonly layout: EventInputLayout;
  readonly channels: number;
  private readonly dropout: nn.Dropout;

  constructor(readonly config: EventGruConfig) {
    super();
    this.layout = { cardinalities: config.cardinalities, numeric: config.numeric };
    this.channels = eventChannels(this.layout);
    const e = config.embedDim ?? 16;
    this.fields = this.registerModule('fields', new nn.ModuleList(config.cardinalities.map((k) => new nn.Embedding(k, e, 0))));
    const inDim = config.cardinalities.length * e + 2 * config.numeric + 2;
    this.outDim = config.hidden ?? 256;
    this.gru = this.registerModule('gru', new nn.GRU(inDim, this.outDim, { numLayers: config.layers ?? 1, batchFirst: true }));
    this.dropout = this.registerModule('dropout', new nn.Dropout(config.dropout ?? 0.1));
  }

  private check(x: Tensor): void {
    if (x.ndim !== 3 || x.size(2) !== this.channels)
      throw new TypeError(`an event encoder reads histories [batch, events, ${this.channels}], got shape [${x.shape.join(', ')}]`);
  }

  /** Event inputs [B, L, inDim]: field embeddings beside the numeric channels (valid flag dropped). */
  inputs(x: Tensor): Tensor {
    this.check(x);
    const k = this.layout.cardinalities.length;
    const codes = x.narrow(2, 0, k).long();
    const parts = [...this.fields].map((emb, f) => emb.forward(codes.select(2, f)));
    parts.push(x.narrow(2, k, this.channels - k - 1));
    return this.dropout.forward(torch.cat(parts, 2));
  }

  events(x: Tensor): { hidden: Tensor; valid: Tensor } {
    const { output } = this.gru.forward(this.inputs(x));
    return { hidden: output, valid: x.select(2, this.channels - 1).gt(0) };
  }

  forward(x: Tensor): Tensor {
    const { hidden } = this.events(x);
    const last = historyLengths(x).sub(1);
    const idx = last.view(-1, 1, 1).expand([x.size(0), 1, this.outDim]);
    return hidden.gather(1, idx).squeeze(1);
  }

  blocks(): nn.Module[][] {
    return [[this.fields, this.dropout], [this.gru]];
  }
}
