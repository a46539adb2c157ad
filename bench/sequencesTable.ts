// The README's table of bench:sequences: reads its JSON lines and prints, per history set and
// budget, every arm's mean AUROC ± std and two verdicts. The issue's: aggregates + embeddings
// into the trees against aggregates alone, a win when ahead by more than both arms' seed std.
// The house rule's: the best arm that uses the encoder against the best classical arm
// (aggregates into logistic regression or the trees), by the same margin.
//
//   node --import tsx bench/sequencesTable.ts bench/out/sequences.jsonl [more.jsonl ...]
import { readFileSync } from 'node:fs';

interface Line {
  dataset: string;
  budget: string;
  arm: string;
  mean: number;
  std: number;
  used: number;
}

const files = process.argv.slice(2);
const text = (files.length ? files : ['bench/out/sequences.jsonl']).flatMap((f) => readFileSync(f, 'utf8').split('\n'));
const lines = text.filter((l) => l.startsWith('{"dataset"')).map((l) => JSON.parse(l) as Line);
const ARMS = [
  'pretrained-linear',
  'pretrained-finetune',
  'scratch',
  'aggregates-logistic',
  'aggregates-xgboost',
  'aggregates+embeddings-xgboost',
];
const CLASSICAL = ['aggregates-logistic', 'aggregates-xgboost'];
const ENCODER = ['pretrained-linear', 'pretrained-finetune', 'aggregates+embeddings-xgboost'];
const f3 = (v: number): string => v.toFixed(3);

/** a against b: 'win' when ahead by more than both seed stds, with the signed margin. */
function verdict(a: Line | undefined, b: Line | undefined, name = true): string {
  if (!a || !b) return '-';
  const margin = a.mean - b.mean;
  const won = margin > Math.max(a.std, b.std);
  return `${won ? 'win' : margin < -Math.max(a.std, b.std) ? 'loss' : 'tie'}: ${name ? `${a.arm} vs ${b.arm} ` : ''}${margin >= 0 ? '+' : ''}${f3(margin)}`;
}

console.log(`| set | labels | entities | ${ARMS.join(' | ')} | aggregates+embeddings vs aggregates (trees) | encoder vs best classical |`);
console.log(`|---|---|---:|${ARMS.map(() => '---:').join('|')}|---|---|`);
for (const key of [...new Set(lines.map((l) => `${l.dataset}\u0000${l.budget}`))]) {
  const [dataset, budget] = key.split('\u0000') as [string, string];
  const cell = new Map(lines.filter((l) => l.dataset === dataset && l.budget === budget).map((l) => [l.arm, l]));
  const best = (arms: string[]): Line | undefined =>
    arms
      .map((a) => cell.get(a))
      .filter((l): l is Line => !!l)
      .sort((a, b) => b.mean - a.mean)[0];
  const cells = ARMS.map((a) => (cell.get(a) ? `${f3(cell.get(a)!.mean)} ± ${f3(cell.get(a)!.std)}` : '-'));
  console.log(
    `| ${dataset} | ${budget} | ${cell.values().next().value?.used ?? '-'} | ${cells.join(' | ')} | ${verdict(cell.get('aggregates+embeddings-xgboost'), cell.get('aggregates-xgboost'), false)} | ${verdict(best(ENCODER), best(CLASSICAL))} |`,
  );
}
for (const l of text.filter((x) => x.startsWith('{"case"'))) console.log(l);
