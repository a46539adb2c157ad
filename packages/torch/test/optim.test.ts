// Optimizer updates against PyTorch 1.13's on the same quadratic (fixtures/make_fixtures.py),
// LR schedules against PyTorch's sequences, LARS against its published rule.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { assertClose, fixture, values } from './helpers.js';

const { optim, tidy } = torch;
const fx = fixture('optim.safetensors');

function freshParams(): Tensor[] {
  return [0, 1].map((i) => torch.keep(fx(`init.${i}`).clone().requiresGrad_()));
}

function quadraticStep(params: Tensor[]): void {
  tidy(() => {
    let loss = torch.zeros([], { dtype: 'float64' });
    params.forEach((p, i) => {
      loss = loss.add(
        p
          .sub(fx(`target.${i}`))
          .square()
          .mul(fx(`scale.${i}`))
          .sum(),
      );
    });
    loss.backward();
  });
}

type Make = (ps: Tensor[]) => torch.optim.Optimizer<torch.optim.GroupOptions>;
const configs: Record<string, Make> = {
  sgd: (ps) => new optim.SGD(ps, { lr: 0.1 }),
  sgd_momentum: (ps) => new optim.SGD(ps, { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }),
  sgd_nesterov: (ps) => new optim.SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true }),
  adam: (ps) => new optim.Adam(ps, { lr: 0.01 }),
  adam_wd: (ps) => new optim.Adam(ps, { lr: 0.02, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 }),
  adamw: (ps) => new optim.AdamW(ps, { lr: 0.02, weightDecay: 0.1 }),
  groups: (ps) => new optim.SGD([{ params: [ps[0]!] }, { params: [ps[1]!], lr: 0.01, momentum: 0.5 }], { lr: 0.1 }),
};

describe('optimizers follow PyTorch step by step', () => {
  for (const [name, make] of Object.entries(configs)) {
    it(name, () => {
      const ps = freshParams();
      const opt = make(ps);
      for (let s = 0; s < 6; s++) {
        opt.zeroGrad();
        quadraticStep(ps);
        opt.step();
        ps.forEach((p, i) =>
          assertClose(p, fx(`${name}.step${s}.${i}`), { atol: 1e-12, rtol: 1e-10, what: `${name} step ${s} param ${i}` }),
        );
      }
    });
  }

  it('resumes from a state dict and continues exactly', () => {
    const a = freshParams();
    const optA = new optim.Adam(a, { lr: 0.01 });
    for (let s = 0; s < 3; s++) {
      optA.zeroGrad();
      quadraticStep(a);
      optA.step();
    }
    const saved = optA.stateDict();
    assert.deepEqual(Object.keys(saved.state), ['0', '1']);
    assert.equal(saved.state[0]!.step, 3);
    const b = a.map((p) => torch.keep(p.detach().clone().requiresGrad_()));
    const optB = new optim.Adam(b, { lr: 0.5 });
    optB.loadStateDict(saved);
    assert.equal(optB.paramGroups[0]!.lr, 0.01);
    for (let s = 3; s < 6; s++) {
      for (const [ps, opt] of [
        [a, optA],
        [b, optB],
      ] as const) {
        opt.zeroGrad();
        quadraticStep(ps);
        opt.step();
      }
      b.forEach((p, i) => assertClose(p, fx(`adam.step${s}.${i}`), { atol: 1e-12, rtol: 1e-10, what: `resumed step ${s}` }));
    }
  });

  it('rejects bad hyper-parameters and parameter lists', () => {
    const p = [torch.zeros([1], { requiresGrad: true })];
    assert.throws(() => new optim.SGD(p, { lr: -1 }), /invalid learning rate -1/);
    assert.throws(() => new optim.Adam(p, { betas: [1, 0.9] }), /betas must be in \[0, 1\)/);
    assert.throws(() => new optim.SGD(p, { lr: 0.1, nesterov: true }), /Nesterov momentum needs momentum > 0/);
    assert.throws(() => new optim.SGD([], { lr: 0.1 }), /empty parameter list/);
    assert.throws(() => new optim.SGD([torch.zeros([1])], { lr: 0.1 }), /does not require grad/);
    assert.throws(() => new optim.SGD([{ params: p }, { params: p }], { lr: 0.1 }), /more than one parameter group/);
  });

  it('skips parameters without gradients', () => {
    const [a, b] = [torch.ones([2], { requiresGrad: true }), torch.ones([2], { requiresGrad: true })];
    const opt = new optim.Adam([a, b], { lr: 0.1 });
    a.sum().backward();
    opt.step();
    assert.deepEqual(values(b), [1, 1]);
    assert.ok(a.sum().item() < 2);
    assert.equal(opt.state.has(b), false);
  });
});

