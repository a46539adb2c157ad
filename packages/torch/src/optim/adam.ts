// Adam (Kingma and Ba, 2015) and AdamW (Loshchilov and Hutter, 2019), PyTorch's update rule.
import { Tensor } from '../tensor.js';
import { zerosLike } from '../creation.js';
import * as fe from './foreach.js';
import { Optimizer, type GroupOptions, type ParamGroup, type ParamGroupSpec } from './optimizer.js';

export interface AdamOptions extends GroupOptions {
  betas: [number, number];
  eps: number;
}

/** Adam with L2 weight decay added to the gradient (decoupled: AdamW). */
export class Adam extends Optimizer<AdamOptions> {
  protected decoupled = false;

  constructor(params: Tensor[] | ParamGroupSpec<AdamOptions>[], o: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, ...o });
  }

  protected override validate(g: ParamGroup<AdamOptions>): void {
    super.validate(g);
    const [b1, b2] = g.betas;
    if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw new RangeError(`betas must be in [0, 1), got [${b1}, ${b2}]`);
    if (!(g.eps >= 0)) throw new RangeError(`invalid eps ${g.eps}`);
  }

  protected update(g: ParamGroup<AdamOptions>, params: Tensor[], grads: Tensor[]): void {
    const [beta1, beta2] = g.betas;
    const expAvg: Tensor[] = [];
    const expAvgSq: Tensor[] = [];
    let step = 0;
    for (const p of params) {
      const s = this.stateOf(p);
      if (s.step === undefined) {
        s.step = 0;
        s.exp_avg = this.keepState(zerosLike(p));
        s.exp_avg_sq = this.keepState(zerosLike(p));
      }
      s.step = (s.step as number) + 1;
      step = s.step;
      expAvg.push(s.exp_avg as Tensor);
      expAvgSq.push(s.exp_avg_sq as Tensor);
    }
    let gs = grads;
    if (g.weightDecay !== 0) {
      if (this.decoupled) fe.mulScalar_(params, 1 - g.lr * g.weightDecay);
      else gs = fe.addList(grads, params, g.weightDecay);
    }
    fe.mulScalar_(expAvg, beta1);
    fe.addList_(expAvg, gs, 1 - beta1);
    fe.mulScalar_(expAvgSq, beta2);
    fe.addcmul_(expAvgSq, gs, gs, 1 - beta2);
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    const denom = fe.sqrt(expAvgSq);
    fe.divScalar_(denom, Math.sqrt(bc2));
    fe.addScalar_(denom, g.eps);
    fe.addcdiv_(params, expAvg, denom, -g.lr / bc1);
  }
}

/** Adam with decoupled weight decay: p -= lr * wd * p before the Adam step. Default wd 0.01. */
export class AdamW extends Adam {
  constructor(params: Tensor[] | ParamGroupSpec<AdamOptions>[], o: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 1e-2, ...o });
    this.decoupled = true;
  }
}
