// "Try it" for an event-history encoder: one entity's events as an editable table (a time in
// the encoder's unit, categories picked from the training levels, numbers typed, empty for
// missing), filled with a gallery entity's history to start from. The page turns the events
// into the encoder's input with @pretext/data's own code (grouping, cutting to the window,
// events.json's codes and scales: what Pretext runs), runs model.onnx in onnxruntime-web and
// lists the nearest gallery entities. The events never leave the browser.
import { useEffect, useState, type FormEvent } from 'react';
import { encodeHistories, historiesFromEventLists, type EventSchema } from '@pretext/data/browser';
import type { Model, Version } from '../api.js';
import { loadModelGalleryAndSchema, Neighbours, onnxRuntime, useGalleryPanel } from '../gallery.js';

type Cells = Record<string, string>;

/** The encoder's input [1, events, channels] for one entity's events as typed. */
export function encodeEvents(schema: EventSchema, rows: Cells[]): { data: Float32Array; dims: number[] } {
  const events = rows.map((row, j) => {
    const e: Record<string, unknown> = {};
    const time = Number(row.time);
    if (row.time?.trim() === '' || !Number.isFinite(time)) throw new Error(`event ${j + 1}: the time is not a number`);
    e.time = time;
    for (const c of schema.categorical) if ((row[c.name] ?? '') !== '') e[c.name] = row[c.name];
    for (const c of schema.numeric) {
      const v = (row[c.name] ?? '').trim();
      if (v === '') continue;
      if (!Number.isFinite(Number(v))) throw new Error(`event ${j + 1}: ${c.name} is not a number`);
      e[c.name] = Number(v);
    }
    return e;
  });
  const fields = { categorical: schema.categorical.map((c) => c.name), numeric: schema.numeric.map((c) => c.name) };
  const encoded = encodeHistories(historiesFromEventLists([events], fields, { maxLength: schema.maxLength, source: 'the events' }), schema);
  return { data: encoded.data, dims: [1, encoded.length, encoded.channels] };
}

export function HistoryTryIt({ model, version }: { model: Model; version: Version }) {
  const [rows, setRows] = useState<Cells[]>([]);
  const { state, status, result, embed } = useGalleryPanel(model, version, 'loading the model…', () =>
    loadModelGalleryAndSchema<EventSchema>(model, version, 'events.json'),
  );
  useEffect(() => {
    const first = state?.gallery.items[0]?.events;
    if (first) setRows(first.map((e) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]))));
  }, [state]);
  const run = (e: FormEvent): void => {
    e.preventDefault();
    void embed('history', async (s) => {
      const ort = await onnxRuntime();
      const { data, dims } = encodeEvents(s.schema, rows);
      return (await s.session.run({ [s.session.inputNames[0]!]: new ort.Tensor('float32', data, dims) })).embedding!.data as Float32Array;
    });
  };
  const set = (j: number, name: string, value: string): void => setRows((rs) => rs.map((r, k) => (k === j ? { ...r, [name]: value } : r)));

  return (
    <div className="tryit" data-testid="tryit">
      <h2>Try it in your browser</h2>
      <p className="muted">
        Edit one entity's events (time in {state?.schema.timeUnit ?? 'the encoder’s unit'}; empty for missing): this version's preprocessing
        and encoder run in this page (ONNX, WebAssembly) and show the nearest entities of its gallery. Nothing is sent.
      </p>
      {state && (
        <form onSubmit={run}>
          <table className="events-form">
            <thead>
              <tr>
                <th>time</th>
                {state.schema.categorical.map((c) => (
                  <th key={c.name}>{c.name}</th>
                ))}
                {state.schema.numeric.map((c) => (
                  <th key={c.name}>{c.name}</th>
                ))}
                <th />
              </tr>
            </thead>
            <tbody>
              {rows.map((row, j) => (
                <tr key={j}>
                  <td>
                    <input
                      aria-label={`event ${j + 1} time`}
                      size={8}
                      value={row.time ?? ''}
                      onChange={(e) => set(j, 'time', e.target.value)}
                    />
                  </td>
                  {state.schema.categorical.map((c) => (
                    <td key={c.name}>
                      <select
                        aria-label={`event ${j + 1} ${c.name}`}
                        value={row[c.name] ?? ''}
                        onChange={(e) => set(j, c.name, e.target.value)}
                      >
                        <option value="">(missing)</option>
                        {c.levels.map((l) => (
                          <option key={l} value={l}>
                            {l}
                          </option>
                        ))}
                      </select>
                    </td>
                  ))}
                  {state.schema.numeric.map((c) => (
                    <td key={c.name}>
                      <input
                        aria-label={`event ${j + 1} ${c.name}`}
                        size={8}
                        value={row[c.name] ?? ''}
                        onChange={(e) => set(j, c.name, e.target.value)}
                      />
                    </td>
                  ))}
                  <td>
                    <button
                      type="button"
                      aria-label={`remove event ${j + 1}`}
                      onClick={() => setRows((rs) => rs.filter((_, k) => k !== j))}
                    >
                      remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <button type="button" onClick={() => setRows((rs) => [...rs, { ...(rs.at(-1) ?? {}) }])}>
            add an event
          </button>{' '}
          <button type="submit">embed</button>
        </form>
      )}
      <p data-testid="tryit-status">{status}</p>
      {result && state && <Neighbours result={result} gallery={state.gallery} testId="tryit-neighbours" size={0} />}
    </div>
  );
}
