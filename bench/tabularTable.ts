// The README's table of bench:tabular: reads its JSON lines and prints, per data set and
// budget, every arm's mean ± std and two verdicts for the best pretrained arm (or
// xgboost+embeddings): the (beats xgboost on raw columns by more than its own seed
// std) and the stricter house rule (beats the best classical arm, logistic or xgboost, by
// more than that arm's std and its own).
//
//   node --import tsx bench/tabularTable.ts bench/out/tabular.jsonl
import { readFileSync } from 'node:fs';

interface Line {
  dataset: string;
  budget: string;
  arm: string;
  metric: string;
  mean: number;
  std: number;
}

const file = process.argv[2] ?? 'bench/out/tabular.jsonl';
const lines = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('{"dataset"'))
  .map((l) => JSON.parse(l) as Line);
const ARMS = ['pretrained-linear', 'pretrained-finetune', 'scratch', 'logistic', 'xgboost', 'xgboost+embeddings'];
const PRETRAINED = ['pretrained-linear', 'pretrained-finetune', 'xgboost+embeddings'];
const CLASSICAL = ['logistic', 'xgboost'];
const f = (v: number): string => v.toFixed(3);

console.log(`| data set | labels | metric | ${ARMS.join(' | ')} | beats xgboost | beats best classical |`);
console.log(`|---|---|---|${ARMS.map(() => '---:').join('|')}|---|---|`);
const keys = [...new Set(lines.map((l) => `${l.dataset}\u0000${l.budget}`))];
const fewLabelWins = new Set<string>();
const strictWins = new Set<string>();
const close = new Set<string>();
const fewLabels = (budget: string): boolean => budget.endsWith('/class') || (budget.endsWith('%') && Number(budget.slice(0, -1)) <= 10);
for (const key of keys) {
  const [dataset, budget] = key.split('\u0000') as [string, string];
  const cell = new Map(lines.filter((l) => l.dataset === dataset && l.budget === budget).map((l) => [l.arm, l]));
  const best = (arms: string[]): Line | undefined =>
    arms
      .map((a) => cell.get(a))
      .filter((l): l is Line => !!l)
      .sort((a, b) => b.mean - a.mean)[0];
  const pre = best(PRETRAINED);
  const xgb = cell.get('xgboost');
  const cls = best(CLASSICAL);
  const verdict = (other: Line | undefined, strict: boolean): string => {
    if (!pre || !other) return '-';
    const margin = pre.mean - other.mean;
    const bar = strict ? Math.max(pre.std, other.std) : pre.std;
    return margin > bar ? `yes: ${pre.arm} +${f(margin)}` : `no (${margin >= 0 ? '+' : ''}${f(margin)}, std ${f(bar)})`;
  };
  const metric = cell.values().next().value?.metric ?? '-';
  if (pre && xgb && fewLabels(budget) && pre.mean - xgb.mean > pre.std) fewLabelWins.add(dataset);
  if (pre && cls && fewLabels(budget) && pre.mean - cls.mean > Math.max(pre.std, cls.std)) strictWins.add(dataset);
  const bestPretrained = best(['pretrained-linear', 'pretrained-finetune']);
  if (budget === '100%' && bestPretrained && xgb && bestPretrained.mean >= xgb.mean - 0.01) close.add(dataset);
  const cells = ARMS.map((a) => {
    const l = cell.get(a);
    return l ? `${f(l.mean)} ± ${f(l.std)}` : '-';
  });
  console.log(`| ${dataset} | ${budget} | ${metric} | ${cells.join(' | ')} | ${verdict(xgb, false)} | ${verdict(cls, true)} |`);
}
const sets = new Set(lines.map((l) => l.dataset)).size;
console.log(
  `\nAt 10% of the labels or fewer, a pretrained arm (or xgboost+embeddings) beats xgboost by more than its std on ${fewLabelWins.size} of ${sets} data sets (${[...fewLabelWins].join(', ') || 'none'}; target 3), and the best classical arm by more than both stds on ${strictWins.size} (${[...strictWins].join(', ') || 'none'}).`,
);
console.log(
  `With 100% of the labels, the best pretrained arm is within 0.01 of xgboost on ${close.size} of ${sets} (${[...close].join(', ') || 'none'}; target 3).`,
);
for (const l of readFileSync(file, 'utf8')
  .split('\n')
  .filter((x) => x.startsWith('{"case"')))
  console.log(`\n${l}`);
