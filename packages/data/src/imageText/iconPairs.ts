// The offline image-text benchmark: about 9,700 small pictures with words, built from three
// npm packages pinned by sha256 (fetched like every other npm data set: the cache first, then
// `npm pack`):
//   - emoji-datasource-google: 1,911 emoji and 1,875 skin-tone variants as 64x64 PNGs, with
//     Unicode names, short names, categories and subcategories;
//   - emojilib: keywords for each emoji;
//   - @tabler/icons: 4,963 outline and 981 filled SVG icons with names, tags and categories,
//     rasterized by sharp (libvips with librsvg).
// Captions are an item's name and keywords, never its class's own words. Classes unify both
// sources' categories under one name ("vehicle" = three emoji subcategories + tabler's
// Vehicles), so holding a class out removes every image of it. Groups keep an emoji's skin
// tones and gendered forms, an icon's outline and filled forms, and numbered series together.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataFormatError } from '../errors.js';
import { defaultCacheDir } from '../fashionMnist.js';
import { npmPackageDir, type NpmFetchOptions, type NpmTarball } from '../npmPackage.js';
import { ProgressBar } from '../progress.js';
import { TestSplit, VALIDATION_SEED } from '../splits.js';
import { flattenedImage, selectPairs, splitByGroup, type ImageTextPairs } from './pairs.js';

export const ICON_PACKAGES = {
  emoji: { name: 'emoji-datasource-google', version: '16.0.0', sha256: 'fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438' },
  keywords: { name: 'emojilib', version: '4.0.3', sha256: '7f9a6b43cff31d18985b7d65d11faba5bd971cbcc60020cf6d09322fbaaaf303' },
  tabler: { name: '@tabler/icons', version: '3.34.0', sha256: 'da56239a52b164fe73cf89b7f41c5a7fe1cd27d3fc394e11fb653d825db6d7cf' },
} as const satisfies Record<string, NpmTarball>;

/** One class: the emoji subcategories and tabler categories it gathers. */
interface ClassSource {
  emoji?: string[];
  tabler?: string[];
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
  },
  plant: { emoji: ['plant-flower', 'plant-other'], tabler: ['Nature'] },
  food: {
    emoji: ['food-fruit', 'food-vegetable', 'food-prepared', 'food-asian', 'food-sweet', 'drink', 'dishware'],
    tabler: ['Food'],
  },
  weather: { emoji: ['sky & weather'], tabler: ['Weather'] },
  vehicle: { emoji: ['transport-ground', 'transport-air', 'transport-water'], tabler: ['Vehicles'] },
  sport: { emoji: ['sport', 'person-sport', 'award-medal'], tabler: ['Sport'] },
  music: { emoji: ['musical-instrument', 'music'] },
  clothing: { emoji: ['clothing'] },
  building: { emoji: ['place-building', 'place-religious', 'hotel'], tabler: ['Buildings'] },
  money: { emoji: ['money', 'currency'], tabler: ['Currencies'] },
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
  },
  person: {
    emoji: ['person', 'person-role', 'person-activity', 'person-gesture', 'person-fantasy', 'person-resting', 'person-symbol', 'family'],
  },
  hand: {
    emoji: ['hand-fingers-open', 'hand-fingers-partial', 'hand-single-finger', 'hand-fingers-closed', 'hands', 'hand-prop'],
    tabler: ['Gestures'],
  },
  heart: { emoji: ['heart', 'emotion'] },
  flag: { emoji: ['country-flag', 'flag', 'subdivision-flag'] },
  arrow: { emoji: ['arrow'], tabler: ['Arrows'] },
  alphabet: { emoji: ['alphanum'], tabler: ['Letters', 'Text'] },
  number: { emoji: ['keycap'], tabler: ['Numbers'] },
  shape: { emoji: ['geometric'], tabler: ['Shapes'] },
  document: { emoji: ['book-paper', 'office', 'writing'], tabler: ['Document'] },
  computer: { emoji: ['computer', 'phone'], tabler: ['Computers', 'Devices', 'Database', 'Development'] },
  clock: { emoji: ['time'] },
  tool: { emoji: ['tool', 'household', 'science', 'lock'] },
  chart: { tabler: ['Charts'] },
  camera: { emoji: ['light & video'], tabler: ['Photography'] },
  mail: { emoji: ['mail'], tabler: ['Communication'] },
  math: { emoji: ['math'], tabler: ['Math', 'Logic'] },
  gender: { emoji: ['gender'], tabler: ['Gender'] },
  zodiac: { emoji: ['zodiac'], tabler: ['Zodiac'] },
  game: { emoji: ['game', 'event'], tabler: ['Games'] },
  logo: { tabler: ['Brand'] },
  medicine: { emoji: ['medical', 'body-parts'], tabler: ['Health'] },
  media: { emoji: ['av-symbol', 'sound'], tabler: ['Media'] },
  shopping: { tabler: ['E-commerce'] },
  map: { emoji: ['place-map', 'place-geographic', 'place-other', 'transport-sign'], tabler: ['Map'] },
  design: { emoji: ['arts & crafts'], tabler: ['Design'] },
  interface: { tabler: ['System', 'Sytem', 'Extensions', 'Version control', 'Badges'] },
  laundry: { tabler: ['Laundry'] },
  electricity: { tabler: ['Electrical'] },
  symbol: { emoji: ['religion', 'warning', 'other-symbol', 'punctuation'], tabler: ['Symbols'] },
};