describe('LARS', () => {
  it('scales the step by the trust ratio and leaves biases plain', () => {
    const w = torch.tensor([[3, 4]], { dtype: 'float64', requiresGrad: true }); // ||w|| = 5
    const b = torch.tensor([1, -1], { dtype: 'float64', requiresGrad: true });
    const gw = torch.tensor([[0.6, 0.8]], { dtype: 'float64' }); // ||g|| = 1
    const gb = torch.tensor([0.5, 0.25], { dtype: 'float64' });
    const opt = new optim.LARS([w, b], { lr: 0.1, momentum: 0.9, eta: 0.02, weightDecay: 0.1 });
    const expectW = [3, 4];
    const expectB = [1, -1];
    const bufW = [0, 0];
    const bufB = [0, 0];
    for (let step = 0; step < 3; step++) {
      w.grad = gw.clone();
      b.grad = gb.clone();
      const pn = Math.hypot(expectW[0]!, expectW[1]!);
      const trust = (0.02 * pn) / (1 + 0.1 * pn + 1e-8);
      const dW = [0, 1].map((i) => (values(gw)[i]! + 0.1 * expectW[i]!) * trust);
      const dB = values(gb);
      [0, 1].forEach((i) => {
        bufW[i] = step === 0 ? dW[i]! : 0.9 * bufW[i]! + dW[i]!;
        bufB[i] = step === 0 ? dB[i]! : 0.9 * bufB[i]! + dB[i]!;
        expectW[i] = expectW[i]! - 0.1 * bufW[i]!;
        expectB[i] = expectB[i]! - 0.1 * bufB[i]!;
      });
      opt.step();
      values(w).forEach((v, i) => assert.ok(Math.abs(v - expectW[i]!) < 1e-12, `step ${step} w[${i}] ${v} vs ${expectW[i]}`));
      values(b).forEach((v, i) => assert.ok(Math.abs(v - expectB[i]!) < 1e-12, `step ${step} b[${i}] ${v} vs ${expectB[i]}`));
    }
  });

  it('clips the adaptive rate to the group rate with clipLr', () => {
    const w = torch.tensor([100], { dtype: 'float64', requiresGrad: true });
    const w2 = torch.tensor([[100]], { dtype: 'float64', requiresGrad: true });
    const opt = new optim.LARS([w2], { lr: 0.1, momentum: 0, eta: 1, clipLr: true });
    w2.grad = torch.tensor([[1]], { dtype: 'float64' });
    opt.step(); // trust = 100 / 1 -> min(100 / 0.1, 1) = 1 -> step of lr * g
    assert.ok(Math.abs(w2.item() - 99.9) < 1e-12);
    assert.equal(w.item(), 100);
  });
});

