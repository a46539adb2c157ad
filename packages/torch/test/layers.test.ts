// Layer outputs against values computed once with PyTorch 1.13 (fixtures/make_fixtures.py):
// each layer loads PyTorch's state dict by PyTorch's keys, so names and math are both checked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { assertClose, fixture, fixtureGroup, fixtureMetadata } from './helpers.js';

const { nn } = torch;
const F = nn.functional;
const fx = fixture('layers.safetensors');

interface Case {
  make: () => torch.nn.TensorModule;
  train?: boolean;
  inputs?: number;
}

const cases: Record<string, Case> = {
  linear: { make: () => new nn.Linear(5, 3) },
  linear_nobias: { make: () => new nn.Linear(5, 3, false) },
  conv1d: { make: () => new nn.Conv1d(3, 4, 3, { stride: 2, padding: 1 }) },
  conv2d: { make: () => new nn.Conv2d(4, 6, 3, { padding: 2, dilation: 2, groups: 2 }) },
  conv2d_same: { make: () => new nn.Conv2d(2, 3, [3, 5], { padding: 'same' }) },
  batchnorm2d_eval: { make: () => new nn.BatchNorm2d(3) },
  layernorm: { make: () => new nn.LayerNorm([4, 6]) },
  groupnorm: { make: () => new nn.GroupNorm(2, 6) },
  embedding: { make: () => new nn.Embedding(10, 4, 0) },
  sequential: {
    make: () =>
      new nn.Sequential(
        new nn.Conv2d(1, 4, 3),
        new nn.BatchNorm2d(4),
        new nn.ReLU(),
        new nn.MaxPool2d(2),
        new nn.Flatten(),
        new nn.Linear(4 * 3 * 3, 5),
      ),
  },
  encoder: { make: () => new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0.1 }) },
};

