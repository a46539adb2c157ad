// L2-regularized multinomial logistic regression on sparse rows (TF-IDF), fitted to
// convergence by L-BFGS as scikit-learn's default solver does, with scikit-learn's C: mean
// cross-entropy + ||W||^2 / (2 C n) (the two-class case penalized twice, so that C means what
// it means for scikit-learn's single binary weight vector). The intercept is not penalized.
import type { Csr } from '@pretext/data';

export interface SparseLogisticOptions {
  c?: number;
  /** L-BFGS iterations at most (default 500). */
  maxIterations?: number;
  /** Stop when the largest gradient entry falls below this (default 1e-5). */
  tolerance?: number;
}

export interface SparseLogistic {
  classes: number;
  features: number;
  /** Weights [features, classes], row-major. */
  weight: Float64Array;
  bias: Float64Array;
  iterations: number;
}

/** Objective and gradient at params = [W (features x classes), b (classes)]. */
function objective(m: Csr, y: Int32Array, k: number, params: Float64Array, penalty: number, grad: Float64Array): number {
  const f = m.cols;
  const n = m.rows;
  grad.fill(0);
  const wEnd = f * k;
  let loss = 0;
  const z = new Float64Array(k);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) z[c] = params[wEnd + c]!;
    for (let p = m.indptr[r]!; p < m.indptr[r + 1]!; p++) {
      const j = m.indices[p]! * k;
      const v = m.data[p]!;
      for (let c = 0; c < k; c++) z[c]! += v * params[j + c]!;
    }
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, z[c]!);
    let sum = 0;
    for (let c = 0; c < k; c++) {
      z[c] = Math.exp(z[c]! - max);
      sum += z[c]!;
    }
    const yr = y[r]!;
    loss += -Math.log(z[yr]! / sum);
    // z becomes dLoss/dlogits / n: softmax minus the one-hot target.
    for (let c = 0; c < k; c++) z[c] = (z[c]! / sum - (c === yr ? 1 : 0)) / n;
    for (let c = 0; c < k; c++) grad[wEnd + c]! += z[c]!;
    for (let p = m.indptr[r]!; p < m.indptr[r + 1]!; p++) {
      const j = m.indices[p]! * k;
      const v = m.data[p]!;
      for (let c = 0; c < k; c++) grad[j + c]! += v * z[c]!;
    }
  }
  let reg = 0;
  for (let i = 0; i < wEnd; i++) {
    reg += params[i]! * params[i]!;
    grad[i]! += 2 * penalty * params[i]!;
  }
  return loss / n + penalty * reg;
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** Fits on sparse rows and class indices 0..classes-1. */
export function fitSparseLogistic(m: Csr, y: Int32Array, classes: number, o: SparseLogisticOptions = {}): SparseLogistic {
  if (y.length !== m.rows) throw new RangeError(`${y.length} labels for ${m.rows} rows`);
  if (m.rows === 0) throw new RangeError('cannot fit on no rows');
  const k = classes;
  const size = m.cols * k + k;
  const penalty = (k === 2 ? 2 : 1) / (2 * (o.c ?? 1) * m.rows);
  const x = new Float64Array(size);
  const g = new Float64Array(size);
  let fx = objective(m, y, k, x, penalty, g);
  const history: { s: Float64Array; yv: Float64Array; rho: number }[] = [];
  const memory = 10;
  const tol = o.tolerance ?? 1e-5;
  let it = 0;
  const gNew = new Float64Array(size);
  for (; it < (o.maxIterations ?? 500); it++) {
    let gmax = 0;
    for (let i = 0; i < size; i++) gmax = Math.max(gmax, Math.abs(g[i]!));
    if (gmax < tol) break;
    // Two-loop recursion: d = -H g.
    const d = Float64Array.from(g, (v) => -v);
    const alpha: number[] = [];
    for (let h = history.length - 1; h >= 0; h--) {
      const { s, yv, rho } = history[h]!;
      const a = rho * dot(s, d);
      alpha[h] = a;
      for (let i = 0; i < size; i++) d[i]! -= a * yv[i]!;
    }
    if (history.length) {
      const last = history[history.length - 1]!;
      const gamma = dot(last.s, last.yv) / dot(last.yv, last.yv);
      for (let i = 0; i < size; i++) d[i]! *= gamma;
    } else {
      const gn = Math.sqrt(dot(g, g));
      for (let i = 0; i < size; i++) d[i]! /= Math.max(gn, 1);
    }
    for (let h = 0; h < history.length; h++) {
      const { s, yv, rho } = history[h]!;
      const b = rho * dot(yv, d);
      for (let i = 0; i < size; i++) d[i]! += (alpha[h]! - b) * s[i]!;
    }
    let slope = dot(g, d);
    if (slope >= 0) {
      // Not a descent direction: restart from steepest descent.
      history.length = 0;
      for (let i = 0; i < size; i++) d[i] = -g[i]!;
      slope = dot(g, d);
    }
    // Backtracking line search with the Armijo condition.
    let step = 1;
    const trial = new Float64Array(size);
    let fNew = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < size; i++) trial[i] = x[i]! + step * d[i]!;
      fNew = objective(m, y, k, trial, penalty, gNew);
      if (fNew <= fx + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNew < fx)) break;
    const s = Float64Array.from(trial, (v, i) => v - x[i]!);
    const yv = Float64Array.from(gNew, (v, i) => v - g[i]!);
    const sy = dot(s, yv);
    if (sy > 1e-12) {
      history.push({ s, yv, rho: 1 / sy });
      if (history.length > memory) history.shift();
    }
    const improvement = fx - fNew;
    x.set(trial);
    g.set(gNew);
    fx = fNew;
    if (improvement < 1e-10 * Math.max(1, Math.abs(fx))) break;
  }
  return { classes: k, features: m.cols, weight: x.slice(0, m.cols * k), bias: x.slice(m.cols * k), iterations: it };
}

/** Class probabilities [rows * classes], row-major. */
export function sparseLogisticProbabilities(model: SparseLogistic, m: Csr): Float32Array {
  const k = model.classes;
  const out = new Float32Array(m.rows * k);
  const z = new Float64Array(k);
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < k; c++) z[c] = model.bias[c]!;
    for (let p = m.indptr[r]!; p < m.indptr[r + 1]!; p++) {
      const j = m.indices[p]!;
      if (j >= model.features) continue;
      for (let c = 0; c < k; c++) z[c]! += m.data[p]! * model.weight[j * k + c]!;
    }
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, z[c]!);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(z[c]! - max);
    for (let c = 0; c < k; c++) out[r * k + c] = Math.exp(z[c]! - max) / sum;
  }
  return out;
}
