// "Try it": an image encoder's ONNX export runs in this page (onnxruntime-web, WebAssembly)
// on an image the visitor picks, and the page shows the nearest images of the version's
// gallery by cosine similarity. The image never leaves the browser.
import { useEffect, useState } from 'react';
import type { InferenceSession } from 'onnxruntime-web';
import { fileText, fileUrl, type Model, type Version } from '../api.js';

interface Gallery {
  inputShape: number[];
  items: { label: string | null; png: string; embedding: number[] }[];
}

interface Neighbour {
  index: number;
  similarity: number;
}

/** The pixels of `file` as the model reads them: [C, H, W] in [0, 1], cropped to cover and resized, grey or RGB. */
async function pixelsOf(file: Blob, [C, H, W]: number[]): Promise<Float32Array> {
  const bitmap = await createImageBitmap(file);
  const canvas = document.createElement('canvas');
  canvas.width = W!;
  canvas.height = H!;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const scale = Math.max(W! / bitmap.width, H! / bitmap.height);
  const [w, h] = [bitmap.width * scale, bitmap.height * scale];
  ctx.drawImage(bitmap, (W! - w) / 2, (H! - h) / 2, w, h);
  const rgba = ctx.getImageData(0, 0, W!, H!).data;
  const out = new Float32Array(C! * H! * W!);
  for (let p = 0; p < H! * W!; p++) {
    const [r, g, b] = [rgba[p * 4]!, rgba[p * 4 + 1]!, rgba[p * 4 + 2]!];
    if (C === 1) out[p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b) / 255;
    else for (let c = 0; c < 3; c++) out[c * H! * W! + p] = [r, g, b][c]! / 255;
  }
  return out;
}

function nearest(e: Float32Array, gallery: Gallery, k: number): Neighbour[] {
  const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0)) || 1;
  const ne = norm(e);
  return gallery.items
    .map((it, index) => ({ index, similarity: it.embedding.reduce((a, x, j) => a + x * e[j]!, 0) / (ne * norm(it.embedding)) }))
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, k);
}

export function TryIt({ model, version }: { model: Model; version: Version }) {
  const [state, setState] = useState<{ session: InferenceSession; gallery: Gallery; input: string } | null>(null);
  const [status, setStatus] = useState('loading the model…');
  const [result, setResult] = useState<Neighbour[] | null>(null);
  useEffect(() => {
    let cancelled = false;
    setState(null);
    setResult(null);
    (async () => {
      const ort = await import('onnxruntime-web/wasm');
      // One thread, no worker: the page is not cross-origin isolated, and the hub's CSP allows no blob scripts.
      ort.env.wasm.numThreads = 1;
      ort.env.wasm.proxy = false;
      const [bytes, gallery] = await Promise.all([
        fetch(fileUrl(model, version, 'model.onnx'), { credentials: 'same-origin' }).then((r) => r.arrayBuffer()),
        fileText(model, version, 'gallery.json').then((t) => JSON.parse(t ?? 'null') as Gallery),
      ]);
      const session = await ort.InferenceSession.create(new Uint8Array(bytes), { executionProviders: ['wasm'] });
      if (!cancelled) {
        setState({ session, gallery, input: session.inputNames[0]! });
        setStatus(`ready: ${gallery.items.length} gallery images`);
      }
    })().catch((err: Error) => !cancelled && setStatus(`could not load the model: ${err.message}`));
    return () => {
      cancelled = true;
    };
  }, [model, version]);

  const run = async (file: File): Promise<void> => {
    if (!state) return;
    setStatus('embedding…');
    try {
      const ort = await import('onnxruntime-web/wasm');
      const shape = state.gallery.inputShape;
      const x = new ort.Tensor('float32', await pixelsOf(file, shape), [1, ...shape]);
      const out = await state.session.run({ [state.input]: x });
      setResult(nearest(out.embedding!.data as Float32Array, state.gallery, 5));
      setStatus('done');
    } catch (err) {
      setStatus(`could not embed this file: ${(err as Error).message}`);
    }
  };

  return (
    <div className="tryit" data-testid="tryit">
      <h2>Try it in your browser</h2>
      <p className="muted">
        Pick an image: this version's encoder runs in this page (ONNX, WebAssembly) and shows the nearest images of its gallery. The image
        is not uploaded.
      </p>
      <label>
        image{' '}
        <input
          type="file"
          accept="image/*"
          aria-label="try an image"
          disabled={!state}
          onChange={(e) => e.target.files?.[0] && void run(e.target.files[0])}
        />
      </label>
      <p data-testid="tryit-status">{status}</p>
      {result && state && (
        <ol className="neighbours" data-testid="tryit-neighbours">
          {result.map((n) => (
            <li key={n.index} data-index={n.index}>
              <img
                src={`data:image/png;base64,${state.gallery.items[n.index]!.png}`}
                alt={state.gallery.items[n.index]!.label ?? `gallery image ${n.index}`}
                width={56}
                height={56}
              />
              <span>{state.gallery.items[n.index]!.label ?? '-'}</span> <span className="muted">{n.similarity.toFixed(3)}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
