// The openclipart source of the image-text benchmark: Debian's `openclipart-svg` (8,121
// public-domain SVG drawings in 21 folders), the .deb pinned by sha256. A drawing's words are
// its metadata: the title, the description and the keywords (Dublin Core inside the SVG's
// <metadata>). Its folder is its category, so the folder's own words never enter its caption.
//
// The boilerplate rule, applied before any score:
//   1. Folders whose files are not drawings of a thing are dropped whole: special/ (gradient
//      and pattern fills), shapes/stars/ (1,378 generated star polygons, all titled
//      "gramastar"), shapes/jigsaw/ (pieces), signs_and_symbols/flags/ (a coloured rectangle
//      named by a place), recreation/games/cards/ (the 52 cards in five styles).
//   2. A title carried by 3 or more drawings is a collection's stamp ("Part of the Flat Icon
//      Collection (...)", "Clipart by Nicu Buculei - smiley111", "Lemon SVG theme"), not a name:
//      the file name's words stand in for it.
//   3. Keywords that file the drawing rather than describe it (the folder's words, "hash",
//      "theme", "icons", "unsorted", ...) are dropped, and digits are cut from the end of words
//      ("Aircraft5" is "aircraft").
// A numbered series (smiley008, smiley105; dog_05_..., dog_06_...) is one group: the file name
// without its digits, within its folder. The package's 663 symbolic links (a drawing filed in a
// second folder) are skipped, and files with identical bytes share a group, so no drawing is on
// both sides of a split.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseDocument, DomUtils } from 'htmlparser2';
import { debianPackageDir, type DebianFetchOptions, type DebianPackage } from '../debian.js';

export const OPENCLIPART_PACKAGE = {
  pkg: 'openclipart-svg',
  version: '1:0.18+dfsg-19',
  sha256: '989712d90d57dfa3230049f553bb43b76c30ee4d4b8c5f6e106e33f7db5cbdc5',
} as const satisfies DebianPackage;

const ROOT = join('usr', 'share', 'openclipart', 'svg');

/** Folders (with their subfolders) that hold fills, generated shapes, flags or card decks. */
export const OPENCLIPART_DROPPED_FOLDERS = [
  'special',
  'shapes/stars',
  'shapes/jigsaw',
  'signs_and_symbols/flags',
  'recreation/games/cards',
];
/** A title on this many drawings or more is a collection's stamp. */
export const OPENCLIPART_STAMP_TITLE = 3;
const FILING_WORDS = new Set([
  'hash',
  'theme',
  'icon',
  'icons',
  'unsorted',
  'special',
  'magick',
  'mapsym',
  'clipart',
  'clip',
  'art',
  'svg',
  'openclipart',
  'lemon',
  'etiquette',
  'action',
  'actions',
  'application',
  'applications',
  'apps',
  'filesystem',
  'filesystems',
  'mimetypes',
]);

export interface OpenclipartDrawing {
  /** `openclipart:<folder>/<file>`. */
  id: string;
  file: string;
  /** Its folder under the library's root, e.g. `animals/mammals/bears`. */
  folder: string;
  /** The words its caption is built from (title or file name, description, keywords), filing words gone. */
  parts: string[];
  /** The file name without digits, within its folder: a numbered series stays together. */
  group: string;
}

interface Metadata {
  title: string;
  description: string;
  keywords: string[];
}

/** The Dublin Core fields of the drawing's own work (not of the publisher or creator agents). */
export function openclipartMetadata(svg: string): Metadata {
  const start = svg.indexOf('<metadata');
  const end = svg.indexOf('</metadata>', start);
  if (start < 0 || end < 0) return { title: '', description: '', keywords: [] };
  const doc = parseDocument(svg.slice(start, end + '</metadata>'.length), { xmlMode: true, decodeEntities: true });
  const work = DomUtils.findOne((e) => e.name === 'cc:Work', doc.children, true);
  if (!work) return { title: '', description: '', keywords: [] };
  // Direct children only: the agents' names are dc:title elements too.
  const field = (name: string): string => {
    const el = work.children.find((c) => 'name' in c && c.name === name);
    return el ? DomUtils.textContent(el).trim() : '';
  };
  const subject = work.children.find((c) => 'name' in c && c.name === 'dc:subject');
  const keywords = subject
    ? DomUtils.findAll((e) => e.name === 'rdf:li', [subject])
        .map((e) => DomUtils.textContent(e).trim())
        .filter(Boolean)
    : [];
  return { title: field('dc:title'), description: field('dc:description'), keywords };
}

function svgFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...svgFiles(p));
    else if (e.isFile() && e.name.toLowerCase().endsWith('.svg')) out.push(p);
  }
  return out.sort();
}

const words = (s: string): string[] =>
  s
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .map((w) => w.replace(/(\p{L})\d+$/u, '$1'))
    .filter((w) => w.length > 0);

/**
 * The library's drawings after the boilerplate rule. `counts` says how many each rule removed
 * or rewrote (reported with the benchmark).
 */
export function openclipartDrawings(o: DebianFetchOptions = {}): { drawings: OpenclipartDrawing[]; counts: Record<string, number> } {
  const root = join(debianPackageDir(OPENCLIPART_PACKAGE, o), ROOT);
  const dropped = (folder: string): boolean => OPENCLIPART_DROPPED_FOLDERS.some((d) => folder === d || folder.startsWith(`${d}/`));
  const all = svgFiles(root).map((file) => {
    const rel = relative(root, file).split('\\').join('/');
    const folder = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    const bytes = readFileSync(file);
    const hash = createHash('sha256').update(bytes).digest('hex');
    return { file, rel, folder, hash, meta: openclipartMetadata(bytes.toString('utf8')) };
  });
  const kept = all.filter((d) => !dropped(d.folder));
  const titleUses = new Map<string, number>();
  for (const d of kept) titleUses.set(d.meta.title, (titleUses.get(d.meta.title) ?? 0) + 1);
  let stamped = 0;
  const groupOfBytes = new Map<string, string>();
  const drawings = kept.map((d): OpenclipartDrawing => {
    const name = d.rel.slice(d.rel.lastIndexOf('/') + 1).replace(/\.svg$/i, '');
    const stamp = d.meta.title === '' || (titleUses.get(d.meta.title) ?? 0) >= OPENCLIPART_STAMP_TITLE;
    if (stamp) stamped++;
    const filing = new Set(FILING_WORDS);
    for (const seg of d.folder.split('/')) for (const w of words(seg)) filing.add(w).add(w.replace(/s$/, ''));
    const keep = (s: string): string =>
      words(s)
        .filter((w) => !filing.has(w))
        .join(' ');
    const parts = [keep(stamp ? name : d.meta.title), keep(d.meta.description), ...d.meta.keywords.map(keep)].filter(Boolean);
    const group = groupOfBytes.get(d.hash) ?? `openclipart:${d.folder}/${name.toLowerCase().replace(/[_-]*\d+/g, '')}`;
    groupOfBytes.set(d.hash, group);
    return {
      id: `openclipart:${d.rel}`,
      file: d.file,
      folder: d.folder,
      parts,
      group,
    };
  });
  const sameBytes = kept.length - groupOfBytes.size;
  return { drawings, counts: { files: all.length, droppedFolders: all.length - kept.length, stampTitles: stamped, sameBytes } };
}
