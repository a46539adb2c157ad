// The offline image-text benchmark: about 15,000 small pictures with words, built from three
// npm packages and one Debian package, each pinned by sha256 (fetched like every other data
// set: the cache first, then `npm pack` or `apt-get download`):
//   - emoji-datasource-google: 1,911 emoji and 1,875 skin-tone variants as 64x64 PNGs, with
//     Unicode names, short names, categories and subcategories;
//   - emojilib: keywords for each emoji;
//   - @tabler/icons: 4,963 outline and 981 filled SVG icons with names, tags and categories;
//   - openclipart-svg: public-domain drawings with titles, descriptions and keywords, after the
//     boilerplate rule of openclipart.ts.
// SVGs are rasterized by resvg. Captions are an item's name and keywords, never its class's own words. Classes unify both
// sources' categories under one name ("vehicle" = three emoji subcategories + tabler's
// Vehicles), so holding a class out removes every image of it. Groups keep an emoji's skin
// tones and gendered forms, an icon's outline and filled forms, and numbered series together.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataFormatError } from '../errors.js';
import { defaultCacheDir } from '../fashionMnist.js';
import { npmPackageDir, type NpmFetchOptions, type NpmTarball } from '../npmPackage.js';
import { ProgressBar } from '../progress.js';
import { type DebianFetchOptions } from '../debian.js';
import { openclipartDrawings, OPENCLIPART_PACKAGE } from './openclipart.js';
import { TestSplit, VALIDATION_SEED } from '../splits.js';
import { flattenedImage, selectPairs, splitByGroup, type ImageTextPairs } from './pairs.js';

export const ICON_PACKAGES = {
  emoji: { name: 'emoji-datasource-google', version: '16.0.0', sha256: 'fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438' },
  keywords: { name: 'emojilib', version: '4.0.3', sha256: '7f9a6b43cff31d18985b7d65d11faba5bd971cbcc60020cf6d09322fbaaaf303' },
  tabler: { name: '@tabler/icons', version: '3.34.0', sha256: 'da56239a52b164fe73cf89b7f41c5a7fe1cd27d3fc394e11fb653d825db6d7cf' },
} as const satisfies Record<string, NpmTarball>;

/**
 * One class: the emoji subcategories, tabler categories and openclipart folders (with their
 * subfolders; the longest matching folder decides) it gathers.
 */
interface ClassSource {
  emoji?: string[];
  tabler?: string[];
  openclipart?: string[];
}

/**
 * The ten classes held out of training for zero-shot evaluation, fixed here before any test
 * score was seen. No image of these classes is trained on; their names still occur in other
 * items' captions (counted and reported by the benchmark).
 */
export const HELD_OUT_CLASSES: Record<string, ClassSource> = {
  animal: {
    emoji: ['animal-mammal', 'animal-bird', 'animal-marine', 'animal-bug', 'animal-reptile', 'animal-amphibian'],
    tabler: ['Animals'],
    openclipart: ['animals'],
  },
  plant: { emoji: ['plant-flower', 'plant-other'], tabler: ['Nature'], openclipart: ['plants'] },
  food: {
    emoji: ['food-fruit', 'food-vegetable', 'food-prepared', 'food-asian', 'food-sweet', 'drink', 'dishware'],
    tabler: ['Food'],
    openclipart: ['food'],
  },
  weather: { emoji: ['sky & weather'], tabler: ['Weather'], openclipart: ['signs_and_symbols/weather'] },
  vehicle: {
    emoji: ['transport-ground', 'transport-air', 'transport-water'],
    tabler: ['Vehicles'],
    openclipart: ['transportation/vehicles', 'transportation/boating'],
  },
  sport: { emoji: ['sport', 'person-sport', 'award-medal'], tabler: ['Sport'], openclipart: ['recreation/sports'] },
  music: { emoji: ['musical-instrument', 'music'], openclipart: ['recreation/music'] },
  clothing: { emoji: ['clothing'], openclipart: ['people/clothing'] },
  building: { emoji: ['place-building', 'place-religious', 'hotel'], tabler: ['Buildings'], openclipart: ['buildings'] },
  money: { emoji: ['money', 'currency'], tabler: ['Currencies'], openclipart: ['signs_and_symbols/money'] },
};

