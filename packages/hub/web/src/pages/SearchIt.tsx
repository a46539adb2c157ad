// "Search by a sentence": an image-text model's text tower (text.onnx: the transformer, its
// projection and the normalization) runs in this page on a sentence the visitor types. The
// page tokenizes it with the version's own SentencePiece model in plain TypeScript (the ids
// the native library gives), and lists the gallery images whose image embeddings are nearest.
// The sentence never leaves the browser.
import { useState, type FormEvent } from 'react';
import type { InferenceSession } from 'onnxruntime-web';
import { UnigramTokenizer } from '@pretext/sentencepiece/unigram';
import { fileText, type Model, type Version } from '../api.js';
import { fileBytes, loadModelAndGallery, Neighbours, onnxRuntime, useGalleryPanel, type Gallery } from '../gallery.js';

interface Loaded {
  session: InferenceSession;
  gallery: Gallery;
  tokenizer: UnigramTokenizer;
  /** Caption window of the model, [CLS] and [SEP] included. */
  length: number;
  cls: number;
  sep: number;
}

/** [CLS] ids [SEP], the ids cut to the model's window as Pretext cuts a caption. */
export function windowIds(t: Loaded, text: string): BigInt64Array {
  const ids = [t.cls, ...t.tokenizer.encode(text).slice(0, t.length - 2), t.sep];
  return BigInt64Array.from(ids, (v) => BigInt(v));
}

export function SearchIt({ model, version }: { model: Model; version: Version }) {
  const [query, setQuery] = useState('');
  const { state, status, result, embed } = useGalleryPanel(model, version, 'loading the text tower…', async (): Promise<Loaded> => {
    const meta = JSON.parse((await fileText(model, version, 'image-text.json')) ?? 'null') as { length: number; vocabulary: string };
    const [{ session, gallery }, vocab] = await Promise.all([
      loadModelAndGallery(model, version, 'text.onnx'),
      fileBytes(model, version, meta.vocabulary),
    ]);
    const tokenizer = UnigramTokenizer.fromBytes(vocab);
    const loaded = { session, gallery, tokenizer, length: meta.length, cls: tokenizer.pieceId('<cls>'), sep: tokenizer.pieceId('<sep>') };
    if (loaded.cls < 0 || loaded.sep < 0) throw new Error('the vocabulary has no <cls>/<sep> pieces');
    return loaded;
  });
  const search = (e: FormEvent): void => {
    e.preventDefault();
    if (!query.trim()) return;
    void embed('sentence', async (s) => {
      const ort = await onnxRuntime();
      const ids = windowIds(s, query);
      const out = await s.session.run({ [s.session.inputNames[0]!]: new ort.Tensor('int64', ids, [1, ids.length]) });
      return out.embedding!.data as Float32Array;
    });
  };

  return (
    <div className="tryit" data-testid="searchit">
      <h2>Search by a sentence</h2>
      <p className="muted">
        Type a description: this version's text tower runs in this page (ONNX, WebAssembly) and shows the gallery images nearest it in the
        shared space. The sentence is not sent anywhere.
      </p>
      <form onSubmit={search}>
        <input
          aria-label="a sentence"
          value={query}
          disabled={!state}
          onChange={(e) => setQuery(e.target.value)}
          placeholder="a red heart"
        />{' '}
        <button type="submit" disabled={!state}>
          search
        </button>
      </form>
      <p data-testid="searchit-status">{status}</p>
      {result && state && <Neighbours result={result} gallery={state.gallery} testId="searchit-neighbours" size={48} />}
    </div>
  );
}
