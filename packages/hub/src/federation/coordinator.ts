// One federation's rounds, engine-free: which site may submit what, when a round closes, and the
// new global weights. The hub runs it behind its routes; `pretext federate simulate` runs the same
// object in one process. A round closes when every site has submitted, or once its timeout has
// passed with at least `minSites` updates in; below that quorum it keeps waiting, since fewer
// updates would say too much about each site and a dead site must not end the federation.
import {
  checkUpdate,
  combineUpdates,
  ServerOptimizer,
  updateNorm,
  type Aggregation,
  type ServerOptimizerSpec,
  type SiteUpdate,
  type Weights,
} from './aggregate.js';

export interface FederationPlan {
  sites: string[];
  rounds: number;
  /** Updates a round needs before its timeout may close it (k of n). */
  minSites: number;
  roundTimeoutMs: number;
  aggregation: Aggregation;
  optimizer: ServerOptimizerSpec;
  /** Updates with a larger L2 norm are refused (none when absent). */
  maxUpdateNorm?: number;
  /**
   * Secure aggregation (secagg.ts): the hub sees only masked inputs and their sum, so it cannot
   * check one update's values, and only the mean can combine them.
   */
  secureAggregation?: { clip: number };
}

export interface RoundRecord {
  round: number;
  /** Sites whose updates went into the round, in arrival order. */
  sites: string[];
  examples: number;
  /** Bytes received from the sites and sent to each of them (the global weights) this round. */
  bytesIn: number;
  bytesOut: number;
  norms: Record<string, number>;
  closedBy: 'all' | 'timeout';
  seconds: number;
}

export type RejectReason = 'not-a-site' | 'wrong-round' | 'replay' | 'bad-update' | 'finished';

export class FederationRejected extends Error {
  constructor(
    message: string,
    readonly reason: RejectReason,
  ) {
    super(message);
    this.name = 'FederationRejected';
  }
}

export function weightsBytes(w: Weights): number {
  let n = 0;
  for (const v of w.values()) n += v.byteLength;
  return n;
}

export interface CoordinatorState {
  round: number;
  history: RoundRecord[];
  global: Weights;
  optimizer: Weights;
}

export class Coordinator {
  round = 0;
  readonly history: RoundRecord[] = [];
  private pending = new Map<string, { update: SiteUpdate; bytes: number }>();
  private openedAt: number;
  private readonly optimizer: ServerOptimizer;

  constructor(
    readonly plan: FederationPlan,
    public global: Weights,
    /** Keys combined as they are, never by the server optimizer (running statistics). */
    readonly plainKeys: ReadonlySet<string> = new Set(),
    now = Date.now(),
  ) {
    if (plan.sites.length === 0) throw new RangeError('a federation needs at least one site');
    if (new Set(plan.sites).size !== plan.sites.length) throw new RangeError('a site is listed twice');
    if (!Number.isInteger(plan.minSites) || plan.minSites < 1 || plan.minSites > plan.sites.length)
      throw new RangeError(`minSites must be between 1 and ${plan.sites.length}, got ${plan.minSites}`);
    if (!Number.isInteger(plan.rounds) || plan.rounds < 1) throw new RangeError(`a federation runs at least one round, got ${plan.rounds}`);
    if (plan.secureAggregation && plan.aggregation.kind !== 'mean')
      throw new RangeError(`${plan.aggregation.kind} must see each update, so it cannot run under secure aggregation; use the mean`);
    this.optimizer = new ServerOptimizer(plan.optimizer);
    this.openedAt = now;
  }

  get done(): boolean {
    return this.round >= this.plan.rounds;
  }

  /** Sites that have submitted for the current round. */
  get submitted(): string[] {
    return [...this.pending.keys()];
  }

