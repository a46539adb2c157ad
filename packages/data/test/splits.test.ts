// The validation split is fixed by a seed and disjoint from training; the test split cannot be
// read while a model-selection step runs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { carveValidation, duringSelection, seededPermutation, TestSplit, TestSplitSealed, validationCount } from '../src/index.js';

describe('seeded splits', () => {
  it('draws the same permutation for the same seed, another for another seed', () => {
    const a = seededPermutation(1000, 7);
    assert.deepEqual(
      [...a].sort((x, y) => x - y),
      Array.from({ length: 1000 }, (_, i) => i),
      'a permutation',
    );
    assert.deepEqual(a, seededPermutation(1000, 7));
    assert.notDeepEqual(a, seededPermutation(1000, 8));
    // Pinned, so a change of generator cannot move every published figure silently.
    assert.deepEqual([...seededPermutation(8, 42)], [7, 1, 0, 3, 2, 6, 5, 4]);
  });

  it('carves a disjoint, covering validation split of the asked size', () => {
    const { train, validation } = carveValidation(60_000, 5000);
    assert.equal(validation.length, 5000);
    assert.equal(train.length, 55_000);
    const all = new Set([...train, ...validation]);
    assert.equal(all.size, 60_000);
    assert.ok(
      validation.every((v, i) => i === 0 || v > validation[i - 1]!),
      'ascending',
    );
    assert.deepEqual(carveValidation(60_000, 5000).validation, validation, 'fixed');
    assert.throws(() => carveValidation(10, 10), /leaves no training/);
    assert.deepEqual([60_000, 1200, 5].map(validationCount), [5000, 120, 1]);
  });
});

describe('the test split', () => {
  it('is refused during model selection and handed out for the final score', async () => {
    const split = new TestSplit('fashion-mnist/test', () => Promise.resolve('the test images'));
    await assert.rejects(
      duringSelection('per-epoch kNN', () => split.forFinalScore('curve')),
      (e: unknown) => e instanceof TestSplitSealed && /during model selection \(per-epoch kNN\)/.test(e.message),
    );
    // Nested and asynchronous steps inside a selection are covered too.
    await assert.rejects(
      duringSelection('early stopping', async () => {
        await new Promise((r) => setTimeout(r, 1));
        return split.forFinalScore('late');
      }),
      TestSplitSealed,
    );
    assert.deepEqual(split.openings, []);
    assert.equal(await split.forFinalScore('final score'), 'the test images');
    assert.deepEqual(split.openings, ['final score']);
  });
});
