// The classical text baseline gives what scikit-learn gives: the same TF-IDF matrix as a
// union of TfidfVectorizer(word 1-2) and TfidfVectorizer(char_wb 2-5) with sublinear tf and
// min_df 2, and the same logistic regression probabilities at the same C.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csrRows, TfidfVectorizer } from '@pretext/data';
import { fitSparseLogistic, sparseLogisticProbabilities } from '../src/index.js';

function reviews(n: number, seed: number): { text: string; y: number }[] {
  let s = seed;
  const rand = (k: number): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return Math.floor((s / 2 ** 32) * k);
  };
  const good = ['great', 'lovely', 'fresh', 'tasty', 'perfect', 'crunchy'];
  const bad = ['stale', 'bland', 'awful', 'soggy', 'broken', 'overpriced'];
  const common = ['the', 'coffee', 'snack', 'box', 'arrived', 'and', 'was', 'really', 'quite', "it's", 'Café', 'price'];
  return Array.from({ length: n }, () => {
    const y = rand(3);
    const words = Array.from({ length: 4 + rand(10) }, () => {
      const r = rand(10);
      if (r < 2 && y !== 2) return (y === 0 ? good : bad)[rand(6)]!;
      return common[rand(common.length)]!;
    });
    return { text: words.join(' '), y };
  });
}

describe('TF-IDF + logistic regression baseline', () => {
  const train = reviews(300, 1);
  const test = reviews(60, 2);
  const vec = TfidfVectorizer.fit(train.map((d) => d.text));
  const x = vec.transform(train.map((d) => d.text));
  const t = vec.transform(test.map((d) => d.text));
  const y = Int32Array.from(train, (d) => d.y);

  it('matches scikit-learn: features, matrix, and probabilities at C = 1 and C = 10', () => {
    const python = '/usr/bin/python3';
    assert.ok(existsSync(python), 'Debian python3 (python3-sklearn) is part of the test set-up');
    const dir = mkdtempSync(join(tmpdir(), 'tfidf-'));
    writeFileSync(join(dir, 'd.json'), JSON.stringify({ x: train.map((d) => d.text), y: [...y], t: test.map((d) => d.text) }));
    const script = [
      'import json, sys',
      'from sklearn.feature_extraction.text import TfidfVectorizer',
      'from sklearn.pipeline import make_union',
      'from sklearn.linear_model import LogisticRegression',
      'd = json.load(open(sys.argv[1]))',
      "u = make_union(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), TfidfVectorizer(analyzer='char_wb', ngram_range=(2, 5), min_df=2, sublinear_tf=True))",
      "X = u.fit_transform(d['x']); T = u.transform(d['t'])",
      "p = {str(c): LogisticRegression(C=c, max_iter=5000, tol=1e-8).fit(X, d['y']).predict_proba(T).ravel().tolist() for c in (1, 10)}",
      "print(json.dumps({'cols': X.shape[1], 'nnz': int(X.nnz), 'row0': X[0].toarray().ravel().tolist(), 'p': p}))",
    ].join('\n');
    const sk = JSON.parse(execFileSync(python, ['-c', script, join(dir, 'd.json')], { encoding: 'utf8' })) as {
      cols: number;
      nnz: number;
      row0: number[];
      p: Record<string, number[]>;
    };
    assert.equal(vec.features, sk.cols);
    assert.equal(x.data.length, sk.nnz);
    const row0 = new Float64Array(x.cols);
    for (let p = x.indptr[0]!; p < x.indptr[1]!; p++) row0[x.indices[p]!] = x.data[p]!;
    row0.forEach((v, j) => assert.ok(Math.abs(v - sk.row0[j]!) < 1e-6, `feature ${j}: ${v} vs ${sk.row0[j]}`));
    for (const c of [1, 10]) {
      const p = sparseLogisticProbabilities(fitSparseLogistic(x, y, 3, { c, tolerance: 1e-7 }), t);
      const worst = Math.max(...Array.from(p, (v, i) => Math.abs(v - sk.p[String(c)]![i]!)));
      assert.ok(worst < 2e-3, `C=${c}: largest probability difference ${worst}`);
    }
  });

  it('separates the classes it can, keeps row subsets intact, and refuses empty input', () => {
    const m = fitSparseLogistic(x, y, 3, { c: 10 });
    const p = sparseLogisticProbabilities(m, t);
    const pred = test.map((_, i) => [0, 1, 2].reduce((b, c) => (p[i * 3 + c]! > p[i * 3 + b]! ? c : b), 0));
    const acc = pred.filter((c, i) => c === test[i]!.y).length / test.length;
    assert.ok(acc > 0.6, `accuracy ${acc} (chance 1/3)`);
    const sub = csrRows(x, [5, 0]);
    assert.deepEqual([...sub.indices.subarray(sub.indptr[1]!, sub.indptr[2]!)], [...x.indices.subarray(x.indptr[0]!, x.indptr[1]!)]);
    assert.throws(() => TfidfVectorizer.fit([]), /no documents/);
    assert.throws(() => fitSparseLogistic(csrRows(x, []), new Int32Array(0), 3), /no rows/);
  });
});