  /** Takes a site's update for `round`, or refuses it with the reason; a refused update changes nothing. */
  submit(update: SiteUpdate, round: number, bytes = weightsBytes(update.delta)): void {
    if (!this.plan.sites.includes(update.site))
      throw new FederationRejected(`${update.site} is not a site of this federation`, 'not-a-site');
    if (this.done) throw new FederationRejected(`the federation has finished its ${this.plan.rounds} rounds`, 'finished');
    if (round !== this.round)
      throw new FederationRejected(`${update.site} submitted for round ${round + 1}, but round ${this.round + 1} is open`, 'wrong-round');
    if (this.plan.secureAggregation)
      throw new FederationRejected('this federation runs secure aggregation: it takes masked inputs, never a plain update', 'bad-update');
    if (this.pending.has(update.site))
      throw new FederationRejected(`${update.site} already submitted for round ${round + 1}; an update counts once`, 'replay');
    try {
      checkUpdate(update, this.global, { maxNorm: this.plan.maxUpdateNorm });
    } catch (e) {
      throw new FederationRejected((e as Error).message, 'bad-update');
    }
    this.pending.set(update.site, { update, bytes });
  }

  /** Whether the current round can close now. */
  ready(now = Date.now()): boolean {
    if (this.done) return false;
    if (this.pending.size === this.plan.sites.length) return true;
    return now - this.openedAt >= this.plan.roundTimeoutMs && this.pending.size >= this.plan.minSites;
  }

  /** Closes the round if it is ready: the combined update moves the global weights and the next round opens. */
  closeIfReady(now = Date.now()): RoundRecord | null {
    if (!this.ready(now)) return null;
    if (this.plan.secureAggregation) throw new RangeError('under secure aggregation a round closes with the unmasked mean (closeWithMean)');
    const entries = [...this.pending.values()];
    const updates = entries.map((e) => e.update);
    const combined = combineUpdates(updates, this.plan.aggregation);
    return this.advance(combined, {
      sites: updates.map((u) => u.site),
      examples: updates.reduce((a, u) => a + u.examples, 0),
      bytesIn: entries.reduce((a, e) => a + e.bytes, 0),
      norms: Object.fromEntries(updates.map((u) => [u.site, updateNorm(u.delta)])),
      closedBy: this.pending.size === this.plan.sites.length ? 'all' : 'timeout',
      now,
    });
  }

  /**
   * Closes a securely aggregated round with the mean update the unmasking gave: no update was
   * seen alone, so none is checked or recorded here (norms stay empty).
   */
  closeWithMean(mean: Weights, o: { sites: string[]; examples: number; bytesIn: number; now?: number }): RoundRecord {
    if (!this.plan.secureAggregation) throw new RangeError('closeWithMean is for rounds under secure aggregation');
    if (this.done) throw new FederationRejected(`the federation has finished its ${this.plan.rounds} rounds`, 'finished');
    const now = o.now ?? Date.now();
    if (o.sites.length < this.plan.minSites) throw new RangeError(`${o.sites.length} sites is below the quorum of ${this.plan.minSites}`);
    checkUpdate({ site: 'the unmasked sum', examples: Math.max(1, o.examples), delta: mean }, this.global);
    return this.advance(mean, { ...o, norms: {}, closedBy: o.sites.length === this.plan.sites.length ? 'all' : 'timeout', now });
  }

  private advance(
    combined: Weights,
    o: {
      sites: string[];
      examples: number;
      bytesIn: number;
      norms: Record<string, number>;
      closedBy: RoundRecord['closedBy'];
      now: number;
    },
  ): RoundRecord {
    this.global = this.optimizer.step(this.global, combined, this.plainKeys);
    const record: RoundRecord = {
      round: this.round + 1,
      sites: o.sites,
      examples: o.examples,
      bytesIn: o.bytesIn,
      bytesOut: weightsBytes(this.global) * this.plan.sites.length,
      norms: o.norms,
      closedBy: o.closedBy,
      seconds: (o.now - this.openedAt) / 1000,
    };
    this.history.push(record);
    this.pending = new Map();
    this.round++;
    this.openedAt = o.now;
    return record;
  }

  /** Everything a restart needs: the round, its history, the global weights and the server optimizer's moments (updates in flight are not kept: their sites resubmit). */
  state(): CoordinatorState {
    return { round: this.round, history: [...this.history], global: this.global, optimizer: this.optimizer.state() };
  }

  static restore(plan: FederationPlan, state: CoordinatorState, plainKeys: ReadonlySet<string> = new Set(), now = Date.now()): Coordinator {
    const c = new Coordinator(plan, state.global, plainKeys, now);
    c.round = state.round;
    c.history.push(...state.history);
    c.optimizer.loadState(state.optimizer);
    return c;
  }
}