/** The prompt templates zero-shot classification averages over, fixed before any test score. */
export const PROMPT_TEMPLATES = ['an icon of {}.', 'an emoji of {}.', 'a drawing of {}.', '{}'] as const;

const BUILD_VERSION = 1;
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
  svg: boolean;
  parts: string[];
  group: string;
  category: string;
}

function classOf(all: Record<string, ClassSource>, kind: 'emoji' | 'tabler'): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, src] of Object.entries(all)) for (const c of src[kind] ?? []) m.set(c, name);
  return m;
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
    out.push({ id: `emoji:${e.unified}`, file: join(imgDir, e.image), svg: false, parts, group, category: e.subcategory });
    for (const v of Object.values(e.skin_variations ?? {})) {
      if (!v.has_img_google) continue;
      const tones = v.unified
        .split('-')
        .map((h) => SKIN_TONES[h])
        .filter((t): t is string => t !== undefined);
      out.push({
        id: `emoji:${v.unified}`,
        file: join(imgDir, v.image),
        svg: false,
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
        svg: true,
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
}

/** Reads the cached build, or builds it from the three packages (fetched when allowed). */
export async function loadIconPairs(o: NpmFetchOptions & { quiet?: boolean } = {}): Promise<IconPairs> {
  const dir = join(o.cacheDir ?? defaultCacheDir(), 'image-text', `icons-v${BUILD_VERSION}`);
  const metaPath = join(dir, 'pairs.json');
  const pixelsPath = join(dir, 'pixels.u8');
  if (!existsSync(metaPath) || !existsSync(pixelsPath)) await buildIconPairs(dir, o);
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Omit<IconPairs, 'images' | 'labels'> & { labels: number[] };
  const images = new Uint8Array(readFileSync(pixelsPath));
  if (images.length !== meta.items.length * SIZE * SIZE * 3)
    throw new DataFormatError(`${pixelsPath}: ${images.length} bytes for ${meta.items.length} images; delete ${dir} to rebuild`);
  return { ...meta, images, labels: Int32Array.from(meta.labels) };
}

async function buildIconPairs(dir: string, o: NpmFetchOptions & { quiet?: boolean }): Promise<void> {
  const emojiDir = npmPackageDir(ICON_PACKAGES.emoji, o);
  const keywordsDir = npmPackageDir(ICON_PACKAGES.keywords, o);
  const tablerDir = npmPackageDir(ICON_PACKAGES.tabler, o);
  const classes = [...Object.keys(SEEN_CLASSES), ...Object.keys(HELD_OUT_CLASSES)];
  const all = { ...SEEN_CLASSES, ...HELD_OUT_CLASSES };
  const byEmoji = classOf(all, 'emoji');
  const byTabler = classOf(all, 'tabler');
  const items = [...emojiItems(emojiDir, keywordsDir), ...tablerItems(tablerDir)];
  const per = SIZE * SIZE * 3;
  const pixels = new Uint8Array(items.length * per);
  const bar = o.quiet ? null : new ProgressBar({ total: items.length, label: 'building image-text pairs', unit: 'img' });
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      const it = items[i]!;
      try {
        const src = it.svg ? Buffer.from(readFileSync(it.file, 'utf8').replace(/currentColor/g, '#000000')) : it.file;
        pixels.set(await flattenedImage(src, SIZE), i * per);
      } catch (err) {
        failures.push(`${it.file}: ${(err as Error).message}`);
      }
      bar?.tick(1);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  bar?.finish();
  if (failures.length > 0) throw new DataFormatError(`${failures.length} picture(s) failed to rasterize, e.g. ${failures[0]}`);
  const labels = items.map((it) => {
    const cls = (it.svg ? byTabler : byEmoji).get(it.category);
    return cls === undefined ? -1 : classes.indexOf(cls);
  });
  const words = items.map((it, i) => {
    const own = labels[i]! >= 0 ? classWordForms(classes[labels[i]!]!) : new Set<string>();
    return caption(it.parts, own).split(' ').filter(Boolean);
  });
  // An item whose caption is only its class's words has nothing left to say: dropped, counted.
  const keep = words.map((w, i) => (w.length > 0 ? i : -1)).filter((i) => i >= 0);
  const kept = new Uint8Array(keep.length * per);
  keep.forEach((j, i) => kept.set(pixels.subarray(j * per, (j + 1) * per), i * per));
  const meta = {
    size: SIZE,
    emptyCaptionsDropped: items.length - keep.length,
    captions: keep.map((i) => words[i]!.join(' ')),
    items: keep.map((i) => items[i]!.id),
    groups: keep.map((i) => items[i]!.group),
    labels: keep.map((i) => labels[i]!),
    classes,
    heldOut: Object.keys(HELD_OUT_CLASSES),
    words: keep.map((i) => words[i]!),
    packages: ICON_PACKAGES,
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
