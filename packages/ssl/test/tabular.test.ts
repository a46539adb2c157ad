// Tables through the shared learning core: both encoders read encoded rows, every tabular
// method trains on the shared trainer, the corruption draws from each column's own values,
// and the transfer protocol runs all six arms with the right metric.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import { fitFeatures, type Table } from '@pretext/data';
import {
  auroc,
  buildEncoder,
  buildMethod,
  corruptRows,
  macroF1,
  pretrainTabular,
  rowsTensor,
  runTabularTransfer,
  summarizeTabular,
  tabularEncoderSpec,
  TABULAR_ARMS,
  parseLabelBudget,
  fitLogistic,
  type TabularEncoderChoice,
} from '../src/index.js';

/** Two groups of rows: the label is which group, visible in a numeric and a categorical column, with noise columns. */
function synthetic(n: number, seed: number): Table {
  let s = seed;
  const rand = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const y = Int32Array.from({ length: n }, () => (rand() < 0.3 ? 1 : 0));
  return {
    source: 'synthetic',
    rows: n,
    columns: [
      { name: 'signal', type: 'numeric', values: Float64Array.from(y, (c) => c * 2 + rand() * 1.5) },
      { name: 'noise', type: 'numeric', values: Float64Array.from(y, () => (rand() < 0.1 ? NaN : rand())) },
      {
        name: 'kind',
        type: 'categorical',
        values: Int32Array.from(y, (c) => (rand() < 0.8 ? c : 1 - c) + (rand() < 0.5 ? 2 : 0)),
        levels: ['a', 'b', 'c', 'd'],
      },
      { name: 'label', type: 'categorical', values: y, levels: ['no', 'yes'] },
    ],
  };
}

const trainConfig = { epochs: 3, batchSize: 64, optimizer: { name: 'adamw' as const, lr: 1e-3 }, schedule: { name: 'constant' as const } };

