// The privacy accountant for DP-SGD: Renyi differential privacy of the sampled Gaussian
// mechanism (each example in a step with probability q, gradients clipped to norm C, Gaussian
// noise of std sigma * C), composed over steps and turned into (epsilon, delta). Integer orders,
// in log space: A_alpha = sum_k C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 sigma^2))
// and RDP(alpha) = log(A_alpha) / (alpha - 1) per step (Mironov, Talwar and Zhang, 2019); the
// conversion is Balle et al.'s (2020), which is tighter than the classic log(1/delta)/(alpha - 1).

/** The orders tried; the best one is reported with epsilon. */
export const RDP_ORDERS: readonly number[] = [...Array.from({ length: 63 }, (_, i) => i + 2), 80, 96, 128, 160, 192, 256, 384, 512];

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

function logBinomial(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log((n - k + i) / i);
  return s;
}

/** RDP of one step of the sampled Gaussian mechanism at integer order `alpha`. */
export function sampledGaussianRdp(q: number, sigma: number, alpha: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`a sampling rate is in [0, 1], got ${q}`);
  if (!(sigma > 0)) throw new RangeError(`the noise multiplier must be positive, got ${sigma}`);
  if (!Number.isInteger(alpha) || alpha < 2) throw new RangeError(`orders are whole numbers from 2, got ${alpha}`);
  if (q === 0) return 0;
  if (q === 1) return alpha / (2 * sigma * sigma);
  let logA = -Infinity;
  for (let k = 0; k <= alpha; k++) {
    const term = logBinomial(alpha, k) + (alpha - k) * Math.log1p(-q) + k * Math.log(q) + (k * k - k) / (2 * sigma * sigma);
    logA = logAdd(logA, term);
  }
  return logA / (alpha - 1);
}

export interface PrivacySpent {
  epsilon: number;
  delta: number;
  /** The order that gave the smallest epsilon. */
  order: number;
}

/** Epsilon at `delta` after `steps` steps with sampling rate q and noise multiplier sigma. */
export function dpSgdEpsilon(o: { q: number; sigma: number; steps: number; delta: number }): PrivacySpent {
  if (!(o.delta > 0 && o.delta < 1)) throw new RangeError(`delta is in (0, 1), got ${o.delta}`);
  if (!Number.isInteger(o.steps) || o.steps < 0) throw new RangeError(`steps must be a whole number, got ${o.steps}`);
  // Nothing released, nothing spent (the conversion's own term would say otherwise).
  if (o.steps === 0 || o.q === 0) return { epsilon: 0, delta: o.delta, order: NaN };
  let best: PrivacySpent = { epsilon: Infinity, delta: o.delta, order: NaN };
  for (const alpha of RDP_ORDERS) {
    const rdp = o.steps * sampledGaussianRdp(o.q, o.sigma, alpha);
    const eps = rdp + Math.log1p(-1 / alpha) - (Math.log(o.delta) + Math.log(alpha)) / (alpha - 1);
    if (eps < best.epsilon) best = { epsilon: Math.max(0, eps), delta: o.delta, order: alpha };
  }
  return best;
}
