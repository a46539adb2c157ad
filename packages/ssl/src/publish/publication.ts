// What a run publishes: the files a hub version holds, a model card, metrics and lineage.
// The CLI's push sends exactly this; another front end (a service, a notebook) can too.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { readEncoderMeta, type EncoderMeta } from '../pipeline.js';
import { prepareClassifierPublication } from './classifier.js';
import { prepareImageTextPublication } from './imageText.js';

/** A Hugging Face-compatible model card for a pretraining run. */
export function modelCard(ref: string, meta: EncoderMeta, scores: Record<string, number | string>, o: { license?: string } = {}): string {
  const card =
    meta.modality === 'tabular'
      ? tableModelCard(ref, meta, scores, o)
      : meta.modality === 'text'
        ? textModelCard(ref, meta, scores, o)
        : meta.modality === 'sequence'
          ? historyModelCard(ref, meta, scores, o)
          : imageModelCard(ref, meta, scores, o);
  return meta.federated ? `${card}\n${federationSection(meta.federated)}` : card;
}

/** How a federated encoder was trained: its sites, strategy, privacy (secure aggregation, DP-SGD's epsilon per site). */
function federationSection(f: NonNullable<EncoderMeta['federated']>): string {
  const mb = f.perRound.reduce((a, r) => a + r.bytesIn + r.bytesOut, 0) / 1e6;
  const rows = [
    `| training | ${f.mode === 'hub' ? 'hosted by a hub' : 'simulated in one process'}: ${f.sites.length} sites, ${f.rounds} rounds of ${f.localEpochs} local epoch(s), ${f.strategy.name} sharing ${f.strategy.share} |`,
    `| partition | ${f.partition.spec} (seed ${f.partition.seed}) |`,
    `| traffic | ${mb.toFixed(1)} MB in all |`,
    `| secure aggregation | ${f.secureAggregation ? `on (clip ${f.secureAggregation.clip})` : 'off'} |`,
    `| record-level DP-SGD | ${f.dp ? `on: per-row gradients clipped to ${f.dp.clip}, noise multiplier ${f.dp.noise}, Poisson sampling` : 'off'} |`,
  ];
  const sites = f.sites.map(
    (s) =>
      `| ${s.name} | ${f.mode === 'hub' ? 'not disclosed' : s.examples} |${f.epsilon ? ` ${f.epsilon[s.name]?.toFixed(2) ?? '-'} |` : ''}`,
  );
  const head = f.epsilon
    ? `| site | examples | epsilon at delta ${f.dp?.delta ?? 1e-5} |\n|---|---|---|`
    : '| site | examples |\n|---|---|';
  return `## Federated training\n\nNo site's raw data left it; only weight updates did.\n\n| | |\n|---|---|\n${rows.join('\n')}\n\n${head}\n${sites.join('\n')}\n`;
}

/** The card of an image encoder. */
function imageModelCard(ref: string, meta: EncoderMeta, scores: Record<string, number | string>, o: { license?: string }): string {
  const { knn, linear } = numeric(scores);
  const dataset = meta.dataset.startsWith('image-folder:') ? 'image-folder' : meta.dataset;
  const metrics = [
    ...(knn === undefined ? [] : [{ type: 'accuracy', name: 'kNN accuracy (k=200)', value: Number((100 * knn).toFixed(2)) }]),
    ...(linear === undefined ? [] : [{ type: 'accuracy', name: 'linear probe accuracy', value: Number((100 * linear).toFixed(2)) }]),
  ];
  const front = frontMatter(ref, meta, o, { tag: 'image-feature-extraction', task: 'image-classification', dataset, metrics });
  return `---\n${toYaml(front)}---\n\n# ${ref}\n\nA ${meta.encoder.type} encoder (${meta.outDim}-dimensional features) pretrained with ${meta.method} on ${meta.dataset} by Pretext.\n\n| | |\n|---|---|\n| recipe | ${meta.recipe} |\n| input | ${meta.inputShape.join(' x ')}, normalized with mean ${JSON.stringify(meta.inputNorm.mean)} and std ${JSON.stringify(meta.inputNorm.std)} |\n| training | ${meta.trainSteps} steps, ${(meta.trainSeconds / 60).toFixed(1)} min |\n| data fingerprint | ${meta.dataFingerprint} |\n${metrics.map((m) => `| ${m.name} | ${m.value}% |`).join('\n')}\n\nUse it with \`pretext pull ${ref}\`, then \`pretext finetune --encoder <folder> --labels 1%\`.\n`;
}

