// The openclipart source and the SVG rasterizer: the boilerplate rule drops the folders it
// names and replaces collection stamps by file names; a drawing's folder never enters its
// caption; links and identical files cannot put one drawing on both sides of a split; resvg
// draws SVGs that omit the SVG namespace and refuses files that are not SVG, and a crash inside
// it costs one file, never the command.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SvgRasterizer } from '../src/imageText/svgRaster.js';
import {
  debianPackageDir,
  flattenedImage,
  openclipartDrawings,
  openclipartMetadata,
  OPENCLIPART_PACKAGE,
  DataFormatError,
} from '../src/index.js';

const drawing = (title: string, keywords: string[], description = '', ns = true): string =>
  `<?xml version="1.0"?>
<svg ${ns ? 'xmlns="http://www.w3.org/2000/svg" ' : ''}width="40" height="20">
  <metadata>
    <rdf:RDF xmlns:cc="http://web.resource.org/cc/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
      <cc:Work rdf:about="">
        <dc:title>${title}</dc:title>
        <dc:description>${description}</dc:description>
        <dc:subject><rdf:Bag>${keywords.map((k) => `<rdf:li>${k}</rdf:li>`).join('')}</rdf:Bag></dc:subject>
        <dc:publisher><cc:Agent><dc:title>Open Clip Art Library</dc:title></cc:Agent></dc:publisher>
      </cc:Work>
    </rdf:RDF>
  </metadata>
  <rect x="0" y="0" width="20" height="20" fill="#000"/>
</svg>`;

let cache: string;
let svgRoot: string;
const put = (rel: string, text: string): void => {
  mkdirSync(join(svgRoot, rel, '..'), { recursive: true });
  writeFileSync(join(svgRoot, rel), text);
};

before(() => {
  cache = mkdtempSync(join(tmpdir(), 'pretext-openclipart-'));
  // The package as debianPackageDir leaves it: unpacked under debian/<pkg>-<version>, stamped with the .deb's sha256.
  const pkgDir = join(cache, 'debian', `${OPENCLIPART_PACKAGE.pkg}-1_0.18+dfsg-19`);
  svgRoot = join(pkgDir, 'usr', 'share', 'openclipart', 'svg');
  mkdirSync(svgRoot, { recursive: true });
  writeFileSync(join(pkgDir, '.pretext-sha256'), `${OPENCLIPART_PACKAGE.sha256}\n`);
  put('animals/mammals/fawn_01.svg', drawing('Fawn &amp; doe', ['deer', 'mammal', 'animal', 'forest'], 'A young deer.'));
  put('animals/mammals/fawn_02.svg', drawing('Fawn standing', ['deer', 'hash']));
  for (const n of ['smiley008', 'smiley105', 'smiley113'])
    put(
      `people/smilies/${n}.svg`,
      drawing('Clipart by Nicu Buculei - smiley111', [
        'people',
        'smiley',
        n === 'smiley008' ? 'wink' : n === 'smiley105' ? 'grin' : 'frown',
      ]),
    );
  put('shapes/stars/star_49pt05step.svg', drawing('gramastar', ['stars']));
  put('signs_and_symbols/flags/europe/romania.svg', drawing('romania', ['flag']));
  put('unsorted/old_file.svg', drawing('Aircraft5', ['airtravel'], '', false));
  put('unsorted/copy_of_fawn.svg', drawing('Fawn &amp; doe', ['deer', 'mammal', 'animal', 'forest'], 'A young deer.'));
  // The Debian package files some drawings twice through a symbolic link.
  mkdirSync(join(svgRoot, 'recreation'), { recursive: true });
  symlinkSync(join(svgRoot, 'animals', 'mammals', 'fawn_01.svg'), join(svgRoot, 'recreation', 'fawn_01.svg'));
});
after(() => rmSync(cache, { recursive: true, force: true }));

