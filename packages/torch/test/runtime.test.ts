import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import * as torch from '../src/index.js';

describe('runtime set-up', () => {
  it('finds the BLAS that libtorch reaches and recognises OpenBLAS as fast', () => {
    const blas = torch.blasLibrary();
    assert.ok(blas !== null, 'a BLAS library is mapped into the process');
    assert.match(blas.path, /openblas/);
    assert.equal(blas.fast, true);
  });

  it('uses every core unless OMP_NUM_THREADS pins a count, and can be changed', () => {
    const expected = process.env.OMP_NUM_THREADS === undefined ? availableParallelism() : Number(process.env.OMP_NUM_THREADS);
    assert.equal(torch.getNumThreads(), expected);
    torch.setNumThreads(1);
    assert.equal(torch.getNumThreads(), 1);
    torch.setNumThreads(expected);
    assert.equal(torch.getNumThreads(), expected);
  });

  it('defaults to passive OpenMP waiting and a reusing allocator unless the user chose', () => {
    // ompWaitPolicyDefaulted is false only when the user had set a policy before load.
    assert.equal(process.env.OMP_WAIT_POLICY, torch.ompWaitPolicyDefaulted ? 'PASSIVE' : process.env.OMP_WAIT_POLICY);
    assert.ok(process.env.OMP_WAIT_POLICY !== undefined);
    const userChoseMalloc =
      process.env.PRETEXT_MALLOC === 'system' ||
      process.env.MALLOC_MMAP_THRESHOLD_ !== undefined ||
      process.env.MALLOC_TRIM_THRESHOLD_ !== undefined;
    assert.equal(torch.mallocTuned, !userChoseMalloc);
  });

  it('reports the libtorch build and a CPU-only device count here', () => {
    const info = torch.buildInfo();
    assert.match(info.torchVersion, /^1\.13/);
    assert.match(info.parallel, /at::get_num_threads\(\) : \d+/);
    assert.equal(torch.cuda.isAvailable(), torch.cuda.deviceCount() > 0);
  });
});
