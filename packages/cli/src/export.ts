// pretext export: an encoder or a fine-tuned classifier as a deployable ONNX folder.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportImageTextOnnx, exportOnnxFolder, PARITY_TOLERANCE } from '@pretext/ssl';
import { UsageError } from './errors.js';
import { pulledVersion, resolveEncoderArg } from './hub.js';

export const EXPORT_HELP: Record<string, string> = {
  export: `Usage: pretext export <run|classifier|team/name[@version]> --format onnx [--out DIR] [--check N] [--json]

Writes the encoder (or a fine-tuned classifier: encoder, head and softmax) as ONNX (opset 17,
a dynamic batch axis, weights as initializers named by their state-dict keys, the run's
method, data fingerprint and hub version in metadata_props) into DIR (default <run>/onnx):
  model.onnx    the graph; images take pixels in [0, 1] (normalization is inside), tables
                encoded rows, text token ids, histories encoded events
  features.json / events.json / the SentencePiece model
                the preprocessing that turns raw rows, histories or text into the inputs
  export.json   inputs, outputs, sidecars and the parity check
An image-text model (image-text.json) is written as two graphs, image.onnx (pixels) and
text.onnx (token ids), each ending in its projection and L2 normalization, so the dot product
of their outputs is the model's similarity; vocab.model and image-text.json beside them.
Before anything is written, onnxruntime runs the graph on N random inputs (default 100) and
its outputs must match Pretext's within ${PARITY_TOLERANCE} (max abs); otherwise nothing is written.

Options:
  --format onnx   the only format so far
  --out DIR       output folder
  --check N       random inputs for the parity check (default 100)
  --json          print the result as one JSON object`,
};

export async function exportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string', default: 'onnx' },
      out: { type: 'string' },
      check: { type: 'string', default: '100' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return (void console.log(EXPORT_HELP.export), 0);
  if (positionals.length !== 1)
    throw new UsageError(`pretext export needs one run, classifier folder or hub reference\n\n${EXPORT_HELP.export}`);
  if (values.format !== 'onnx') throw new UsageError(`--format '${values.format}' is not supported; the only format is onnx`);
  const n = Number(values.check);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--check must be a positive integer, got '${values.check}'`);
  const arg = positionals[0]!;
  const dir = existsSync(join(arg, 'finetune.json')) ? arg : await resolveEncoderArg(arg);
  if (existsSync(join(dir, 'image-text.json'))) {
    const r = await exportImageTextOnnx(dir, { outDir: values.out, checkInputs: n });
    if (values.json) console.log(JSON.stringify(r));
    else
      for (const [tower, t] of Object.entries(r.towers))
        console.log(
          `exported the ${tower} tower to ${t.model} (${(t.bytes / 1e6).toFixed(2)} MB, ${t.nodes} nodes); onnxruntime vs Pretext on ${t.parity.inputs} random inputs: max abs difference ${t.parity.maxAbsDiff.toExponential(2)}`,
        );
    return 0;
  }
  const pulled = pulledVersion(dir);
  const r = await exportOnnxFolder(dir, {
    outDir: values.out,
    checkInputs: n,
    metadata: pulled ? { 'pretext.hub_model': pulled.model, 'pretext.hub_version': String(pulled.version) } : {},
  });
  if (values.json) console.log(JSON.stringify(r));
  else {
    const shape = (s: (number | string)[]): string => `[${s.join(', ')}]`;
    console.log(`exported ${r.kind} ${r.family} to ${r.model} (${(r.bytes / 1e6).toFixed(2)} MB, ${r.nodes} nodes, opset 17)`);
    console.log(`  input   ${r.input.name} ${r.input.type} ${shape(r.input.shape)}`);
    for (const o of r.outputs) console.log(`  output  ${o.name} ${o.type} ${shape(o.shape)}`);
    if (r.sidecars.length) console.log(`  preprocessing: ${r.sidecars.join(', ')} beside the model`);
    const worst = Math.max(r.parity.maxAbsDiff, r.parity.probabilitiesMaxAbsDiff ?? 0);
    console.log(`  onnxruntime vs Pretext on ${r.parity.inputs} random inputs: max abs difference ${worst.toExponential(2)}`);
  }
  return 0;
}
