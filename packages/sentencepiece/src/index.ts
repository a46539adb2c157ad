// @pretext/sentencepiece: subword vocabularies from Google's SentencePiece (Debian's
// libsentencepiece-dev 0.1.97), bound natively. Train a unigram or BPE vocabulary on a
// team's own sentences, save it as SentencePiece's model file (which Python's
// sentencepiece.SentencePieceProcessor loads unchanged), encode and decode.
import { createRequire } from 'node:module';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Handle = object;
interface Binding {
  train(sentences: string[], options: Record<string, string>, seed: number): Buffer;
  load(model: Buffer): Handle;
  encode(h: Handle, texts: string[]): { ids: Int32Array; offsets: Int32Array };
  pieces(h: Handle, text: string): string[];
  decode(h: Handle, ids: Int32Array): string;
  vocab(h: Handle): { pieces: string[]; kinds: Uint8Array; unk: number; bos: number; eos: number; pad: number };
}

const addonPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'Release', 'pretext_sentencepiece.node');
let binding: Binding | null = null;
function native(): Binding {
  if (binding) return binding;
  if (!existsSync(addonPath))
    throw new Error(
      `@pretext/sentencepiece: the native addon is not built (${addonPath} is missing). Run ` +
        '`npm run build:native --workspace @pretext/sentencepiece` (needs `apt-get install libsentencepiece-dev`).',
    );
  binding = createRequire(import.meta.url)(addonPath) as Binding;
  return binding;
}

/** The special pieces every Pretext vocabulary has, at fixed ids. */
export const SPECIAL = { pad: '<pad>', unk: '<unk>', cls: '<cls>', sep: '<sep>', mask: '<mask>' } as const;

export interface VocabularyOptions {
  /** Pieces in the vocabulary, specials included (default 8000). */
  vocabSize?: number;
  /** 'unigram' (SentencePiece's default, the one T5 and ALBERT use) or 'bpe'. */
  model?: 'unigram' | 'bpe';
  /** Unicode normalization before splitting: NFKC (default), NFKC with case folding, or none. */
  normalization?: 'nmt_nfkc' | 'nmt_nfkc_cf' | 'identity';
  /** Share of characters the vocabulary must cover; the rest map to <unk> (default 0.9995). */
  characterCoverage?: number;
  /** Longest sentence the trainer reads, in bytes; longer ones are skipped by it (default 8192). */
  maxSentenceLength?: number;
  /** Sentences the trainer samples at most (default: all). */
  inputSentenceSize?: number;
  seed?: number;
  threads?: number;
}

/** Ids of the special pieces. */
export interface SpecialIds {
  pad: number;
  unk: number;
  cls: number;
  sep: number;
  mask: number;
}

/** A loaded SentencePiece model. */
export class Vocabulary {
  private readonly handle: Handle;
  /** Every piece by id. */
  readonly pieces: readonly string[];
  /** Per id: 0 normal, 1 unknown, 2 control, 3 unused, 4 byte fallback. */
  readonly kinds: Uint8Array;
  readonly special: SpecialIds;

  private constructor(readonly model: Buffer) {
    const b = native();
    this.handle = b.load(model);
    const v = b.vocab(this.handle);
    this.pieces = v.pieces;
    this.kinds = v.kinds;
    const id = (piece: string): number => {
      const i = this.pieces.indexOf(piece);
      if (i < 0)
        throw new Error(`this SentencePiece model has no ${piece} piece: it was not trained by Pretext (train with Vocabulary.train)`);
      return i;
    };
    this.special = { pad: id(SPECIAL.pad), unk: v.unk, cls: id(SPECIAL.cls), sep: id(SPECIAL.sep), mask: id(SPECIAL.mask) };
  }

  /** Trains a vocabulary on sentences (documents split into lines or sentences beforehand). */
  static train(sentences: readonly string[], o: VocabularyOptions = {}): Vocabulary {
    const kept = sentences.filter((s) => s.trim().length > 0);
    if (kept.length === 0) throw new RangeError('cannot train a vocabulary on no text');
    const size = o.vocabSize ?? 8000;
    if (!Number.isInteger(size) || size < 16) throw new RangeError(`vocabulary size must be an integer of at least 16, got ${size}`);
    const options: Record<string, string> = {
      model_type: o.model ?? 'unigram',
      vocab_size: String(size),
      normalization_rule_name: o.normalization ?? 'nmt_nfkc',
      character_coverage: String(o.characterCoverage ?? 0.9995),
      max_sentence_length: String(o.maxSentenceLength ?? 8192),
      pad_id: '0',
      unk_id: '1',
      bos_id: '2',
      eos_id: '3',
      pad_piece: SPECIAL.pad,
      unk_piece: SPECIAL.unk,
      bos_piece: SPECIAL.cls,
      eos_piece: SPECIAL.sep,
      // <mask> is a user-defined piece: it is matched in raw text, so "the [MASK]" style
      // prompts tokenize to it.
      user_defined_symbols: SPECIAL.mask,
      // A vocabulary too large for a small corpus is an error in SentencePiece; a team
      // would rather get the largest vocabulary its text supports.
      hard_vocab_limit: 'false',
      num_threads: String(o.threads ?? 2),
    };
    if (o.inputSentenceSize) {
      options.input_sentence_size = String(o.inputSentenceSize);
      options.shuffle_input_sentence = 'true';
    }
    return new Vocabulary(native().train(kept, options, o.seed ?? 0));
  }

  /** Loads a model file written by save (or by SentencePiece itself, with Pretext's special pieces). */
  static load(path: string): Vocabulary {
    return Vocabulary.fromBytes(readFileSync(path));
  }

  static fromBytes(model: Buffer): Vocabulary {
    return new Vocabulary(model);
  }

  save(path: string): void {
    writeFileSync(path, this.model);
  }

  get size(): number {
    return this.pieces.length;
  }

  /** Token ids of each text (no special tokens added). */
  encode(texts: readonly string[]): Int32Array[] {
    const { ids, offsets } = native().encode(this.handle, [...texts]);
    return texts.map((_, i) => ids.subarray(offsets[i]!, offsets[i + 1]!));
  }

  /** The pieces a text splits into ("▁" marks a word start). */
  tokenize(text: string): string[] {
    return native().pieces(this.handle, text);
  }

  decode(ids: ArrayLike<number>): string {
    return native().decode(this.handle, Int32Array.from(ids));
  }

  /** Id of a piece, or <unk>'s id when the vocabulary lacks it. */
  id(piece: string): number {
    const i = this.pieces.indexOf(piece);
    return i < 0 ? this.special.unk : i;
  }

  /** Whether an id is an ordinary piece (not pad, unk, cls, sep or mask). */
  isOrdinary(id: number): boolean {
    const s = this.special;
    return id !== s.pad && id !== s.unk && id !== s.cls && id !== s.sep && id !== s.mask;
  }
}
