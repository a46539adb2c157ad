import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '@pretext/torch';

describe('linalg', () => {
  it('singular values of a known matrix, largest first', () => {
    const s = torch.linalg.svdvals(
      torch.tensor([
        [3, 0],
        [0, 4],
        [0, 0],
      ]),
    );
    assert.deepEqual(Array.from(s.data() as Float32Array), [4, 3]);
  });

  it('reduced SVD reconstructs a random matrix with orthonormal factors', () => {
    torch.manualSeed(3);
    const a = torch.randn([7, 4], { dtype: 'float64' });
    const { u, s, vh } = torch.linalg.svd(a);
    assert.deepEqual([u.shape, s.shape, vh.shape], [[7, 4], [4], [4, 4]]);
    assert.ok(u.mul(s).matmul(vh).sub(a).abs().max().item() < 1e-12);
    assert.ok(
      u
        .t()
        .matmul(u)
        .sub(torch.eye(4, 4, { dtype: 'float64' }))
        .abs()
        .max()
        .item() < 1e-12,
    );
    const sv = Array.from(s.data() as Float64Array);
    assert.deepEqual(
      sv,
      [...sv].sort((x, y) => y - x),
    );
    assert.ok(torch.linalg.svdvals(a).sub(s).abs().max().item() < 1e-12);
  });
});
