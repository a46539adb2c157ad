// The binding trains a vocabulary with Pretext's special pieces at fixed ids, round-trips
// text, and writes a model file that Debian's python3-sentencepiece (the same 0.1.97
// library) loads and splits identically.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SPECIAL, Vocabulary } from '../src/index.js';

// A small corpus with structure a subword model can learn: words built from shared stems and suffixes.
function corpus(n: number, seed = 1): string[] {
  let s = seed;
  const rand = (k: number): number => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((s / 2 ** 31) * k);
  };
  const stems = ['walk', 'talk', 'play', 'jump', 'read', 'paint', 'cook', 'clean', 'build', 'open'];
  const ends = ['', 's', 'ed', 'ing', 'er', 'ers'];
  const small = ['the', 'a', 'of', 'and', 'to', 'in', 'with', 'for'];
  return Array.from({ length: n }, () =>
    Array.from({ length: 6 + rand(8) }, () =>
      rand(3) === 0 ? small[rand(small.length)] : stems[rand(stems.length)]! + ends[rand(ends.length)]!,
    ).join(' '),
  );
}

describe('SentencePiece binding', () => {
  const text = corpus(2000);
  const vocab = Vocabulary.train(text, { vocabSize: 40 });

  it('trains a vocabulary of the asked size with the special pieces at fixed ids', () => {
    assert.equal(vocab.size, 40);
    assert.deepEqual(vocab.pieces.slice(0, 5), [SPECIAL.pad, SPECIAL.unk, SPECIAL.cls, SPECIAL.sep, SPECIAL.mask]);
    assert.deepEqual(vocab.special, { pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 });
    assert.equal(vocab.isOrdinary(4), false);
    assert.equal(vocab.isOrdinary(10), true);
  });

  it('round-trips text and splits unseen words into known pieces', () => {
    for (const s of text.slice(0, 50)) assert.equal(vocab.decode(vocab.encode([s])[0]!), s);
    const pieces = vocab.tokenize('repainting walkers');
    assert.ok(pieces.length >= 4, `pieces: ${pieces.join(' ')}`);
    assert.ok(!pieces.includes('<unk>'), `pieces: ${pieces.join(' ')}`);
    assert.equal(vocab.decode(vocab.encode(['repainting walkers'])[0]!), 'repainting walkers');
  });

  it('reads <mask> in raw text as the mask token', () => {
    const [ids] = vocab.encode([`the ${SPECIAL.mask} walked`]);
    assert.ok([...ids!].includes(vocab.special.mask));
  });

  it('encodes a batch into the same ids as one text at a time', () => {
    const batch = vocab.encode(text.slice(0, 20));
    text.slice(0, 20).forEach((s, i) => assert.deepEqual([...batch[i]!], [...vocab.encode([s])[0]!]));
  });

  it('writes a model file Python sentencepiece loads and splits identically', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spm-'));
    const path = join(dir, 'vocab.model');
    vocab.save(path);
    const probe = ['the walkers painted a cleaner', 'opening and reading with cooks', `in ${SPECIAL.mask} of jumping`];
    writeFileSync(join(dir, 'probe.json'), JSON.stringify(probe));
    const python = '/usr/bin/python3';
    assert.ok(existsSync(python), 'Debian python3 (python3-sentencepiece) is part of the test set-up');
    const script = [
      'import json, sys, sentencepiece as spm',
      'p = spm.SentencePieceProcessor(model_file=sys.argv[1])',
      'print(json.dumps([p.encode(s) for s in json.load(open(sys.argv[2]))] + [p.get_piece_size()]))',
    ].join('\n');
    const out = JSON.parse(execFileSync(python, ['-c', script, path, join(dir, 'probe.json')], { encoding: 'utf8' })) as unknown[];
    assert.equal(out.pop(), vocab.size);
    assert.deepEqual(
      out,
      vocab.encode(probe).map((ids) => [...ids]),
    );
    assert.deepEqual([...Vocabulary.load(path).encode(probe)[0]!], out[0]);
  });

  it('gives the largest vocabulary a small corpus supports rather than failing', () => {
    const big = Vocabulary.train(text.slice(0, 200), { vocabSize: 5000 });
    assert.ok(big.size > 30 && big.size < 5000, `size ${big.size}`);
  });

  it('refuses bytes that are not a model, no text, and a tiny vocabulary, with clear errors', () => {
    assert.throws(() => Vocabulary.fromBytes(Buffer.from('not a model at all')), /sentencepiece loading the model/);
    assert.throws(() => Vocabulary.train(['', '  ']), /no text/);
    assert.throws(() => Vocabulary.train(text, { vocabSize: 3 }), /at least 16/);
    assert.throws(() => vocab.decode([vocab.size + 5]), /outside the vocabulary/);
  });
});
