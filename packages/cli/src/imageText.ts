// The image-text commands: train a two-tower model on pairs (CLIP or SigLIP from scratch, or
// LiT on a pretrained image encoder), classify images into classes named on the command line
// (zero-shot), and find the images nearest a sentence (search).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  describeProblem,
  flattenedImage,
  iconSplits,
  IMAGE_EXTENSIONS,
  loadEncoder,
  loadIconPairs,
  loadImageText,
  readImageTextPairs,
  trainImageText,
  writeImageTextGallery,
  PROMPT_TEMPLATES,
  sentenceSimilarities,
  zeroShotProbabilities,
  type ImageTextPairs,
} from '@pretext/ssl';
import { UsageError } from './errors.js';
import { resolveEncoderArg } from './hub.js';

export const IMAGE_TEXT_HELP: Record<string, string> = {
  'image-text': `Usage: pretext image-text train --pairs FILE|DIR|icons --out DIR [--loss clip|siglip]
                [--image-encoder RUN|team/name] [--epochs N] [--batch B] [--lr X] [--seed S]

Trains an image tower and a text tower into one embedding space on (image, caption) pairs.
--pairs: a CSV or JSONL naming an image and a caption per line (columns/keys 'image' and
'text' or 'caption'), a folder of images each with a .txt caption beside it, or 'icons' (the
offline benchmark's training split: emoji and tabler icons with their names and tags).
Lines with a missing or undecodable image or an empty caption are listed and skipped.
--image-encoder: lock a pretrained image encoder (LiT) and train the text side only; without
it both towers train from scratch. --loss: clip (softmax over the batch, default) or siglip
(sigmoid per pair, better at small batches).`,
  'zero-shot': `Usage: pretext zero-shot --encoder DIR --classes "a,b,c" IMAGE... | FOLDER [--json]

Classifies images into the named classes with an image-text model: each class name is put
into the prompt templates (${PROMPT_TEMPLATES.map((t) => `"${t}"`).join(', ')}), the
template embeddings are averaged per class, and each image takes the nearest class.`,
  search: `Usage: pretext search --encoder DIR "a sentence" IMAGE... | FOLDER [--top K] [--json]

Prints the K images (default 5) nearest the sentence in an image-text model's shared space.`,
};

