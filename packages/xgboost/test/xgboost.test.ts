// The binding is XGBoost itself: the same data and parameters give the same predictions as
// Debian's python3-xgboost (the same 1.7 library), early stopping picks the round the
// validation score is best at, a saved model predicts the same, and XGBoost's own errors
// arrive as exceptions with its message.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Booster, xgboostVersion, type LabeledMatrix } from '../src/index.js';

/** Two noisy interleaved classes with a missing value now and then (seeded). */
function dataset(rows: number, seed: number): LabeledMatrix {
  let s = seed >>> 0;
  const rand = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const cols = 5;
  const data = new Float32Array(rows * cols);
  const labels = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) data[i * cols + j] = rand() * 4 - 2;
    const logit = 2 * Math.sin(2 * data[i * cols]!) + data[i * cols + 1]! * data[i * cols + 2]! + (rand() - 0.5) * 2;
    labels[i] = logit > 0 ? 1 : 0;
    if (rand() < 0.05) data[i * cols + 3] = NaN;
  }
  return { data, rows, cols, labels };
}

const params = { objective: 'binary:logistic', eta: 0.1, max_depth: 4, tree_method: 'hist', nthread: 1, seed: 0, eval_metric: 'logloss' };

describe('XGBoost binding', () => {
  it('is XGBoost 1.7', () => assert.match(xgboostVersion(), /^1\.7\./));

  it('predicts what python3-xgboost predicts for the same data and parameters', () => {
    const train = dataset(400, 1);
    const test = dataset(100, 2);
    const b = Booster.train(train, { params, rounds: 30 });
    assert.equal(b.rounds, 30);
    const ours = b.predict(test);
    assert.equal(ours.length, 100);
    const python = '/usr/bin/python3';
    assert.ok(existsSync(python), 'Debian python3 (python3-xgboost) is part of the test set-up');
    const dir = mkdtempSync(join(tmpdir(), 'xgb-'));
    writeFileSync(join(dir, 'train.f32'), train.data);
    writeFileSync(join(dir, 'labels.f32'), train.labels);
    writeFileSync(join(dir, 'test.f32'), test.data);
    const script = `
import json, sys, numpy as np, xgboost as xgb
d = sys.argv[1]
x = np.fromfile(d + '/train.f32', dtype=np.float32).reshape(-1, 5)
y = np.fromfile(d + '/labels.f32', dtype=np.float32)
t = np.fromfile(d + '/test.f32', dtype=np.float32).reshape(-1, 5)
b = xgb.train(json.loads(sys.argv[2]), xgb.DMatrix(x, label=y, missing=np.nan), num_boost_round=30)
b.predict(xgb.DMatrix(t, missing=np.nan)).astype(np.float32).tofile(d + '/pred.f32')
`;
    execFileSync(python, ['-c', script, dir, JSON.stringify(params)]);
    const bytes = readFileSync(join(dir, 'pred.f32'));
    const theirs = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    assert.equal(theirs.length, 100);
    const worst = Math.max(...Array.from(ours, (p, i) => Math.abs(p - theirs[i]!)));
    assert.ok(worst < 1e-6, `largest difference ${worst}`);
    // and it learned something: better than chance on held-out rows
    const acc = Array.from(ours).filter((p, i) => (p > 0.5 ? 1 : 0) === test.labels[i]).length / 100;
    assert.ok(acc > 0.7, `accuracy ${acc}`);
  });

  it('stops early at the best validation round, predicts from it, and saves and loads the same model', () => {
    const train = dataset(300, 3);
    const valid = dataset(150, 4);
    const scores: number[] = [];
    const b = Booster.train(train, {
      params: { ...params, eta: 0.5, max_depth: 6 },
      rounds: 500,
      valid,
      earlyStoppingRounds: 10,
      onRound: (_r, s) => scores.push(s!),
    });
    assert.ok(b.rounds < 500, `stopped after ${b.rounds} rounds`);
    assert.equal(b.rounds, b.bestIteration + 11);
    assert.equal(b.bestScore, Math.min(...scores));
    assert.equal(scores.indexOf(b.bestScore!), b.bestIteration);
    const p = b.predict(valid);
    const again = Booster.load(b.save(), b.bestIteration).predict(valid);
    assert.deepEqual(Array.from(again), Array.from(p));
    const all = Booster.load(b.save(), b.rounds - 1).predict(valid);
    assert.notDeepEqual(Array.from(all), Array.from(p));
  });

  it('multi-class probabilities sum to one per row', () => {
    const m = dataset(200, 5);
    const labels = m.labels.map((y, i) => y + (m.data[i * 5 + 4]! > 0 ? 1 : 0));
    const b = Booster.train({ ...m, labels }, { params: { objective: 'multi:softprob', num_class: 3, nthread: 1 }, rounds: 5 });
    const p = b.predict(m);
    assert.equal(p.length, 600);
    for (let i = 0; i < 200; i++) assert.ok(Math.abs(p[3 * i]! + p[3 * i + 1]! + p[3 * i + 2]! - 1) < 1e-5);
  });

  it("reports XGBoost's own errors and refuses malformed matrices", () => {
    const m = dataset(20, 6);
    assert.throws(() => Booster.train(m, { params: { objective: 'no:such' }, rounds: 1 }), /xgboost: .*no:such/);
    assert.throws(() => Booster.train({ ...m, rows: 21 }, { params, rounds: 1 }), /do not make 21 x 5/);
    assert.throws(() => Booster.train({ ...m, labels: new Float32Array(3) }, { params, rounds: 1 }), /3 labels for 20 rows/);
  });
});
