// The model a service runs: a pretrained encoder or a fine-tuned classifier folder, on
// libtorch (Pretext's engine) or on onnxruntime (the graph `pretext export` writes, checked
// against Pretext at start-up). Inputs are rows of one shape per item: images [C, H, W],
// encoded table rows [F], token windows [L] (documents: [W * L]) and histories [events, C];
// a classifier's head runs here, on the embeddings, so both runtimes share it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import {
  checkOnnxParity,
  encodeBatch,
  exportEncoderOnnx,
  loadClassifier,
  loadEncoder,
  onnxSession,
  PARITY_TOLERANCE,
  readClassifierMeta,
  readEncoderMeta,
  type Classifier,
  type Encoder,
  type EncoderMeta,
} from '@pretext/ssl';

type Head = Classifier['head'];

export type Runtime = 'libtorch' | 'onnxruntime';
export type Modality = 'image' | 'tabular' | 'text' | 'sequence';

/** One input as the encoder reads it. */
export interface Item {
  data: Float32Array | BigInt64Array;
  /** Shape without the batch axis. */
  dims: number[];
}

export interface ServedModel {
  kind: 'encoder' | 'classifier';
  modality: Modality;
  family: string;
  runtime: Runtime;
  outDim: number;
  meta: EncoderMeta;
  dir: string;
  classes?: string[];
  /** Text: documents are token windows side by side (classifiers), or one window per item. */
  textWindows?: number;
  /** The value that pads an item's first axis (text: the pad id; histories: 0, an invalid event). */
  padValue: number;
  /** Embeddings of a batch of items, one row each. */
  embed(items: Item[]): Promise<Float32Array[]>;
  /** Class probabilities of embeddings (classifiers). */
  probabilities?(embeddings: Float32Array[]): Float32Array[];
  /** onnxruntime vs Pretext at start-up (onnxruntime only). */
  parity?: number;
  close(): Promise<void>;
}

/** Items stacked into one batch; a first axis of different lengths is padded with `pad`. */
export function stack(items: Item[], pad: number): { data: Float32Array | BigInt64Array; dims: number[] } {
  const first = items[0]!;
  const longest = Math.max(...items.map((i) => i.dims[0] ?? 1));
  const dims = first.dims.length ? [longest, ...first.dims.slice(1)] : [];
  const per = dims.reduce((a, b) => a * b, 1);
  const int = first.data instanceof BigInt64Array;
  const data = int ? new BigInt64Array(items.length * per).fill(BigInt(pad)) : new Float32Array(items.length * per).fill(pad);
  items.forEach((it, i) => (data as Float32Array).set(it.data as Float32Array, i * per));
  return { data, dims: [items.length, ...dims] };
}

const rowsOf = (flat: Float32Array, n: number): Float32Array[] => {
  const d = flat.length / n;
  return Array.from({ length: n }, (_, i) => flat.slice(i * d, (i + 1) * d));
};

/** softmax(W f + b) per row, with the head's weights copied out of the engine. */
function headProbabilities(head: Head): (embeddings: Float32Array[]) => Float32Array[] {
  const w = head.weight.data() as Float32Array;
  const b = head.bias ? (head.bias.data() as Float32Array) : new Float32Array(head.outFeatures);
  const [C, D] = [head.outFeatures, head.inFeatures];
  return (embeddings) =>
    embeddings.map((f) => {
      const z = new Float64Array(C);
      for (let c = 0; c < C; c++) {
        let s = b[c]!;
        for (let d = 0; d < D; d++) s += w[c * D + d]! * f[d]!;
        z[c] = s;
      }
      const max = Math.max(...z);
      let sum = 0;
      for (let c = 0; c < C; c++) sum += z[c] = Math.exp(z[c]! - max);
      return Float32Array.from(z, (v) => v / sum);
    });
}

/** An encoder description for a classifier folder (its base encoder's when that is at hand). */
function classifierMeta(dir: string, encoder: Encoder): { meta: EncoderMeta; classes: string[]; windows?: number } {
  const c = readClassifierMeta(dir) as ReturnType<typeof readClassifierMeta> & { windows?: number };
  const base = existsSync(join(c.encoder, 'encoder.json')) ? readEncoderMeta(c.encoder) : null;
  const meta: EncoderMeta = {
    ...(base ?? { recipe: '', dataFingerprint: '', createdAt: '', method: 'finetune' }),
    format: 'pretext-encoder/1',
    modality: base?.modality ?? (c.vocabulary ? 'text' : 'image'),
    encoder: c.encoderSpec,
    outDim: encoder.outDim,
    inputNorm: c.inputNorm,
    inputShape: c.inputShape,
    dataset: c.dataset,
    trainSteps: c.steps,
    trainSeconds: c.seconds,
    ...(c.vocabulary ? { vocabulary: c.vocabulary } : {}),
  };
  return { meta, classes: c.classes, windows: c.windows };
}

/** Loads a run or classifier folder for serving on `runtime`. */
export async function loadServedModel(dir: string, runtime: Runtime, o: { threads?: number } = {}): Promise<ServedModel> {
  const isClassifier = existsSync(join(dir, 'finetune.json'));
  let encoder: Encoder;
  let head: Head | null = null;
  let meta: EncoderMeta;
  let classes: string[] | undefined;
  let windows: number | undefined;
  if (isClassifier) {
    const { classifier } = loadClassifier(dir);
    encoder = classifier.encoder;
    head = classifier.head;
    ({ meta, classes, windows } = classifierMeta(dir, encoder));
  } else ({ encoder, meta } = loadEncoder(dir));
  const modality = (meta.modality ?? 'image') as Modality;
  const padValue =
    modality === 'text'
      ? ((encoder as unknown as { layout?: { padId: number }; text?: { layout: { padId: number } } }).text?.layout.padId ??
        (encoder as unknown as { layout: { padId: number } }).layout.padId)
      : 0;
  const base = {
    kind: isClassifier ? ('classifier' as const) : ('encoder' as const),
    modality,
    family: meta.encoder.type,
    runtime,
    outDim: encoder.outDim,
    meta,
    dir,
    classes,
    textWindows: windows,
    padValue,
    probabilities: head ? headProbabilities(head) : undefined,
  };
  if (runtime === 'libtorch') {
    return {
      ...base,
      embed: (items) => {
        const { data, dims } = stack(items, padValue);
        return Promise.resolve(rowsOf(encodeBatch(encoder, meta.inputNorm, data, dims), items.length));
      },
      close: () => Promise.resolve(encoder.dispose()),
    };
  }
  const exported = exportEncoderOnnx(encoder, meta);
  const parity = await checkOnnxParity(exported, encoder, meta, { n: 20 });
  if (!(parity.maxAbsDiff <= PARITY_TOLERANCE))
    throw new Error(`onnxruntime differs from Pretext by ${parity.maxAbsDiff} on this model; serve it with --runtime libtorch`);
  encoder.dispose();
  const session = await onnxSession(exported.bytes, o.threads ?? availableParallelism());
  const type = exported.input.type === 'int64' ? 'int64' : 'float32';
  return {
    ...base,
    parity: parity.maxAbsDiff,
    embed: async (items) => {
      const { data, dims } = stack(items, padValue);
      const out = await session.run({ [exported.input.name]: new ort.Tensor(type, data, dims) });
      return rowsOf(out.embedding!.data as Float32Array, items.length);
    },
    close: () => session.release(),
  };
}