/** Classes seen in training (validation zero-shot and retrieval use them). */
export const SEEN_CLASSES: Record<string, ClassSource> = {
  face: {
    emoji: [
      'face-smiling',
      'face-affection',
      'face-tongue',
      'face-hand',
      'face-neutral-skeptical',
      'face-sleepy',
      'face-unwell',
      'face-hat',
      'face-glasses',
      'face-concerned',
      'face-negative',
      'face-costume',
      'cat-face',
      'monkey-face',
    ],
    tabler: ['Mood'],
    openclipart: ['people/smilies'],
  },
  person: {
    emoji: ['person', 'person-role', 'person-activity', 'person-gesture', 'person-fantasy', 'person-resting', 'person-symbol', 'family'],
    openclipart: ['people'],
  },
  hand: {
    emoji: ['hand-fingers-open', 'hand-fingers-partial', 'hand-single-finger', 'hand-fingers-closed', 'hands', 'hand-prop'],
    tabler: ['Gestures'],
  },
  heart: { emoji: ['heart', 'emotion'], openclipart: ['recreation/holiday/valentines'] },
  flag: { emoji: ['country-flag', 'flag', 'subdivision-flag'] },
  arrow: { emoji: ['arrow'], tabler: ['Arrows'], openclipart: ['shapes/arrows'] },
  alphabet: { emoji: ['alphanum'], tabler: ['Letters', 'Text'] },
  number: { emoji: ['keycap'], tabler: ['Numbers'] },
  shape: { emoji: ['geometric'], tabler: ['Shapes'], openclipart: ['shapes'] },
  document: { emoji: ['book-paper', 'office', 'writing'], tabler: ['Document'], openclipart: ['education/books', 'office'] },
  computer: {
    emoji: ['computer', 'phone'],
    tabler: ['Computers', 'Devices', 'Database', 'Development'],
    openclipart: ['office/telephone', 'computer/hardware', 'computer/connectors', 'computer/network'],
  },
  clock: { emoji: ['time'], openclipart: ['signs_and_symbols/clocks'] },
  tool: { emoji: ['tool', 'household', 'science', 'lock'], openclipart: ['tools', 'buildings/furniture'] },
  chart: { tabler: ['Charts'] },
  camera: { emoji: ['light & video'], tabler: ['Photography'] },
  mail: { emoji: ['mail'], tabler: ['Communication'] },
  math: { emoji: ['math'], tabler: ['Math', 'Logic'] },
  gender: { emoji: ['gender'], tabler: ['Gender'] },
  zodiac: { emoji: ['zodiac'], tabler: ['Zodiac'] },
  game: {
    emoji: ['game', 'event'],
    tabler: ['Games'],
    openclipart: ['recreation/games', 'computer/games', 'recreation/toys', 'tools/toys'],
  },
  logo: { tabler: ['Brand'], openclipart: ['logos'] },
  medicine: { emoji: ['medical', 'body-parts'], tabler: ['Health'], openclipart: ['people/bodypart', 'science/medicine'] },
  media: { emoji: ['av-symbol', 'sound'], tabler: ['Media'] },
  shopping: { tabler: ['E-commerce'] },
  map: {
    emoji: ['place-map', 'place-geographic', 'place-other', 'transport-sign'],
    tabler: ['Map'],
    openclipart: ['signs_and_symbols/map_symbols', 'transportation/roadsigns', 'transportation/aiga-symbols', 'geography'],
  },
  design: { emoji: ['arts & crafts'], tabler: ['Design'], openclipart: ['recreation/art'] },
  interface: {
    tabler: ['System', 'Sytem', 'Extensions', 'Version control', 'Badges'],
    openclipart: ['computer/icons', 'computer/buttons', 'computer/folders', 'buttons'],
  },
  laundry: { tabler: ['Laundry'] },
  electricity: { tabler: ['Electrical'], openclipart: ['electronics'] },
  symbol: {
    emoji: ['religion', 'warning', 'other-symbol', 'punctuation'],
    tabler: ['Symbols'],
    openclipart: ['signs_and_symbols/hazard', 'signs_and_symbols/disability', 'recreation/religion'],
  },
};

/** The prompt templates zero-shot classification averages over, fixed before any test score. */
export const PROMPT_TEMPLATES = ['an icon of {}.', 'an emoji of {}.', 'a drawing of {}.', '{}'] as const;

// 1: emoji and tabler, SVGs by sharp; 2: resvg, and the sources chosen.
const BUILD_VERSION = 2;

export const ICON_SOURCES = ['emoji', 'tabler', 'openclipart'] as const;
export type IconSource = (typeof ICON_SOURCES)[number];
const SIZE = 64;
const SKIN_TONES: Record<string, string> = {
  '1F3FB': 'light skin tone',
  '1F3FC': 'medium light skin tone',
  '1F3FD': 'medium skin tone',
  '1F3FE': 'medium dark skin tone',
  '1F3FF': 'dark skin tone',
};
const GENDER_WORDS = new Set(['man', 'woman', 'men', 'women', 'person', 'people', 'male', 'female', 'boy', 'girl']);

