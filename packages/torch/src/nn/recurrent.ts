// The gated recurrent unit, run by ATen's own fused kernel (aten::gru), with PyTorch's
// parameter names (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, then _reverse for the
// backward direction) and its initialization, U(-1/sqrt(hidden), 1/sqrt(hidden)) for all.
import { empty, zeros } from '../creation.js';
import { bindOp } from '../ops.js';
import type { Handle } from '../native.js';
import { Tensor } from '../tensor.js';
import * as init from './init.js';
import { Module } from './module.js';

const gruOp = bindOp('aten::gru.input');

export interface GRUOptions {
  numLayers?: number;
  bias?: boolean;
  /** Inputs and outputs as [batch, seq, feature] (default false: [seq, batch, feature]). */
  batchFirst?: boolean;
  /** Dropout between layers while training (not after the last). */
  dropout?: number;
  bidirectional?: boolean;
}

export class GRU extends Module {
  readonly numLayers: number;
  readonly bidirectional: boolean;
  readonly o: Required<GRUOptions>;

  constructor(
    readonly inputSize: number,
    readonly hiddenSize: number,
    o: GRUOptions = {},
  ) {
    super();
    this.o = { numLayers: 1, bias: true, batchFirst: false, dropout: 0, bidirectional: false, ...o };
    this.numLayers = this.o.numLayers;
    this.bidirectional = this.o.bidirectional;
    if (!(this.o.dropout >= 0 && this.o.dropout <= 1)) throw new RangeError(`dropout must be in [0, 1], got ${this.o.dropout}`);
    const dirs = this.bidirectional ? 2 : 1;
    const bound = 1 / Math.sqrt(hiddenSize);
    for (let layer = 0; layer < this.numLayers; layer++)
      for (let d = 0; d < dirs; d++) {
        const suffix = `_l${layer}${d ? '_reverse' : ''}`;
        const inSize = layer === 0 ? inputSize : hiddenSize * dirs;
        const shapes: [string, number[]][] = [
          [`weight_ih${suffix}`, [3 * hiddenSize, inSize]],
          [`weight_hh${suffix}`, [3 * hiddenSize, hiddenSize]],
          ...(this.o.bias
            ? ([
                [`bias_ih${suffix}`, [3 * hiddenSize]],
                [`bias_hh${suffix}`, [3 * hiddenSize]],
              ] as [string, number[]][])
            : []),
        ];
        for (const [name, shape] of shapes) {
          init.uniform_(this.registerParameter(name, empty(shape)), -bound, bound);
        }
      }
  }

  /**
   * input [seq, batch, inputSize] ([batch, seq, inputSize] with batchFirst), optional initial
   * state h0 [layers * directions, batch, hidden] -> every step's output (last layer, both
   * directions concatenated) and the final state of every layer.
   */
  forward(input: Tensor, h0?: Tensor | null): { output: Tensor; hidden: Tensor } {
    if (input.ndim !== 3)
      throw new TypeError(
        `a GRU reads [${this.o.batchFirst ? 'batch, seq' : 'seq, batch'}, features], got shape [${input.shape.join(', ')}]`,
      );
    const feat = input.size(2);
    if (feat !== this.inputSize) throw new TypeError(`the GRU expects ${this.inputSize} input features, got ${feat}`);
    const batch = input.size(this.o.batchFirst ? 0 : 1);
    const hx = h0 ?? zeros([this.numLayers * (this.bidirectional ? 2 : 1), batch, this.hiddenSize], { dtype: input.dtype });
    // In registration order, which is aten::gru's: per layer and direction w_ih, w_hh, b_ih, b_hh.
    const params = this.parameters().map((p) => p.h);
    const [output, hidden] = gruOp(
      input.h,
      hx.h,
      params,
      this.o.bias,
      this.numLayers,
      this.o.dropout,
      this.training,
      this.bidirectional,
      this.o.batchFirst,
    ) as [Handle, Handle];
    return { output: new Tensor(output), hidden: new Tensor(hidden) };
  }
}
