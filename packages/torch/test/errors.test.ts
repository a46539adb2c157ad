// No input from JavaScript may crash the process: every libtorch failure becomes an Error
// whose message says what was wrong.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../src/index.js';
import { native } from '../src/native.js';
import { bindOp } from '../src/ops.js';
import { values } from './helpers.js';

const { tensor, nn } = torch;
const F = nn.functional;

describe('libtorch errors become JavaScript errors', () => {
  it('reports shape mismatches', () => {
    assert.throws(() => torch.ones([2, 3]).add(torch.ones([4])), /size of tensor a \(3\) must match the size of tensor b \(4\)/);
    assert.throws(() => torch.ones([2, 3]).matmul(torch.ones([2, 3])), /cannot be multiplied|shapes/);
    assert.throws(() => torch.ones([6]).view(4), /shape '\[4\]' is invalid for input of size 6/);
    assert.throws(() => F.conv2d(torch.ones([1, 3, 5, 5]), torch.ones([2, 4, 3, 3])), /expected input.*to have 4 channels/);
    assert.throws(() => F.linear(torch.ones([2, 5]), torch.ones([3, 4])), /cannot be multiplied/);
  });

  it('reports wrong dtypes', () => {
    assert.throws(() => F.crossEntropy(torch.ones([2, 3]), tensor([0.5, 1])), Error);
    assert.throws(() => torch.ones([3]).indexSelect(0, tensor([0.5])), /index_select\(\): Expected dtype int/);
    assert.throws(
      () => F.embedding(tensor([1.5]), torch.ones([4, 2])),
      /Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int/,
    );
  });

  it('reports out-of-range indices and dimensions', () => {
    assert.throws(() => torch.ones([2, 2]).select(0, 5), /index 5 out of range for tensor of size \[2, 2\]/);
    assert.throws(() => torch.ones([2, 2]).sum(3), /Dimension out of range/);
    assert.throws(
      () => torch.ones([3]).indexSelect(0, tensor([7], { dtype: 'int64' })),
      /out of range|INDICES element is out of DATA bounds/,
    );
    assert.throws(() => torch.ones([3]).gather(0, tensor([9], { dtype: 'int64' })), /out of bounds/);
    assert.throws(() => F.embedding(tensor([10], { dtype: 'int64' }), torch.ones([4, 2])), /index out of range/);
    assert.throws(() => F.crossEntropy(torch.ones([2, 3]), tensor([0, 3], { dtype: 'int64' })), /out of bounds/);
    assert.throws(() => torch.ones([2]).size(4), /dimension 4 out of range/);
  });

  it('propagates NaN instead of failing', () => {
    const x = tensor([NaN, 1, Infinity]);
    assert.ok(Number.isNaN(x.sum().item()));
    assert.deepEqual(x.isnan().toArray(), [true, false, false]);
    assert.deepEqual(x.isfinite().toArray(), [false, true, false]);
    assert.deepEqual(values(x.nanToNum(0, 5)), [0, 1, 5]);
    assert.ok(Number.isNaN(F.crossEntropy(tensor([[NaN, 0]]), tensor([0], { dtype: 'int64' })).item()));
  });

  it('handles empty tensors in ops, reductions and layers', () => {
    const e = torch.zeros([0, 4]);
    assert.deepEqual(e.add(1).shape, [0, 4]);
    assert.deepEqual(e.sum(0).toArray(), [0, 0, 0, 0]);
    assert.ok(Number.isNaN(e.mean().item()));
    assert.throws(() => e.max(), /empty|numel\(\) == 0|Expected reduction dim/);
    assert.deepEqual(new nn.Linear(4, 2).forward(e).shape, [0, 2]);
    assert.throws(() => torch.zeros([0]).item(), /item\(\) needs a tensor with one element/);
  });

  it('refuses a disposed tensor with a clear message', () => {
    const t = torch.ones([3]);
    t.dispose();
    assert.ok(t.isDisposed);
    assert.throws(() => t.add(torch.ones([3])), /already disposed/);
    assert.throws(() => torch.ones([3]).add(t), /already disposed/);
    assert.throws(() => t.shape, /already disposed/);
    assert.throws(() => t.data(), /already disposed/);
    assert.throws(() => torch.cat([torch.ones([1]), t]), /already disposed/);
    t.dispose(); // twice is harmless
  });

  it('validates arguments before they reach libtorch', () => {
    assert.throws(() => native.add(1.5 as unknown as number, 2), /already disposed/);
    assert.throws(() => native.add(-1, 2), /already disposed/);
    assert.throws(() => native.add(2 ** 40, 2), /already disposed/);
    assert.throws(() => native.add('x' as unknown as number, 2), /must be a Tensor/);
    assert.throws(() => native.fromBuffer(new Float32Array(2), 99, [2]), /unknown dtype code 99/);
    assert.throws(() => native.fromBuffer(new Float32Array(2), 6, [-2]), /non-negative/);
    assert.throws(() => native.fromBuffer([1, 2] as unknown as Float32Array, 6, [2]), /typed array/);
    assert.throws(() => torch.ones([2.5]), /must hold integers/);
    assert.throws(() => torch.zeros([Number.NaN]), /must hold integers/);
    assert.throws(() => torch.ones([2]).reshape('x' as unknown as number), /integers/);
    const sum = bindOp('aten::sum.dim_IntList');
    assert.throws(() => sum(torch.ones([2]).h, [0], 'yes'), /argument 'keepdim' must be a boolean/);
    assert.throws(() => sum(torch.ones([2]).h, [0], false, null, 1, 2), /takes 4 arguments, got 6/);
    assert.throws(() => bindOp('aten::no_such_op')(), /libtorch has no operator aten::no_such_op/);
    assert.throws(() => bindOp('aten::add.Tensor')(), /argument 'self' is required/);
    assert.throws(() => native.opCall(1e9), /unknown operator id/);
    assert.throws(() => F.dropout(torch.ones([2]), 1.5), /dropout probability/);
    assert.throws(() => torch.manualSeed(-1), /non-negative integer/);
    assert.throws(() => torch.setNumThreads(0), /at least 1/);
  });

  it('refuses backward on a tensor without a graph', () => {
    assert.throws(() => torch.ones([1]).backward(), /does not require grad/);
    const x = torch.ones([2], { requiresGrad: true });
    assert.throws(() => x.mul(2).backward(), /grad can be implicitly created only for scalar outputs/);
    const y = x.mul(x).sum();
    y.backward();
    assert.throws(() => y.backward(), /backward through the graph a second time/);
  });
});