/** A card's Hugging Face-style front matter; the model index only when there are metrics. */
function frontMatter(
  ref: string,
  meta: EncoderMeta,
  o: { license?: string },
  k: { tag: string; pipeline?: string; task: string; dataset: string; metrics: { type: string; name: string; value: number }[] },
): Record<string, unknown> {
  return {
    license: o.license ?? 'other',
    library_name: 'pretext',
    tags: ['self-supervised', meta.method, meta.encoder.type, k.tag],
    datasets: [k.dataset],
    pipeline_tag: k.pipeline ?? k.tag,
    ...(k.metrics.length
      ? {
          'model-index': [
            {
              name: ref,
              results: [
                {
                  task: { type: k.task, name: 'frozen-feature evaluation' },
                  dataset: { name: k.dataset, type: k.dataset, split: 'test' },
                  metrics: k.metrics,
                },
              ],
            },
          ],
        }
      : {}),
  };
}

/** The card of a text encoder: its vocabulary and window, its score, how to use it. */
function textModelCard(ref: string, meta: EncoderMeta, scores: Record<string, number | string>, o: { license?: string }): string {
  const linear = typeof scores.linear === 'number' ? Number((100 * scores.linear).toFixed(2)) : undefined;
  const c = meta.encoder.config as { vocabSize: number; maxLength: number; dModel?: number; layers?: number; heads?: number };
  const front = frontMatter(ref, meta, o, {
    tag: 'feature-extraction',
    task: 'text-classification',
    dataset: meta.dataset,
    metrics: linear === undefined ? [] : [{ type: 'accuracy', name: 'linear probe accuracy', value: linear }],
  });
  const fill = meta.method === 'mlm' ? `, \`pretext fill-mask <folder> "a sentence with [MASK]"\`` : '';
  return `---\n${toYaml(front)}---\n\n# ${ref}\n\nA ${meta.encoder.type} text encoder (${meta.outDim}-dimensional document features) pretrained with ${meta.method} on ${meta.dataset} by Pretext.\n\n| | |\n|---|---|\n| recipe | ${meta.recipe} |\n| vocabulary | ${c.vocabSize} SentencePiece pieces (${meta.vocabulary}, loads in Python's sentencepiece) |\n| model | ${c.layers ?? 4} layers, ${c.dModel ?? 256} wide, ${c.heads ?? 4} heads; windows of ${c.maxLength} tokens |\n| training | ${meta.trainSteps} steps, ${(meta.trainSeconds / 60).toFixed(1)} min |\n| data fingerprint | ${meta.dataFingerprint} |\n${linear === undefined ? '' : `| linear probe accuracy (test) | ${linear}% |\n`}\nLong documents are read as several windows and their features averaged.\n\nUse it with \`pretext pull ${ref}\`, then \`pretext embed --encoder <folder> --text docs/\`${fill}, or \`pretext finetune --encoder <folder> --dataset labeled-docs/ --labels 50/class\`.\n`;
}

/** The card of a table encoder: its columns and preprocessing, its score, how to embed rows. */
function tableModelCard(ref: string, meta: EncoderMeta, scores: Record<string, number | string>, o: { license?: string }): string {
  const f = meta.features!;
  const dataset = meta.dataset.startsWith('table-file:') ? 'table-file' : meta.dataset;
  const metric = scores.metric === 'auroc' ? 'roc_auc' : 'accuracy';
  const linear = typeof scores.linear === 'number' ? Number(scores.linear.toFixed(4)) : undefined;
  const front = frontMatter(ref, meta, o, {
    tag: 'tabular',
    pipeline: 'tabular-classification',
    task: 'tabular-classification',
    dataset,
    metrics:
      linear === undefined ? [] : [{ type: metric, name: `linear probe ${metric === 'roc_auc' ? 'AUROC' : 'accuracy'}`, value: linear }],
  });
  const columns = [
    ...f.numeric.map((c) => `| ${c.name} | ${c.kind} | ${c.scaling}${c.indicator ? ', missing indicator' : ''} |`),
    ...f.categorical.map((c) => `| ${c.name} | ${c.kind} | ${c.levels.length} levels (+ missing, unknown) |`),
  ];
  return `---\n${toYaml(front)}---\n\n# ${ref}\n\nA ${meta.encoder.type} table encoder (${meta.outDim}-dimensional features) pretrained with ${meta.method} on ${meta.dataset} by Pretext.${f.label ? ` Label column at pretraining: ${f.label.name} (${f.label.classes.join(', ')}), never an input.` : ''}\n\n| | |\n|---|---|\n| recipe | ${meta.recipe} |\n| training | ${meta.trainSteps} steps, ${(meta.trainSeconds / 60).toFixed(1)} min |\n| data fingerprint | ${meta.dataFingerprint} |\n${linear === undefined ? '' : `| linear probe ${metric === 'roc_auc' ? 'AUROC' : 'accuracy'} (test) | ${linear} |\n`}\n## Input columns\n\nThe preprocessing learned on the training rows ships in encoder.json and features.json; rows with the same columns are turned into the same inputs (unseen categories and missing values have their own slots).\n\n| column | type | preprocessing |\n|---|---|---|\n${columns.join('\n')}\n\nUse it with \`pretext pull ${ref}\`, then \`pretext embed --encoder <folder> --table rows.csv\`.\n`;
}

