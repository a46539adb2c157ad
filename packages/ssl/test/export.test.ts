// ONNX export: every encoder family written as a graph that ONNX's own checker accepts and
// onnxruntime runs to Pretext's outputs within 1e-4 on 100 random inputs; classifiers with
// their probabilities; modules without a writer refused by name, and no file left behind.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as torch from '@pretext/torch';
import { nn } from '@pretext/torch';
import {
  buildEncoder,
  checkOnnxParity,
  DocumentEncoder,
  EXAMPLE_ENCODERS,
  buildExampleEncoder,
  TextTransformer,
  exportEncoderOnnx,
  exportOnnxFolder,
  onnxSession,
  OnnxExportError,
  readOnnxSummary,
  type EncoderSpec,
} from '../src/index.js';
import { encoderMeta } from './fixtures/runFolder.js';
import { onnxChecker } from './fixtures/onnxChecker.js';

const families = EXAMPLE_ENCODERS.map((e) => ({ ...e, shape: e.inputShape }));

const encoderFor = (spec: EncoderSpec, shape: number[]) => buildExampleEncoder({ spec, inputShape: shape });

describe('ONNX export', () => {
  for (const f of families) {
    it(`${f.name}: passes the ONNX checker and matches Pretext within 1e-4 on 100 inputs`, async () => {
      const encoder = encoderFor(f.spec, f.shape);
      const meta = encoderMeta({ encoder: f.spec, inputShape: f.shape, modality: f.modality, outDim: encoder.outDim });
      const ex = exportEncoderOnnx(encoder, meta);
      const dir = mkdtempSync(join(tmpdir(), 'onnx-'));
      writeFileSync(join(dir, 'model.onnx'), ex.bytes);
      const check = onnxChecker(join(dir, 'model.onnx'));
      assert.ok(check.ok, check.out);
      const p = await checkOnnxParity(ex, encoder, meta, { n: 100, seed: 3 });
      assert.equal(p.inputs, 100);
      assert.ok(p.maxAbsDiff <= 1e-4, `max abs difference ${p.maxAbsDiff}`);
      const summary = readOnnxSummary(ex.bytes);
      assert.equal(summary.opset, 17);
      assert.deepEqual(summary.outputs, ['embedding']);
      assert.equal(summary.metadata['pretext.encoder'], f.spec.type);
      assert.equal(summary.metadata['pretext.data_fingerprint'], meta.dataFingerprint);
      assert.equal(summary.metadata['pretext.method'], 'simclr');
      assert.equal(ex.input.shape[0], 'batch');
    });
  }

  it('has a dynamic batch axis: one example alone gives the same embedding as inside a batch', async () => {
    const spec = families[0]!.spec;
    const encoder = encoderFor(spec, [1, 28, 28]);
    const ex = exportEncoderOnnx(encoder, encoderMeta({ encoder: spec }));
    const session = await onnxSession(ex.bytes);
    const x = Float32Array.from({ length: 3 * 784 }, (_, i) => (i % 97) / 97);
    const three = await session.run({ pixels: new ort.Tensor('float32', x, [3, 1, 28, 28]) });
    const one = await session.run({ pixels: new ort.Tensor('float32', x.subarray(784, 1568), [1, 1, 28, 28]) });
    const a = (three.embedding!.data as Float32Array).subarray(encoder.outDim, 2 * encoder.outDim);
    const b = one.embedding!.data as Float32Array;
    assert.equal(b.length, encoder.outDim);
    for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-5, `feature ${i}: ${a[i]} vs ${b[i]}`);
    await session.release();
  });

  it('adds a classifier head with softmax probabilities, named by the classifier state-dict keys', async () => {
    const spec = families[3]!.spec;
    const encoder = encoderFor(spec, [7]);
    const head = new nn.Linear(encoder.outDim, 4);
    const meta = encoderMeta({ encoder: spec, inputShape: [7], modality: 'tabular', outDim: encoder.outDim });
    const ex = exportEncoderOnnx(encoder, meta, { head, classes: ['a', 'b', 'c', 'd'] });
    const p = await checkOnnxParity(ex, encoder, meta, { n: 100, head });
    assert.ok(p.probabilitiesMaxAbsDiff! <= 1e-4 && p.maxAbsDiff <= 1e-4, JSON.stringify(p));
    const summary = readOnnxSummary(ex.bytes);
    assert.deepEqual(summary.outputs, ['embedding', 'probabilities']);
    assert.equal(summary.metadata['pretext.classes'], '["a","b","c","d"]');
    const session = await onnxSession(ex.bytes);
    const out = await session.run({ features: new ort.Tensor('float32', new Float32Array(2 * 7).fill(0.5), [2, 7]) });
    const probs = out.probabilities!.data as Float32Array;
    assert.ok(Math.abs(probs[0]! + probs[1]! + probs[2]! + probs[3]! - 1) < 1e-6, 'a row of probabilities sums to 1');
    await session.release();
  });

  it('exports a text classifier over whole documents: windows side by side, all-padding windows left out', async () => {
    const spec = families[5]!.spec;
    torch.manualSeed(3);
    const docs = new DocumentEncoder(buildEncoder(spec) as TextTransformer, 3).eval();
    const head = new nn.Linear(docs.outDim, 2);
    const meta = encoderMeta({ encoder: spec, inputShape: [120], modality: 'text', outDim: docs.outDim });
    const ex = exportEncoderOnnx(docs, meta, { head });
    assert.deepEqual(ex.input.shape, ['batch', 120]);
    const p = await checkOnnxParity(ex, docs, meta, { n: 100, head });
    assert.ok(p.maxAbsDiff <= 1e-4 && p.probabilitiesMaxAbsDiff! <= 1e-4, JSON.stringify(p));
    assert.ok(Number.isFinite(p.maxAbsDiff), 'no NaN from the all-padding windows');
  });

  it('refuses a module it has no writer for, naming it, and BatchNorm without running statistics', () => {
    const spec: EncoderSpec = { type: 'small-cnn', config: { width: 4, depth: 1 } };
    const encoder = buildEncoder(spec);
    // Swap a layer for one with no ONNX writer: the error names its path and class.
    class Unwritten extends nn.Module {
      forward(x: torch.Tensor): torch.Tensor {
        return x;
      }
    }
    (encoder as unknown as { features: nn.Sequential }).features = new nn.Sequential(new Unwritten(), new nn.Conv2d(1, 4, 3));
    assert.throws(
      () => exportEncoderOnnx(encoder, encoderMeta({ encoder: spec })),
      (e: Error) => e instanceof OnnxExportError && /module 'Unwritten' \(Unwritten\)/.test(e.message),
    );
    const noStats: EncoderSpec = { type: 'tabular-mlp', config: { continuous: 2, cardinalities: [], hidden: [4] } };
    const mlp = buildEncoder(noStats);
    const block = (mlp as unknown as { layers: nn.ModuleList<nn.Sequential> }).layers.at(0);
    (block as unknown as { layers: nn.Module[] }).layers[1] = new nn.BatchNorm1d(4, { trackRunningStats: false });
    assert.throws(
      () => exportEncoderOnnx(mlp, encoderMeta({ encoder: noStats, modality: 'tabular' })),
      (e: Error) => e instanceof OnnxExportError && /BatchNorm1d/.test(e.message) && /running statistics/.test(e.message),
    );
  });

  it('exports a run folder with its preprocessing sidecar and export.json; a folder that is not a run is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnx-run-'));
    const spec = families[3]!.spec;
    const encoder = encoderFor(spec, [7]);
    torch.safetensors.saveFile(join(dir, 'encoder.safetensors'), encoder.stateDict(), { format: 'pt' });
    writeFileSync(
      join(dir, 'encoder.json'),
      JSON.stringify(encoderMeta({ encoder: spec, inputShape: [7], modality: 'tabular', outDim: encoder.outDim })),
    );
    await assert.rejects(exportOnnxFolder(dir), /no features\.json/);
    assert.equal(existsSync(join(dir, 'onnx', 'model.onnx')), false, 'no model without its preprocessing');
    writeFileSync(join(dir, 'features.json'), '{"columns":[]}');
    const r = await exportOnnxFolder(dir, { checkInputs: 20, metadata: { 'pretext.hub_version': '3' } });
    assert.deepEqual(r.sidecars, ['features.json']);
    assert.ok(existsSync(join(dir, 'onnx', 'features.json')));
    const described = JSON.parse(readFileSync(join(dir, 'onnx', 'export.json'), 'utf8')) as {
      opset: number;
      family: string;
      parity: { inputs: number };
    };
    assert.deepEqual([described.opset, described.family, described.parity.inputs], [17, 'tabular-mlp', 20]);
    assert.equal(readOnnxSummary(readFileSync(r.model)).metadata['pretext.hub_version'], '3');
    await assert.rejects(exportOnnxFolder(mkdtempSync(join(tmpdir(), 'empty-'))), /neither a pretraining run/);
  });
});
