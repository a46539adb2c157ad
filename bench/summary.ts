// The JSON line per data set x budget x arm the cell benches (tabular, text, sequences) print:
// mean and std over the seeds, the labeled examples used, macro-F1 when every run has it, and
// the mean seconds per run.
import { summarizeTabular, type TabularRun } from '@pretext/ssl';

export function summaryLines(dataset: string, runs: TabularRun<string>[], extra: object = {}): object[] {
  return summarizeTabular(runs).map((row) => {
    const mine = runs.filter((r) => r.labels === row.labels && r.arm === row.arm);
    const average = (f: (r: TabularRun<string>) => number): number => mine.reduce((a, r) => a + f(r), 0) / mine.length;
    const f1 = mine.every((r) => r.macroF1 !== undefined) ? { macroF1: Number(average((r) => r.macroF1!).toFixed(4)) } : {};
    return {
      dataset,
      ...extra,
      budget: row.labels,
      arm: row.arm,
      metric: row.metric,
      mean: Number(row.mean.toFixed(4)),
      std: Number(row.std.toFixed(4)),
      seeds: row.runs,
      used: row.used,
      ...f1,
      seconds: Number(average((r) => r.seconds).toFixed(2)),
    };
  });
}