/** Lowercase words of a caption fragment: letters and digits, split on everything else. */
export function captionWords(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

/** Words that count as a class word: the word itself and its plural. */
export function classWordForms(name: string): Set<string> {
  const out = new Set<string>();
  for (const w of captionWords(name)) out.add(w).add(`${w}s`).add(`${w}es`);
  return out;
}

/** Distinct words in order, without the removed ones and without bare numbers. */
function caption(parts: readonly string[], removed: Set<string>): string {
  const seen = new Set<string>();
  for (const part of parts) for (const w of captionWords(part)) if (!removed.has(w) && !/^\d+$/.test(w)) seen.add(w);
  return [...seen].join(' ');
}

interface EmojiEntry {
  name: string | null;
  unified: string;
  image: string;
  short_names: string[];
  category: string;
  subcategory: string;
  has_img_google: boolean;
  skin_variations?: Record<string, { unified: string; image: string; has_img_google: boolean }>;
}
interface TablerEntry {
  name: string;
  category: string;
  tags: (string | number)[];
  styles: Record<string, unknown>;
}

interface Item {
  id: string;
  file: string;
  source: IconSource;
  parts: string[];
  group: string;
  category: string;
}

function classOf(all: Record<string, ClassSource>, kind: IconSource): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, src] of Object.entries(all)) for (const c of src[kind] ?? []) m.set(c, name);
  return m;
}

/** The class of an openclipart folder: the longest class folder it lies in, if any. */
function folderClass(byFolder: Map<string, string>, folder: string): string | undefined {
  for (let f = folder; f !== ''; f = f.includes('/') ? f.slice(0, f.lastIndexOf('/')) : '') {
    const c = byFolder.get(f);
    if (c !== undefined) return c;
  }
  return undefined;
}

function emojiItems(emojiDir: string, keywordsDir: string): Item[] {
  const entries = JSON.parse(readFileSync(join(emojiDir, 'emoji.json'), 'utf8')) as EmojiEntry[];
  const keywords = JSON.parse(readFileSync(join(keywordsDir, 'dist', 'emoji-en-US.json'), 'utf8')) as Record<string, string[]>;
  const imgDir = join(emojiDir, 'img', 'google', '64');
  const chars = (unified: string): string => String.fromCodePoint(...unified.split('-').map((h) => parseInt(h, 16)));
  const out: Item[] = [];
  for (const e of entries) {
    if (!e.has_img_google || e.category === 'Component') continue;
    const base = captionWords(e.short_names[0] ?? e.unified).filter((w) => !GENDER_WORDS.has(w));
    const group = `emoji:${base.join('-') || e.unified}`;
    const parts = [e.name ?? '', ...e.short_names, ...(keywords[chars(e.unified)] ?? [])];
    out.push({ id: `emoji:${e.unified}`, file: join(imgDir, e.image), source: 'emoji', parts, group, category: e.subcategory });
    for (const v of Object.values(e.skin_variations ?? {})) {
      if (!v.has_img_google) continue;
      const tones = v.unified
        .split('-')
        .map((h) => SKIN_TONES[h])
        .filter((t): t is string => t !== undefined);
      out.push({
        id: `emoji:${v.unified}`,
        file: join(imgDir, v.image),
        source: 'emoji',
        parts: [...parts, ...new Set(tones)],
        group,
        category: e.subcategory,
      });
    }
  }
  return out;
}

function tablerItems(dir: string): Item[] {
  const icons = JSON.parse(readFileSync(join(dir, 'icons.json'), 'utf8')) as Record<string, TablerEntry>;
  const out: Item[] = [];
  for (const icon of Object.values(icons)) {
    // Numbered series (a-b, a-b-2; arrow-down-1, -2) stay in one group.
    const group = `tabler:${icon.name.replace(/-\d+$/, '')}`;
    const parts = [icon.name, ...icon.tags.map(String)];
    for (const style of ['outline', 'filled'] as const) {
      if (!(style in icon.styles)) continue;
      out.push({
        id: `tabler:${style}:${icon.name}`,
        file: join(dir, 'icons', style, `${icon.name}.svg`),
        source: 'tabler',
        parts: style === 'filled' ? [...parts, 'filled'] : parts,
        group,
        category: icon.category,
      });
    }
  }
  return out;
}

