// What the hub and the parties of a hosted federation say to each other: the owner's plan, and a
// site's view of a securely aggregated round. Shared by the hub's store and routes and by the
// agents (no server code: the client entry point exports it).
import type { Aggregation, ServerOptimizerSpec } from './aggregate.js';
import type { Advertisement, SealedShares, UnmaskRequest } from './secagg.js';

/** The phases of a securely aggregated round, in order. */
export type SecurePhase = 'keys' | 'shares' | 'inputs' | 'unmask';

/** Where the open round's secure protocol stands, as one site sees it. */
export interface SecureView {
  /** The open round (1-based) and this run of its protocol. */
  round: number;
  attempt: string;
  phase: SecurePhase;
  clip: number;
  threshold: number;
  /** What binds keys and boxes to this round and attempt (the sites' SecAggParams context). */
  context: string;
  /** Everyone's advertised keys (from the shares phase on). */
  roster: Advertisement[];
  /** The boxes other sites sealed for this site (from the inputs phase on). */
  boxes: SealedShares[];
  /** What to reveal (in the unmask phase). */
  request: UnmaskRequest | null;
  /** Whether this site has done its part of the current phase. */
  done: boolean;
}

/** DP-SGD's settings as the owner fixes them for every site. */
export interface DpPolicy {
  noise: number;
  clip: number;
  delta: number;
}

/** What a site has spent of its privacy, as it last reported: epsilon at the policy's delta after `round`. */
export interface PrivacyReport {
  round: number;
  epsilon: number;
}

/** A site's mean training loss over `round`. */
export interface LossReport {
  round: number;
  loss: number;
}

/** What the owner decides when creating a federation (the hub runs the server side of `strategy`). */
export interface FederationInput {
  sites: string[];
  rounds: number;
  localEpochs: number;
  minSites?: number;
  roundTimeoutS?: number;
  maxUpdateNorm?: number;
  strategy: {
    name: string;
    share: string;
    aggregation: Aggregation;
    optimizer: ServerOptimizerSpec;
    proxMu?: number;
    emaTau?: number | null;
  };
  /** Shared keys that are running statistics: averaged as they are, never by the server optimizer. */
  plainKeys?: string[];
  /** Secure aggregation: sites clip each coordinate to [-clip, clip] and send masked inputs only. */
  secureAggregation?: { clip: number } | null;
  /**
   * Record-level DP-SGD at every site, the federation's privacy policy: per-example clipping norm,
   * noise multiplier, and the delta at which each site reports the epsilon it has spent.
   */
  dp?: DpPolicy | null;
  /**
   * The preprocessing every site applies (a table's feature schema, histories' event schema, or
   * images' input normalization), fixed by the owner so every site turns its data into the same
   * inputs; opaque to the hub.
   */
  features?: Record<string, unknown> | null;
  /**
   * The preprocessing is merged from the sites' summaries of their own rows instead of fitted
   * on the owner's: before the start each site sends one summary (naming nothing seen fewer
   * than `minCount` times), the owner reads them, merges and sets `features`.
   */
  siteSummaries?: { minCount: number } | null;
  /** The recipe every site trains (YAML); each site reads its own data. */
  recipe: string;
}
