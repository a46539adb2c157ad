// The recipe: everything a pretraining run needs, validated once at the edge. The schema
// also produces the TypeScript types; errors name the field and the allowed values.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { METHODS } from '../methods/index.js';
import type { MethodSpec } from '../methods/options.js';

const range = z.tuple([z.number(), z.number()]).refine(([a, b]) => a <= b, 'the first number must not exceed the second');
const probability = z.number().min(0).max(1);

const augment = z
  .object({
    crop: z
      .strictObject({ scale: range.default([0.25, 1]), ratio: range.default([3 / 4, 4 / 3]), flip: probability.default(0.5) })
      .optional(),
    jitter: z
      .strictObject({ brightness: z.number().min(0).default(0.4), contrast: z.number().min(0).default(0.4), p: probability.default(0.8) })
      .optional(),
    blur: z
      .strictObject({ kernelSize: z.number().int().min(3).default(3), sigma: range.default([0.1, 2]), p: probability.default(0.5) })
      .optional(),
    noise: z.strictObject({ std: z.number().min(0).default(0.05), p: probability.default(0.5) }).optional(),
    erasing: z.strictObject({ scale: range.default([0.02, 0.2]), p: probability.default(0.25) }).optional(),
  })
  .strict();

const encoder = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('small-cnn'),
    config: z
      .strictObject({
        width: z.number().int().min(1).optional(),
        depth: z.number().int().min(1).max(6).optional(),
        convsPerStage: z.number().int().min(1).optional(),
        batchNorm: z.boolean().optional(),
        norm: z.enum(['batch', 'group']).optional(),
        pool: z.enum(['avg', 'flatten']).optional(),
        inputSize: z.number().int().min(1).optional(),
        readoutNorm: z.boolean().optional(),
      })
      .default({}),
  }),
  z.strictObject({
    type: z.literal('resnet18'),
    config: z.strictObject({ widthMultiplier: z.number().positive().optional() }).default({}),
  }),
  // Table encoders: the column layout comes from the data's preprocessing.
  z.strictObject({
    type: z.literal('tabular-mlp'),
    config: z
      .strictObject({
        tokenDim: z.number().int().min(1).optional(),
        hidden: z.array(z.number().int().min(1)).min(1).optional(),
        dropout: z.number().min(0).max(1).optional(),
        norm: z.enum(['batch', 'layer']).optional(),
      })
      .default({}),
  }),
  z.strictObject({
    type: z.literal('ft-transformer'),
    config: z
      .strictObject({
        dModel: z.number().int().min(1).optional(),
        layers: z.number().int().min(1).optional(),
        heads: z.number().int().min(1).optional(),
        ffnFactor: z.number().positive().optional(),
        dropout: z.number().min(0).max(1).optional(),
      })
      .default({}),
  }),
  z.strictObject({
    type: z.literal('text-transformer'),
    config: z
      .strictObject({
        dModel: z.number().int().min(8).optional(),
        layers: z.number().int().min(1).optional(),
        heads: z.number().int().min(1).optional(),
        ffnFactor: z.number().positive().optional(),
        dropout: z.number().min(0).max(1).optional(),
        pooling: z.enum(['cls', 'mean']).optional(),
      })
      .default({}),
  }),
  z.strictObject({
    type: z.literal('event-gru'),
    config: z
      .strictObject({
        embedDim: z.number().int().min(1).optional(),
        hidden: z.number().int().min(1).optional(),
        layers: z.number().int().min(1).optional(),
        dropout: z.number().min(0).max(1).optional(),
      })
      .default({}),
  }),
]);

/** The data each encoder reads. */
const ENCODER_DATA: Record<string, 'images' | 'table' | 'text' | 'events'> = {
  'small-cnn': 'images',
  resnet18: 'images',
  'tabular-mlp': 'table',
  'ft-transformer': 'table',
  'text-transformer': 'text',
  'event-gru': 'events',
};
const MODALITY_DATA = { image: 'images', tabular: 'table', text: 'text', sequence: 'events' } as const;

// Each method's options come from its own file (strict: a misspelt key is an error, not a
// default); the recipe accepts exactly the registered methods.
type MethodEntry<M> =
  M extends MethodSpec<infer N, infer C> ? z.ZodObject<{ name: z.ZodLiteral<N>; config: z.ZodDefault<C> }, z.core.$strict> : never;
function methodEntries<T extends readonly MethodSpec[]>(specs: T): { -readonly [K in keyof T]: MethodEntry<T[K]> } {
  return specs.map((m) => z.strictObject({ name: z.literal(m.name), config: m.config.default({}) })) as never;
}
const method = z.discriminatedUnion('name', methodEntries(METHODS));
export const METHOD_NAMES = METHODS.map((m) => m.name);

