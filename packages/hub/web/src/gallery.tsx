// What the model page's in-browser panels share: onnxruntime-web (WebAssembly, one thread, no
// worker), a version's file as bytes, its gallery (training images with their embeddings
// under the model), the nearest gallery items by cosine similarity, and the list that shows them.
import type { InferenceSession } from 'onnxruntime-web';
import { fileText, fileUrl, type Model, type Version } from './api.js';

export interface Gallery {
  inputShape: number[];
  items: { label: string | null; png: string; embedding: number[] }[];
}

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

export function nearest(e: Float32Array, gallery: Gallery, k: number): Neighbour[] {
  const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0)) || 1;
  const ne = norm(e);
  return gallery.items
    .map((it, index) => ({ index, similarity: it.embedding.reduce((a, x, j) => a + x * e[j]!, 0) / (ne * norm(it.embedding)) }))
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, k);
}

/** The nearest gallery items as thumbnails with their labels (React escapes the labels). */
export function Neighbours({ result, gallery, testId, size }: { result: Neighbour[]; gallery: Gallery; testId: string; size: number }) {
  return (
    <ol className="neighbours" data-testid={testId}>
      {result.map((n) => (
        <li key={n.index} data-index={n.index}>
          <img
            src={`data:image/png;base64,${gallery.items[n.index]!.png}`}
            alt={gallery.items[n.index]!.label ?? `gallery image ${n.index}`}
            width={size}
            height={size}
          />
          <span>{gallery.items[n.index]!.label ?? '-'}</span> <span className="muted">{n.similarity.toFixed(3)}</span>
        </li>
      ))}
    </ol>
  );
}
