// The plain-TypeScript unigram encoder (what the hub page tokenizes with) gives the native
// SentencePiece processor's ids: on every sentence of a corpus it was trained on, on unseen
// words, on spacing and compatibility characters NFKC folds, and on unknown characters.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Vocabulary } from '../src/index.js';
import { PIECE_TYPE, readModelFile, UnigramTokenizer } from '../src/unigram.js';

// Words made of random syllables: many overlapping ways to split each one.
function sentences(n: number, seed: number): string[] {
  let s = seed;
  const rand = (k: number): number => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((s / 2 ** 31) * k);
  };
  const syllables = ['ka', 'ki', 'ro', 'ran', 'an', 'na', 'tor', 'to', 'or', 'se', 'sen', 'en', 'i', 'a', 'mi', 'mis', 'is', 'st'];
  const word = (): string => Array.from({ length: 1 + rand(4) }, () => syllables[rand(syllables.length)]).join('');
  return Array.from({ length: n }, () => Array.from({ length: 2 + rand(8) }, word).join(rand(5) === 0 ? '  ' : ' '));
}

describe('UnigramTokenizer (no native library)', () => {
  const train = sentences(3000, 7);
  for (const size of [64, 400]) {
    it(`gives the native ids on training and unseen sentences (vocabulary of ${size})`, () => {
      const vocab = Vocabulary.train(train, { vocabSize: size, seed: 1 });
      const js = UnigramTokenizer.fromBytes(vocab.model);
      const unseen = sentences(1500, 99);
      const texts = [...train.slice(0, 1500), ...unseen];
      const native = vocab.encode(texts);
      let multi = 0;
      texts.forEach((t, k) => {
        const ours = js.encode(t);
        assert.deepEqual(ours, Array.from(native[k]!), `sentence ${k}: '${t}'`);
        if (ours.length > t.split(/ +/).length) multi++;
      });
      assert.ok(multi > 500, `words split into several pieces in ${multi} sentences: the comparison exercises the search`);
    });
  }

  it('normalizes and handles unknown characters as the native processor does', () => {
    const vocab = Vocabulary.train(train, { vocabSize: 200, seed: 1 });
    const js = UnigramTokenizer.fromBytes(vocab.model);
    const texts = [
      '   kakiro   tor  ',
      'KAKI ro', // upper case is unknown to a lower-case vocabulary
      'ﬁ kiro', // NFKC: the ligature is "fi"
      'ｋａｋｉ ｒｏ', // NFKC: full-width letters
      'ka\tki\nro',
      'zz kazzq ☃☃ ro', // runs of unknown characters
      '',
      ' ',
      'é',
    ];
    const native = vocab.encode(texts);
    texts.forEach((t, k) => assert.deepEqual(js.encode(t), Array.from(native[k]!), `'${t}'`));
    assert.ok(js.encode('zz kazzq ☃☃ ro').includes(js.unkId));
  });

  it('reads the model file: pieces, scores and types as the native side lists them', () => {
    const vocab = Vocabulary.train(train, { vocabSize: 100, seed: 1 });
    const file = readModelFile(vocab.model);
    assert.deepEqual(
      file.pieces.map((p) => p.piece),
      [...vocab.pieces],
    );
    assert.equal(file.pieces[vocab.special.unk]!.type, PIECE_TYPE.unknown);
    assert.equal(file.pieces[vocab.special.mask]!.type, PIECE_TYPE.userDefined);
    assert.equal(file.pieces[vocab.special.cls]!.type, PIECE_TYPE.control);
    assert.ok(file.pieces.slice(5).every((p) => p.type === PIECE_TYPE.normal && p.score < 0));
    assert.equal(file.normalizer.name, 'nmt_nfkc');
    const bpe = Vocabulary.train(train, { vocabSize: 100, model: 'bpe' });
    assert.throws(() => UnigramTokenizer.fromBytes(bpe.model), /only unigram SentencePiece models/);
    assert.throws(() => readModelFile(new Uint8Array([0x0a, 0x05, 0x01])), /truncated/);
  });
});
