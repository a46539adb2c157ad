// What a fine-tuned classifier folder publishes: its weights and description, metrics, the
// vocabulary for text, a model card, and lineage whose baseModel names the encoder version it
// was fine-tuned from (when that encoder came from, or went to, the hub).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { DataFormatError } from '@pretext/data';
import type { ClassifierMeta } from '../transfer/finetuneRun.js';
import type { Publication } from './publication.js';

/** Files of a classifier folder that a version publishes. */
export const CLASSIFIER_FILES = /^(classifier\.safetensors|finetune\.json|vocab\.model|metrics\.jsonl|scores\.json)$/;

export function readClassifierMeta(dir: string): ClassifierMeta & { vocabulary?: string } {
  const path = join(dir, 'finetune.json');
  const meta = JSON.parse(readFileSync(path, 'utf8')) as ClassifierMeta & { vocabulary?: string };
  if (meta.format !== 'pretext-classifier/1') throw new DataFormatError(`${path}: not a pretext-classifier/1 description`);
  return meta;
}

export function classifierCard(
  ref: string,
  meta: ClassifierMeta & { vocabulary?: string },
  o: { license?: string; baseModel?: string },
): string {
  const text = meta.vocabulary !== undefined;
  const accuracy = Number((100 * meta.testAccuracy).toFixed(2));
  const front = {
    license: o.license ?? 'other',
    library_name: 'pretext',
    tags: ['fine-tuned', meta.encoderSpec.type, `finetune-${meta.mode}`],
    ...(o.baseModel ? { base_model: o.baseModel } : {}),
    datasets: [meta.dataset],
    pipeline_tag: text ? 'text-classification' : 'image-classification',
    'model-index': [
      {
        name: ref,
        results: [
          {
            task: { type: text ? 'text-classification' : 'image-classification', name: `fine-tuning with ${meta.labels} labels` },
            dataset: { name: meta.dataset, type: meta.dataset, split: 'test' },
            metrics: [{ type: 'accuracy', name: 'test accuracy', value: accuracy }],
          },
        ],
      },
    ],
  };
  const rows = [
    ['base encoder', o.baseModel ?? `${meta.encoder} (a local run)`],
    [
      'fine-tuning',
      `${meta.mode}, ${meta.labels} labels (${meta.labeledImages} examples, ${meta.validationImages} of them for validation), seed ${meta.seed}`,
    ],
    ['classes', meta.classes.join(', ')],
    ['test accuracy', `${accuracy}%`],
    ['training', `${meta.steps} steps, best epoch ${meta.bestEpoch + 1} of ${meta.epochs}`],
  ];
  return `---\n${toYaml(front)}---\n\n# ${ref}\n\nA ${meta.numClasses}-class ${text ? 'text' : 'image'} classifier fine-tuned by Pretext from a self-supervised ${meta.encoderSpec.type} encoder.\n\n| | |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n\nUse it with \`pretext pull ${ref}\`, then \`pretext export <folder> --format onnx\` for onnxruntime.\n`;
}

/** Prepares a classifier folder for publication as `ref`: writes card.md and lists what goes out. */
export function prepareClassifierPublication(
  dir: string,
  ref: string,
  o: { license?: string; codeVersion: string; baseModel?: string },
): Publication {
  const meta = readClassifierMeta(dir);
  const card = classifierCard(ref, meta, o);
  writeFileSync(join(dir, 'card.md'), card);
  const modality = meta.vocabulary !== undefined ? 'text' : 'image';
  if (!existsSync(join(dir, 'classifier.safetensors'))) throw new DataFormatError(`${dir} has finetune.json but no classifier.safetensors`);
  return {
    card,
    files: readdirSync(dir)
      .filter((f) => CLASSIFIER_FILES.test(f) || f === 'card.md')
      .sort(),
    metrics: {
      testAccuracy: meta.testAccuracy,
      ...(meta.valAccuracy === null ? {} : { valAccuracy: meta.valAccuracy }),
      trainSteps: meta.steps,
      trainSeconds: meta.seconds,
    },
    lineage: {
      kind: 'classifier',
      ...(o.baseModel ? { baseModel: o.baseModel } : {}),
      baseRun: basename(meta.encoder),
      dataset: meta.dataset,
      labels: meta.labels,
      mode: meta.mode,
      seed: meta.seed,
      codeVersion: o.codeVersion,
      parentRun: basename(dir),
    },
    model: { method: `finetune-${meta.mode}`, modality, tags: ['fine-tuned', 'classifier', meta.encoderSpec.type] },
  };
}