describe('openclipart', () => {
  it("reads the work's own title, description and keywords, not the publisher's name", () => {
    const m = openclipartMetadata(drawing('Red &lt;apple&gt;', ['fruit', 'red'], 'shiny'));
    assert.deepEqual(m, { title: 'Red <apple>', description: 'shiny', keywords: ['fruit', 'red'] });
    assert.deepEqual(openclipartMetadata('<svg xmlns="http://www.w3.org/2000/svg"/>'), { title: '', description: '', keywords: [] });
  });

  it('applies the boilerplate rule and keeps series, links and copies on one side', () => {
    const { drawings, counts } = openclipartDrawings({ cacheDir: cache, download: false });
    const byName = new Map(drawings.map((d) => [d.id.slice('openclipart:'.length), d]));
    assert.deepEqual([...byName.keys()].sort(), [
      'animals/mammals/fawn_01.svg',
      'animals/mammals/fawn_02.svg',
      'people/smilies/smiley008.svg',
      'people/smilies/smiley105.svg',
      'people/smilies/smiley113.svg',
      'unsorted/copy_of_fawn.svg',
      'unsorted/old_file.svg',
    ]);
    assert.deepEqual(counts, { files: 9, droppedFolders: 2, stampTitles: 3, sameBytes: 1 });
    // The folder's words (animals, mammals: animal, mammal) and filing words (hash) are gone; the entity is decoded.
    assert.deepEqual(byName.get('animals/mammals/fawn_01.svg')!.parts, ['fawn doe', 'a young deer', 'deer', 'forest']);
    assert.deepEqual(byName.get('animals/mammals/fawn_02.svg')!.parts, ['fawn standing', 'deer']);
    // A title on three drawings is a stamp: the file name stands in for it; folder words (people, smilies) go.
    assert.deepEqual(byName.get('people/smilies/smiley008.svg')!.parts, ['smiley', 'smiley', 'wink']);
    // Digits are cut from the end of words.
    assert.deepEqual(byName.get('unsorted/old_file.svg')!.parts, ['aircraft', 'airtravel']);
    // A numbered series is one group; the byte-identical copy shares its original's group.
    const groups = new Set(['smiley008', 'smiley105', 'smiley113'].map((n) => byName.get(`people/smilies/${n}.svg`)!.group));
    assert.equal(groups.size, 1);
    assert.equal(byName.get('unsorted/copy_of_fawn.svg')!.group, byName.get('animals/mammals/fawn_01.svg')!.group);
    assert.equal(byName.get('animals/mammals/fawn_01.svg')!.group, byName.get('animals/mammals/fawn_02.svg')!.group);
    assert.notEqual(byName.get('unsorted/old_file.svg')!.group, byName.get('animals/mammals/fawn_01.svg')!.group);
  });

  it('refuses an unpacked copy of another .deb when fetching is off, naming the command to fetch it', () => {
    assert.throws(
      () => debianPackageDir({ ...OPENCLIPART_PACKAGE, sha256: '0'.repeat(64) }, { cacheDir: cache, download: false }),
      (e: Error) => e instanceof DataFormatError && /apt-get download openclipart-svg=1:0\.18\+dfsg-19/.test(e.message),
    );
  });
});

describe('SVG rasterizing (resvg)', () => {
  it('draws an SVG without the SVG namespace, its longer side fitted, on white', async () => {
    const px = await flattenedImage(Buffer.from(drawing('half', []).replace(' xmlns="http://www.w3.org/2000/svg"', '')), 8);
    assert.equal(px.length, 8 * 8 * 3);
    // 40x20 drawn into 8x8: a 4x8 black square on the left of a band 4 rows high, white above and below.
    const at = (x: number, y: number): number => px[(y * 8 + x) * 3]!;
    assert.equal(at(1, 4), 0, 'inside the black square');
    assert.equal(at(6, 4), 255, 'the right half is white');
    assert.equal(at(1, 0), 255, 'the letterbox is white');
  });

  it('refuses bytes that are not an image, with the parser reason', async () => {
    await assert.rejects(flattenedImage(Buffer.from('<svg><unclosed'), 8), /SVG|parsing/i);
  });
});

describe('SVG rasterizer crash isolation', () => {
  it('a crash costs the file it happened on; the other pending drawings go to a fresh child', async () => {
    const r = new SvgRasterizer(fileURLToPath(new URL('./fixtures/crashingSvgWorker.mjs', import.meta.url)));
    try {
      const asks = ['<svg a/>', '<svg crash/>', '<svg bb/>', '<svg bad/>', '<svg dddd/>'].map((s) => r.draw(s, 7));
      const got = await Promise.allSettled(asks);
      assert.deepEqual(
        got.map((g) => (g.status === 'fulfilled' ? [...g.value] : (g.reason as Error).message.replace(/\(.*\)/, '(...)'))),
        [[7, 8], 'resvg crashed drawing this SVG (...)', [7, 9], 'bad SVG', [7, 11]],
      );
      assert.ok(got[1]!.status === 'rejected' && (got[1]!.reason as Error) instanceof DataFormatError);
      assert.match((got[1] as PromiseRejectedResult).reason.message, /SIGABRT/);
      assert.equal(r.crashes, 1);
      // And it keeps working after the crash.
      assert.deepEqual([...(await r.draw('<svg e/>', 3))], [3, 8]);
    } finally {
      r.close();
    }
  });
});
