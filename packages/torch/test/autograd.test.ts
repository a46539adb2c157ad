import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../src/index.js';
import { Tensor } from '../src/index.js';
import { values } from './helpers.js';

const { tensor, nn } = torch;
const F = nn.functional;

describe('autograd', () => {
  it('computes gradients of a composite expression', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(x).sum(); // dy/dx = 2x
    y.backward();
    assert.deepEqual(values(x.grad!), [2, 4, 6]);
    x.mul(3).sum().backward(); // accumulates
    assert.deepEqual(values(x.grad!), [5, 7, 9]);
    x.grad = null;
    assert.equal(x.grad, null);
  });

  it('supports retainGraph, an explicit gradient and createGraph for second derivatives', () => {
    const x = tensor([2], { dtype: 'float64', requiresGrad: true });
    const y = x.pow(3);
    y.backward(tensor([1], { dtype: 'float64' }), { retainGraph: true, createGraph: true });
    assert.equal(x.grad!.item(), 12); // 3x^2
    const g = x.grad!;
    x.grad = null;
    g.backward();
    assert.equal(x.grad!.item(), 12); // 6x
  });

  it('detaches and stops recording under noGrad, records again under enableGrad', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    assert.equal(x.detach().requiresGrad, false);
    const inNoGrad = torch.noGrad(() => {
      assert.equal(torch.isGradEnabled(), false);
      const inside = torch.enableGrad(() => x.mul(2));
      return [x.mul(2), inside] as const;
    });
    assert.equal(inNoGrad[0].requiresGrad, false);
    assert.equal(inNoGrad[1].requiresGrad, true);
    assert.equal(torch.isGradEnabled(), true);
    assert.throws(() =>
      torch.noGrad(() => {
        throw new Error('boom');
      }),
    );
    assert.equal(torch.isGradEnabled(), true, 'grad mode restored after an exception');
  });

  it('requiresGrad_ and clone keep the graph', () => {
    const x = torch.ones([2]).requiresGrad_();
    const c = x.clone();
    c.mul(4).sum().backward();
    assert.deepEqual(values(x.grad!), [4, 4]);
  });
});

/** Central finite differences in float64 against autograd, for every input. */
function gradcheck(name: string, fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], eps = 1e-6, tol = 1e-5): void {
  torch.tidy(() => {
    const xs = inputs.map((x) => x.double().detach().requiresGrad_());
    const out = fn(...xs);
    const weights = torch.randn(out.shape, { dtype: 'float64' }); // random projection to a scalar
    out.mul(weights).sum().backward();
    xs.forEach((x, k) => {
      const analytic = x.grad!.data() as Float64Array;
      const base = x.detach().data() as Float64Array;
      for (let i = 0; i < base.length; i++) {
        const f = (delta: number): number =>
          torch.noGrad(() => {
            const shifted = base.slice();
            shifted[i] = shifted[i]! + delta;
            const args = xs.map((y, j) => (j === k ? tensor(shifted, { shape: x.shape }) : y.detach()));
            return fn(...args)
              .mul(weights)
              .sum()
              .item();
          });
        const numeric = (f(eps) - f(-eps)) / (2 * eps);
        const err = Math.abs(numeric - analytic[i]!);
        assert.ok(err <= tol * (1 + Math.abs(numeric)), `${name}: d/dinput${k}[${i}] numeric ${numeric} vs autograd ${analytic[i]}`);
      }
    });
  });
}

