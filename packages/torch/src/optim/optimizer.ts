// The optimizer base: parameter groups, per-parameter state, and state dicts in PyTorch's
// layout (state keyed by the parameter's index across all groups) for resuming runs.
import { noGrad } from '../autograd.js';
import { keep, tidy } from '../scope.js';
import { Tensor } from '../tensor.js';
import * as fe from './foreach.js';

export interface GroupOptions {
  lr: number;
  weightDecay: number;
}

/** Parameters with options that override the optimizer's defaults. */
export type ParamGroupSpec<O> = { params: Tensor[] } & Partial<O>;
export type ParamGroup<O> = { params: Tensor[] } & O;

export type StateValue = Tensor | number;
export type ParamState = Record<string, StateValue>;

export interface OptimizerStateDict<O> {
  state: Record<number, ParamState>;
  paramGroups: ({ params: number[] } & O)[];
}

export abstract class Optimizer<O extends GroupOptions> {
  readonly paramGroups: ParamGroup<O>[];
  readonly state = new Map<Tensor, ParamState>();

  constructor(params: Tensor[] | ParamGroupSpec<O>[], defaults: O) {
    const specs: ParamGroupSpec<O>[] =
      params.length > 0 && !(params[0] instanceof Tensor)
        ? (params as ParamGroupSpec<O>[])
        : [{ params: params as Tensor[] } as ParamGroupSpec<O>];
    const seen = new Set<Tensor>();
    this.paramGroups = specs.map((spec) => {
      for (const p of spec.params) {
        if (seen.has(p)) throw new TypeError('a parameter appears in more than one parameter group');
        if (!p.requiresGrad) throw new TypeError('optimizer got a tensor that does not require grad');
        seen.add(p);
      }
      const group = { ...defaults, ...spec, params: [...spec.params] } as ParamGroup<O>;
      this.validate(group);
      return group;
    });
    if (seen.size === 0) throw new TypeError('optimizer got an empty parameter list');
  }

  protected validate(group: ParamGroup<O>): void {
    if (!(group.lr >= 0)) throw new RangeError(`invalid learning rate ${group.lr}`);
    if (!(group.weightDecay >= 0)) throw new RangeError(`invalid weightDecay ${group.weightDecay}`);
  }

  /** Applies one update from the current gradients. */
  step(): void {
    tidy(() =>
      noGrad(() => {
        for (const group of this.paramGroups) {
          const params: Tensor[] = [];
          const grads: Tensor[] = [];
          for (const p of group.params) {
            const g = p.grad;
            if (g === null) continue;
            params.push(p);
            grads.push(g);
          }
          if (params.length > 0) this.update(group, params, grads);
        }
      }),
    );
  }

  /** Updates `params` in place from `grads` (only parameters with a gradient). */
  protected abstract update(group: ParamGroup<O>, params: Tensor[], grads: Tensor[]): void;

  /** State of one parameter, created on first use; tensors put there are kept. */
  protected stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (s === undefined) {
      s = {};
      this.state.set(p, s);
    }
    return s;
  }

  protected keepState(t: Tensor): Tensor {
    return keep(t);
  }

  /**
   * PyTorch's momentum buffer: buf = d on the first step, then buf = momentum * buf +
   * (1 - dampening) * d. Returns every parameter's buffer.
   */
  protected momentumBuffers(params: Tensor[], d: Tensor[], momentum: number, dampening = 0): Tensor[] {
    const old: Tensor[] = [];
    const oldD: Tensor[] = [];
    const bufs = params.map((p, i) => {
      const s = this.stateOf(p);
      if (s.momentumBuffer === undefined) {
        s.momentumBuffer = keep(d[i]!.clone());
      } else {
        old.push(s.momentumBuffer as Tensor);
        oldD.push(d[i]!);
      }
      return s.momentumBuffer as Tensor;
    });
    if (old.length > 0) {
      fe.mulScalar_(old, momentum);
      fe.addList_(old, oldD, 1 - dampening);
    }
    return bufs;
  }

  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (setToNone) p.grad = null;
        else tidy(() => p.grad?.zero_());
      }
    }
  }

  /** State and hyper-parameters, parameters referred to by index (PyTorch's layout). */
  stateDict(): OptimizerStateDict<O> {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...options } = g;
      return { ...(options as unknown as O), params: params.map((p) => index.get(p) ?? index.set(p, index.size).get(p)!) };
    });
    const state: Record<number, ParamState> = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i !== undefined) state[i] = { ...s };
    }
    return { state, paramGroups };
  }

  /** Restores a stateDict() of an optimizer over the same parameters (copies tensors). */
  loadStateDict(sd: OptimizerStateDict<O>): void {
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new TypeError(`state dict has ${sd.paramGroups.length} parameter groups, the optimizer ${this.paramGroups.length}`);
    }
    const byIndex: Tensor[] = [];
    sd.paramGroups.forEach((saved, gi) => {
      const group = this.paramGroups[gi]!;
      if (saved.params.length !== group.params.length) {
        throw new TypeError(`parameter group ${gi} has ${group.params.length} parameters, the state dict ${saved.params.length}`);
      }
      saved.params.forEach((idx, j) => (byIndex[idx] = group.params[j]!));
      const { params: _ignored, ...options } = saved;
      Object.assign(group, options);
    });
    for (const old of this.state.values()) for (const v of Object.values(old)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
    for (const [key, s] of Object.entries(sd.state)) {
      const p = byIndex[Number(key)];
      if (p === undefined) throw new TypeError(`state dict has state for parameter ${key}, which no group holds`);
      const copy: ParamState = {};
      for (const [name, v] of Object.entries(s)) copy[name] = v instanceof Tensor ? keep(noGrad(() => v.clone())) : v;
      this.state.set(p, copy);
    }
  }

  /** Current learning rate of each group. */
  get lrs(): number[] {
    return this.paramGroups.map((g) => g.lr);
  }
}
