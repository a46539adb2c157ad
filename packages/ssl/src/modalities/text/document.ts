// A text encoder over whole documents, for fine-tuning: a document is up to W windows of L
// tokens laid side by side ([docs, W * L]); empty windows (all padding) are skipped, and the
// document's feature is the mean of its windows' features, as in the frozen embeddings.
import * as torch from '@pretext/torch';
import { nn, type Tensor } from '@pretext/torch';
import type { Encoder } from '../../encoders/encoder.js';
import type { TextEncoder } from './encoder.js';
import type { TokenWindows } from './tokens.js';

export class DocumentEncoder extends nn.Module implements Encoder {
  readonly text: TextEncoder;
  readonly outDim: number;
  constructor(
    text: TextEncoder,
    readonly windows: number,
  ) {
    super();
    this.text = this.registerModule('text', text);
    this.outDim = text.outDim;
  }

  forward(docs: Tensor): Tensor {
    const L = this.text.layout.maxLength;
    const B = docs.size(0);
    const flat = docs.long().reshape(B * this.windows, L);
    const real = flat.select(1, 0).ne(this.text.layout.padId);
    const owner = torch.arange(0, B, 1, { dtype: 'int64' }).repeatInterleave(this.windows).index([real]);
    const f = this.text.forward(flat.index([real]));
    const D = f.size(1);
    const sums = torch.zeros([B, D]).scatterAdd(0, owner.unsqueeze(1).expand(owner.size(0), D), f);
    const counts = torch.zeros([B]).scatterAdd(0, owner, torch.ones([owner.size(0)]));
    return sums.div(counts.clampMin(1).unsqueeze(1));
  }

  blocks(): nn.Module[][] {
    return this.text.blocks();
  }
}

/** Documents as [docs, W * L] ids: each document's first W windows, then all-padding windows. */
export function documentTensor(w: TokenWindows, docs: number, windows: number, padId: number): { ids: Tensor; cut: number } {
  const L = w.length;
  const out = new BigInt64Array(docs * windows * L).fill(BigInt(padId));
  const seen = new Int32Array(docs);
  let cut = 0;
  for (let r = 0; r < w.windows; r++) {
    const d = w.doc[r]!;
    if (seen[d]! >= windows) {
      if (seen[d] === windows) cut++;
      seen[d]!++;
      continue;
    }
    const at = (d * windows + seen[d]!) * L;
    for (let j = 0; j < L; j++) out[at + j] = BigInt(w.ids[r * L + j]!);
    seen[d]!++;
  }
  return { ids: torch.keep(torch.tensor(out, { shape: [docs, windows * L] })), cut };
}