describe('gradients match finite differences (float64)', () => {
  torch.manualSeed(3);
  const r = (...shape: number[]): Tensor => torch.randn(shape, { dtype: 'float64' });
  const pos = (...shape: number[]): Tensor => torch.rand(shape, { dtype: 'float64' }).add(0.5);

  it('arithmetic', () => {
    gradcheck('add', (a, b) => a.add(b, 0.5), [r(2, 3), r(3)]);
    gradcheck('sub', (a, b) => a.sub(b), [r(2, 3), r(2, 1)]);
    gradcheck('mul', (a, b) => a.mul(b), [r(2, 3), r(2, 3)]);
    gradcheck('div', (a, b) => a.div(b), [r(2, 3), pos(2, 3)]);
    gradcheck('pow', (a, b) => a.pow(b), [pos(4), r(4)]);
    gradcheck('neg/maximum', (a, b) => a.neg().maximum(b), [r(5), r(5)]);
  });

  it('unary math', () => {
    for (const name of [
      'exp',
      'sqrt',
      'log',
      'sigmoid',
      'tanh',
      'silu',
      'gelu',
      'rsqrt',
      'reciprocal',
      'square',
      'sin',
      'cos',
      'erf',
      'log1p',
    ] as const) {
      gradcheck(name, (a) => (a[name] as () => Tensor).call(a), [pos(6)]);
    }
    gradcheck('abs', (a) => a.abs(), [r(6)]);
    gradcheck('relu', (a) => a.relu(), [r(6)]);
    gradcheck('clamp', (a) => a.clamp(-0.5, 0.5), [r(6)]);
  });

  it('linear algebra', () => {
    gradcheck('matmul', (a, b) => a.matmul(b), [r(3, 4), r(4, 2)]);
    gradcheck('bmm', (a, b) => a.bmm(b), [r(2, 3, 4), r(2, 4, 2)]);
    gradcheck('einsum', (a, b) => torch.einsum('bij,bjk->bik', a, b), [r(2, 2, 3), r(2, 3, 2)]);
    gradcheck('linear', (x, w, b) => F.linear(x, w, b), [r(3, 4), r(2, 4), r(2)]);
  });

  it('reductions', () => {
    gradcheck('sum', (a) => a.sum(1, true), [r(3, 4)]);
    gradcheck('mean', (a) => a.mean([0, 1]), [r(3, 4)]);
    gradcheck('var', (a) => a.var(0), [r(4, 3)]);
    gradcheck('std', (a) => a.std(1, { correction: 0 }), [r(3, 5)]);
    gradcheck('max', (a) => a.max(1).values, [r(3, 4)]);
    gradcheck('logsumexp', (a) => a.logsumexp(1), [r(3, 4)]);
    gradcheck('softmax', (a) => a.softmax(1), [r(3, 4)]);
    gradcheck('logSoftmax', (a) => a.logSoftmax(0), [r(3, 4)]);
    gradcheck('cumsum', (a) => a.cumsum(1), [r(2, 4)]);
    gradcheck('norm', (a) => a.norm(2, 1), [r(3, 4)]);
    gradcheck('prod', (a) => a.prod(1), [pos(2, 3)]);
    gradcheck('topk', (a) => a.topk(2, 1).values, [r(3, 5)]);
  });

  it('shape and indexing', () => {
    gradcheck(
      'reshape/permute',
      (a) =>
        a
          .reshape(2, 6)
          .permute(1, 0)
          .mul(tensor([1, 2], { dtype: 'float64' })),
      [r(3, 4)],
    );
    gradcheck('cat/stack', (a, b) => torch.stack([torch.cat([a, b], 1), torch.cat([b, a], 1)]), [r(2, 2), r(2, 2)]);
    gradcheck(
      'split/slice',
      (a) =>
        a
          .split(2, 1)[1]!
          .slice(0, 1)
          .mul(a.narrow(1, 0, 2).slice(0, 1)),
      [r(3, 4)],
    );
    gradcheck('expand/repeat/flip/roll', (a) => a.expand(3, 2, 4).repeat(1, 2, 1).flip(2).roll(1, 0), [r(1, 2, 4)]);
    const idx = tensor([2, 0, 2], { dtype: 'int64' });
    gradcheck('indexSelect/gather', (a) => a.indexSelect(0, idx).gather(1, idx.reshape(3, 1)), [r(3, 3)]);
    gradcheck('index', (a) => a.index([idx, null]), [r(3, 2)]);
    gradcheck('scatterAdd', (a, s) => a.scatterAdd(0, idx, s), [r(3), r(3)]);
    gradcheck('where/maskedFill', (a, b) => torch.where(a.gt(0), a, b).maskedFill(b.gt(1), 0), [r(6), r(6)]);
    gradcheck('triu/diag', (a) => a.triu(0).add(a.diag().diag()), [r(3, 3)]);
  });

  it('convolution, pooling and resampling', () => {
    gradcheck('conv1d', (x, w, b) => F.conv1d(x, w, b, { stride: 2, padding: 1 }), [r(1, 2, 7), r(3, 2, 3), r(3)]);
    gradcheck('conv2d', (x, w) => F.conv2d(x, w, null, { padding: 1, dilation: 2, groups: 2 }), [r(1, 4, 5, 5), r(2, 2, 3, 3)]);
    gradcheck('maxPool2d', (x) => F.maxPool2d(x, 2), [r(1, 2, 4, 4)]);
    gradcheck('avgPool2d', (x) => F.avgPool2d(x, 2, { stride: 1 }), [r(1, 1, 4, 4)]);
    gradcheck('adaptiveAvgPool2d', (x) => F.adaptiveAvgPool2d(x, 2), [r(1, 2, 5, 5)]);
    gradcheck('maxPool1d/avgPool1d', (x) => F.maxPool1d(x, 2).add(F.avgPool1d(x, 2)), [r(1, 2, 6)]);
    const theta = tensor(
      [
        [
          [0.9, 0.2, 0.1],
          [-0.1, 1.1, 0.05],
        ],
      ],
      { dtype: 'float64' },
    );
    // Each is smooth in the argument checked; composed, theta moves samples across bilinear kinks.
    gradcheck('affineGrid', (th) => F.affineGrid(th, [1, 1, 4, 4]), [theta]);
    const grid = F.affineGrid(theta, [1, 1, 4, 4]);
    gradcheck('gridSample', (x) => F.gridSample(x, grid), [r(1, 1, 5, 5)]);
    gradcheck('gridSample border', (x) => F.gridSample(x, grid.mul(1.3), { paddingMode: 'border' }), [r(1, 2, 3, 3)]);
    gradcheck('interpolate', (x) => F.interpolate(x, { size: [5, 3], mode: 'bilinear' }), [r(1, 1, 3, 4)]);
    gradcheck('pad', (x) => F.pad(x, [1, 2], 'reflect'), [r(1, 2, 4)]);
  });

  it('normalization, dropout-free layers and losses', () => {
    gradcheck('layerNorm', (x, w, b) => F.layerNorm(x, [4], w, b), [r(3, 4), r(4), r(4)]);
    gradcheck('batchNorm', (x, w, b) => F.batchNorm(x, null, null, { weight: w, bias: b, training: true }), [r(5, 3), r(3), r(3)]);
    gradcheck('groupNorm', (x, w, b) => F.groupNorm(x, 2, w, b), [r(2, 4, 3), r(4), r(4)]);
    gradcheck('embedding', (w) => F.embedding(tensor([1, 0, 1], { dtype: 'int64' }), w), [r(3, 2)]);
    const target = tensor([0, 2, 1], { dtype: 'int64' });
    gradcheck(
      'crossEntropy',
      (x) => F.crossEntropy(x, target, { labelSmoothing: 0.1, weight: tensor([1, 2, 0.5], { dtype: 'float64' }) }),
      [r(3, 3)],
    );
    gradcheck('nllLoss', (x) => F.nllLoss(x.logSoftmax(1), target), [r(3, 3)]);
    gradcheck('mseLoss', (a, b) => F.mseLoss(a, b), [r(4), r(4)]);
    gradcheck('smoothL1Loss', (a, b) => F.smoothL1Loss(a, b, { beta: 0.5 }), [r(6), r(6)]);
    gradcheck('bceWithLogits', (a) => F.binaryCrossEntropyWithLogits(a, tensor([1, 0, 1, 0], { dtype: 'float64' })), [r(4)]);
    gradcheck('cosineSimilarity', (a, b) => F.cosineSimilarity(a, b), [r(3, 4), r(3, 4)]);
    gradcheck('normalize', (a) => F.normalize(a), [r(3, 4)]);
    gradcheck('softplus/leakyRelu', (a) => F.softplus(a).add(F.leakyRelu(a, 0.2)), [r(5)]);
  });
});
