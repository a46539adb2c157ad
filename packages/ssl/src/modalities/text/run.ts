// `pretext pretrain` on a text recipe: read the documents (counts, classes and skipped files
// printed), pretrain, then the final score on the test documents, read once, after every
// choice is made.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { TextCorpus } from '@pretext/data';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { LabeledSet } from '../../data/sources.js';
import { DocumentEncoder, documentTensor } from './document.js';
import { tokenWindows } from './tokens.js';
import { maskTokens } from './views.js';
import type { Recipe } from '../../recipe/schema.js';
import { readEncoderMeta, scoreFinishedRun, type PretrainRun, type Scores } from '../../pipeline.js';
import { scoreFrozenFeatures } from '../../transfer/tabular.js';
import { pretrainText, type TextEncoderChoice } from './pretrain.js';
import { describeCorpus, loadTextData, type TextData, type TextDataSpec } from './source.js';
import { embedTexts, loadTextEncoder } from './embed.js';

export async function runTextPretrain(recipe: Recipe, o: { outDir: string; resume?: boolean; quiet?: boolean }): Promise<PretrainRun> {
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, 'recipe.yaml'), toYaml(recipe));
  const spec = recipe.data as TextDataSpec;
  const data = await loadTextData(spec);
  if (!o.quiet) process.stderr.write(`${describeCorpus(data.train)}\n`);
  const { meta, result } = await pretrainText({
    corpus: data.train,
    dataset: data.name,
    vocabulary: { vocabSize: recipe.vocabulary.size, model: recipe.vocabulary.model, normalization: recipe.vocabulary.normalization },
    length: recipe.sequence.length,
    maxWindowsPerDoc: recipe.sequence.maxWindowsPerDoc,
    encoder: recipe.encoder as TextEncoderChoice,
    method: { name: recipe.method.name, config: recipe.method.config },
    train: recipe.train,
    seed: recipe.seed,
    recipe: recipe.name,
    outDir: o.outDir,
    resume: o.resume,
    quiet: o.quiet,
    source: spec,
    init: recipe.init,
  });
  return scoreFinishedRun({ outDir: o.outDir, dataset: data.name, result, meta }, data.train.labels ? data.test : null, (test) =>
    scoreTextEncoder(o.outDir, data.train, test),
  );
}

const labeled = (c: TextCorpus): number[] => Array.from(c.labels!.keys()).filter((i) => c.labels![i]! >= 0);

/**
 * The final score of a text encoder: a regularized linear head on the frozen document
 * embeddings of the labeled training documents, scored on the test documents by accuracy
 * (macro-F1 beside it).
 */
export function scoreTextEncoder(
  dir: string,
  train: TextCorpus,
  test: TextCorpus,
): { metric: 'accuracy'; linear: number; macroF1?: number } {
  const t = loadTextEncoder(dir);
  const embed = (c: TextCorpus): { x: Tensor; y: Int32Array } => {
    const idx = labeled(c);
    return {
      x: embedTexts(
        { ...t, length: t.encoder.layout.maxLength },
        idx.map((i) => c.texts[i]!),
      ),
      y: Int32Array.from(idx, (i) => c.labels![i]!),
    };
  };
  const a = embed(train);
  const b = embed(test);
  t.encoder.dispose();
  const s = scoreFrozenFeatures(a, b, train.classes.length, { binary: 'accuracy' });
  a.x.dispose();
  b.x.dispose();
  return { ...s, metric: 'accuracy' };
}

/** A text encoder's documents (the recipe's data section it was pretrained with), or a named corpus. */
export function textDataFor(dir: string, dataset?: string): Promise<TextData> {
  const meta = readEncoderMeta(dir);
  const spec: TextDataSpec | undefined = dataset !== undefined ? { dataset: 'text', name: dataset } : meta.textData;
  if (!spec) throw new TypeError(`${dir} does not record where its documents came from; name a corpus`);
  return loadTextData(spec);
}

/** `pretext eval` on a text encoder: the final-score protocol on its own corpus or a named one. */
export async function evaluateTextEncoder(dir: string, dataset?: string): Promise<Scores & { dataset: string }> {
  const data = await textDataFor(dir, dataset);
  if (!data.test || !data.train.labels) throw new TypeError(`${data.name} has no labeled test documents to score on`);
  const s = scoreTextEncoder(dir, data.train, await data.test.forFinalScore('pretext eval'));
  return { dataset: data.name, metric: s.metric, linear: s.linear };
}

/** Windows per document in the measurements written for images (diagnostics, the embedding map). */
export const DIAGNOSE_WINDOWS = 4;

/**
 * A text encoder's labeled training and test documents as tensors of up to 4 windows each,
 * with the encoder wrapped to read them (a document's feature is its windows' mean), for the
 * measurements written for images. Reads the test split: for final measurements only.
 */
export async function textAsLabeledSets(
  dir: string,
  purpose: string,
  dataset?: string,
): Promise<{ sets: [LabeledSet, LabeledSet]; encoder: DocumentEncoder; corrupt: (x: Tensor, g: torch.Generator) => Tensor }> {
  const data = await textDataFor(dir, dataset);
  if (!data.test || !data.train.labels) throw new TypeError(`${data.name} has no labeled test documents`);
  const test = await data.test.forFinalScore(purpose);
  const t = loadTextEncoder(dir);
  const asSet = (c: TextCorpus): LabeledSet => {
    const idx = labeled(c);
    const texts = idx.map((i) => c.texts[i]!);
    const w = tokenWindows(t.vocab, texts, { length: t.encoder.layout.maxLength });
    return {
      images: documentTensor(w, texts.length, DIAGNOSE_WINDOWS, t.vocab.special.pad).ids,
      labels: torch.keep(torch.tensor(BigInt64Array.from(idx, (i) => BigInt(c.labels![i]!)))),
      classes: data.train.classes,
      source: c.source,
    };
  };
  const layout = t.encoder.layout;
  return {
    sets: [asSet(data.train), asSet(test)],
    encoder: new DocumentEncoder(t.encoder, DIAGNOSE_WINDOWS),
    // The positive pair of alignment: the document with 15% of its tokens corrupted as MLM does.
    corrupt: (x, g) => maskTokens(x.long(), layout, 0.15, g).input.float(),
  };
}
