// Image-text pairs: a team's own pairs file reports every bad line and keeps the good ones;
// group splits never cut a group; the benchmark's split holds whole classes out and its
// control removes their words.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  captionWords,
  classWordForms,
  iconSplits,
  readImageTextPairs,
  splitByGroup,
  DataFormatError,
  type IconPairs,
} from '../src/index.js';

let dir: string;

const square = (rgb: [number, number, number]): Promise<Buffer> =>
  sharp({ create: { width: 20, height: 10, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .png()
    .toBuffer();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pretext-pairs-'));
  mkdirSync(join(dir, 'img'));
  writeFileSync(join(dir, 'img', 'red.png'), await square([255, 0, 0]));
  writeFileSync(join(dir, 'img', 'blue.png'), await square([0, 0, 255]));
  writeFileSync(join(dir, 'img', 'broken.png'), Buffer.from('not a png at all'));
  writeFileSync(
    join(dir, 'img', 'mark.svg'),
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect x="0" y="0" width="12" height="24" fill="#000"/></svg>',
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('readImageTextPairs', () => {
  it('keeps the good lines of a CSV and names every bad one by line', async () => {
    writeFileSync(
      join(dir, 'pairs.csv'),
      [
        'image,text,label',
        'img/red.png,a red square,warm',
        'img/missing.png,nothing here,warm',
        'img/blue.png,"  ",cold',
        'img/broken.png,broken bytes,cold',
        'img/blue.png,a blue   square,cold',
        'img/mark.svg,half black,cold',
      ].join('\n'),
    );
    const { pairs, problems } = await readImageTextPairs(join(dir, 'pairs.csv'), { size: 8, labelField: 'label' });
    assert.deepEqual(pairs.captions, ['a red square', 'a blue square', 'half black']);
    assert.deepEqual(
      problems.map((p) => [p.line, p.why.split(':')[0]]),
      [
        [3, `image not found at ${join(dir, 'img', 'missing.png')}`],
        [4, 'empty caption'],
        [5, 'image does not decode'],
      ],
    );
    assert.deepEqual(pairs.classes, ['cold', 'warm']);
    assert.deepEqual([...pairs.labels], [1, 0, 0]);
    assert.equal(pairs.images.length, 3 * 8 * 8 * 3);
    // The red square is letterboxed on white: its centre is red, its top row white.
    const px = (i: number, y: number, x: number): number[] => [
      ...pairs.images.subarray(((i * 8 + y) * 8 + x) * 3, ((i * 8 + y) * 8 + x) * 3 + 3),
    ];
    assert.deepEqual(px(0, 4, 4), [255, 0, 0]);
    assert.deepEqual(px(0, 0, 4), [255, 255, 255]);
    assert.deepEqual(px(1, 4, 4), [0, 0, 255]);
    // The SVG: left half black, right half white.
    assert.deepEqual(px(2, 4, 1), [0, 0, 0]);
    assert.deepEqual(px(2, 4, 6), [255, 255, 255]);
  });

  it('reads JSONL, reporting lines that are not objects', async () => {
    writeFileSync(
      join(dir, 'pairs.jsonl'),
      [
        '{"image":"img/red.png","caption":"red"}',
        'not json',
        '[1,2]',
        '{"caption":"no image"}',
        '',
        '{"image":"img/blue.png","caption":"blue"}',
      ].join('\n'),
    );
    const { pairs, problems } = await readImageTextPairs(join(dir, 'pairs.jsonl'), { size: 4 });
    assert.deepEqual(pairs.captions, ['red', 'blue']);
    assert.deepEqual(
      problems.map((p) => p.line),
      [2, 3, 4],
    );
    assert.deepEqual([...pairs.labels], [-1, -1]);
  });

  it('reads a folder of images with .txt sidecars, and refuses a file with no usable pair', async () => {
    writeFileSync(join(dir, 'img', 'red.txt'), 'red sidecar\n');
    writeFileSync(join(dir, 'img', 'blue.txt'), 'blue sidecar');
    const { pairs, problems } = await readImageTextPairs(join(dir, 'img'), { size: 4 });
    assert.deepEqual(pairs.captions, ['blue sidecar', 'red sidecar']);
    // broken.png and mark.svg have no caption file.
    assert.equal(problems.length, 2);
    assert.ok(problems.every((p) => p.why === 'empty caption'));
    writeFileSync(join(dir, 'bad.csv'), 'image,text\nimg/missing.png,x\n');
    await assert.rejects(
      readImageTextPairs(join(dir, 'bad.csv')),
      (e: Error) => e instanceof DataFormatError && /no usable image-text pair[\s\S]*line 2/.test(e.message),
    );
    writeFileSync(join(dir, 'nocol.csv'), 'path,text\nimg/red.png,x\n');
    await assert.rejects(readImageTextPairs(join(dir, 'nocol.csv')), /no 'image' column; columns are path, text/);
  });
});

describe('group splits', () => {
  it('never cuts a group and sends about the asked share of groups to the second side', () => {
    const groups = Array.from({ length: 5000 }, (_, i) => `g${Math.floor(i / 5)}`);
    const { first, second } = splitByGroup(groups, 0.1, 7);
    assert.equal(first.length + second.length, groups.length);
    const side = new Map<string, number>();
    for (const i of first) side.set(groups[i]!, 0);
    for (const i of second) {
      assert.notEqual(side.get(groups[i]!), 0, `group ${groups[i]} on both sides`);
      side.set(groups[i]!, 1);
    }
    const share = new Set(second.map((i) => groups[i])).size / 1000;
    assert.ok(share > 0.07 && share < 0.13, `share ${share}`);
    assert.deepEqual(splitByGroup(groups, 0.1, 7), { first, second });
    assert.notDeepEqual(splitByGroup(groups, 0.1, 8).second, second);
  });

  it('splits caption words and counts plurals as class words', () => {
    assert.deepEqual(captionWords('Red-Heart :D 2x, café'), ['red', 'heart', 'd', '2x', 'café']);
    assert.deepEqual([...classWordForms('vehicle')], ['vehicle', 'vehicles', 'vehiclees']);
  });
});

describe('iconSplits', () => {
  // 200 pairs: classes a (seen), b (held out), and unlabeled; groups of 2; group g5 mixes a and b.
  const n = 200;
  const classes = ['cat', 'vehicle'];
  const labels = Int32Array.from({ length: n }, (_, i) => (i % 10 === 0 ? 1 : i % 10 === 1 ? -1 : 0));
  const groups = Array.from({ length: n }, (_, i) => `g${Math.floor(i / 2)}`);
  const words = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? ['vehicles', 'road'] : i % 13 === 0 ? ['vehicle'] : ['thing', `w${i}`]));
  const p: IconPairs = {
    images: new Uint8Array(n * 2 * 2 * 3).map((_, i) => i % 251),
    size: 2,
    captions: words.map((w) => w.join(' ')),
    items: groups.map((_, i) => `item${i}`),
    groups,
    labels,
    classes,
    heldOut: ['vehicle'],
    words,
    emptyCaptionsDropped: 0,
    sources: ['emoji'],
    perSource: { emoji: n },
  };

  it('holds every pair of a held-out class out, and drops the rest of its groups from training', async () => {
    const s = iconSplits(p);
    const test = await s.test.forFinalScore('test');
    assert.equal(test.captions.length, n / 10);
    assert.ok([...test.labels].every((l) => l === 1));
    const trainItems = new Set([...s.train.items, ...s.validation.items]);
    // Items 0, 10, 20, ... are held out; their group partners 1, 11, 21, ... must not train.
    for (let i = 0; i < n; i += 10) {
      assert.ok(!trainItems.has(`item${i}`));
      assert.ok(!trainItems.has(`item${i + 1}`));
    }
    assert.equal(trainItems.size, n - n / 5);
    assert.ok(s.validation.captions.length > 0 && s.validation.captions.length < 40);
    assert.deepEqual(s.seen, ['cat']);
    // Training captions hold 'vehicles' (i % 7 == 0) and 'vehicle' (i % 13 == 0, not % 7) outside the held-out groups.
    const expected = [...s.train.items].map((it) => Number(it.slice(4))).filter((i) => i % 7 === 0 || i % 13 === 0).length;
    assert.equal(s.heldOutWordCounts.vehicle, expected);
    assert.ok(expected > 0);
    assert.equal(s.controlCaptionsChanged, 0);
  });

  it('the control removes every held-out class word from training captions and drops pairs left empty', () => {
    const s = iconSplits(p, { control: true });
    const normal = iconSplits(p);
    assert.ok(s.train.captions.every((c) => !/\bvehicles?\b/.test(c)));
    assert.ok(s.train.captions.some((c) => c === 'road'));
    const onlyVehicle = normal.train.captions.filter((c) => c === 'vehicle').length;
    assert.ok(onlyVehicle > 0);
    assert.equal(s.train.captions.length, normal.train.captions.length - onlyVehicle);
    assert.equal(s.controlCaptionsChanged, normal.heldOutWordCounts.vehicle);
    // Pixels follow their pairs.
    const i = s.train.items.indexOf('item2');
    assert.deepEqual([...s.train.images.subarray(i * 12, i * 12 + 12)], [...p.images.subarray(24, 36)]);
  });
});
