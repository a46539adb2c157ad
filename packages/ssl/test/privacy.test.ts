// The RDP accountant against the mechanism's definition: the moment E_{mu0}[(mu / mu0)^alpha]
// integrated numerically must match the closed sum, the unsampled case is the Gaussian's
// alpha / (2 sigma^2), and epsilon moves the way privacy does.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dpSgdEpsilon, sampledGaussianRdp } from '../src/federated/privacy.js';

/** log E_{z ~ N(0, s^2)}[((1 - q) + q exp((2z - 1) / (2 s^2)))^alpha] by the trapezoid rule. */
function integratedRdp(q: number, sigma: number, alpha: number): number {
  const lo = -40 * sigma;
  const hi = 40 * sigma + alpha;
  const n = 400_000;
  const h = (hi - lo) / n;
  // Summed in log space: at large orders the integrand's peak overflows a double.
  let logS = -Infinity;
  for (let i = 0; i <= n; i++) {
    const z = lo + i * h;
    const logMu0 = -(z * z) / (2 * sigma * sigma) - Math.log(sigma * Math.sqrt(2 * Math.PI));
    const x = (2 * z - 1) / (2 * sigma * sigma);
    // log((1 - q) + q e^x), stable for large x.
    const logRatio = x > 0 ? x + Math.log(q + (1 - q) * Math.exp(-x)) : Math.log(1 - q + q * Math.exp(x));
    const t = logMu0 + alpha * logRatio + (i === 0 || i === n ? Math.log(0.5) : 0);
    const m = Math.max(logS, t);
    logS = m === -Infinity ? t : m + Math.log(Math.exp(logS - m) + Math.exp(t - m));
  }
  return (logS + Math.log(h)) / (alpha - 1);
}

describe('RDP accountant', () => {
  it('matches the integrated definition of the sampled Gaussian', () => {
    for (const [q, sigma, alpha] of [
      [0.01, 1.1, 2],
      [0.01, 1.1, 8],
      [0.05, 0.8, 4],
      [0.2, 2, 16],
      [0.004, 1, 32],
    ] as const) {
      const closed = sampledGaussianRdp(q, sigma, alpha);
      const numeric = integratedRdp(q, sigma, alpha);
      assert.ok(
        Math.abs(closed - numeric) <= 1e-6 * Math.max(1, Math.abs(numeric)),
        `q ${q} sigma ${sigma} alpha ${alpha}: ${closed} vs ${numeric}`,
      );
    }
  });

  it('is the Gaussian mechanism without sampling, and nothing without data', () => {
    assert.equal(sampledGaussianRdp(1, 2, 10), 10 / 8);
    assert.equal(sampledGaussianRdp(0, 2, 10), 0);
    assert.ok(Math.abs(integratedRdp(1, 2, 10) - 10 / 8) < 1e-6);
  });

  it('spends more with more steps, less with more noise or a smaller sampling rate, and more at a smaller delta', () => {
    const base = { q: 256 / 60_000, sigma: 1.1, steps: 14_063, delta: 1e-5 };
    const e = dpSgdEpsilon(base).epsilon;
    assert.ok(e > 0.5 && e < 10, `epsilon ${e}`);
    assert.ok(dpSgdEpsilon({ ...base, steps: 2 * base.steps }).epsilon > e);
    assert.ok(dpSgdEpsilon({ ...base, sigma: 2 }).epsilon < e);
    assert.ok(dpSgdEpsilon({ ...base, q: base.q / 2 }).epsilon < e);
    assert.ok(dpSgdEpsilon({ ...base, delta: 1e-8 }).epsilon > e);
    assert.equal(dpSgdEpsilon({ ...base, steps: 0 }).epsilon, 0);
    assert.throws(() => dpSgdEpsilon({ ...base, delta: 0 }), /delta is in/);
  });
});