describe('layers match PyTorch', () => {
  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: same state-dict keys and output`, () => {
      const m = c.make();
      const sd = fixtureGroup('layers.safetensors', `${name}.sd.`);
      assert.deepEqual([...m.stateDict().keys()], JSON.parse(fixtureMetadata('layers.safetensors')[`order.${name}`]!));
      m.loadStateDict(sd);
      m.train(c.train ?? false);
      const out = torch.noGrad(() => m.forward(fx(`${name}.in0`)));
      assertClose(out, fx(`${name}.out`), { atol: 1e-5, what: name });
    });
  }

  for (const [name, make] of [
    ['batchnorm1d', () => new nn.BatchNorm1d(5)],
    ['batchnorm2d_train', () => new nn.BatchNorm2d(3, { momentum: 0.3 })],
  ] as const) {
    it(`${name}: training uses batch statistics and updates the running ones as PyTorch`, () => {
      const m = make();
      assert.deepEqual([...m.stateDict().keys()], JSON.parse(fixtureMetadata('layers.safetensors')[`order.${name}`]!));
      m.loadStateDict(fixtureGroup('layers.safetensors', `${name}.init.`));
      m.train();
      const out = m.forward(fx(`${name}.in0`));
      assertClose(out, fx(`${name}.out`), { what: `${name} output` });
      for (const [key, expected] of fixtureGroup('layers.safetensors', `${name}.sd.`)) {
        assertClose(m.stateDict().get(key)!, expected, { what: key });
      }
      assert.equal(m.stateDict().get('num_batches_tracked')!.item(), 1);
    });
  }

  it('multi-head attention with a key padding mask: output and averaged weights', () => {
    const m = new nn.MultiheadAttention(8, 2);
    assert.deepEqual([...m.stateDict().keys()], JSON.parse(fixtureMetadata('layers.safetensors')['order.mha']!));
    m.loadStateDict(fixtureGroup('layers.safetensors', 'mha.sd.'));
    m.eval();
    const { output, weights } = m.forward(fx('mha.in0'), fx('mha.in1'), fx('mha.in2'), { keyPaddingMask: fx('mha.in3') });
    assertClose(torch.cat([output.reshape(-1), weights!.reshape(-1)]), fx('mha.out'), { what: 'mha' });
  });

  it('attention with both masks, bool or float, equals softmax(q k^T / sqrt(d) - inf where hidden) v, and so do its gradients', () => {
    torch.manualSeed(3);
    const [L, N, E, H] = [5, 3, 8, 2];
    const hd = E / H;
    const m = new nn.MultiheadAttention(E, H);
    m.eval();
    const x = torch.randn([L, N, E]).requiresGrad_();
    const xRef = x.detach().clone().requiresGrad_();
    const causal = torch.ones([L, L], { dtype: 'bool' }).triu(1);
    const padding = torch.zeros([N, L], { dtype: 'bool' });
    torch.noGrad(() => padding.narrow(1, 3, 2).select(0, 1).fill_(1));
    const floatCausal = torch.zeros([L, L]).maskedFill(causal, -Infinity);
    const ours = m.forward(x, x, x, { attnMask: causal, keyPaddingMask: padding, needWeights: false }).output;
    const viaFloat = m.forward(x, x, x, { attnMask: floatCausal, keyPaddingMask: padding, needWeights: false }).output;
    // The reference, one head at a time with nothing but products, masked_fill and softmax.
    const [wq, wk, wv] = m.inProjWeight.chunk(3) as [Tensor, Tensor, Tensor];
    const [bq, bk, bv] = m.inProjBias!.chunk(3) as [Tensor, Tensor, Tensor];
    const per = (w: Tensor, b: Tensor) => F.linear(xRef, w, b).reshape(L, N, H, hd).permute([1, 2, 0, 3]); // [N, H, L, hd]
    const [q, k, v] = [per(wq, bq), per(wk, bk), per(wv, bv)];
    const hidden = causal.reshape(1, 1, L, L).logicalOr(padding.reshape(N, 1, 1, L));
    const p = q.matmul(k.transpose(2, 3)).div(Math.sqrt(hd)).maskedFill(hidden, -Infinity).softmax(-1);
    const ref = m.outProj.forward(p.matmul(v).permute([2, 0, 1, 3]).reshape(L, N, E));
    assertClose(ours, ref, { what: 'both masks' });
    assertClose(viaFloat, ref, { what: 'float causal mask' });
    ours.pow(2).sum().backward();
    ref.pow(2).sum().backward();
    assertClose(x.grad!, xRef.grad!, { what: 'gradient' });
  });

  it('pre-norm, batch-first, GELU encoder layer with a causal mask', () => {
    const m = new nn.TransformerEncoderLayer(8, 4, { dimFeedforward: 12, activation: 'gelu', batchFirst: true, normFirst: true });
    assert.deepEqual([...m.stateDict().keys()], JSON.parse(fixtureMetadata('layers.safetensors')['order.encoder_prenorm']!));
    m.loadStateDict(fixtureGroup('layers.safetensors', 'encoder_prenorm.sd.'));
    m.eval();
    assertClose(m.forward(fx('encoder_prenorm.in0'), { srcMask: fx('encoder_prenorm.in1') }), fx('encoder_prenorm.out'), {
      what: 'encoder_prenorm',
    });
  });

  it('GRU: two layers batch-first, and bidirectional with an initial state, match PyTorch', () => {
    const cases: [string, torch.nn.GRU, (m: torch.nn.GRU) => { output: Tensor; hidden: Tensor }][] = [
      ['gru', new torch.nn.GRU(5, 6, { numLayers: 2, batchFirst: true }), (m) => m.forward(fx('gru.in0'))],
      ['bigru', new torch.nn.GRU(4, 3, { bidirectional: true }), (m) => m.forward(fx('bigru.in0'), fx('bigru.in1'))],
    ];
    for (const [name, m, run] of cases) {
      assert.deepEqual([...m.stateDict().keys()], JSON.parse(fixtureMetadata('layers.safetensors')[`order.${name}`]!));
      m.loadStateDict(fixtureGroup('layers.safetensors', `${name}.sd.`));
      m.eval();
      const { output, hidden } = run(m);
      assertClose(torch.cat([output.reshape(-1), hidden.reshape(-1)]), fx(`${name}.out`), { what: name });
    }
    assert.throws(() => new torch.nn.GRU(5, 6).forward(torch.zeros([2, 3, 4])), /expects 5 input features, got 4/);
  });

  it('functional ops: pooling, activations, resampling', () => {
    const x = fx('fn.x');
    const theta = fx('fn.theta');
    const grid = F.affineGrid(theta, [2, 3, 6, 7]);
    const ours: Record<string, Tensor> = {
      maxpool2d: F.maxPool2d(x, 3, { stride: 2, padding: 1 }),
      avgpool2d: F.avgPool2d(x, 2),
      adaptiveavgpool2d: F.adaptiveAvgPool2d(x, [3, 2]),
      gelu: F.gelu(x),
      gelu_tanh: F.gelu(x, 'tanh'),
      silu: F.silu(x),
      softmax: F.softmax(x, 1),
      logsoftmax: F.logSoftmax(x, -1),
      normalize: F.normalize(x.flatten(1), 2, 1),
      affinegrid: grid,
      gridsample: F.gridSample(x, grid),
      gridsample_reflect: F.gridSample(x, grid, { mode: 'nearest', paddingMode: 'reflection', alignCorners: true }),
      interp_bilinear: F.interpolate(x, { size: [5, 11], mode: 'bilinear' }),
      interp_nearest: F.interpolate(x, { scaleFactor: 2, mode: 'nearest' }),
    };
    for (const [k, v] of Object.entries(ours)) assertClose(v, fx(`fn.${k}`), { what: k });
  });

  it('losses: cross-entropy with label smoothing, weights, soft targets and ignore_index', () => {
    const l = (k: string): Tensor => fx(`loss.in.${k}`);
    const ours: Record<string, Tensor> = {
      ce: F.crossEntropy(l('logits'), l('target')),
      ce_smooth_weight: F.crossEntropy(l('logits'), l('target'), { weight: l('weight'), labelSmoothing: 0.1 }),
      ce_probs: F.crossEntropy(l('logits'), l('probs')),
      ce_ignore_sum: F.crossEntropy(l('logits'), torch.tensor([0, -100, 1, 1, -100, 3], { dtype: 'int64' }), { reduction: 'sum' }),
      nll: F.nllLoss(F.logSoftmax(l('logits'), 1), l('target'), { weight: l('weight') }),
      mse: F.mseLoss(l('a'), l('b')),
      smoothl1: F.smoothL1Loss(l('a'), l('b'), { beta: 0.5 }),
      bce_logits: F.binaryCrossEntropyWithLogits(l('a'), l('b').gt(0).float(), { posWeight: torch.tensor([1, 2, 3, 0.5]) }),
      cosine: F.cosineSimilarity(l('a'), l('b')),
    };
    for (const [k, v] of Object.entries(ours)) assertClose(v, fx(`loss.${k}`), { what: k });
  });
});

describe('nn.Module', () => {
  it('names nested parameters and buffers as PyTorch does', () => {
    const net = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2), new nn.Sequential(new nn.Flatten(), new nn.Linear(8, 2)));
    assert.deepEqual(
      [...net.stateDict().keys()],
      ['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked', '2.1.weight', '2.1.bias'],
    );
    assert.deepEqual(
      net.namedParameters().map(([k]) => k),
      ['0.weight', '0.bias', '1.weight', '1.bias', '2.1.weight', '2.1.bias'],
    );
    assert.equal(net.numParameters(), 2 * 9 + 2 + 2 + 2 + 16 + 2);
    assert.deepEqual(
      [...net.namedModules()].map(([k]) => k),
      ['', '0', '1', '2', '2.0', '2.1'],
    );
  });

  it('rejects a state dict with missing, unexpected or mis-shaped entries', () => {
    const a = new nn.Linear(3, 2);
    assert.throws(() => a.loadStateDict({ weight: torch.zeros([2, 3]) }), /missing keys: bias/);
    assert.throws(
      () => a.loadStateDict({ weight: torch.zeros([2, 3]), bias: torch.zeros([2]), extra: torch.zeros([1]) }),
      /unexpected keys: extra/,
    );
    assert.throws(
      () => a.loadStateDict({ weight: torch.zeros([3, 2]), bias: torch.zeros([2]) }),
      /size mismatch for weight: the model has \[2, 3\], the state dict \[3, 2\]/,
    );
    const r = a.loadStateDict({ weight: torch.ones([2, 3]) }, false);
    assert.deepEqual(r.missingKeys, ['bias']);
    assert.equal(a.weight.sum().item(), 6);
  });

  it('initializes like PyTorch: bounds of the default uniform inits', () => {
    const l = new nn.Linear(100, 50);
    const bound = 1 / Math.sqrt(100);
    assert.ok(l.weight.abs().max().item() <= bound);
    assert.ok(l.weight.abs().max().item() > 0.9 * bound);
    assert.ok(l.bias!.abs().max().item() <= bound);
    const c = new nn.Conv2d(4, 8, 3);
    assert.ok(c.weight.abs().max().item() <= 1 / Math.sqrt(4 * 9));
    const mha = new nn.MultiheadAttention(16, 4);
    assert.ok(mha.inProjWeight.abs().max().item() <= Math.sqrt(6 / (16 + 48)));
    assert.equal(mha.inProjBias!.abs().sum().item(), 0);
    const e = new nn.Embedding(5, 3, 2);
    assert.equal(e.weight.select(0, 2).abs().sum().item(), 0);
  });

  it('switches train/eval for the whole tree and changes dropout behaviour', () => {
    const net = new nn.Sequential(new nn.Dropout(0.5), new nn.Linear(4, 4));
    net.eval();
    assert.ok(net.modules().every((m) => !m.training));
    const x = torch.ones([8, 4]);
    assert.ok(net.at(0).forward(x).equal(x));
    net.train();
    const dropped = net.at(0).forward(torch.ones([1000]));
    const zeros = dropped.eq(0).sum().item();
    assert.ok(zeros > 400 && zeros < 600, `${zeros} zeros`);
    assert.ok(dropped.max().item() === 2);
  });

  it('converts dtype in place, keeping parameter identity', () => {
    const l = new nn.Linear(2, 2);
    const w = l.weight;
    l.to('float64');
    assert.equal(l.weight, w);
    assert.equal(w.dtype, 'float64');
    assert.equal(l.forward(torch.ones([1, 2], { dtype: 'float64' })).dtype, 'float64');
    const bn = new nn.BatchNorm1d(2).to('float64');
    assert.equal(bn.numBatchesTracked!.dtype, 'int64');
  });

  it('zeroGrad clears or zeroes gradients', () => {
    const l = new nn.Linear(2, 1);
    l.forward(torch.ones([1, 2]))
      .sum()
      .backward();
    assert.notEqual(l.weight.grad, null);
    l.zeroGrad(false);
    assert.equal(l.weight.grad!.abs().sum().item(), 0);
    l.zeroGrad();
    assert.equal(l.weight.grad, null);
  });
});
