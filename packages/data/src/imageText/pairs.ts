// Images with text: the pairs a team brings (a CSV or JSONL of image path and caption, or image
// files with a .txt sidecar each) and the split rules every image-text source shares. No
// engine: pixels are bytes [N, size, size, 3], captions are strings. Problems (a missing file,
// an image that does not decode, an empty caption) are collected by line and reported; the
// pairs that are fine are kept.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import sharp from 'sharp';
import { IMAGE_EXTENSIONS } from '../imageFolder.js';
import { DataFormatError } from '../errors.js';
import { ProgressBar } from '../progress.js';
import { svgRasterizer } from './svgRaster.js';

export interface ImageTextPairs {
  /** Pixels [N, size, size, 3], RGB, transparent areas on white. */
  images: Uint8Array;
  size: number;
  captions: string[];
  /** Where each pair came from (a file path, or a source's own item id). */
  items: string[];
  /**
   * Group of each pair: pairs of one group (an emoji's skin-tone variants, an icon's outline
   * and filled forms, a numbered series) are never split across train and test.
   */
  groups: string[];
  /** Class of each pair as an index into `classes`, -1 when the pair has none. */
  labels: Int32Array;
  classes: string[];
}

export interface PairProblem {
  /** 1-based line of the pairs file (0 for a sidecar folder). */
  line: number;
  item: string;
  why: string;
}

export interface ReadPairsOptions {
  /** Side length the images are resized to (cover, centre crop; default 64). */
  size?: number;
  /** Folder image paths are relative to (default: the pairs file's folder). */
  imageRoot?: string;
  /** Column (CSV) or key (JSONL) of the image path (default 'image'). */
  imageField?: string;
  /** Column or key of the caption (default 'text', then 'caption'). */
  textField?: string;
  /** Column or key of an optional class, and of an optional group. */
  labelField?: string;
  groupField?: string;
  quiet?: boolean;
}

interface RawPair {
  line: number;
  image: string;
  text: string;
  label?: string;
  group?: string;
}

function rowsOf(file: string, o: ReadPairsOptions): { rows: RawPair[]; problems: PairProblem[] } {
  const imageField = o.imageField ?? 'image';
  const problems: PairProblem[] = [];
  const pick = (r: Record<string, unknown>, line: number): RawPair | null => {
    const image = r[imageField];
    const text = r[o.textField ?? 'text'] ?? (o.textField ? undefined : r.caption);
    if (typeof image !== 'string' || image.trim() === '') {
      problems.push({ line, item: '', why: `no '${imageField}' path` });
      return null;
    }
    const str = (k?: string): string | undefined => (k && r[k] != null ? String(r[k]) : undefined);
    return {
      line,
      image: image.trim(),
      text: typeof text === 'string' ? text : text == null ? '' : String(text),
      label: str(o.labelField),
      group: str(o.groupField),
    };
  };
  const raw = readFileSync(file, 'utf8');
  const rows: RawPair[] = [];
  if (extname(file).toLowerCase() === '.jsonl' || extname(file).toLowerCase() === '.ndjson') {
    raw.split('\n').forEach((text, i) => {
      if (text.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        problems.push({ line: i + 1, item: '', why: `not JSON: ${(err as Error).message}` });
        return;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        problems.push({ line: i + 1, item: '', why: 'not a JSON object' });
        return;
      }
      const p = pick(value as Record<string, unknown>, i + 1);
      if (p) rows.push(p);
    });
  } else {
    const records = parseCsv(raw, { columns: true, skip_empty_lines: true, relax_column_count: true, info: true }) as {
      record: Record<string, string>;
      info: { lines: number };
    }[];
    if (records.length > 0 && !(imageField in records[0]!.record))
      throw new DataFormatError(`${file}: no '${imageField}' column; columns are ${Object.keys(records[0]!.record).join(', ')}`);
    for (const { record, info } of records) {
      const p = pick(record, info.lines);
      if (p) rows.push(p);
    }
  }
  return { rows, problems };
}

function sidecarRows(folder: string): RawPair[] {
  const out: RawPair[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if ([...IMAGE_EXTENSIONS, '.svg'].includes(extname(name).toLowerCase())) {
        const txt = path.slice(0, -extname(name).length) + '.txt';
        out.push({ line: 0, image: path, text: existsSync(txt) ? readFileSync(txt, 'utf8') : '' });
      }
    }
  };
  walk(folder);
  return out;
}

/**
 * A team's own pairs: a CSV or JSONL file naming an image and a caption per line, or a folder
 * of images each with a `.txt` caption beside it. Returns the pairs that load and every line
 * that does not, with why; throws only when nothing loads.
 */
