// "Try it" for a text encoder: the visitor types a text, the page tokenizes it with the
// version's own SentencePiece model (plain TypeScript, the ids the native library gives), cuts
// it into windows as Pretext does ([CLS] pieces [SEP], padded; a long text is several windows
// whose features are averaged), runs model.onnx in onnxruntime-web and lists the gallery
// documents nearest it. The text never leaves the browser.
import { useState, type FormEvent } from 'react';
import type { InferenceSession } from 'onnxruntime-web';
import { UnigramTokenizer } from '@pretext/sentencepiece/unigram';
import type { Model, Version } from '../api.js';
import { fileBytes, loadModelAndGallery, Neighbours, onnxRuntime, useGalleryPanel, type Gallery } from '../gallery.js';

interface Loaded {
  session: InferenceSession;
  gallery: Gallery;
  tokenizer: UnigramTokenizer;
  length: number;
  pad: number;
  cls: number;
  sep: number;
}

/** A text as the encoder's windows [windows, length], row-major, as Pretext's tokenWindows makes them. */
export function documentWindows(t: Loaded, text: string): { ids: BigInt64Array; windows: number } {
  const inner = t.length - 2;
  const pieces = t.tokenizer.encode(text);
  const windows = Math.max(1, Math.ceil(pieces.length / inner));
  const ids = new BigInt64Array(windows * t.length).fill(BigInt(t.pad));
  for (let w = 0; w < windows; w++)
    [t.cls, ...pieces.slice(w * inner, (w + 1) * inner), t.sep].forEach((id, j) => (ids[w * t.length + j] = BigInt(id)));
  return { ids, windows };
}

export function TextTryIt({ model, version }: { model: Model; version: Version }) {
  const [text, setText] = useState('');
  const { state, status, result, embed } = useGalleryPanel(model, version, 'loading the model…', async (): Promise<Loaded> => {
    const { session, gallery } = await loadModelAndGallery(model, version, 'model.onnx');
    if (!gallery.tokens) throw new Error('the gallery does not say how to tokenize');
    const tokenizer = UnigramTokenizer.fromBytes(await fileBytes(model, version, gallery.tokens.vocabulary));
    const [pad, cls, sep] = ['<pad>', '<cls>', '<sep>'].map((p) => tokenizer.pieceId(p)) as [number, number, number];
    if (pad < 0 || cls < 0 || sep < 0) throw new Error('the vocabulary has no <pad>/<cls>/<sep> pieces');
    return { session, gallery, tokenizer, length: gallery.tokens.length, pad, cls, sep };
  });
  const run = (e: FormEvent): void => {
    e.preventDefault();
    if (!text.trim()) return;
    void embed('text', async (s) => {
      const ort = await onnxRuntime();
      const { ids, windows } = documentWindows(s, text);
      const out = await s.session.run({ [s.session.inputNames[0]!]: new ort.Tensor('int64', ids, [windows, s.length]) });
      const f = out.embedding!.data as Float32Array;
      const dim = f.length / windows;
      const mean = new Float32Array(dim);
      for (let w = 0; w < windows; w++) for (let j = 0; j < dim; j++) mean[j]! += f[w * dim + j]! / windows;
      return mean;
    });
  };

  return (
    <div className="tryit" data-testid="tryit">
      <h2>Try it in your browser</h2>
      <p className="muted">
        Type a text: this version's encoder runs in this page (ONNX, WebAssembly) and shows the nearest documents of its gallery. The text
        is not sent anywhere.
      </p>
      <form onSubmit={run}>
        <textarea aria-label="try a text" value={text} disabled={!state} rows={3} cols={60} onChange={(e) => setText(e.target.value)} />{' '}
        <button type="submit" disabled={!state}>
          embed
        </button>
      </form>
      <p data-testid="tryit-status">{status}</p>
      {result && state && <Neighbours result={result} gallery={state.gallery} testId="tryit-neighbours" size={0} />}
    </div>
  );
}
