import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const pick = <T extends object>(o: T, ...keys: (keyof T)[]): Partial<T> => Object.fromEntries(keys.map((k) => [k, o[k]])) as Partial<T>;

describe('runtime set-up', () => {
  it('finds the BLAS that libtorch reaches and recognises OpenBLAS as fast', () => {
    const blas = torch.blasLibrary();
    assert.ok(blas !== null, 'a BLAS library is mapped into the process');
    assert.match(blas.path, /openblas/);
    assert.equal(blas.fast, true);
  });

  // What start-up decides depends on the environment it finds, so each case loads the
  // engine in a fresh process with that environment.
  const probe = (env: Record<string, string>) => {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !['OMP_WAIT_POLICY', 'OMP_NUM_THREADS', 'PRETEXT_MALLOC', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_'].includes(k),
      ),
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'fixtures', 'runtimeProbe.ts')], {
      env: { ...clean, ...env },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { ompWaitPolicy: string | null; ompWaitPolicyDefaulted: boolean; mallocTuned: boolean; threads: number };
  };

  it('uses every core unless OMP_NUM_THREADS pins a count, and can be changed', () => {
    assert.equal(probe({}).threads, availableParallelism());
    assert.equal(probe({ OMP_NUM_THREADS: '1' }).threads, 1);
    const now = torch.getNumThreads();
    torch.setNumThreads(1);
    assert.equal(torch.getNumThreads(), 1);
    torch.setNumThreads(now);
    assert.equal(torch.getNumThreads(), now);
  });

  it('defaults to passive OpenMP waiting unless the user chose a policy', () => {
    assert.deepEqual(pick(probe({}), 'ompWaitPolicy', 'ompWaitPolicyDefaulted'), {
      ompWaitPolicy: 'PASSIVE',
      ompWaitPolicyDefaulted: true,
    });
    assert.deepEqual(pick(probe({ OMP_WAIT_POLICY: 'ACTIVE' }), 'ompWaitPolicy', 'ompWaitPolicyDefaulted'), {
      ompWaitPolicy: 'ACTIVE',
      ompWaitPolicyDefaulted: false,
    });
  });

  it("keeps freed memory for reuse unless the user tuned glibc's allocator or opted out", () => {
    assert.equal(probe({}).mallocTuned, true);
    assert.equal(probe({ PRETEXT_MALLOC: 'system' }).mallocTuned, false);
    assert.equal(probe({ MALLOC_TRIM_THRESHOLD_: '100000' }).mallocTuned, false);
    assert.equal(probe({ MALLOC_MMAP_THRESHOLD_: '100000' }).mallocTuned, false);
  });

  it('reports the libtorch build, and no CUDA device from a build without CUDA', () => {
    const info = torch.buildInfo();
    assert.match(info.torchVersion, /^1\.13/);
    assert.match(info.parallel, /at::get_num_threads\(\) : \d+/);
    const cudaBuilt = /USE_CUDA=ON/.test(info.config);
    assert.match(info.config, /USE_CUDA=(ON|OFF)/);
    if (!cudaBuilt) {
      assert.equal(torch.cuda.deviceCount(), 0);
      assert.equal(torch.cuda.isAvailable(), false);
      assert.throws(() => torch.zeros([1], { device: 'cuda' }), /CUDA/);
    } else {
      assert.equal(torch.cuda.isAvailable(), torch.cuda.deviceCount() > 0);
      if (torch.cuda.isAvailable()) assert.deepEqual(torch.zeros([2], { device: 'cuda' }).to('cpu').toArray(), [0, 0]);
    }
  });
});