export interface IconPairs extends ImageTextPairs {
  /** Classes held out of training (a subset of `classes`). */
  heldOut: string[];
  /** Each pair's caption words (the control run removes more). */
  words: string[][];
  /** Items whose caption held only their class's words. */
  emptyCaptionsDropped: number;
  /** The sources the pairs came from. */
  sources: IconSource[];
  /** Pairs per source. */
  perSource: Record<string, number>;
  /** What openclipart's boilerplate rule removed or rewrote (files, droppedFolders, stampTitles). */
  openclipart?: Record<string, number>;
}

export interface IconPairsOptions extends NpmFetchOptions, DebianFetchOptions {
  quiet?: boolean;
  /** The sources to build from (default all three). */
  sources?: readonly IconSource[];
}

/** Reads the cached build, or builds it from the sources' packages (fetched when allowed). */
export async function loadIconPairs(o: IconPairsOptions = {}): Promise<IconPairs> {
  const sources = ICON_SOURCES.filter((s) => (o.sources ?? ICON_SOURCES).includes(s));
  for (const s of o.sources ?? [])
    if (!(ICON_SOURCES as readonly string[]).includes(s))
      throw new DataFormatError(`unknown image-text source '${s}' (known: ${ICON_SOURCES.join(', ')})`);
  if (sources.length === 0) throw new DataFormatError('no image-text source chosen');
  const dir = join(o.cacheDir ?? defaultCacheDir(), 'image-text', `icons-v${BUILD_VERSION}-${sources.join('+')}`);
  const metaPath = join(dir, 'pairs.json');
  const pixelsPath = join(dir, 'pixels.u8');
  if (!existsSync(metaPath) || !existsSync(pixelsPath)) await buildIconPairs(dir, sources, o);
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Omit<IconPairs, 'images' | 'labels'> & { labels: number[] };
  const images = new Uint8Array(readFileSync(pixelsPath));
  if (images.length !== meta.items.length * SIZE * SIZE * 3)
    throw new DataFormatError(`${pixelsPath}: ${images.length} bytes for ${meta.items.length} images; delete ${dir} to rebuild`);
  return { ...meta, images, labels: Int32Array.from(meta.labels) };
}

