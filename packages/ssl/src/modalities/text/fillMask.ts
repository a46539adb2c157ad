// What a masked language model learned, asked directly: the most likely pieces at each
// [MASK] of a sentence, and how often the true piece of held-out text is among the top k.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { SPECIAL } from '@pretext/sentencepiece';
import { MlmHead } from '../../heads/mlm.js';
import { loadTextEncoder, type LoadedTextEncoder } from './embed.js';
import { tokenWindows } from './tokens.js';

export const MLM_HEAD_FILE = 'mlm-head.safetensors';

export interface MaskedLanguageModelHandle extends LoadedTextEncoder {
  head: MlmHead;
  dispose(): void;
}

/** A text run folder's encoder with its masked-token head (runs pretrained by mlm have one). */
export function loadMaskedLanguageModel(dir: string): MaskedLanguageModelHandle {
  const path = join(dir, MLM_HEAD_FILE);
  if (!existsSync(path))
    throw new TypeError(`${dir} has no ${MLM_HEAD_FILE}: fill-mask needs an encoder pretrained with masked language modeling (method mlm)`);
  const t = loadTextEncoder(dir);
  const head = new MlmHead(t.encoder.outDim, t.encoder.wordEmbeddings);
  const { tensors } = torch.safetensors.loadFile(path);
  head.loadStateDict(new Map([...tensors].map(([k, v]) => [k.replace(/^head\./, ''), v])));
  for (const v of tensors.values()) v.dispose();
  head.eval();
  return {
    ...t,
    head,
    dispose: () => {
      head.dispose();
      t.encoder.dispose();
    },
  };
}

export interface MaskPrediction {
  /** Position of the mask among the sentence's pieces. */
  position: number;
  top: { piece: string; text: string; probability: number }[];
}

/** Token ids of a sentence whose "[MASK]" (or "<mask>") markers became mask pieces. */
export function maskedIds(m: LoadedTextEncoder, sentence: string): number[] {
  const text = sentence.replace(/\[MASK\]/g, SPECIAL.mask);
  const ids = [...m.vocab.encode([text])[0]!];
  // SentencePiece writes a lone word-boundary piece before a user-defined symbol that
  // follows a space; in training the mask replaced a whole piece, boundary included.
  const boundary = m.vocab.pieces.indexOf('▁');
  return ids.filter((id, i) => !(id === boundary && ids[i + 1] === m.vocab.special.mask));
}

/** The k most likely pieces at each mask of the sentence. */
export function fillMask(m: MaskedLanguageModelHandle, sentence: string, k = 5): MaskPrediction[] {
  const ids = maskedIds(m, sentence);
  const { cls, sep, mask } = m.vocab.special;
  const window = [cls, ...ids, sep];
  if (window.length > m.encoder.layout.maxLength)
    throw new RangeError(`the sentence is ${window.length} tokens long; the encoder reads at most ${m.encoder.layout.maxLength}`);
  const positions = ids.map((id, i) => (id === mask ? i : -1)).filter((i) => i >= 0);
  if (positions.length === 0) throw new RangeError('the sentence has no [MASK] to fill');
  return torch.tidy(() =>
    torch.noGrad(() => {
      const x = torch.tensor(BigInt64Array.from(window, BigInt), { shape: [1, window.length] });
      const { hidden } = m.encoder.tokens(x);
      return positions.map((p) => {
        const probs = m.head
          .forward(hidden.select(0, 0).narrow(0, p + 1, 1))
          .softmax(-1)
          .select(0, 0);
        // Special pieces are never an answer.
        const scores = probs.clone();
        for (const s of [m.vocab.special.pad, cls, sep, mask]) scores.narrow(0, s, 1).fill_(0);
        const { values, indices } = scores.topk(k);
        const v = values.toArray() as number[];
        return {
          position: p,
          top: (indices.toArray() as number[]).map((id, j) => ({
            piece: m.vocab.pieces[Number(id)]!,
            text: m.vocab.decode([Number(id)]),
            probability: v[j]!,
          })),
        };
      });
    }),
  );
}

/**
 * Held-out masked-token accuracy: `tokens` ordinary pieces drawn at random from the documents'
 * windows are masked one at a time (the rest of the window intact), and the share whose true
 * piece is among the model's top k is returned.
 */
export function maskedTopK(
  m: MaskedLanguageModelHandle,
  texts: readonly string[],
  o: { tokens?: number; k?: number; seed?: number; batch?: number } = {},
): { accuracy: number; tokens: number; k: number } {
  const k = o.k ?? 5;
  const want = o.tokens ?? 1000;
  const L = m.encoder.layout.maxLength;
  const w = tokenWindows(m.vocab, texts, { length: L });
  // Candidate places: every ordinary piece of every window.
  const places: number[] = [];
  for (let i = 0; i < w.ids.length; i++) if (m.vocab.isOrdinary(w.ids[i]!)) places.push(i);
  if (places.length === 0) throw new RangeError('the documents have no tokens to mask');
  const g = new torch.Generator(o.seed ?? 0);
  const order = torch.tidy(() => torch.randperm(places.length, { generator: g }).toArray() as number[]);
  const chosen = order.slice(0, Math.min(want, places.length)).map((j) => places[Number(j)]!);
  let hits = 0;
  const batch = o.batch ?? 64;
  for (let s = 0; s < chosen.length; s += batch) {
    const part = chosen.slice(s, s + batch);
    hits += torch.tidy(() =>
      torch.noGrad(() => {
        const rows = new BigInt64Array(part.length * L);
        part.forEach((place, r) => {
          const win = Math.floor(place / L);
          for (let j = 0; j < L; j++) rows[r * L + j] = BigInt(w.ids[win * L + j]!);
          rows[r * L + (place % L)] = BigInt(m.vocab.special.mask);
        });
        const x: Tensor = torch.tensor(rows, { shape: [part.length, L] });
        const { hidden } = m.encoder.tokens(x);
        const at = torch.tensor(BigInt64Array.from(part, (p) => BigInt(p % L)));
        const states = hidden.gather(1, at.reshape(-1, 1, 1).expand(part.length, 1, hidden.size(2))).squeeze(1);
        const top = m.head.forward(states).topk(k).indices;
        const truth = torch.tensor(BigInt64Array.from(part, (p) => BigInt(w.ids[p]!))).unsqueeze(1);
        return top.eq(truth).sum(1).gt(0).sum().item();
      }),
    );
  }
  return { accuracy: hits / chosen.length, tokens: chosen.length, k };
}
