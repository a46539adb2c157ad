import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../src/index.js';
import { values } from './helpers.js';

const { tensor } = torch;

describe('tensor creation and data', () => {
  it('round-trips every typed-array dtype without loss', () => {
    const cases: [ArrayBufferView, string][] = [
      [new Float32Array([1.5, -2.25, 3e-8]), 'float32'],
      [new Float64Array([Math.PI, -1e300, 5e-324]), 'float64'],
      [new Int32Array([-2147483648, 0, 2147483647]), 'int32'],
      [new BigInt64Array([-(2n ** 63n), 0n, 2n ** 62n + 1n]), 'int64'],
      [new Uint8Array([0, 127, 255]), 'uint8'],
      [new Int8Array([-128, 0, 127]), 'int8'],
      [new Int16Array([-32768, 5, 32767]), 'int16'],
    ];
    for (const [data, dtype] of cases) {
      const t = tensor(data);
      assert.equal(t.dtype, dtype);
      assert.deepEqual(t.shape, [3]);
      assert.deepEqual(Array.from(t.data() as ArrayLike<unknown>), Array.from(data as unknown as ArrayLike<unknown>));
    }
  });

  it('copies input arrays, so later writes do not alias the tensor', () => {
    const src = new Float32Array([1, 2, 3, 4]);
    const t = tensor(src, { shape: [2, 2] });
    src[0] = 100;
    assert.deepEqual(t.toArray(), [
      [1, 2],
      [3, 4],
    ]);
  });

  it('builds from nested arrays with the inferred shape and dtype', () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.equal(t.dtype, 'float32');
    const b = tensor([true, false]);
    assert.equal(b.dtype, 'bool');
    assert.deepEqual(b.toArray(), [true, false]);
    assert.deepEqual(tensor([[1, 2]], { dtype: 'int64' }).toArray(), [[1, 2]]);
  });

  it('rejects ragged nested arrays and mismatched shapes', () => {
    assert.throws(() => tensor([[1, 2], [3]]), /ragged/);
    assert.throws(() => tensor(new Float32Array(5), { shape: [2, 2] }), /holds 20 bytes but shape \[2, 2\]/);
  });

  it('handles 0-d and empty tensors', () => {
    const s = torch.full([], 7);
    assert.deepEqual(s.shape, []);
    assert.equal(s.item(), 7);
    assert.equal(s.toArray(), 7);
    const e = torch.zeros([0, 3]);
    assert.deepEqual(e.shape, [0, 3]);
    assert.equal(e.numel(), 0);
    assert.deepEqual(e.toArray(), []);
    assert.equal(e.sum().item(), 0);
  });

  it('has the PyTorch factories', () => {
    assert.deepEqual(values(torch.arange(5)), [0, 1, 2, 3, 4]);
    assert.equal(torch.arange(5).dtype, 'int64');
    assert.deepEqual(values(torch.arange(1, 2, 0.25)), [1, 1.25, 1.5, 1.75]);
    assert.deepEqual(values(torch.linspace(0, 1, 5)), [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(torch.eye(2, 3).toArray(), [
      [1, 0, 0],
      [0, 1, 0],
    ]);
    assert.deepEqual(values(torch.full([2], 2.5)), [2.5, 2.5]);
    assert.equal(torch.ones([2, 2], { dtype: 'float64' }).dtype, 'float64');
    assert.deepEqual(values(torch.zerosLike(torch.ones([3]))), [0, 0, 0]);
  });
});

describe('random numbers', () => {
  it('replays the same draws after manualSeed', () => {
    torch.manualSeed(42);
    const a = values(torch.randn([5]));
    const p = values(torch.randperm(6));
    torch.manualSeed(42);
    assert.deepEqual(values(torch.randn([5])), a);
    assert.deepEqual(values(torch.randperm(6)), p);
  });

  it('gives independent reproducible streams per Generator, with state save/restore', () => {
    const g = new torch.Generator(7);
    const first = values(torch.rand([4], { generator: g }));
    const state = g.getState();
    const second = values(torch.rand([4], { generator: g }));
    assert.notDeepEqual(first, second);
    g.setState(state);
    assert.deepEqual(values(torch.rand([4], { generator: g })), second);
    assert.deepEqual(values(torch.rand([4], { generator: new torch.Generator(7) })), first);
    assert.equal(g.initialSeed, 7n);
  });

  it('draws in the documented ranges', () => {
    torch.manualSeed(0);
    const u = values(torch.rand([2000]));
    assert.ok(u.every((v) => v >= 0 && v < 1));
    const r = values(torch.randint(3, 6, [2000]));
    assert.deepEqual([...new Set(r)].sort(), [3, 4, 5]);
    const n = torch.randn([20000]);
    assert.ok(Math.abs(n.mean().item()) < 0.03);
    assert.ok(Math.abs(n.std().item() - 1) < 0.03);
    const b = values(torch.zeros([4000]).bernoulli(0.25));
    const rate = b.reduce((s, v) => s + v, 0) / b.length;
    assert.ok(Math.abs(rate - 0.25) < 0.03, `bernoulli rate ${rate}`);
    const x = torch.empty([1000]).uniform_(-2, -1);
    assert.ok(x.min().item() >= -2 && x.max().item() < -1);
  });
});

describe('arithmetic and broadcasting', () => {
  const a = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const row = tensor([10, 20, 30]);

  it('broadcasts like PyTorch', () => {
    assert.deepEqual(a.add(row).toArray(), [
      [11, 22, 33],
      [14, 25, 36],
    ]);
    assert.deepEqual(a.mul(tensor([[2], [3]])).toArray(), [
      [2, 4, 6],
      [12, 15, 18],
    ]);
    assert.deepEqual(a.sub(row, 0.5).toArray(), [
      [-4, -8, -12],
      [-1, -5, -9],
    ]);
    assert.deepEqual(values(a.div(2)), [0.5, 1, 1.5, 2, 2.5, 3]);
    assert.deepEqual(values(tensor([7, -7]).div(tensor([2, 2]), 'floor')), [3, -4]);
    assert.deepEqual(values(tensor([7, -7]).div(2, 'trunc')), [3, -3]);
    assert.deepEqual(values(a.pow(2).select(0, 0)), [1, 4, 9]);
    assert.deepEqual(values(tensor([5, -5]).remainder(3)), [2, 1]);
  });

  it('keeps integer dtypes for integer scalars and promotes for fractional ones', () => {
    const i = tensor([1, 2], { dtype: 'int64' });
    assert.equal(i.add(1).dtype, 'int64');
    assert.equal(i.mul(1.5).dtype, 'float32');
    assert.equal(i.add(tensor([0.5, 0.5])).dtype, 'float32');
  });

  it('computes elementwise math', () => {
    const x = tensor([0.25, 1, 4]);
    assert.deepEqual(values(x.sqrt()), [0.5, 1, 2]);
    assert.deepEqual(values(x.log().exp().round()), [0, 1, 4]);
    assert.deepEqual(values(tensor([-2, 0, 3]).sign()), [-1, 0, 1]);
    assert.deepEqual(values(tensor([-2, 0.5, 3]).clamp(-1, 1)), [-1, 0.5, 1]);
    assert.deepEqual(values(tensor([-1, 2]).relu()), [0, 2]);
    assert.deepEqual(values(tensor([-1, 2]).abs()), [1, 2]);
    assert.ok(Math.abs(tensor([0]).sigmoid().item() - 0.5) < 1e-7);
    assert.ok(Math.abs(tensor([1]).tanh().item() - Math.tanh(1)) < 1e-7);
  });

  it('compares and combines booleans', () => {
    const x = tensor([1, 2, 3]);
    assert.deepEqual(x.gt(1).toArray(), [false, true, true]);
    assert.deepEqual(x.le(tensor([1, 1, 4])).toArray(), [true, false, true]);
    assert.deepEqual(x.eq(2).logicalOr(x.eq(3)).toArray(), [false, true, true]);
    assert.deepEqual(x.ne(2).logicalAnd(x.lt(3)).toArray(), [true, false, false]);
    assert.deepEqual(x.gt(1).logicalNot().toArray(), [true, false, false]);
    assert.deepEqual(values(torch.where(x.ge(2), x, tensor([0, 0, 0]))), [0, 2, 3]);
    assert.ok(x.equal(tensor([1, 2, 3])));
    assert.ok(x.allclose(tensor([1, 2, 3.000001])));
  });

  it('multiplies matrices', () => {
    const m = tensor([
      [1, 2],
      [3, 4],
    ]);
    assert.deepEqual(m.matmul(m).toArray(), [
      [7, 10],
      [15, 22],
    ]);
    assert.deepEqual(m.mm(m.t()).toArray(), [
      [5, 11],
      [11, 25],
    ]);
    const batch = torch.stack([m, m.mul(2)]);
    assert.deepEqual(batch.bmm(batch).select(0, 1).toArray(), [
      [28, 40],
      [60, 88],
    ]);
    assert.deepEqual(torch.einsum('ij,jk->ik', m, m).toArray(), m.matmul(m).toArray());
    assert.deepEqual(values(torch.einsum('bi,bi->b', m, m)), [5, 25]);
    assert.deepEqual(torch.nn.functional.linear(m, m, tensor([1, 1])).toArray(), [
      [6, 12],
      [12, 26],
    ]);
  });
});

describe('reductions', () => {
  const x = tensor([
    [1, 5, 3],
    [4, 2, 6],
  ]);
  it('reduces over dims with keepdim', () => {
    assert.equal(x.sum().item(), 21);
    assert.deepEqual(values(x.sum(0)), [5, 7, 9]);
    assert.deepEqual(x.sum(1, true).shape, [2, 1]);
    assert.deepEqual(values(x.mean(1)), [3, 4]);
    assert.deepEqual(values(x.sum([0, 1])), [21]);
    assert.deepEqual(values(x.var(1)), [4, 4]);
    assert.deepEqual(
      values(x.var(1, { correction: 0 })).map((v) => Number(v.toFixed(5))),
      [2.66667, 2.66667],
    );
    assert.deepEqual(
      values(x.std(0)).map((v) => Number(v.toFixed(5))),
      [2.12132, 2.12132, 2.12132],
    );
    assert.equal(x.prod().item(), 720);
    assert.deepEqual(values(x.cumsum(1).select(0, 0)), [1, 6, 9]);
    assert.ok(Math.abs(tensor([0, 0]).logsumexp(0).item() - Math.LN2) < 1e-6);
    assert.ok(Math.abs(tensor([3, 4]).norm().item() - 5) < 1e-6);
    assert.equal(tensor([3, -4]).norm(1).item(), 7);
  });

  it('returns values and indices for max, min, topk and sort', () => {
    assert.equal(x.max().item(), 6);
    const m = x.max(1);
    assert.deepEqual(values(m.values), [5, 6]);
    assert.deepEqual(values(m.indices), [1, 2]);
    assert.deepEqual(values(x.min(0).indices), [0, 1, 0]);
    assert.deepEqual(values(x.argmax(1)), [1, 2]);
    assert.equal(x.argmax().item(), 5);
    const top = x.flatten().topk(2);
    assert.deepEqual(values(top.values), [6, 5]);
    assert.deepEqual(values(top.indices), [5, 1]);
    assert.deepEqual(values(x.select(0, 0).sort(0, true).values), [5, 3, 1]);
    assert.deepEqual(values(x.select(0, 0).argsort()), [0, 2, 1]);
    assert.deepEqual(
      values(x.softmax(1).sum(1)).map((v) => Number(v.toFixed(6))),
      [1, 1],
    );
    assert.ok(x.gt(0).all().item());
    assert.ok(!x.gt(5).all().item() && x.gt(5).any().item());
  });
});

describe('shapes, slicing and indexing', () => {
  const x = torch.arange(24).reshape(2, 3, 4);
  it('reshapes, permutes and squeezes', () => {
    assert.deepEqual(x.view(6, 4).shape, [6, 4]);
    assert.deepEqual(x.reshape([4, -1]).shape, [4, 6]);
    assert.deepEqual(x.permute(2, 0, 1).shape, [4, 2, 3]);
    assert.deepEqual(x.transpose(0, 2).shape, [4, 3, 2]);
    assert.deepEqual(x.flatten(1).shape, [2, 12]);
    assert.deepEqual(x.unsqueeze(1).shape, [2, 1, 3, 4]);
    assert.deepEqual(x.unsqueeze(1).squeeze(1).shape, [2, 3, 4]);
    assert.deepEqual(torch.zeros([1, 3, 1]).squeeze().shape, [3]);
    assert.deepEqual(torch.zeros([3, 1]).expand(3, 4).shape, [3, 4]);
    assert.deepEqual(tensor([1, 2]).repeat(2, 2).toArray(), [
      [1, 2, 1, 2],
      [1, 2, 1, 2],
    ]);
    assert.deepEqual(values(tensor([1, 2]).repeatInterleave(2)), [1, 1, 2, 2]);
    assert.deepEqual(
      tensor([[1], [2]])
        .repeatInterleave(2, 0)
        .toArray(),
      [[1], [1], [2], [2]],
    );
    assert.ok(!x.transpose(0, 1).contiguous().equal(x.transpose(0, 1).contiguous().flip(0)));
    assert.deepEqual(x.stride(), [12, 4, 1]);
  });

  it('flips, rolls and takes triangles and diagonals', () => {
    const v = tensor([1, 2, 3, 4]);
    assert.deepEqual(values(v.flip(0)), [4, 3, 2, 1]);
    assert.deepEqual(values(v.roll(1)), [4, 1, 2, 3]);
    const m = torch.ones([3, 3]);
    assert.deepEqual(m.triu(1).toArray(), [
      [0, 1, 1],
      [0, 0, 1],
      [0, 0, 0],
    ]);
    assert.equal(m.tril().sum().item(), 6);
    assert.deepEqual(values(torch.eye(3).mul(5).diag()), [5, 5, 5]);
    assert.deepEqual(v.diag().shape, [4, 4]);
  });

  it('concatenates, stacks, splits and chunks', () => {
    const a = torch.ones([2, 2]);
    const b = torch.zeros([1, 2]);
    assert.deepEqual(torch.cat([a, b]).shape, [3, 2]);
    assert.deepEqual(torch.stack([a, a], 2).shape, [2, 2, 2]);
    const parts = torch.arange(10).split(4);
    assert.deepEqual(
      parts.map((p) => p.numel()),
      [4, 4, 2],
    );
    assert.deepEqual(
      torch
        .arange(10)
        .split([3, 7])
        .map((p) => p.numel()),
      [3, 7],
    );
    assert.deepEqual(
      torch
        .arange(9)
        .chunk(3)
        .map((p) => values(p)),
      [
        [0, 1, 2],
        [3, 4, 5],
        [6, 7, 8],
      ],
    );
  });

  it('slices as views that share memory', () => {
    const y = torch.zeros([4, 4]);
    y.slice(0, 1, 3).slice(1, 0, null, 2).fill_(1);
    assert.deepEqual(y.toArray(), [
      [0, 0, 0, 0],
      [1, 0, 1, 0],
      [1, 0, 1, 0],
      [0, 0, 0, 0],
    ]);
    assert.deepEqual(values(x.select(0, 1).select(0, 2)), [20, 21, 22, 23]);
    assert.deepEqual(values(x.narrow(2, 1, 2).select(0, 0).select(0, 0)), [1, 2]);
  });

  it('indexes, gathers and scatters', () => {
    const m = torch.arange(12).reshape(3, 4);
    const idx = tensor([2, 0], { dtype: 'int64' });
    assert.deepEqual(m.indexSelect(0, idx).toArray(), [
      [8, 9, 10, 11],
      [0, 1, 2, 3],
    ]);
    assert.deepEqual(values(m.index([idx, tensor([1, 3], { dtype: 'int64' })])), [9, 3]);
    assert.deepEqual(m.index([null, idx]).toArray(), [
      [2, 0],
      [6, 4],
      [10, 8],
    ]);
    assert.deepEqual(m.gather(1, tensor([[0], [1], [3]], { dtype: 'int64' })).toArray(), [[0], [5], [11]]);
    const z = torch.zeros([2, 3]);
    assert.deepEqual(z.scatter(1, tensor([[2], [0]], { dtype: 'int64' }), 1).toArray(), [
      [0, 0, 1],
      [1, 0, 0],
    ]);
    assert.deepEqual(values(torch.zeros([3]).scatterAdd(0, tensor([0, 0, 2], { dtype: 'int64' }), tensor([1, 2, 3]))), [3, 0, 3]);
    assert.deepEqual(values(tensor([1, 2, 3]).maskedFill(tensor([true, false, true]), -1)), [-1, 2, -1]);
    assert.deepEqual(
      values(
        tensor([
          [1, 2],
          [3, 4],
        ]).maskedSelect(tensor([true, false])),
      ),
      [1, 3],
    );
    const w = torch.zeros([3]);
    w.indexPut_([tensor([0, 0, 2], { dtype: 'int64' })], tensor([1, 1, 5]), true);
    assert.deepEqual(values(w), [2, 0, 5]);
  });

  it('converts dtypes', () => {
    const f = tensor([1.7, -1.7]);
    assert.deepEqual(values(f.long()), [1, -1]);
    assert.equal(f.double().dtype, 'float64');
    assert.equal(f.to('float16').dtype, 'float16');
    assert.deepEqual(values(f.to('bfloat16').float()), [1.703125, -1.703125]);
    assert.deepEqual(f.bool().toArray(), [true, true]);
    assert.equal(f.device, 'cpu');
    assert.equal(f.cpu().device, 'cpu');
  });

  it('modifies in place and returns the same tensor', () => {
    const t = tensor([1, 2, 3]);
    assert.equal(t.add_(1), t);
    t.mul_(2)
      .sub_(tensor([1, 1, 1]))
      .div_(2);
    assert.deepEqual(values(t), [1.5, 2.5, 3.5]);
    t.addcmul_(tensor([1, 1, 1]), tensor([2, 2, 2]), 0.5).addcdiv_(tensor([1, 1, 1]), tensor([2, 2, 2]), 2);
    assert.deepEqual(values(t), [3.5, 4.5, 5.5]);
    t.lerp_(torch.zeros([3]), 0.5);
    assert.deepEqual(values(t), [1.75, 2.25, 2.75]);
    t.clamp_(2, 2.5).maskedFill_(tensor([false, false, true]), 9);
    assert.deepEqual(values(t), [2, 2.25, 9]);
    t.zero_();
    assert.deepEqual(values(t), [0, 0, 0]);
    t.copy_(tensor([4, 5, 6], { dtype: 'int64' }));
    assert.deepEqual(values(t), [4, 5, 6]);
  });

  it('prints a readable summary', () => {
    assert.equal(tensor([1, 2]).toString(), 'Tensor([1,2], shape=[2], dtype=float32)');
    const t = tensor([1]);
    t.dispose();
    assert.equal(t.toString(), 'Tensor(disposed)');
  });
});