describe('learning-rate schedules match PyTorch', () => {
  const cases: Record<string, (o: torch.optim.Optimizer<torch.optim.GroupOptions>) => torch.optim.LRScheduler> = {
    onecycle: (o) => new optim.OneCycleLR(o, { maxLr: 0.1, totalSteps: 25 }),
    onecycle_three_linear: (o) =>
      new optim.OneCycleLR(o, { maxLr: 0.5, totalSteps: 25, pctStart: 0.2, annealStrategy: 'linear', threePhase: true }),
    onecycle_adam: (o) => new optim.OneCycleLR(o, { maxLr: 0.01, totalSteps: 25, divFactor: 10, finalDivFactor: 100 }),
    step: (o) => new optim.StepLR(o, { stepSize: 4, gamma: 0.5 }),
  };
  for (const [name, make] of Object.entries(cases)) {
    it(name, () => {
      const p = torch.zeros([1], { requiresGrad: true });
      const opt = name === 'onecycle_adam' ? new optim.Adam([p], { lr: 0.01 }) : new optim.SGD([p], { lr: 0.1, momentum: 0.9 });
      const s = make(opt);
      const lrs: number[] = [];
      const moms: number[] = [];
      for (let i = 0; i < 25; i++) {
        const g = opt.paramGroups[0] as unknown as { lr: number; momentum?: number; betas?: [number, number] };
        lrs.push(g.lr);
        moms.push(g.betas ? g.betas[0] : g.momentum!);
        s.step();
      }
      assertClose(torch.tensor(new Float64Array(lrs)), fx(`sched.${name}.lr`), { atol: 1e-12, rtol: 1e-10, what: 'lr' });
      assertClose(torch.tensor(new Float64Array(moms)), fx(`sched.${name}.momentum`), { atol: 1e-12, rtol: 1e-10, what: 'momentum' });
    });
  }

  it('warms up linearly then decays by cosine to minLr', () => {
    const p = torch.zeros([1], { requiresGrad: true });
    const opt = new optim.SGD([p], { lr: 1 });
    const s = new optim.WarmupCosine(opt, { warmupSteps: 4, totalSteps: 12, minLr: 0.1 });
    const lrs: number[] = [];
    for (let i = 0; i <= 12; i++) {
      lrs.push(opt.lrs[0]!);
      s.step();
    }
    assert.deepEqual(lrs.slice(0, 5), [0, 0.25, 0.5, 0.75, 1]);
    assert.ok(Math.abs(lrs[8]! - 0.55) < 1e-12, `midpoint ${lrs[8]}`);
    assert.ok(Math.abs(lrs[12]! - 0.1) < 1e-12);
    const restored = new optim.WarmupCosine(new optim.SGD([p], { lr: 1 }), { warmupSteps: 4, totalSteps: 12, minLr: 0.1 });
    restored.loadStateDict({ stepCount: 8, baseLrs: [1] });
    assert.ok(Math.abs(restored.lastLrs[0]! - 0.55) < 1e-12);
    assert.throws(() => new optim.WarmupCosine(opt, { warmupSteps: 20, totalSteps: 10 }), /warmupSteps/);
  });
});

describe('gradient clipping', () => {
  it('clips the global norm as torch.nn.utils.clip_grad_norm_', () => {
    const ps = [0, 1].map((i) => {
      const p = torch.zerosLike(fx(`clip.grad${i}`)).requiresGrad_();
      p.grad = fx(`clip.grad${i}`).clone();
      return p;
    });
    const total = optim.clipGradNorm(ps, 1.5);
    assert.ok(Math.abs(total - fx('clip.total').item()) < 1e-12);
    ps.forEach((p, i) => assertClose(p.grad!, fx(`clip.clipped${i}`), { atol: 1e-12 }));
  });

  it('reports a non-finite norm when asked', () => {
    const p = torch.zeros([2], { requiresGrad: true });
    p.grad = torch.tensor([NaN, 1]);
    assert.ok(Number.isNaN(optim.clipGradNorm([p], 1)));
    assert.throws(() => optim.clipGradNorm([p], 1, 2, true), /NaN or Inf gradient/);
    p.grad = torch.tensor([-3, 2]);
    optim.clipGradValue([p], 1);
    assert.deepEqual(values(p.grad), [-1, 1]);
  });
});
