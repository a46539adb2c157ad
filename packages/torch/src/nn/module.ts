// nn.Module: named parameters, buffers and children, with PyTorch's state-dict keys.
import { noGrad } from '../autograd.js';
import { native } from '../native.js';
import { keep } from '../scope.js';
import { Tensor } from '../tensor.js';
import { dtypeCode, isFloatingDtype, type DType } from '../dtype.js';

/** Marks a tensor as a trainable parameter: requires grad and outlives every scope. */
export function parameter(t: Tensor): Tensor {
  t.requiresGrad = true;
  return keep(t);
}

export class StateDictError extends Error {
  constructor(
    message: string,
    readonly missingKeys: string[] = [],
    readonly unexpectedKeys: string[] = [],
  ) {
    super(message);
    this.name = 'StateDictError';
  }
}

/**
 * Base class of every layer and model. Subclasses register what they own in the order
 * PyTorch would, so `stateDict()` keys (`0.weight`, `layer1.0.bn1.running_mean`) match the
 * same architecture in PyTorch.
 */
export class Module {
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffersMap = new Map<string, Tensor | null>();
  private readonly nonPersistent = new Set<string>();
  private readonly children_ = new Map<string, Module>();

  protected registerParameter(name: string, t: Tensor): Tensor;
  protected registerParameter(name: string, t: Tensor | null): Tensor | null;
  protected registerParameter(name: string, t: Tensor | null): Tensor | null {
    this.checkName(name);
    this.params.set(name, t === null ? null : parameter(t));
    return t;
  }

  protected registerBuffer(name: string, t: Tensor, persistent = true): Tensor {
    this.checkName(name);
    this.buffersMap.set(name, keep(t));
    if (!persistent) this.nonPersistent.add(name);
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    this.children_.set(name, m);
    return m;
  }

  private checkName(name: string): void {
    if (name === '' || name.includes('.')) throw new TypeError(`invalid member name '${name}': non-empty, without '.'`);
    if (this.params.has(name) || this.buffersMap.has(name) || this.children_.has(name)) {
      throw new TypeError(`'${name}' is already registered on ${this.constructor.name}`);
    }
  }

  *namedChildren(): IterableIterator<[string, Module]> {
    yield* this.children_;
  }
  children(): Module[] {
    return [...this.children_.values()];
  }

  /** This module and every descendant, depth first, with dotted names. */
  *namedModules(prefix = ''): IterableIterator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.children_) yield* child.namedModules(prefix === '' ? name : `${prefix}.${name}`);
  }
  modules(): Module[] {
    return [...this.namedModules()].map(([, m]) => m);
  }

  /** Every parameter with its dotted name; a parameter shared by two modules is listed once. */
  namedParameters(): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const [name, p] of m.params) {
        if (p === null || seen.has(p)) continue;
        seen.add(p);
        out.push([prefix === '' ? name : `${prefix}.${name}`, p]);
      }
    }
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const [name, b] of m.buffersMap) if (b !== null) out.push([prefix === '' ? name : `${prefix}.${name}`, b]);
    }
    return out;
  }
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, b]) => b);
  }
  /** Number of trainable scalars. */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.numel(), 0);
  }

  /**
   * Parameters and persistent buffers by PyTorch key, in PyTorch's order (each module's own
   * parameters, then its buffers, then its children). The tensors are the live ones.
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const visit = (m: Module, prefix: string): void => {
      for (const [name, p] of m.params) if (p !== null) out.set(prefix + name, p);
      for (const [name, b] of m.buffersMap) if (b !== null && !m.nonPersistent.has(name)) out.set(prefix + name, b);
      for (const [name, c] of m.children_) visit(c, `${prefix}${name}.`);
    };
    visit(this, '');
    return out;
  }

  /**
   * Copies tensors into the parameters and buffers by key. Shapes must match; dtypes are
   * converted. With `strict` (default) missing or unexpected keys are an error.
   */
  loadStateDict(state: Map<string, Tensor> | Record<string, Tensor>, strict = true): { missingKeys: string[]; unexpectedKeys: string[] } {
    const incoming = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !incoming.has(k));
    const unexpectedKeys = [...incoming.keys()].filter((k) => !own.has(k));
    if (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0)) {
      const parts = [];
      if (missingKeys.length > 0) parts.push(`missing keys: ${missingKeys.join(', ')}`);
      if (unexpectedKeys.length > 0) parts.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
      throw new StateDictError(`state dict does not match ${this.constructor.name}: ${parts.join('; ')}`, missingKeys, unexpectedKeys);
    }
    for (const [key, target] of own) {
      const src = incoming.get(key);
      if (src === undefined) continue;
      const a = target.shape;
      const b = src.shape;
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
        throw new StateDictError(`size mismatch for ${key}: the model has [${a.join(', ')}], the state dict [${b.join(', ')}]`);
      }
    }
    noGrad(() => {
      for (const [key, target] of own) {
        const src = incoming.get(key);
        if (src !== undefined) target.copy_(src);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Clears gradients: to null (default, frees memory) or to zeros. */
  zeroGrad(setToNone = true): void {
    for (const p of this.parameters()) {
      if (setToNone) p.grad = null;
      else {
        const g = p.grad;
        if (g !== null) {
          g.zero_();
          g.dispose();
        }
      }
    }
  }

  /** Converts every parameter and buffer in place (floating ones only for a dtype). */
  to(target: DType | string): this {
    const isDtype = target in dtypeCode;
    noGrad(() => {
      for (const t of [...this.parameters(), ...this.buffers()]) {
        // A dtype change leaves integer buffers (num_batches_tracked) as they are.
        if (isDtype && !isFloatingDtype(t.dtype)) continue;
        const converted = t.to(target);
        native.setData(t.h, converted.h);
        converted.dispose();
      }
    });
    return this;
  }

  /** Calls fn on every module, children first (as PyTorch's apply). */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children_.values()) c.apply(fn);
    fn(this);
    return this;
  }

  /** Frees every parameter and buffer now. */
  dispose(): void {
    for (const t of [...this.parameters(), ...this.buffers()]) t.dispose();
  }
}

/** A module mapping one tensor to one tensor, the kind Sequential chains. */
export interface TensorModule extends Module {
  forward(x: Tensor): Tensor;
}
