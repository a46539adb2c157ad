// LARS (You et al., 2017), as SimCLR, BYOL and Barlow Twins train with it: SGD with momentum
// whose step per layer is scaled by a trust ratio eta * ||w|| / (||g|| + wd * ||w||).
// Biases and normalization parameters (1-D tensors) are excluded from both the adaptation
// and the weight decay, as in those papers' implementations.
import { Tensor } from '../tensor.js';
import * as fe from './foreach.js';
import { Optimizer, type GroupOptions, type ParamGroup, type ParamGroupSpec } from './optimizer.js';

export interface LARSOptions extends GroupOptions {
  momentum: number;
  eta: number;
  eps: number;
  /** Leave 1-D parameters (biases, norm scales) unadapted and undecayed. */
  excludeBiasAndNorm: boolean;
  /** Clip the adaptive rate to at most the group's lr (solo-learn's clip_lr). */
  clipLr: boolean;
}

export class LARS extends Optimizer<LARSOptions> {
  constructor(params: Tensor[] | ParamGroupSpec<LARSOptions>[], o: Partial<LARSOptions> & { lr: number }) {
    super(params, { momentum: 0.9, eta: 0.02, eps: 1e-8, weightDecay: 0, excludeBiasAndNorm: true, clipLr: false, ...o });
  }

  protected update(g: ParamGroup<LARSOptions>, params: Tensor[], grads: Tensor[]): void {
    const pNorms = fe.norms(params).map((t) => t.item());
    const gNorms = fe.norms(grads).map((t) => t.item());
    const steps = params.map((p, i) => {
      const grad = grads[i]!;
      if (g.excludeBiasAndNorm && p.ndim <= 1) return grad;
      const pn = pNorms[i]!;
      const gn = gNorms[i]!;
      let d = g.weightDecay !== 0 ? grad.add(p, g.weightDecay) : grad;
      if (pn > 0 && gn > 0) {
        let trust = (g.eta * pn) / (gn + g.weightDecay * pn + g.eps);
        if (g.clipLr) trust = Math.min(trust / g.lr, 1);
        d = d.mul(trust);
      }
      return d;
    });
    fe.addList_(params, g.momentum !== 0 ? this.momentumBuffers(params, steps, g.momentum) : steps, -g.lr);
  }
}
