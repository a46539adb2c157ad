// Learning-rate schedules. Each maps a step number to a learning rate per parameter group;
// step() advances one step and writes the rates into the optimizer.
import type { GroupOptions, Optimizer } from './optimizer.js';

export abstract class LRScheduler {
  /** Steps taken so far. */
  stepCount = 0;
  readonly baseLrs: number[];

  /** Subclasses call apply() at the end of their constructor, once their options are set. */
  constructor(protected readonly optimizer: Optimizer<GroupOptions>) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
  }

  /** Learning rate of a group whose base rate is `baseLr`, at step `step`. */
  abstract lrAt(step: number, baseLr: number): number;

  protected apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.lrAt(this.stepCount, this.baseLrs[i]!)));
  }

  step(): void {
    this.stepCount++;
    this.apply();
  }

  get lastLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): { stepCount: number; baseLrs: number[] } {
    return { stepCount: this.stepCount, baseLrs: [...this.baseLrs] };
  }

  loadStateDict(s: { stepCount: number; baseLrs: number[] }): void {
    this.stepCount = s.stepCount;
    this.baseLrs.splice(0, this.baseLrs.length, ...s.baseLrs);
    this.apply();
  }
}

/** Linear warmup from `warmupStartFactor * lr` to lr, then cosine decay to `minLr` at totalSteps. */
export class WarmupCosine extends LRScheduler {
  constructor(
    optimizer: Optimizer<GroupOptions>,
    readonly o: { warmupSteps: number; totalSteps: number; minLr?: number; warmupStartFactor?: number },
  ) {
    if (!(o.totalSteps > 0) || o.warmupSteps < 0 || o.warmupSteps > o.totalSteps) {
      throw new RangeError(`need 0 <= warmupSteps (${o.warmupSteps}) <= totalSteps (${o.totalSteps}) and totalSteps > 0`);
    }
    super(optimizer);
    this.apply();
  }
  lrAt(step: number, baseLr: number): number {
    const { warmupSteps, totalSteps } = this.o;
    const minLr = this.o.minLr ?? 0;
    if (step < warmupSteps) {
      const start = this.o.warmupStartFactor ?? 0;
      return baseLr * (start + (1 - start) * (step / warmupSteps));
    }
    const t = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
    return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos(Math.PI * t));
  }
}

/** lr * gamma^(floor(step / stepSize)). */
export class StepLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<GroupOptions>,
    readonly o: { stepSize: number; gamma?: number },
  ) {
    if (!(o.stepSize > 0)) throw new RangeError(`stepSize must be positive, got ${o.stepSize}`);
    super(optimizer);
    this.apply();
  }
  lrAt(step: number, baseLr: number): number {
    return baseLr * (this.o.gamma ?? 0.1) ** Math.floor(step / this.o.stepSize);
  }
}

export interface OneCycleOptions {
  maxLr: number;
  totalSteps: number;
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  divFactor?: number;
  finalDivFactor?: number;
  threePhase?: boolean;
  /** Cycle momentum (SGD momentum or Adam's beta1) inversely to the rate, as PyTorch does. */
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
}

/** The 1cycle policy (Smith and Topin, 2018), PyTorch's OneCycleLR. */
export class OneCycleLR extends LRScheduler {
  private readonly phases: {
    end: number;
    from: 'initial' | 'max' | 'min';
    to: 'initial' | 'max' | 'min';
    mFrom: 'max' | 'base';
    mTo: 'max' | 'base';
  }[];

  constructor(
    optimizer: Optimizer<GroupOptions>,
    readonly o: OneCycleOptions,
  ) {
    const pct = o.pctStart ?? 0.3;
    if (!(o.totalSteps > 0) || !(pct >= 0 && pct <= 1)) throw new RangeError('OneCycleLR needs totalSteps > 0 and pctStart in [0, 1]');
    super(optimizer);
    const up = pct * o.totalSteps - 1;
    this.phases = o.threePhase
      ? [
          { end: up, from: 'initial', to: 'max', mFrom: 'max', mTo: 'base' },
          { end: 2 * pct * o.totalSteps - 2, from: 'max', to: 'initial', mFrom: 'base', mTo: 'max' },
          { end: o.totalSteps - 1, from: 'initial', to: 'min', mFrom: 'max', mTo: 'max' },
        ]
      : [
          { end: up, from: 'initial', to: 'max', mFrom: 'max', mTo: 'base' },
          { end: o.totalSteps - 1, from: 'max', to: 'min', mFrom: 'base', mTo: 'max' },
        ];
    this.apply();
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.o.annealStrategy === 'linear') return (end - start) * pct + start;
    return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
  }

  private position(step: number): { phase: OneCycleLR['phases'][number]; pct: number } {
    let start = 0;
    const phases = this.phases;
    for (let i = 0; i < phases.length; i++) {
      const phase = phases[i]!;
      if (step <= phase.end || i === phases.length - 1) return { phase, pct: (step - start) / (phase.end - start) };
      start = phase.end;
    }
    throw new Error('unreachable');
  }

  lrAt(step: number): number {
    const initial = this.o.maxLr / (this.o.divFactor ?? 25);
    const levels = { initial, max: this.o.maxLr, min: initial / (this.o.finalDivFactor ?? 1e4) };
    const { phase, pct } = this.position(step);
    return this.anneal(levels[phase.from], levels[phase.to], pct);
  }

  /** Momentum (or beta1) at `step` when cycling. */
  momentumAt(step: number): number {
    const levels = { base: this.o.baseMomentum ?? 0.85, max: this.o.maxMomentum ?? 0.95 };
    const { phase, pct } = this.position(step);
    return this.anneal(levels[phase.mFrom], levels[phase.mTo], pct);
  }

  protected override apply(): void {
    super.apply();
    if (this.o.cycleMomentum === false) return;
    const m = this.momentumAt(this.stepCount);
    for (const g of this.optimizer.paramGroups as unknown as Record<string, unknown>[]) {
      if (Array.isArray(g.betas)) g.betas = [m, (g.betas as number[])[1]];
      else if (typeof g.momentum === 'number') g.momentum = m;
    }
  }
}
