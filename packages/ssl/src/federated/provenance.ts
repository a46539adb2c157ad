// How a federated encoder was made, as encoder.json (`federated`) and federation.json record it.
import type { Strategy } from './strategy.js';

/** What a federated encoder records of how it was made (encoder.json `federated`, federation.json). */
export interface FederatedProvenance {
  mode: 'simulated' | 'hub';
  sites: { name: string; examples: number; classCounts: number[] }[];
  partition: { spec: string; seed: number };
  rounds: number;
  localEpochs: number;
  minSites: number;
  strategy: Omit<Strategy, 'name'> & { name: string };
  /** Secure aggregation's clip range and how many coordinates it clipped over the run, or false. */
  secureAggregation: false | { clip: number; clippedCoordinates: number };
  /**
   * Per round: bytes the sites sent, bytes the hub sent back, sites that took part, mean local
   * loss (NaN, null in JSON, where it is not released: hosted federations and DP-SGD runs).
   */
  perRound: { round: number; bytesIn: number; bytesOut: number; sites: number; loss: number; valKnn?: number }[];
  /**
   * Where the input preprocessing came from: fitted on one party's or all training rows, or
   * merged from the sites' summaries (with the smallest count a summary names). Absent in
   * encoders saved before it was recorded.
   */
  preprocessing?: { from: 'owner' | 'all-rows' } | { from: 'site-summaries'; minCount: number; sites: string[] };
  /** Record-level DP epsilon per site at `dp.delta` (null: no DP-SGD). */
  epsilon: Record<string, number> | null;
  /** DP-SGD's settings: per-example clipping norm, noise multiplier, delta, how steps sample. */
  dp?: { clip: number; noise: number; delta: number; sampling: 'poisson' };
}