/** The card of an event-history encoder: its event schema, its score, how to embed histories. */
function historyModelCard(ref: string, meta: EncoderMeta, scores: Record<string, number | string>, o: { license?: string }): string {
  const e = meta.events!;
  const dataset = meta.dataset.startsWith('events-file:') ? 'events-file' : meta.dataset;
  const metric = scores.metric === 'auroc' ? 'roc_auc' : 'accuracy';
  const linear = typeof scores.linear === 'number' ? Number(scores.linear.toFixed(4)) : undefined;
  const front = frontMatter(ref, meta, o, {
    tag: 'feature-extraction',
    task: 'sequence-classification',
    dataset,
    metrics:
      linear === undefined ? [] : [{ type: metric, name: `linear probe ${metric === 'roc_auc' ? 'AUROC' : 'accuracy'}`, value: linear }],
  });
  const fields = [
    ...e.categorical.map(
      (c) =>
        `| ${c.name} | categorical | ${c.levels.length} levels (+ missing, unknown)${c.name === e.typeField ? '; the event type' : ''} |`,
    ),
    ...e.numeric.map((c) => `| ${c.name} | numeric | median/IQR${e.typeField ? ` per ${e.typeField}` : ''}, present flag |`),
  ];
  return `---\n${toYaml(front)}---\n\n# ${ref}\n\nA ${meta.encoder.type} event-history encoder (${meta.outDim}-dimensional features per entity) pretrained with ${meta.method} on ${meta.dataset} by Pretext.\n\n| | |\n|---|---|\n| recipe | ${meta.recipe} |\n| histories | the latest ${e.maxLength} events per entity; time in ${e.timeUnit} |\n| training | ${meta.trainSteps} steps, ${(meta.trainSeconds / 60).toFixed(1)} min |\n| data fingerprint | ${meta.dataFingerprint} |\n${linear === undefined ? '' : `| linear probe ${metric === 'roc_auc' ? 'AUROC' : 'accuracy'} (test) | ${linear} |\n`}\n## Event fields\n\nThe event preprocessing learned on the training entities ships in encoder.json and events.json; an event table with the same fields (one row per event: an entity id, a time, the fields) becomes the same inputs. Unseen categories have their own code.\n\n| field | type | preprocessing |\n|---|---|---|\n${fields.join('\n')}\n\nUse it with \`pretext pull ${ref}\`, then \`pretext embed --encoder <folder> --events events.csv --entity ID --time TIME\`.\n`;
}

/** Files of a run folder that a version publishes (weights, config, preprocessing, metrics, reports, plots). */
export const PUBLISHED_FILES =
  /^(encoder\.(safetensors|json)|features\.json|events\.json|vocab\.model|mlm-head\.safetensors|model\.onnx|gallery\.json|metrics\.jsonl|scores\.json|recipe\.yaml|diagnostics\.json|transfer\.json|report\.(html|md)|[a-z-]+\.(png|svg))$/;

export interface Publication {
  /** The generated model card (also written to the run folder as card.md). */
  card: string;
  /** Names of the run folder's files to publish, sorted; card.md included. */
  files: string[];
  metrics: Record<string, number>;
  lineage: Record<string, unknown>;
  /** What the hub shows about the model: method, modality, tags. */
  model: { method: string; modality: string; tags: string[] };
}

/**
 * Prepares a run folder, or a fine-tuned classifier folder, for publication as `ref`
 * (team/name): writes card.md and lists what goes out. `baseModel`: the hub version a
 * classifier's encoder came from.
 */
export function preparePublication(
  dir: string,
  ref: string,
  o: { license?: string; codeVersion: string; baseModel?: string },
): Publication {
  if (existsSync(join(dir, 'finetune.json'))) return prepareClassifierPublication(dir, ref, o);
  if (existsSync(join(dir, 'image-text.json'))) return prepareImageTextPublication(dir, ref, o);
  const meta = readEncoderMeta(dir);
  const scores = existsSync(join(dir, 'scores.json'))
    ? (JSON.parse(readFileSync(join(dir, 'scores.json'), 'utf8')) as Record<string, number | string>)
    : {};
  const card = modelCard(ref, meta, scores, { license: o.license });
  writeFileSync(join(dir, 'card.md'), card);
  return {
    card,
    files: readdirSync(dir)
      .filter((f) => PUBLISHED_FILES.test(f) || f === 'card.md')
      .sort(),
    metrics: { ...numeric(scores), trainSeconds: meta.trainSeconds, trainSteps: meta.trainSteps },
    lineage: {
      recipe: meta.recipe,
      method: meta.method,
      dataset: meta.dataset,
      dataFingerprint: meta.dataFingerprint,
      codeVersion: o.codeVersion,
      parentRun: basename(dir),
      createdAt: meta.createdAt,
    },
    model: { method: meta.method, modality: meta.modality ?? 'image', tags: ['self-supervised', meta.method, meta.encoder.type] },
  };
}

function numeric(o: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter((e): e is [string, number] => typeof e[1] === 'number'));
}
