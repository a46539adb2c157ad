// What the model page's in-browser panels share: onnxruntime-web (WebAssembly, one thread, no
// worker), a version's file as bytes, its gallery (training images with their embeddings
// under the model: images, or text documents), the nearest gallery items by cosine similarity,
// and the list that shows them.
import { useEffect, useState } from 'react';
import type { InferenceSession } from 'onnxruntime-web';
import type { Gallery } from '../../src/types.js';
import { fileText, fileUrl, type Model, type Version } from './api.js';

export type { Gallery };

export interface Neighbour {
  index: number;
  similarity: number;
}

export async function onnxRuntime(): Promise<typeof import('onnxruntime-web/wasm')> {
  const ort = await import('onnxruntime-web/wasm');
  // One thread, no worker: the page is not cross-origin isolated, and the hub's CSP allows no blob scripts.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  return ort;
}

export async function fileBytes(model: Model, version: Version, path: string): Promise<Uint8Array> {
  const res = await fetch(fileUrl(model, version, path), { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** A version's ONNX graph as a session, and its gallery. */
export async function loadModelAndGallery(
  model: Model,
  version: Version,
  onnxFile: string,
): Promise<{ session: InferenceSession; gallery: Gallery }> {
  const ort = await onnxRuntime();
  const [bytes, gallery] = await Promise.all([
    fileBytes(model, version, onnxFile),
    fileText(model, version, 'gallery.json').then((t) => JSON.parse(t ?? 'null') as Gallery),
  ]);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  return { session, gallery };
}

/** model.onnx, the gallery, and the version's preprocessing file (features.json, events.json) read as JSON. */
export async function loadModelGalleryAndSchema<S>(
  model: Model,
  version: Version,
  schemaFile: string,
): Promise<{ session: InferenceSession; gallery: Gallery; schema: S }> {
  const [loaded, text] = await Promise.all([loadModelAndGallery(model, version, 'model.onnx'), fileText(model, version, schemaFile)]);
  if (!text) throw new Error(`this version has no ${schemaFile}`);
  return { ...loaded, schema: JSON.parse(text) as S };
}

export function nearest(e: Float32Array, gallery: Gallery, k: number): Neighbour[] {
  const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0)) || 1;
  const ne = norm(e);
  return gallery.items
    .map((it, index) => ({ index, similarity: it.embedding.reduce((a, x, j) => a + x * e[j]!, 0) / (ne * norm(it.embedding)) }))
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, k);
}

/** The nearest gallery items as thumbnails (or document openings) with their labels (React escapes labels and texts). */
export function Neighbours({ result, gallery, testId, size }: { result: Neighbour[]; gallery: Gallery; testId: string; size: number }) {
  return (
    <ol className="neighbours" data-testid={testId}>
      {result.map((n) => {
        const item = gallery.items[n.index]!;
        return (
          <li key={n.index} data-index={n.index}>
            {item.png !== undefined && (
              <img src={`data:image/png;base64,${item.png}`} alt={item.label ?? `gallery image ${n.index}`} width={size} height={size} />
            )}
            <span>{item.label ?? '-'}</span> <span className="muted">{n.similarity.toFixed(3)}</span>
            {item.text !== undefined && <q className="gallery-text">{item.text}</q>}
          </li>
        );
      })}
    </ol>
  );
}

/**
 * A panel's model, loaded once per version, and its one action: embed something with it and list
 * the five nearest gallery items. `status` says where it stands ('ready: N gallery images' once
 * loaded, 'done' after an embedding, or what failed).
 */
export function useGalleryPanel<T extends { session: InferenceSession; gallery: Gallery }>(
  model: Model,
  version: Version,
  loading: string,
  load: () => Promise<T>,
): {
  state: T | null;
  status: string;
  result: Neighbour[] | null;
  embed: (what: string, f: (state: T) => Promise<Float32Array>) => Promise<void>;
} {
  const [state, setState] = useState<T | null>(null);
  const [status, setStatus] = useState(loading);
  const [result, setResult] = useState<Neighbour[] | null>(null);
  useEffect(() => {
    let cancelled = false;
    setState(null);
    setResult(null);
    load().then(
      (loaded) => {
        if (cancelled) return;
        setState(loaded);
        setStatus(`ready: ${loaded.gallery.items.length} gallery images`);
      },
      (err: Error) => !cancelled && setStatus(`could not load the model: ${err.message}`),
    );
    return () => {
      cancelled = true;
    };
  }, [model, version]);
  const embed = async (what: string, f: (state: T) => Promise<Float32Array>): Promise<void> => {
    if (!state) return;
    setStatus('embedding…');
    try {
      setResult(nearest(await f(state), state.gallery, 5));
      setStatus('done');
    } catch (err) {
      setStatus(`could not embed this ${what}: ${(err as Error).message}`);
    }
  };
  return { state, status, result, embed };
}
