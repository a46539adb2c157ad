// What the federated benches share for DP-SGD: the noise multipliers asked for, and the plot of
// the test score against epsilon (the largest of the sites', at delta 1e-5), one line per seed, beside
// the same federation without DP.
import { writeFileSync } from 'node:fs';
import { lineChart } from '@pretext/ssl';

/** Noise multipliers from a comma-separated option (none when it is absent). */
export function noiseLevels(option: string | undefined): number[] {
  const levels = option?.split(',').map(Number) ?? [];
  if (levels.some((n) => !(n > 0))) throw new Error(`--dp-noise takes positive noise multipliers, got '${option}'`);
  return levels;
}

/** The largest epsilon of a run's sites, or null without DP-SGD. */
export const worstEpsilon = (epsilon: Record<string, number> | null): number | null =>
  epsilon ? Math.max(...Object.values(epsilon)) : null;

export interface CurvePoint {
  epsilon: number;
  score: number;
  seed: number;
}

export function writeDpCurve(
  path: string,
  o: { title: string; yLabel: string; points: CurvePoint[]; plain: number[]; percent?: boolean },
): void {
  if (o.points.length === 0) return;
  const seeds = [...new Set(o.points.map((c) => c.seed))];
  const top = Math.max(...o.points.map((c) => c.epsilon));
  const plainMean = o.plain.reduce((a, b) => a + b, 0) / Math.max(1, o.plain.length);
  writeFileSync(
    path,
    lineChart(
      [
        ...seeds.map((seed) => ({
          name: `DP-SGD, seed ${seed}`,
          points: o.points
            .filter((c) => c.seed === seed)
            .sort((a, b) => a.epsilon - b.epsilon)
            .map((c) => [c.epsilon, c.score] as [number, number]),
        })),
        ...(o.plain.length ? [{ name: 'no DP (mean)', points: [0, top].map((x) => [x, plainMean] as [number, number]) }] : []),
      ],
      { title: o.title, xLabel: 'epsilon (the worst site, delta 1e-5)', yLabel: o.yLabel, ...(o.percent ? { percent: true } : {}) },
    ),
  );
}
