// "Try it" for a table encoder: a form with one field per input column of the version's
// features.json (numbers and dates typed, categories picked from the training levels, empty
// for missing), filled with a gallery row to start from. The page turns the row into the
// encoder's inputs with @pretext/data's own preprocessing code (what Pretext runs), runs
// model.onnx in onnxruntime-web and lists the nearest gallery rows. The row never leaves the
// browser.
import { useEffect, useState, type FormEvent } from 'react';
import { encodeFeatures, expectedTypes, tableFromRecords, type FeatureSchema } from '@pretext/data/browser';
import type { Model, Version } from '../api.js';
import { loadModelGalleryAndSchema, Neighbours, onnxRuntime, useGalleryPanel } from '../gallery.js';

/** The encoder's inputs [1, F] for one row of cells by column name ('' is missing). */
export function encodeRow(schema: FeatureSchema, cells: Record<string, string>): Float32Array {
  const record = Object.fromEntries(Object.entries(cells).map(([k, v]) => [k, v.trim() === '' ? null : v]));
  return encodeFeatures(tableFromRecords([record], expectedTypes(schema), 'the row'), schema).data;
}

export function TableTryIt({ model, version }: { model: Model; version: Version }) {
  const [cells, setCells] = useState<Record<string, string>>({});
  const { state, status, result, embed } = useGalleryPanel(model, version, 'loading the model…', () =>
    loadModelGalleryAndSchema<FeatureSchema>(model, version, 'features.json'),
  );
  useEffect(() => {
    const first = state?.gallery.items[0]?.row;
    if (first) setCells(Object.fromEntries(Object.entries(first).map(([k, v]) => [k, v ?? ''])));
  }, [state]);
  const run = (e: FormEvent): void => {
    e.preventDefault();
    void embed('row', async (s) => {
      const ort = await onnxRuntime();
      const x = encodeRow(s.schema, cells);
      const out = await s.session.run({ [s.session.inputNames[0]!]: new ort.Tensor('float32', x, [1, x.length]) });
      return out.embedding!.data as Float32Array;
    });
  };
  const set = (name: string, value: string): void => setCells((c) => ({ ...c, [name]: value }));

  return (
    <div className="tryit" data-testid="tryit">
      <h2>Try it in your browser</h2>
      <p className="muted">
        Fill in a row: this version's preprocessing and encoder run in this page (ONNX, WebAssembly) and show the nearest rows of its
        gallery. Leave a field empty for a missing value. The row is not sent anywhere.
      </p>
      {state && (
        <form onSubmit={run} className="row-form">
          {state.schema.numeric.map((f) => (
            <label key={f.name}>
              {f.name}{' '}
              <input
                aria-label={f.name}
                value={cells[f.name] ?? ''}
                placeholder={f.kind === 'date' ? 'YYYY-MM-DD' : 'a number'}
                onChange={(e) => set(f.name, e.target.value)}
              />
            </label>
          ))}
          {state.schema.categorical.map((f) => (
            <label key={f.name}>
              {f.name}{' '}
              <select aria-label={f.name} value={cells[f.name] ?? ''} onChange={(e) => set(f.name, e.target.value)}>
                <option value="">(missing)</option>
                {f.levels.map((l) => (
                  <option key={l} value={l}>
                    {l}
                  </option>
                ))}
              </select>
            </label>
          ))}
          <button type="submit">embed</button>
        </form>
      )}
      <p data-testid="tryit-status">{status}</p>
      {result && state && <Neighbours result={result} gallery={state.gallery} testId="tryit-neighbours" size={0} />}
    </div>
  );
}