async function buildIconPairs(dir: string, sources: readonly IconSource[], o: IconPairsOptions): Promise<void> {
  const classes = [...Object.keys(SEEN_CLASSES), ...Object.keys(HELD_OUT_CLASSES)];
  const all = { ...SEEN_CLASSES, ...HELD_OUT_CLASSES };
  const byCategory = Object.fromEntries(ICON_SOURCES.map((s) => [s, classOf(all, s)])) as Record<IconSource, Map<string, string>>;
  const items: Item[] = [];
  if (sources.includes('emoji')) items.push(...emojiItems(npmPackageDir(ICON_PACKAGES.emoji, o), npmPackageDir(ICON_PACKAGES.keywords, o)));
  if (sources.includes('tabler')) items.push(...tablerItems(npmPackageDir(ICON_PACKAGES.tabler, o)));
  let openclipart: Record<string, number> | undefined;
  if (sources.includes('openclipart')) {
    const oc = openclipartDrawings(o);
    openclipart = oc.counts;
    for (const d of oc.drawings)
      items.push({ id: d.id, file: d.file, source: 'openclipart', parts: d.parts, group: d.group, category: d.folder });
  }
  const per = SIZE * SIZE * 3;
  const pixels = new Uint8Array(items.length * per);
  const bar = o.quiet ? null : new ProgressBar({ total: items.length, label: 'building image-text pairs', unit: 'img' });
  const failures: { index: number; why: string }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      const it = items[i]!;
      try {
        // tabler draws in currentColor: black on white.
        const src = it.source === 'tabler' ? Buffer.from(readFileSync(it.file, 'utf8').replace(/currentColor/g, '#000000')) : it.file;
        pixels.set(await flattenedImage(src, SIZE), i * per);
      } catch (err) {
        failures.push({ index: i, why: `${it.file}: ${(err as Error).message}` });
      }
      bar?.tick(1);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  bar?.finish();
  // The packages' own pictures all draw; a few of openclipart's 8,121 files are not valid XML.
  const broken = failures.filter((f) => items[f.index]!.source !== 'openclipart');
  if (broken.length > 0) throw new DataFormatError(`${broken.length} picture(s) failed to rasterize, e.g. ${broken[0]!.why}`);
  const undrawable = new Set(failures.map((f) => f.index));
  if (openclipart) openclipart.undrawable = undrawable.size;
  const labels = items.map((it) => {
    const map = byCategory[it.source];
    const cls = it.source === 'openclipart' ? folderClass(map, it.category) : map.get(it.category);
    return cls === undefined ? -1 : classes.indexOf(cls);
  });
  const words = items.map((it, i) => {
    const own = labels[i]! >= 0 ? classWordForms(classes[labels[i]!]!) : new Set<string>();
    return caption(it.parts, own).split(' ').filter(Boolean);
  });
  // An item whose caption is only its class's words has nothing left to say: dropped, counted.
  const keep = words.map((w, i) => (w.length > 0 && !undrawable.has(i) ? i : -1)).filter((i) => i >= 0);
  const kept = new Uint8Array(keep.length * per);
  keep.forEach((j, i) => kept.set(pixels.subarray(j * per, (j + 1) * per), i * per));
  const meta = {
    size: SIZE,
    emptyCaptionsDropped: words.filter((w) => w.length === 0).length,
    captions: keep.map((i) => words[i]!.join(' ')),
    items: keep.map((i) => items[i]!.id),
    groups: keep.map((i) => items[i]!.group),
    labels: keep.map((i) => labels[i]!),
    classes,
    heldOut: Object.keys(HELD_OUT_CLASSES),
    words: keep.map((i) => words[i]!),
    sources: [...sources],
    perSource: Object.fromEntries(sources.map((s) => [s, keep.filter((i) => items[i]!.source === s).length])),
    ...(openclipart ? { openclipart } : {}),
    packages: { ...ICON_PACKAGES, openclipart: OPENCLIPART_PACKAGE },
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pixels.u8.tmp'), kept);
  writeFileSync(join(dir, 'pairs.json.tmp'), JSON.stringify(meta));
  renameSync(join(dir, 'pixels.u8.tmp'), join(dir, 'pixels.u8'));
  renameSync(join(dir, 'pairs.json.tmp'), join(dir, 'pairs.json'));
}

export interface IconSplits {
  /** Seen classes and unclassified items, minus the validation groups and any group that shares a held-out item. */
  train: ImageTextPairs;
  /** About 10% of the seen groups, for every choice a run makes. */
  validation: ImageTextPairs;
  /** Every pair of the held-out classes, behind the one accessor. */
  test: TestSplit<ImageTextPairs>;
  heldOut: string[];
  seen: string[];
  /** Occurrences of each held-out class word (and its plural) in the training captions. */
  heldOutWordCounts: Record<string, number>;
  /** Training pairs whose captions lost words to the control (0 unless `control`). */
  controlCaptionsChanged: number;
}

/**
 * The benchmark's split: held-out classes are test (all of them), then groups are split 90/10
 * into train and validation. With `control`, every held-out class word is removed from the
 * training and validation captions (pairs left with no word are dropped): zero-shot must then
 * fall to chance, or something leaks.
 */
export function iconSplits(p: IconPairs, o: { control?: boolean } = {}): IconSplits {
  const held = new Set(p.heldOut.map((c) => p.classes.indexOf(c)));
  const heldGroups = new Set(p.groups.filter((_, i) => held.has(p.labels[i]!)));
  const testIdx: number[] = [];
  const rest: number[] = [];
  p.groups.forEach((g, i) => (held.has(p.labels[i]!) ? testIdx : heldGroups.has(g) ? null : rest)?.push(i));
  const { first, second } = splitByGroup(
    rest.map((i) => p.groups[i]!),
    0.1,
    VALIDATION_SEED,
  );
  const removed = new Set<string>();
  for (const c of p.heldOut) for (const w of classWordForms(c)) removed.add(w);
  let changed = 0;
  const counts: Record<string, number> = Object.fromEntries(p.heldOut.map((c) => [c, 0]));
  const withCaptions = (idx: number[], countWords: boolean): ImageTextPairs => {
    const kept: number[] = [];
    const captions: string[] = [];
    for (const i of idx) {
      const words = p.words[i]!;
      if (countWords) for (const c of p.heldOut) counts[c]! += words.filter((w) => classWordForms(c).has(w)).length;
      const left = o.control ? words.filter((w) => !removed.has(w)) : words;
      if (left.length !== words.length && countWords) changed++;
      if (left.length === 0) continue;
      kept.push(i);
      captions.push(left.join(' '));
    }
    return { ...selectPairs(p, kept), captions };
  };
  const train = withCaptions(
    first.map((j) => rest[j]!),
    true,
  );
  const validation = withCaptions(
    second.map((j) => rest[j]!),
    false,
  );
  const test = new TestSplit('the image-text benchmark (held-out classes)', () => Promise.resolve(selectPairs(p, testIdx)));
  return {
    train,
    validation,
    test,
    heldOut: p.heldOut,
    seen: p.classes.filter((c) => !p.heldOut.includes(c)),
    heldOutWordCounts: counts,
    controlCaptionsChanged: changed,
  };
}
