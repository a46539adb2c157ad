// "Try it": an image encoder's ONNX export runs in this page (onnxruntime-web, WebAssembly)
// on an image the visitor picks, and the page shows the nearest images of the version's
// gallery by cosine similarity. The image never leaves the browser.
import type { Model, Version } from '../api.js';
import { loadModelAndGallery, Neighbours, onnxRuntime, useGalleryPanel } from '../gallery.js';

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

export function TryIt({ model, version }: { model: Model; version: Version }) {
  const { state, status, result, embed } = useGalleryPanel(model, version, 'loading the model…', async () => {
    const { session, gallery } = await loadModelAndGallery(model, version, 'model.onnx');
    return { session, gallery, input: session.inputNames[0]! };
  });
  const run = (file: File): Promise<void> =>
    embed('file', async (s) => {
      const ort = await onnxRuntime();
      const shape = s.gallery.inputShape;
      const x = new ort.Tensor('float32', await pixelsOf(file, shape), [1, ...shape]);
      return (await s.session.run({ [s.input]: x })).embedding!.data as Float32Array;
    });

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
      {result && state && <Neighbours result={result} gallery={state.gallery} testId="tryit-neighbours" size={56} />}
    </div>
  );
}
