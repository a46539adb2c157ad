// Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay,
// with PyTorch's update rule (the momentum buffer starts as the first gradient).
import { Tensor } from '../tensor.js';
import * as fe from './foreach.js';
import { Optimizer, type GroupOptions, type ParamGroup, type ParamGroupSpec } from './optimizer.js';

export interface SGDOptions extends GroupOptions {
  momentum: number;
  dampening: number;
  nesterov: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Tensor[] | ParamGroupSpec<SGDOptions>[], o: Partial<SGDOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, ...o });
  }

  protected override validate(g: ParamGroup<SGDOptions>): void {
    super.validate(g);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) throw new RangeError('Nesterov momentum needs momentum > 0 and dampening 0');
  }

  protected update(g: ParamGroup<SGDOptions>, params: Tensor[], grads: Tensor[]): void {
    let d = g.weightDecay !== 0 ? fe.addList(grads, params, g.weightDecay) : grads;
    if (g.momentum !== 0) {
      const bufs = this.momentumBuffers(params, d, g.momentum, g.dampening);
      d = g.nesterov ? fe.addList(d, bufs, g.momentum) : bufs;
    }
    fe.addList_(params, d, -g.lr);
  }
}
