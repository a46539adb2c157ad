// The README's table of bench:text: reads its JSON lines and prints, per corpus and budget,
// every arm's mean accuracy ± std and the verdict of the target: the best pretrained
// arm (linear or fine-tuned, after MLM or after SimCSE on it) against TF-IDF + logistic
// regression, a win when it is ahead by at least 3 points and by more than both arms' seed std.
//
//   node --import tsx bench/textTable.ts bench/out/text.jsonl
import { readFileSync } from 'node:fs';

interface Line {
  dataset: string;
  budget: string;
  arm: string;
  mean: number;
  std: number;
  used: number;
}

const text = readFileSync(process.argv[2] ?? 'bench/out/text.jsonl', 'utf8').split('\n');
const lines = text.filter((l) => l.startsWith('{"dataset"')).map((l) => JSON.parse(l) as Line);
const ENCODER_ARMS = ['pretrained-linear', 'pretrained-finetune', 'simcse-linear', 'simcse-finetune'];
const ARMS = ['pretrained-linear', 'pretrained-finetune', 'scratch', 'tfidf-logistic'];
// The SimCSE columns appear only when the lines hold them (bench:text --simcse).
if (lines.some((l) => l.arm.startsWith('simcse'))) ARMS.splice(2, 0, 'simcse-linear', 'simcse-finetune');
const pct = (v: number): string => (100 * v).toFixed(1);

console.log(`| corpus | labels | docs | ${ARMS.join(' | ')} | pretrained vs TF-IDF |`);
console.log(`|---|---|---:|${ARMS.map(() => '---:').join('|')}|---|`);
const wins = new Map<string, string[]>();
for (const key of [...new Set(lines.map((l) => `${l.dataset}\u0000${l.budget}`))]) {
  const [dataset, budget] = key.split('\u0000') as [string, string];
  const cell = new Map(lines.filter((l) => l.dataset === dataset && l.budget === budget).map((l) => [l.arm, l]));
  const pre = ENCODER_ARMS.map((a) => cell.get(a))
    .filter((l): l is Line => !!l)
    .sort((a, b) => b.mean - a.mean)[0];
  const tfidf = cell.get('tfidf-logistic');
  let verdict = '-';
  if (pre && tfidf) {
    const margin = pre.mean - tfidf.mean;
    const won = margin >= 0.03 && margin > Math.max(pre.std, tfidf.std);
    if (won) wins.set(dataset, [...(wins.get(dataset) ?? []), budget]);
    verdict = `${won ? 'win' : 'no'}: ${pre.arm} ${margin >= 0 ? '+' : ''}${pct(margin)} points`;
  }
  const cells = ARMS.map((a) => (cell.get(a) ? `${pct(cell.get(a)!.mean)} ± ${pct(cell.get(a)!.std)}` : '-'));
  console.log(`| ${dataset} | ${budget} | ${cell.values().next().value?.used ?? '-'} | ${cells.join(' | ')} | ${verdict} |`);
}
const few = [...wins].filter(([, b]) => b.includes('10/class') || b.includes('50/class')).map(([d]) => d);
console.log(
  `\nAt 10 or 50 labels per class the best pretrained arm wins on ${few.length} corpora (${few.join(', ') || 'none'}; target 2 of 3).`,
);
for (const l of text.filter((x) => x.startsWith('{"case"'))) console.log(l);
