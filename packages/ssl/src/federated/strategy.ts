// What a federated strategy shares and how: the server side (how updates are combined and
// applied) runs in the hub's coordinator; the site side (what leaves the site, a proximal term,
// a divergence-aware blend) lives here beside the methods.
import type { Tensor } from '@pretext/torch';
import type { Aggregation, ServerOptimizerSpec } from '@pretext/hub/client';
import type { SSLMethod } from '../methods/method.js';

export const STRATEGY_NAMES = ['fedavg', 'fedprox', 'fedadam', 'fedyogi', 'median', 'trimmed-mean', 'fedema'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/**
 * `encoder`: only the backbone leaves a site; projectors, predictors and heads stay local (the
 * SSL-aware choice of FedU and FedEMA). `all`: the whole online network is shared. Momentum
 * targets and memory queues stay local under both (`SSLMethod.keepsLocal`).
 */
export type Share = 'encoder' | 'all';

export interface Strategy {
  name: StrategyName;
  share: Share;
  aggregation: Aggregation;
  optimizer: ServerOptimizerSpec;
  /** FedProx's mu: each site adds mu * (w - w_global) to its gradients (0: off). */
  proxMu: number;
  /**
   * FedEMA (Zhuang et al., ICLR 2022): at a round's start a site's encoder becomes
   * mu * local + (1 - mu) * global with mu = min(lambda * |global - local|, 1); lambda is set at
   * the first round a site has diverged, so that mu = tau there.
   */
  emaTau: number | null;
}

export interface StrategyOptions {
  share?: Share;
  serverLr?: number;
  proxMu?: number;
  trimBeta?: number;
  emaTau?: number;
}

export class StrategyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StrategyError';
  }
}

export function buildStrategy(name: string, o: StrategyOptions = {}): Strategy {
  if (!(STRATEGY_NAMES as readonly string[]).includes(name))
    throw new StrategyError(`unknown strategy '${name}': one of ${STRATEGY_NAMES.join(', ')}`);
  const n = name as StrategyName;
  const adaptive = n === 'fedadam' || n === 'fedyogi';
  // Reddi et al.'s server settings: beta1 0.9, beta2 0.99, tau 1e-3; the server rate is a choice made on validation.
  const optimizer: ServerOptimizerSpec = adaptive
    ? { name: n === 'fedadam' ? 'adam' : 'yogi', lr: o.serverLr ?? 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 }
    : { name: 'sgd', lr: o.serverLr ?? 1 };
  const aggregation: Aggregation =
    n === 'median' ? { kind: 'median' } : n === 'trimmed-mean' ? { kind: 'trimmed-mean', beta: o.trimBeta ?? 0.125 } : { kind: 'mean' };
  if (o.proxMu !== undefined && n !== 'fedprox') throw new StrategyError(`a proximal term belongs to fedprox, not ${n}`);
  if (o.emaTau !== undefined && n !== 'fedema') throw new StrategyError(`emaTau belongs to fedema, not ${n}`);
  if (o.trimBeta !== undefined && n !== 'trimmed-mean') throw new StrategyError(`trimBeta belongs to trimmed-mean, not ${n}`);
  const share = o.share ?? (n === 'fedema' ? 'encoder' : 'all');
  if (n === 'fedema' && share !== 'encoder') throw new StrategyError('fedema shares the encoder only');
  return {
    name: n,
    share,
    aggregation,
    optimizer,
    proxMu: n === 'fedprox' ? (o.proxMu ?? 0.01) : 0,
    emaTau: n === 'fedema' ? (o.emaTau ?? 0.7) : null,
  };
}

/**
 * The state-dict keys a site sends under `share`, in state-dict order: floating tensors only (a
 * BatchNorm's step counter stays local), each tensor once (BYOL's online tower holds the backbone
 * under a second name), never what the method keeps local.
 */
export function sharedKeys(method: SSLMethod, share: Share): string[] {
  const seen = new Set<Tensor>();
  const out: string[] = [];
  for (const [key, t] of method.stateDict()) {
    if (seen.has(t)) continue;
    seen.add(t);
    if (t.dtype !== 'float32' || method.keepsLocal(key)) continue;
    if (share === 'encoder' && !key.startsWith('backbone.')) continue;
    out.push(key);
  }
  return out;
}

/** The shared keys that are buffers (running statistics): averaged as they are, never by a server optimizer. */
export function bufferKeys(method: SSLMethod, keys: string[]): Set<string> {
  const buffers = new Set(method.namedBuffers().map(([k]) => k));
  return new Set(keys.filter((k) => buffers.has(k)));
}
