// Pretraining on text: a subword vocabulary is trained on the training documents (never the
// test split), documents become token windows, and the shared trainer runs the method with
// text views. The run folder holds what the other runs hold plus vocab.model, SentencePiece's
// own file, so the encoder and its vocabulary travel together.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import { Vocabulary, type VocabularyOptions } from '@pretext/sentencepiece';
import type { TextCorpus } from '@pretext/data';
import type { EncoderSpec } from '../../encoders/encoder.js';
import { buildEncoder } from '../../encoders/encoder.js';
import { buildMethod, type MethodName } from '../../methods/index.js';
import { pretrain, type TrainConfig, type TrainResult } from '../../train/trainer.js';
import { saveEncoderRun, type EncoderMeta } from '../../pipeline.js';
import { fingerprint } from '../../data/fingerprint.js';
import type { TextTransformerConfig } from './encoder.js';
import { tokenWindows, windowsTensor } from './tokens.js';
import { textViews } from './views.js';
import { loadTextEncoder } from './embed.js';
import { MLM_HEAD_FILE } from './fillMask.js';
import type { TextDataSpec } from './source.js';

export const VOCAB_FILE = 'vocab.model';

/** A text encoder as a recipe names it: its vocabulary and window come from the data and the recipe. */
export interface TextEncoderChoice {
  type: 'text-transformer';
  config?: Partial<Omit<TextTransformerConfig, 'vocabSize' | 'padId' | 'clsId' | 'sepId' | 'maskId' | 'maxLength'>>;
}

export interface TextPretrainOptions {
  corpus: TextCorpus;
  dataset: string;
  vocabulary: VocabularyOptions;
  /** Window length, [CLS] and [SEP] included. */
  length: number;
  maxWindowsPerDoc?: number;
  encoder: TextEncoderChoice;
  method: { name: MethodName; config?: Record<string, unknown> };
  train: Omit<TrainConfig, 'seed'>;
  seed: number;
  recipe: string;
  outDir: string;
  resume?: boolean;
  quiet?: boolean;
  /** Where the documents came from (a recipe's data section), kept so transfer reports can reload them. */
  source?: TextDataSpec;
  /**
   * A text run folder to start from: its vocabulary, encoder architecture, window and weights
   * (SimCSE on top of an MLM encoder). The recipe's vocabulary, window and encoder are then unused.
   */
  init?: string;
}

/** Lines short enough for the vocabulary trainer: documents split at line breaks, long lines at spaces. */
export function vocabularySentences(texts: readonly string[], maxChars = 2000): string[] {
  const out: string[] = [];
  for (const t of texts)
    for (const line of t.split('\n')) {
      let rest = line.trim();
      while (rest.length > maxChars) {
        const cut = rest.lastIndexOf(' ', maxChars);
        const at = cut > maxChars / 2 ? cut : maxChars;
        out.push(rest.slice(0, at));
        rest = rest.slice(at).trim();
      }
      if (rest) out.push(rest);
    }
  return out;
}

/** The encoder spec with the vocabulary's size, special ids and the window filled in. */
export function textEncoderSpec(choice: TextEncoderChoice, vocab: Vocabulary, length: number): EncoderSpec {
  const s = vocab.special;
  return {
    type: 'text-transformer',
    config: { ...choice.config, vocabSize: vocab.size, padId: s.pad, clsId: s.cls, sepId: s.sep, maskId: s.mask, maxLength: length },
  };
}

export async function pretrainText(o: TextPretrainOptions): Promise<{ meta: EncoderMeta; result: TrainResult; vocab: Vocabulary }> {
  mkdirSync(o.outDir, { recursive: true });
  const t0 = performance.now();
  const start = o.init ? loadTextEncoder(o.init) : null;
  const vocab = start
    ? start.vocab
    : Vocabulary.train(vocabularySentences(o.corpus.texts), { inputSentenceSize: 1_000_000, seed: o.seed, ...o.vocabulary });
  const length = start ? start.encoder.layout.maxLength : o.length;
  vocab.save(join(o.outDir, VOCAB_FILE));
  const windows = tokenWindows(vocab, o.corpus.texts, { length, maxWindowsPerDoc: o.maxWindowsPerDoc });
  if (!o.quiet)
    process.stderr.write(
      `${start ? `starting from ${o.init}: ` : ''}vocabulary: ${vocab.size} pieces in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${windows.windows} windows of ${length} tokens ` +
        `(${windows.realTokens} real tokens) from ${o.corpus.texts.length} documents\n`,
    );
  const x = windowsTensor(windows);
  try {
    torch.manualSeed(o.seed);
    const spec = start ? start.meta.encoder : textEncoderSpec(o.encoder, vocab, length);
    const method = buildMethod(o.method.name, () => buildEncoder(spec), o.method.config ?? {});
    if (start) {
      method.backbone.loadStateDict(start.encoder.stateDict());
      start.encoder.dispose();
    }
    const result = await pretrain({
      method,
      images: x,
      makeViews: textViews,
      config: { ...o.train, seed: o.seed },
      outDir: o.outDir,
      resume: o.resume ?? false,
      quiet: o.quiet ?? false,
      throughput: { unit: 'tokens', perExample: windows.realTokens / windows.windows },
    });
    const meta: EncoderMeta = {
      format: 'pretext-encoder/1',
      modality: 'text',
      encoder: spec,
      vocabulary: VOCAB_FILE,
      ...(o.source ? { textData: o.source } : {}),
      outDim: method.backbone.outDim,
      inputNorm: { mean: 0, std: 1 },
      inputShape: [length],
      method: o.method.name,
      recipe: o.recipe,
      ...(o.init ? { initializedFrom: o.init } : {}),
      dataset: o.dataset,
      dataFingerprint: fingerprint(x),
      trainSteps: result.step,
      trainSeconds: result.trainSeconds,
      createdAt: new Date().toISOString(),
    };
    saveEncoderRun(o.outDir, method.backbone, meta);
    // The MLM head travels too: fill-mask needs it (the encoder alone has no vocabulary output).
    const head = new Map([...method.stateDict()].filter(([k]) => k.startsWith('head.')));
    if (head.size) torch.safetensors.saveFile(join(o.outDir, MLM_HEAD_FILE), head, { format: 'pt' });
    method.dispose();
    return { meta, result, vocab };
  } finally {
    x.dispose();
  }
}
