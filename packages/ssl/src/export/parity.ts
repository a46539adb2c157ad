// Runs an exported model in onnxruntime (the CPU build that ships with onnxruntime-node) and
// compares it with Pretext's own forward pass on the same random inputs: the check every
// export ends with, and the figure bench:serve reports per family.
import * as ort from 'onnxruntime-node';
import * as torch from '@pretext/torch';
import type { nn } from '@pretext/torch';
import type { Encoder } from '../encoders/encoder.js';
import type { EncoderMeta } from '../pipeline.js';
import { normalizeInput } from '../eval/features.js';
import { randomOnnxInputs, type OnnxExport } from './onnx.js';

export interface OnnxParity {
  inputs: number;
  /** Largest |onnxruntime - Pretext| over every output element. */
  maxAbsDiff: number;
  /** The same for the class probabilities of a classifier. */
  probabilitiesMaxAbsDiff?: number;
}

/** Loads ONNX bytes into an onnxruntime session (one thread: results do not depend on the machine). */
export function onnxSession(bytes: Uint8Array, threads = 1): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/**
 * `n` random inputs (valid for the encoder's family) through onnxruntime and through Pretext, in
 * batches of 25; `forward` replaces the encoder's own (an image-text tower with its projection).
 */
export async function checkOnnxParity(
  exported: OnnxExport,
  encoder: Encoder,
  meta: EncoderMeta,
  o: { n?: number; seed?: number; head?: nn.Linear; forward?: (x: torch.Tensor) => torch.Tensor } = {},
): Promise<OnnxParity> {
  const session = await onnxSession(exported.bytes);
  const n = o.n ?? 100;
  const seed = o.seed ?? 1;
  let maxAbsDiff = 0;
  let probabilitiesMaxAbsDiff = 0;
  try {
    for (let start = 0, batch = 0; start < n; start += 25, batch++) {
      const size = Math.min(25, n - start);
      const { data, dims } = randomOnnxInputs(meta.encoder.type, encoder, meta, size, seed * 1000 + batch);
      const feeds = { [exported.input.name]: new ort.Tensor(data instanceof BigInt64Array ? 'int64' : 'float32', data, dims) };
      const out = await session.run(feeds);
      const ours = torch.tidy(() =>
        torch.noGrad(() => {
          const raw = torch.tensor(data).reshape(dims);
          // Image graphs take pixels in [0, 1] and normalize inside; Pretext's encoder takes normalized input.
          const x = dims.length === 4 ? normalizeInput(raw, meta.inputNorm) : raw;
          const features = o.forward ? o.forward(x) : encoder.forward(x);
          const probs = o.head ? o.head.forward(features).softmax(-1) : null;
          return { features: features.data() as Float32Array, probs: probs ? (probs.data() as Float32Array) : null };
        }),
      );
      maxAbsDiff = Math.max(maxAbsDiff, maxAbs(out.embedding!.data as Float32Array, ours.features));
      if (ours.probs)
        probabilitiesMaxAbsDiff = Math.max(probabilitiesMaxAbsDiff, maxAbs(out.probabilities!.data as Float32Array, ours.probs));
    }
  } finally {
    await session.release();
  }
  return { inputs: n, maxAbsDiff, ...(o.head ? { probabilitiesMaxAbsDiff } : {}) };
}
