import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as torch from '../src/index.js';

const { tidy, keep, nn, optim } = torch;
const live = (): number => torch.memoryStats().liveTensors;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('scopes free native memory deterministically', () => {
  it('tidy frees what it created except its result', () => {
    const before = live();
    const out = tidy(() => {
      const a = torch.ones([100]);
      const b = a.mul(2).add(1);
      return b.sum();
    });
    assert.equal(live(), before + 1);
    assert.equal(out.item(), 300);
    out.dispose();
    assert.equal(live(), before);
  });

  it('keeps tensors inside returned arrays, objects and maps, and kept ones', () => {
    const before = live();
    let kept!: torch.Tensor;
    const r = tidy(() => {
      kept = keep(torch.zeros([2]));
      torch.ones([3]);
      return { a: [torch.ones([1])], m: new Map([['x', torch.ones([1])]]), n: 3 };
    });
    assert.equal(live(), before + 3);
    assert.equal(r.a[0]!.item(), 1);
    assert.deepEqual(kept.shape, [2]);
  });

  it('nests: a result moves to the enclosing scope and is freed there', () => {
    const before = live();
    tidy(() => {
      const inner = tidy(() => torch.ones([4]).mul(3));
      assert.equal(inner.sum().item(), 12);
      assert.equal(torch.scopeDepth(), 1);
    });
    assert.equal(live(), before);
  });

  it('frees everything when the function throws', () => {
    const before = live();
    assert.throws(() =>
      tidy(() => {
        torch.ones([10]);
        throw new Error('step failed');
      }),
    );
    assert.equal(live(), before);
    assert.equal(torch.scopeDepth(), 0);
  });

  it('refuses async functions rather than freeing too early', () => {
    assert.throws(() => tidy(async () => torch.ones([1])), /async function/);
    assert.equal(torch.scopeDepth(), 0);
  });

  it('supports `using` scopes and disposable tensors', () => {
    const before = live();
    let survivor: torch.Tensor;
    {
      using scope = new torch.Scope();
      torch.ones([5]);
      survivor = scope.keep(torch.zeros([5]));
      using t = torch.ones([1]);
      assert.equal(t.item(), 1);
    }
    assert.equal(live(), before + 1);
    assert.equal(
      tidy(() => survivor.sum().item()),
      0,
    );
    survivor.dispose();
    assert.equal(live(), before);
  });
});

describe('native memory is reported to V8 once per storage', () => {
  it('counts views of one storage once', () => {
    const base = torch.memoryStats().externalBytes;
    const t = torch.zeros([1000]);
    assert.equal(torch.memoryStats().externalBytes - base, 4000);
    const v = tidy(() => t.view(10, 100).slice(0, 2, 5));
    assert.equal(torch.memoryStats().externalBytes - base, 4000);
    t.dispose();
    assert.equal(torch.memoryStats().externalBytes - base, 4000, 'the view still holds the storage');
    v.dispose();
    assert.equal(torch.memoryStats().externalBytes - base, 0);
  });
});

describe('finalizers are the safety net', () => {
  it('frees tensors that outlived every scope once they are garbage', async () => {
    const before = live();
    (() => {
      for (let i = 0; i < 200; i++) torch.ones([256]);
    })();
    assert.ok(live() >= before + 200);
    for (let i = 0; i < 10 && live() > before + 10; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(live() <= before + 10, `${live() - before} tensors still alive after GC`);
  });
});

describe('a long training run keeps memory flat', () => {
  it('20,000 steps: resident memory grows under 5% after warm-up and no tensor leaks', () => {
    torch.manualSeed(0);
    const model = new nn.Sequential(
      new nn.Linear(64, 128),
      new nn.BatchNorm1d(128),
      new nn.ReLU(),
      new nn.Dropout(0.1),
      new nn.Linear(128, 10),
    );
    const opt = new optim.AdamW(model.parameters(), { lr: 1e-3 });
    const sched = new optim.WarmupCosine(opt, { warmupSteps: 100, totalSteps: 20_000 });
    const x = keep(torch.randn([32, 64]));
    const y = keep(torch.randint(0, 10, [32]));
    const step = (): number =>
      tidy(() => {
        opt.zeroGrad();
        const loss = nn.functional.crossEntropy(model.forward(x), y, { labelSmoothing: 0.1 });
        loss.backward();
        optim.clipGradNorm(model.parameters(), 5);
        opt.step();
        sched.step();
        return loss.item();
      });
    for (let i = 0; i < 2000; i++) step();
    gc();
    const rss0 = process.memoryUsage().rss;
    const live0 = live();
    let last = 0;
    for (let i = 2000; i < 20_000; i++) last = step();
    gc();
    const rss1 = process.memoryUsage().rss;
    const growth = (rss1 - rss0) / rss0;
    assert.equal(live(), live0, 'live tensor count after warm-up');
    assert.ok(
      growth < 0.05,
      `RSS grew ${(growth * 100).toFixed(1)}% (${(rss0 / 2 ** 20).toFixed(0)} -> ${(rss1 / 2 ** 20).toFixed(0)} MiB)`,
    );
    assert.ok(last < 1.0, `the model memorised its batch (loss ${last})`);
  });
});