const positive = (v: string, what: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${what} must be a positive number, got '${v}'`);
  return n;
};

export async function imageTextCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      pairs: { type: 'string' },
      out: { type: 'string' },
      loss: { type: 'string', default: 'clip' },
      'image-encoder': { type: 'string' },
      epochs: { type: 'string', default: '20' },
      batch: { type: 'string', default: '128' },
      lr: { type: 'string', default: '0.001' },
      seed: { type: 'string', default: '0' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return (void console.log(IMAGE_TEXT_HELP['image-text']), 0);
  if (positionals[0] !== 'train' || !values.pairs || !values.out)
    throw new UsageError(`pretext image-text train needs --pairs and --out\n\n${IMAGE_TEXT_HELP['image-text']}`);
  if (values.loss !== 'clip' && values.loss !== 'siglip') throw new UsageError(`--loss must be clip or siglip, got '${values.loss}'`);
  let train: ImageTextPairs;
  if (values.pairs === 'icons') train = iconSplits(await loadIconPairs()).train;
  else {
    const { pairs, problems } = await readImageTextPairs(values.pairs);
    if (problems.length > 0)
      console.error(
        `${problems.length} line(s) skipped:\n${problems
          .slice(0, 20)
          .map(describeProblem)
          .join('\n')}${problems.length > 20 ? `\n  - ... and ${problems.length - 20} more` : ''}`,
      );
    train = pairs;
  }
  let image;
  if (values['image-encoder']) {
    const dir = await resolveEncoderArg(values['image-encoder']);
    const { encoder, meta } = loadEncoder(dir);
    if (meta.modality && meta.modality !== 'image')
      throw new UsageError(`${values['image-encoder']} is a ${meta.modality} encoder; LiT locks an image encoder`);
    encoder.eval();
    image = { encoder, spec: meta.encoder, norm: meta.inputNorm!, source: values['image-encoder'] };
  }
  const t = await trainImageText({
    train,
    loss: values.loss,
    outDir: values.out,
    image,
    epochs: positive(values.epochs, '--epochs'),
    batchSize: positive(values.batch, '--batch'),
    lr: positive(values.lr, '--lr'),
    seed: Number(values.seed),
  });
  // The model page searches these by a sentence once the model is pushed.
  const gallery = await writeImageTextGallery(values.out, t, train, { seed: Number(values.seed) });
  t.model.dispose();
  console.log(
    `trained on ${t.meta.trainPairs} pairs in ${(t.meta.trainSeconds / 60).toFixed(1)} min (${t.meta.trainSteps} steps, final loss ${t.result.lastLoss.toFixed(3)}); ${t.captionsCut} caption(s) longer than ${t.meta.length} tokens were cut; model and a gallery of ${gallery.items.length} training images in ${values.out}`,
  );
  return 0;
}

/** Image files named on the command line, or every image (and SVG) under a folder. */
function imageFiles(args: string[]): string[] {
  const exts = [...IMAGE_EXTENSIONS, '.svg'];
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (exts.includes(extname(name).toLowerCase())) out.push(p);
    }
  };
  for (const a of args) {
    if (!existsSync(a)) throw new UsageError(`${a}: no such file or folder`);
    if (statSync(a).isDirectory()) walk(a);
    else out.push(a);
  }
  if (out.length === 0) throw new UsageError(`no image among ${args.join(', ')}`);
  return out;
}

/** Decodes the images at the model's stored size; undecodable files are reported and left out. */
async function readImages(files: string[], size: number): Promise<{ files: string[]; pixels: Uint8Array }> {
  const ok: string[] = [];
  const parts: Buffer[] = [];
  for (const f of files) {
    try {
      parts.push(await flattenedImage(f, size));
      ok.push(f);
    } catch (err) {
      console.error(`${f}: skipped, the image does not decode (${(err as Error).message})`);
    }
  }
  if (ok.length === 0) throw new UsageError('none of the images decodes');
  return { files: ok, pixels: new Uint8Array(Buffer.concat(parts)) };
}

async function modelAndImages(encoder: string | undefined, rest: string[], usage: string) {
  if (!encoder || rest.length === 0) throw new UsageError(usage);
  const model = loadImageText(existsSync(encoder) ? encoder : await resolveEncoderArg(encoder));
  const size = Math.max(model.meta.imageSize, 64);
  const { files, pixels } = await readImages(imageFiles(rest), size);
  return { model, files, pixels, size };
}

export async function zeroShotCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      encoder: { type: 'string' },
      classes: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return (void console.log(IMAGE_TEXT_HELP['zero-shot']), 0);
  const classes = (values.classes ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  if (classes.length < 2)
    throw new UsageError(`pretext zero-shot needs --classes with at least two names\n\n${IMAGE_TEXT_HELP['zero-shot']}`);
  const { model, files, pixels, size } = await modelAndImages(
    values.encoder,
    positionals,
    `pretext zero-shot needs --encoder and images\n\n${IMAGE_TEXT_HELP['zero-shot']}`,
  );
  const rows = zeroShotProbabilities(model, pixels, size, classes, PROMPT_TEMPLATES);
  const out = files.map((f, i) => {
    const p = rows[i]!;
    const best = p.indexOf(Math.max(...p));
    return {
      image: f,
      prediction: classes[best]!,
      probabilities: Object.fromEntries(classes.map((c, k) => [c, Number(p[k]!.toFixed(4))])),
    };
  });
  if (values.json) console.log(JSON.stringify(out));
  else
    for (const r of out)
      console.log(`${r.prediction.padEnd(16)} ${(100 * r.probabilities[r.prediction]!).toFixed(1).padStart(5)}%  ${r.image}`);
  return 0;
}

export async function searchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      encoder: { type: 'string' },
      top: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return (void console.log(IMAGE_TEXT_HELP.search), 0);
  const [query, ...rest] = positionals;
  const k = Number(values.top);
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`--top must be a positive integer, got '${values.top}'`);
  if (!query) throw new UsageError(`pretext search needs a sentence\n\n${IMAGE_TEXT_HELP.search}`);
  const { model, files, pixels, size } = await modelAndImages(
    values.encoder,
    rest,
    `pretext search needs --encoder and images\n\n${IMAGE_TEXT_HELP.search}`,
  );
  const sims = sentenceSimilarities(model, pixels, size, query);
  const ranked = sims
    .map((s, i) => ({ image: files[i]!, similarity: Number(s.toFixed(4)) }))
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, k);
  if (values.json) console.log(JSON.stringify({ query, results: ranked }));
  else for (const r of ranked) console.log(`${r.similarity.toFixed(3)}  ${r.image}`);
  return 0;
}