describe('tabular modality', () => {
  const table = synthetic(600, 1);
  const schema = fitFeatures(table, { label: 'label' });

  it('both encoders map encoded rows to features', () => {
    const x = rowsTensor(table, schema);
    const choices: TabularEncoderChoice[] = [
      { type: 'tabular-mlp' },
      { type: 'ft-transformer', config: { dModel: 16, heads: 4, layers: 1 } },
    ];
    for (const choice of choices) {
      const e = buildEncoder(tabularEncoderSpec(choice, schema));
      const h = torch.noGrad(() => e.forward(x.narrow(0, 0, 8)));
      assert.deepEqual(h.size(), [8, e.outDim]);
      assert.ok(h.isfinite().all().item());
      assert.ok(e.blocks().length >= 2);
    }
    x.dispose();
  });

  it('corrupts a share of cells with values from the same column', () => {
    torch.manualSeed(0);
    const x = torch
      .tensor([
        [1, 10, 100],
        [2, 20, 200],
        [3, 30, 300],
        [4, 40, 400],
      ])
      .float()
      .repeat(50, 1);
    const { x: c, mask } = corruptRows(x, 0.5);
    const rate = mask.mean().item();
    assert.ok(rate > 0.4 && rate < 0.6, `rate ${rate}`);
    const col = (t: torch.Tensor, j: number) => new Set(Array.from(t.select(1, j).data() as Float32Array));
    for (const j of [0, 1, 2]) assert.deepEqual(col(c, j), col(x, j));
  });

  it('refuses an image encoder for a tabular method, naming the method', () => {
    assert.throws(() => buildMethod('vime', () => buildEncoder({ type: 'small-cnn', config: {} })), /vime learns from table rows/);
  });

  it('logistic regression is fitted to the optimum of its penalized objective', () => {
    torch.manualSeed(3);
    const x = torch.randn([300, 5]).mul(torch.tensor([1, 2, 0.5, 3, 1]));
    const y = x
      .select(1, 0)
      .add(x.select(1, 1).mul(0.5))
      .add(torch.randn([300]))
      .gt(0)
      .long();
    const c = 0.5;
    const head = fitLogistic(x, y, 2, { c, maxSteps: 5000, tolerance: 1e-9 });
    // the penalized objective (for two classes the penalty is doubled, as scikit-learn counts
    // one weight vector) in the standardized weights: zero gradient at the optimum
    const std = x.std(0).add(1e-6);
    const w = head.weight.mul(std).detach();
    const b = head.bias!.detach();
    w.requiresGrad = true;
    b.requiresGrad = true;
    const xs = x.sub(x.mean(0)).div(std);
    const bias = b.add(head.weight.matmul(x.mean(0)).detach());
    const objective = torch.nn.functional.crossEntropy(xs.matmul(w.t()).add(bias), y).add(
      w
        .square()
        .sum()
        .div(c * 300),
    );
    objective.backward();
    assert.ok(w.grad!.abs().max().item() < 1e-3, `gradient ${w.grad!.abs().max().item()}`);
    const accuracy = head.forward(x).argmax(1).eq(y).float().mean().item();
    assert.ok(accuracy > 0.75, `accuracy ${accuracy}`);
  });

  it("logistic regression gives scikit-learn's probabilities for the same C", () => {
    torch.manualSeed(4);
    const x = torch.randn([200, 4]).mul(torch.tensor([1, 3, 0.2, 1]));
    const y = x
      .select(1, 0)
      .sub(x.select(1, 1).mul(0.3))
      .add(torch.randn([200]).mul(0.8))
      .gt(0)
      .long();
    const dir = mkdtempSync(join(tmpdir(), 'logistic-'));
    writeFileSync(join(dir, 'x.f32'), x.contiguous().data() as Float32Array);
    writeFileSync(join(dir, 'y.i64'), y.contiguous().data() as BigInt64Array);
    const script = `
import sys, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
d = sys.argv[1]
x = np.fromfile(d + '/x.f32', dtype=np.float32).reshape(-1, 4).astype(np.float64)
y = np.fromfile(d + '/y.i64', dtype=np.int64)
s = StandardScaler().fit(x)
for c in (0.05, 1.0):
    p = LogisticRegression(C=c, tol=1e-10, max_iter=10000).fit(s.transform(x), y).predict_proba(s.transform(x))[:, 1]
    p.astype(np.float32).tofile(d + '/p%g.f32' % c)
`;
    execFileSync('/usr/bin/python3', ['-c', script, dir]);
    for (const c of [0.05, 1]) {
      const head = fitLogistic(x, y, 2, { c, maxSteps: 5000, tolerance: 1e-10 });
      const ours = torch.noGrad(() => head.forward(x).softmax(1).select(1, 1).contiguous().data() as Float32Array);
      const bytes = readFileSync(join(dir, `p${c}.f32`));
      const theirs = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      // scikit-learn's StandardScaler divides by the population std, ours by the sample std:
      // the same model up to a 1/200 rescaling of C, well inside this tolerance.
      const worst = Math.max(...Array.from(ours, (p, i) => Math.abs(p - theirs[i]!)));
      assert.ok(worst < 5e-3, `C=${c}: largest probability difference ${worst}`);
    }
  });

  it('scores AUROC and macro-F1 as their definitions say', () => {
    assert.equal(auroc([0.1, 0.4, 0.35, 0.8], [false, false, true, true]), 0.75);
    assert.equal(auroc([0.5, 0.5], [false, true]), 0.5);
    assert.equal(macroF1([0, 0, 1, 1], [0, 1, 1, 1], 2), (2 / 3 + 0.8) / 2);
  });

  for (const method of ['scarf', 'vime', 'mfm', 'dae'] as const) {
    it(`${method} pretrains on the shared trainer and writes a table encoder with its features`, async () => {
      const dir = mkdtempSync(join(tmpdir(), `tab-${method}-`));
      const r = await pretrainTabular({
        table,
        dataset: 'synthetic',
        label: 'label',
        encoder: { type: 'tabular-mlp', config: { hidden: [32, 32] } },
        method: { name: method },
        train: trainConfig,
        seed: 0,
        recipe: 'test',
        outDir: dir,
        quiet: true,
      });
      assert.ok(Number.isFinite(r.result.lastLoss));
      assert.equal(r.result.step, 3 * Math.floor(600 / 64));
      const meta = JSON.parse(readFileSync(join(dir, 'encoder.json'), 'utf8'));
      assert.equal(meta.modality, 'tabular');
      assert.deepEqual(meta.features, JSON.parse(readFileSync(join(dir, 'features.json'), 'utf8')));
      assert.equal(meta.features.label.name, 'label');
    });
  }

  it('a transfer report runs all six arms per budget and seed, scored by AUROC on a binary task', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tab-transfer-'));
    await pretrainTabular({
      table,
      dataset: 'synthetic',
      label: 'label',
      encoder: { type: 'tabular-mlp', config: { hidden: [32, 32] } },
      method: { name: 'scarf' },
      train: trainConfig,
      seed: 0,
      recipe: 'test',
      outDir: dir,
      quiet: true,
    });
    const test = synthetic(300, 2);
    const runs = runTabularTransfer(dir, table, test, {
      budgets: ['20/class', '100%'].map(parseLabelBudget),
      seeds: [0, 1],
      finetune: { epochs: 5, minSteps: 20, maxSteps: 40 },
      xgboostRounds: 100,
    });
    assert.equal(runs.length, 2 * 2 * TABULAR_ARMS.length);
    for (const r of runs) {
      assert.equal(r.metric, 'auroc');
      assert.ok(r.value >= 0 && r.value <= 1, `${r.arm} ${r.value}`);
    }
    const rows = summarizeTabular(runs);
    const at = (labels: string, arm: string) => rows.find((r) => r.labels === labels && r.arm === arm)!;
    // the signal column is strong: the classical arms with every label must find it
    assert.ok(at('100%', 'xgboost').mean > 0.85, `xgboost ${at('100%', 'xgboost').mean}`);
    assert.ok(at('100%', 'logistic').mean > 0.85, `logistic ${at('100%', 'logistic').mean}`);
    assert.equal(at('20/class', 'xgboost').used, 40);
  });
});