export async function readImageTextPairs(
  source: string,
  o: ReadPairsOptions = {},
): Promise<{ pairs: ImageTextPairs; problems: PairProblem[] }> {
  if (!existsSync(source)) throw new DataFormatError(`${source}: no such file or folder`);
  const size = o.size ?? 64;
  const folder = statSync(source).isDirectory();
  const { rows, problems } = folder ? { rows: sidecarRows(source), problems: [] as PairProblem[] } : rowsOf(source, o);
  const root = o.imageRoot ?? (folder ? source : dirname(source));
  const kept: { row: RawPair; pixels: Buffer; path: string }[] = [];
  const bar = o.quiet || rows.length < 2000 ? null : new ProgressBar({ total: rows.length, label: 'reading pairs', unit: 'pair' });
  for (const row of rows) {
    bar?.tick(1);
    const path = isAbsolute(row.image) ? row.image : resolve(root, row.image);
    const text = row.text.replace(/\s+/g, ' ').trim();
    if (text === '') {
      problems.push({ line: row.line, item: row.image, why: 'empty caption' });
      continue;
    }
    if (!existsSync(path)) {
      problems.push({ line: row.line, item: row.image, why: `image not found at ${path}` });
      continue;
    }
    try {
      kept.push({ row: { ...row, text }, pixels: await flattenedImage(path, size), path });
    } catch (err) {
      problems.push({ line: row.line, item: row.image, why: `image does not decode: ${(err as Error).message}` });
    }
  }
  bar?.finish();
  if (kept.length === 0)
    throw new DataFormatError(
      `${source}: no usable image-text pair${problems.length ? `; first problems:\n${problems.slice(0, 5).map(describeProblem).join('\n')}` : ''}`,
    );
  const classes = [...new Set(kept.map((k) => k.row.label).filter((l): l is string => l !== undefined && l !== ''))].sort();
  const images = new Uint8Array(kept.length * size * size * 3);
  kept.forEach((k, i) => images.set(k.pixels, i * size * size * 3));
  return {
    pairs: {
      images,
      size,
      captions: kept.map((k) => k.row.text),
      items: kept.map((k) => k.path),
      groups: kept.map((k) => k.row.group ?? k.path),
      labels: Int32Array.from(kept, (k) => (k.row.label ? classes.indexOf(k.row.label) : -1)),
      classes,
    },
    problems,
  };
}

export const describeProblem = (p: PairProblem): string =>
  `  - ${p.line > 0 ? `line ${p.line}: ` : ''}${p.item ? `${p.item}: ` : ''}${p.why}`;

/** Whether bytes are SVG text: markup first (after a byte-order mark and white space), not a raster signature. */
const looksLikeSvg = (b: Buffer): boolean => /^(\uFEFF)?\s*</.test(b.subarray(0, 64).toString('utf8'));

/** The SVG namespace on a root element written without it (old Illustrator and Sodipodi files): resvg requires it. */
const withSvgNamespace = (svg: string): string =>
  svg.replace(/<svg\b[^>]*>/, (tag) => (/\sxmlns\s*=/.test(tag) ? tag : tag.replace(/^<svg/, '<svg xmlns="http://www.w3.org/2000/svg"')));

/**
 * An SVG drawn by resvg (in a child process, so that a crash inside it costs one file, not the
 * command), its longer side `size` pixels, on white. No text is drawn: with system fonts loaded,
 * resvg 2.6.2's text layout panicked on some text-on-path drawings. resvg reads no external
 * file the SVG links to.
 */
const rasterizedSvg = (svg: Buffer, size: number): Promise<Buffer> => svgRasterizer().draw(withSvgNamespace(svg.toString('utf8')), size);

/**
 * An image file (PNG, JPEG, WebP, GIF, TIFF or SVG) as size x size RGB bytes, transparency on
 * white. SVG is rasterized by resvg; everything else is decoded and resized by sharp.
 */
export async function flattenedImage(file: string | Buffer, size: number): Promise<Buffer> {
  const bytes = typeof file === 'string' ? readFileSync(file) : file;
  const input =
    (typeof file === 'string' ? extname(file).toLowerCase() === '.svg' : false) || looksLikeSvg(bytes)
      ? await rasterizedSvg(bytes, size)
      : bytes;
  const { data, info } = await sharp(input, { failOn: 'error', limitInputPixels: 1 << 26 })
    .resize(size, size, { fit: 'contain', background: '#ffffff' })
    .flatten({ background: '#ffffff' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (data.length !== size * size * 3)
    throw new DataFormatError(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  return data;
}

/** Pairs at the given indices, in that order. */
export function selectPairs(p: ImageTextPairs, idx: readonly number[]): ImageTextPairs {
  const per = p.size * p.size * 3;
  const images = new Uint8Array(idx.length * per);
  idx.forEach((j, i) => images.set(p.images.subarray(j * per, (j + 1) * per), i * per));
  return {
    images,
    size: p.size,
    captions: idx.map((j) => p.captions[j]!),
    items: idx.map((j) => p.items[j]!),
    groups: idx.map((j) => p.groups[j]!),
    labels: Int32Array.from(idx, (j) => p.labels[j]!),
    classes: p.classes,
  };
}

/** FNV-1a of a string mixed with a seed, avalanched: a stable hash for group assignment. */
function groupHash(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  // FNV's high bits barely move for short names that differ in one character: finish with
  // MurmurHash3's avalanche so every bit of the name reaches the top bits.
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

/** Indices split by group: a group lands wholly on one side; about `fraction` of the groups go to the second. */
export function splitByGroup(groups: readonly string[], fraction: number, seed = 0): { first: number[]; second: number[] } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`split fraction must be in (0, 1), got ${fraction}`);
  const first: number[] = [];
  const second: number[] = [];
  groups.forEach((g, i) => (groupHash(g, seed) < fraction ? second : first).push(i));
  return { first, second };
}