export const recipeSchema = z
  .strictObject({
    name: z.string().min(1),
    seed: z.number().int().min(0).default(0),
    data: z.discriminatedUnion('dataset', [
      z.strictObject({
        dataset: z.literal('fashion-mnist'),
        /** Use only the first N training images (quick runs). */
        limit: z.number().int().positive().optional(),
      }),
      z
        .strictObject({
          dataset: z.literal('table'),
          /** A benchmark table by name (credit-g, diabetes, lending-club, flchain, ticdata, shuttle). */
          name: z.string().min(1).optional(),
          /** Or a table file: CSV, TSV, Parquet, ARFF or R data (.rds, .rda, .rdb). */
          path: z.string().min(1).optional(),
          /** The column to predict; an unlabeled table pretrains but is not scored. */
          label: z.string().min(1).optional(),
          /** Columns left out of the inputs (ids, leaks). */
          drop: z.array(z.string().min(1)).default([]),
          /** Column types instead of inferred ones. */
          types: z.record(z.string(), z.enum(['numeric', 'categorical', 'boolean', 'date', 'text'])).optional(),
          /** The object to read from R data holding several. */
          object: z.string().min(1).optional(),
          /** A separate test file; otherwise a fixed stratified fifth of a labeled table is held out. */
          testPath: z.string().min(1).optional(),
        })
        .refine((d) => (d.name === undefined) !== (d.path === undefined), {
          message: 'give a benchmark table name or a file path, not both',
          path: ['name'],
        }),
      z
        .strictObject({
          dataset: z.literal('text'),
          /** A benchmark corpus by name (spam-assassin, food-reviews, tweets, brown). */
          name: z.string().min(1).optional(),
          /** Or a folder of .txt files (sub-folders as classes), or a CSV/TSV/JSONL/Parquet file with a text column. */
          path: z.string().min(1).optional(),
          /** The column holding the documents (files with columns). */
          column: z.string().min(1).optional(),
          /** The column holding the class (optional; an unlabeled corpus pretrains but is not scored). */
          label: z.string().min(1).optional(),
          /** A separate labeled test folder or file; otherwise a fixed stratified fifth of a labeled corpus is held out. */
          testPath: z.string().min(1).optional(),
        })
        .refine((d) => (d.name === undefined) !== (d.path === undefined), {
          message: 'give a benchmark corpus name or a path, not both',
          path: ['name'],
        }),
      z
        .strictObject({
          dataset: z.literal('events'),
          /** A benchmark history set by name (nafld, storms). */
          name: z.string().min(1).optional(),
          /** Or an event table file (CSV, TSV, Parquet, ARFF, R data): one row per event. */
          path: z.string().min(1).optional(),
          /** The entity id column (patient, client, sensor). */
          entity: z.string().min(1).optional(),
          /** The event time column (numbers or dates). */
          time: z.string().min(1).optional(),
          /** Categorical and numeric event fields (default: every other column, by type). */
          categorical: z.array(z.string().min(1)).optional(),
          numeric: z.array(z.string().min(1)).optional(),
          /** The categorical field naming the kind of event (default the first; null for none). */
          typeField: z.string().min(1).nullable().optional(),
          /** Columns that are not event fields (ids, leaks). */
          drop: z.array(z.string().min(1)).default([]),
          types: z.record(z.string(), z.enum(['numeric', 'categorical', 'boolean', 'date', 'text'])).optional(),
          object: z.string().min(1).optional(),
          /** Events after this time are left out (keep the label's period out of the history). */
          cutoff: z.number().optional(),
          /** A per-entity label table: its file, entity column (default the event table's) and label column. */
          labels: z.strictObject({ path: z.string().min(1), entity: z.string().min(1).optional(), label: z.string().min(1) }).optional(),
          /** Longest history read (the latest events). */
          maxLength: z.number().int().min(2).max(4096).default(128),
        })
        .refine((d) => (d.name === undefined) !== (d.path === undefined), {
          message: 'give a benchmark history set name or an event file path, not both',
          path: ['name'],
        })
        .refine((d) => d.path === undefined || (d.entity !== undefined && d.time !== undefined), {
          message: 'an event file needs its entity and time columns',
          path: ['entity'],
        }),
      z.strictObject({
        dataset: z.literal('image-folder'),
        /** A folder of class sub-folders (labeled) or of images (unlabeled); train/ and test/ inside it are used as splits. */
        path: z.string().min(1),
        testPath: z.string().min(1).optional(),
        size: z.number().int().min(8).max(1024).default(28),
        channels: z.union([z.literal(1), z.literal(3)]).default(1),
        stream: z.boolean().default(false),
        limit: z.number().int().positive().optional(),
      }),
    ]),
    augment: augment.default({}),
    /** Tables: how the preprocessing is learned from the training rows. */
    features: z
      .strictObject({
        scaling: z.enum(['quantile', 'robust']).default('quantile'),
        minCount: z.number().int().min(1).default(5),
      })
      .default({ scaling: 'quantile', minCount: 5 }),
    /** Text: the subword vocabulary trained on the training documents (SentencePiece). */
    vocabulary: z
      .strictObject({
        size: z.number().int().min(16).default(8000),
        model: z.enum(['unigram', 'bpe']).default('unigram'),
        normalization: z.enum(['nmt_nfkc', 'nmt_nfkc_cf', 'identity']).default('nmt_nfkc'),
      })
      .default({ size: 8000, model: 'unigram', normalization: 'nmt_nfkc' }),
    /** Text: the token window (documents longer than one window are cut into several). */
    sequence: z
      .strictObject({
        length: z.number().int().min(8).max(4096).default(128),
        /** Windows per document at most in pretraining (the first ones); default all. */
        maxWindowsPerDoc: z.number().int().min(1).optional(),
      })
      .default({ length: 128 }),
    /** Text: start from another text run's encoder, vocabulary and window (its folder). */
    init: z.string().min(1).optional(),
    encoder,
    method,
    train: z.strictObject({
      epochs: z.number().positive(),
      batchSize: z.number().int().min(2),
      maxSteps: z.number().int().positive().optional(),
      optimizer: z.strictObject({
        name: z.enum(['adamw', 'adam', 'sgd', 'lars']),
        lr: z.number().positive(),
        weightDecay: z.number().min(0).default(0),
        momentum: z.number().min(0).max(1).optional(),
      }),
      schedule: z
        .strictObject({
          name: z.enum(['warmup-cosine', 'one-cycle', 'constant']),
          warmupEpochs: z.number().min(0).optional(),
          minLrRatio: z.number().min(0).max(1).optional(),
        })
        .default({ name: 'warmup-cosine' }),
      checkpointEverySteps: z.number().int().positive().default(500),
      logEverySteps: z.number().int().positive().default(50),
      gradClip: z.number().min(0).optional(),
      /** Data-parallel (--nproc): BatchNorm statistics over every rank's examples (default true). */
      syncBatchNorm: z.boolean().optional(),
    }),
    evaluation: z
      .strictObject({
        knnEveryEpoch: z.boolean().default(false),
        knn: z.boolean().default(true),
        linear: z.boolean().default(true),
        /** Score with only the first N labeled training images (quick runs; the test split is always whole). */
        trainLimit: z.number().int().positive().optional(),
      })
      .default({ knnEveryEpoch: false, knn: true, linear: true }),
  })
  .superRefine((r, ctx) => {
    const data =
      r.data.dataset === 'table' ? 'table' : r.data.dataset === 'text' ? 'text' : r.data.dataset === 'events' ? 'events' : 'images';
    const describe = { images: 'images', table: 'a table', text: 'text', events: 'event histories' } as const;
    const learns = { images: 'images', table: 'tables', text: 'text', events: 'event histories' } as const;
    const wanted = MODALITY_DATA[METHODS.find((m) => m.name === r.method.name)!.modality];
    if (wanted !== data)
      ctx.addIssue({
        code: 'custom',
        path: ['method', 'name'],
        message: `${r.method.name} learns from ${learns[wanted]}, but the data is ${describe[data]}`,
      });
    if (r.init !== undefined && data !== 'text')
      ctx.addIssue({ code: 'custom', path: ['init'], message: 'init starts a text run from another text run; the data is not text' });
    const reads = ENCODER_DATA[r.encoder.type]!;
    if (reads !== data)
      ctx.addIssue({
        code: 'custom',
        path: ['encoder', 'type'],
        message: `${r.encoder.type} reads ${reads === 'table' ? 'table rows' : reads === 'events' ? 'event histories' : reads}, but the data is ${describe[data]}`,
      });
  });

export type Recipe = z.infer<typeof recipeSchema>;

export class RecipeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecipeError';
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  if (issue.code === 'invalid_value') return `${path}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  if (issue.code === 'unrecognized_keys') return `${path}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  // A discriminator no branch takes (the path already ends in its field): list the choices.
  if (issue.code === 'invalid_union' && 'options' in issue && Array.isArray(issue.options))
    return `${path}: expected one of ${issue.options.map((v) => JSON.stringify(v)).join(', ')}`;
  return `${path}: ${issue.message}`;
}

/** Validates a parsed recipe; throws a RecipeError listing every problem by field. */
export function validateRecipe(value: unknown, source = 'recipe'): Recipe {
  const r = recipeSchema.safeParse(value);
  if (!r.success)
    throw new RecipeError(`${source} is not a valid recipe:\n${r.error.issues.map((i) => `  - ${describeIssue(i)}`).join('\n')}`);
  return r.data;
}

export function loadRecipe(path: string): Recipe {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RecipeError(`cannot read recipe ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new RecipeError(`${path} is not valid YAML: ${(err as Error).message}`);
  }
  return validateRecipe(value, path);
}
