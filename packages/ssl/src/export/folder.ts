// A run folder (pretrained encoder) or a fine-tuned classifier folder exported as a deployable
// folder: model.onnx, the preprocessing sidecar the family needs (features.json for tables, the
// SentencePiece model for text, events.json for histories) and export.json describing inputs,
// outputs, sidecars and the parity measured against Pretext. The model is written only after
// onnxruntime has reproduced Pretext's outputs: a failed check leaves no model file behind.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataFormatError } from '@pretext/data';
import { loadEncoder, readEncoderMeta, type EncoderMeta } from '../pipeline.js';
import { loadClassifier } from '../transfer/finetuneRun.js';
import type { Encoder } from '../encoders/encoder.js';
import type { nn } from '@pretext/torch';
import { OnnxExportError, OPSET, type ValueInfo } from './graph.js';
import { exportEncoderOnnx } from './onnx.js';
import { checkOnnxParity, type OnnxParity } from './parity.js';

/** The largest difference from Pretext's outputs an export may show (the bar). */
export const PARITY_TOLERANCE = 1e-4;

export interface OnnxFolderOptions {
  /** Output folder (default <dir>/onnx). */
  outDir?: string;
  /** Random inputs for the parity check (default 100). */
  checkInputs?: number;
  /** Extra metadata_props, e.g. the hub model and version the folder was pulled from. */
  metadata?: Record<string, string>;
}

export interface OnnxFolderExport {
  outDir: string;
  model: string;
  kind: 'encoder' | 'classifier';
  family: string;
  input: ValueInfo;
  outputs: ValueInfo[];
  sidecars: string[];
  parity: OnnxParity;
  bytes: number;
  nodes: number;
  metadata: Record<string, string>;
}

/** The preprocessing files an encoder's inputs are made with, by family. */
function sidecarsOf(meta: Pick<EncoderMeta, 'modality' | 'vocabulary'>, dir: string): string[] {
  const files =
    meta.modality === 'tabular'
      ? ['features.json']
      : meta.modality === 'sequence'
        ? ['events.json']
        : meta.modality === 'text' && meta.vocabulary
          ? [meta.vocabulary]
          : [];
  for (const f of files)
    if (!existsSync(join(dir, f))) throw new DataFormatError(`${dir} has no ${f}, which turns raw inputs into this encoder's inputs`);
  return files;
}

/** What a classifier folder's export needs: its encoder and head, and an encoder description. */
function classifierParts(dir: string): { encoder: Encoder; head: nn.Linear; meta: EncoderMeta; classes: string[]; base: string } {
  const { classifier, meta: c } = loadClassifier(dir);
  // The encoder it was fine-tuned from describes method and data; the classifier folder keeps its path.
  const base = existsSync(join(c.encoder, 'encoder.json')) ? readEncoderMeta(c.encoder) : null;
  const modality = base?.modality ?? ('vocabulary' in c ? 'text' : 'image');
  const meta: EncoderMeta = {
    format: 'pretext-encoder/1',
    modality,
    encoder: c.encoderSpec,
    outDim: classifier.encoder.outDim,
    inputNorm: c.inputNorm,
    inputShape: c.inputShape,
    method: base ? `${base.method}+finetune-${c.mode}` : `finetune-${c.mode}`,
    recipe: base?.recipe ?? '',
    dataset: c.dataset,
    dataFingerprint: base?.dataFingerprint ?? '',
    trainSteps: c.steps,
    trainSeconds: c.seconds,
    createdAt: base?.createdAt ?? '',
    ...('vocabulary' in c ? { vocabulary: (c as { vocabulary: string }).vocabulary } : {}),
  };
  return { encoder: classifier.encoder, head: classifier.head, meta, classes: c.classes, base: c.encoder };
}

/** Exports a pretraining run folder or a classifier folder to ONNX, checked against Pretext. */
export async function exportOnnxFolder(dir: string, o: OnnxFolderOptions = {}): Promise<OnnxFolderExport> {
  const isClassifier = existsSync(join(dir, 'finetune.json'));
  if (!isClassifier && !existsSync(join(dir, 'encoder.json')))
    throw new DataFormatError(`${dir} is neither a pretraining run (encoder.json) nor a fine-tuned classifier (finetune.json)`);
  const parts = isClassifier ? classifierParts(dir) : { ...loadEncoder(dir), head: undefined, classes: undefined, base: undefined };
  const { encoder, meta, head } = parts;
  const sidecars = sidecarsOf(meta, dir);
  const exported = exportEncoderOnnx(encoder, meta, {
    head,
    classes: parts.classes,
    metadata: { ...(parts.base ? { 'pretext.base_encoder': parts.base } : {}), ...o.metadata },
  });
  const parity = await checkOnnxParity(exported, encoder, meta, { n: o.checkInputs ?? 100, head });
  const worst = Math.max(parity.maxAbsDiff, parity.probabilitiesMaxAbsDiff ?? 0);
  if (!(worst <= PARITY_TOLERANCE))
    throw new OnnxExportError(
      `onnxruntime's outputs differ from Pretext's by up to ${worst.toExponential(2)} (allowed ${PARITY_TOLERANCE}) on ${parity.inputs} random inputs; no model was written`,
    );
  const outDir = o.outDir ?? join(dir, 'onnx');
  mkdirSync(outDir, { recursive: true });
  for (const f of sidecars) copyFileSync(join(dir, f), join(outDir, f));
  const model = join(outDir, 'model.onnx');
  writeFileSync(`${model}.part`, exported.bytes);
  renameSync(`${model}.part`, model);
  const result: OnnxFolderExport = {
    outDir,
    model,
    kind: isClassifier ? 'classifier' : 'encoder',
    family: meta.encoder.type,
    input: exported.input,
    outputs: exported.outputs,
    sidecars,
    parity,
    bytes: exported.bytes.length,
    nodes: exported.nodes,
    metadata: exported.metadata,
  };
  const { outDir: _o, model: _m, ...described } = result;
  writeFileSync(
    join(outDir, 'export.json'),
    `${JSON.stringify({ format: 'pretext-onnx-export/1', opset: OPSET, model: 'model.onnx', ...described }, null, 2)}\n`,
  );
  return result;
}

/** export.json of an export folder. */
export function readOnnxExport(outDir: string): Omit<OnnxFolderExport, 'outDir' | 'model'> & { opset: number; model: string } {
  return JSON.parse(readFileSync(join(outDir, 'export.json'), 'utf8')) as Omit<OnnxFolderExport, 'outDir' | 'model'> & {
    opset: number;
    model: string;
  };
}
