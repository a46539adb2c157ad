// Image-text benchmark on the offline icon pairs (emoji, tabler icons and openclipart drawings;
// held-out classes fixed in packages/data/src/imageText/iconPairs.ts): CLIP and SigLIP from scratch, LiT on a SimCLR
// tower pretrained on the training images and on a random frozen tower (the control LiT must
// beat), the word-removal control (every held-out class word removed from training captions:
// zero-shot must fall to chance), and a linear floor (ridge from pixels to bag-of-words
// captions). One JSON line per arm x metric:
//   {"case":"zero-shot"|"retrieval","method","tower","batch","split","metric","mean","std","seeds","train_min"}
// plus {"case":"data",...}, {"case":"ssl-tower",...} and the speed case {"case":"clip-step","ratio"}
// (PyTorch seconds / Pretext seconds for the same towers, batch and optimizer).
//
//   npm run bench:multimodal                                  the protocol (hours on 2 cores)
//   npm run bench:multimodal -- --seeds 1 --arms clip --augment crop --validation-only   a choice, on validation
//   npm run bench:multimodal -- --arms none                   the speed case only
//   npm run bench:multimodal -- --sources emoji,tabler        the pairs of some sources only
//
// Epochs, batch sizes, templates and held-out classes are fixed before any test score; the
// ridge penalty is chosen on the validation groups. The test split (the held-out classes) is
// read once, after every arm has trained.
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import {
  buildEncoder,
  captionWords,
  colorJitter,
  compose,
  embedCaptions,
  embedPairImages,
  iconSplits,
  imageStats,
  ImageTextModel,
  normalizeInput,
  loadIconPairs,
  pixelsToImages,
  pretrain,
  randomResizedCrop,
  retrieval,
  SimCLR,
  trainImageText,
  trainStep,
  zeroShot,
  PROMPT_TEMPLATES,
  ICON_SOURCES,
  type IconSource,
  type EncoderSpec,
  type ImageTextPairs,
  type InputNorm,
  type Encoder,
  type PairLoss,
  type TrainedImageText,
} from '@pretext/ssl';
import { alternateWithPyTorch } from './worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    seeds: { type: 'string', default: '3' },
    // Validation retrieval of CLIP from scratch levels off by epoch 9-12 (about 5 train-minutes at 15).
    epochs: { type: 'string', default: '15' },
    'ssl-epochs': { type: 'string', default: '30' },
    batch: { type: 'string', default: '128' },
    'loss-batches': { type: 'string', default: '64,256' },
    arms: { type: 'string', default: 'floor,clip,siglip-vs-clip,control,lit-simclr,lit-random' },
    'skip-speed': { type: 'boolean', default: false },
    // Choices: train and report validation figures only, never reading the test split.
    'validation-only': { type: 'boolean', default: false },
    // Image views of the from-scratch tower: none (chosen on validation) or crop.
    augment: { type: 'string', default: 'none' },
    sources: { type: 'string', default: ICON_SOURCES.join(',') },
    out: { type: 'string', default: join(here, 'out', 'multimodal') },
    threads: { type: 'string', default: String(availableParallelism()) },
  },
});
torch.setNumThreads(Number(args.threads));
const emit = (o: object): void => console.log(JSON.stringify(o));
const seeds = Array.from({ length: Number(args.seeds) }, (_, i) => i);
const epochs = Number(args.epochs);
const batch = Number(args.batch);
const arms = new Set(args.arms.split(','));
const SIZE = 32;

const pairs = await loadIconPairs({ sources: args.sources.split(',') as IconSource[] });
const split = iconSplits(pairs);
const control = iconSplits(pairs, { control: true });
const heldOut = split.heldOut;
emit({
  case: 'data',
  pairs: pairs.items.length,
  sources: pairs.perSource,
  ...(pairs.openclipart ? { openclipart: pairs.openclipart } : {}),
  train: split.train.captions.length,
  validation: split.validation.captions.length,
  heldOutClasses: heldOut,
  heldOutWordCounts: split.heldOutWordCounts,
  controlCaptionsChanged: control.controlCaptionsChanged,
});

interface Trained {
  trainMinutes: number;
  /** Validation figures (what choices between settings read). */
  validation: Record<string, number>;
  score: (test: ImageTextPairs) => Record<string, number>;
}
interface Arm {
  method: string;
  tower: string;
  batch: number;
  /** Trains one seed; the returned function scores it on the test split. */
  run: (seed: number) => Promise<Trained>;
}

/** Scores of a trained model on the held-out pairs: zero-shot over the held-out classes and retrieval among them. */
function modelScores(m: TrainedImageText, test: ImageTextPairs): Record<string, number> {
  const zi = embedPairImages(m, test.images, test.size);
  const zt = embedCaptions(m, test.captions);
  try {
    return scoresOf(zi, zt, test, (texts) => embedCaptions(m, texts));
  } finally {
    zi.dispose();
    zt.dispose();
  }
}

function scoresOf(zi: Tensor, zt: Tensor, test: ImageTextPairs, embedTexts: (t: string[]) => Tensor): Record<string, number> {
  const labels = Int32Array.from(test.labels, (l) => heldOut.indexOf(test.classes[l]!));
  const z = zeroShot(zi, labels, heldOut, PROMPT_TEMPLATES, embedTexts);
  const r = retrieval(zi, zt);
  const out: Record<string, number> = { top1: z.top1 };
  for (const [t, v] of Object.entries(z.perTemplate)) out[`top1 "${t}"`] = v;
  for (const [dir, v] of [
    ['t2i', r.textToImage],
    ['i2t', r.imageToText],
  ] as const) {
    out[`${dir}_r1`] = v.r1;
    out[`${dir}_r5`] = v.r5;
    out[`${dir}_r10`] = v.r10;
    out[`${dir}_median_rank`] = v.medianRank;
  }
  return out;
}

/** Validation retrieval among the validation groups (logged each epoch; the runs' curves). */
const validate =
  (v: ImageTextPairs) =>
  (m: TrainedImageText): Record<string, number> => {
    const zi = embedPairImages(m, v.images, v.size);
    const zt = embedCaptions(m, v.captions);
    try {
      return { val_t2i_r5: retrieval(zi, zt).textToImage.r5 };
    } finally {
      zi.dispose();
      zt.dispose();
    }
  };

const towerSpec: EncoderSpec = { type: 'small-cnn', config: { inChannels: 3, width: 32, depth: 3, inputSize: SIZE, readoutNorm: true } };

function pairArm(
  method: string,
  loss: PairLoss,
  b: number,
  data = split,
  tower?: () => Promise<{ encoder: Encoder; norm: InputNorm; source: string }>,
  towerName = 'scratch',
): Arm {
  return {
    method,
    tower: towerName,
    batch: b,
    run: async (seed) => {
      const image = tower ? { ...(await tower()), spec: towerSpec } : undefined;
      const t = await trainImageText({
        train: data.train,
        loss,
        outDir: join(args.out, `${method}-${towerName}-b${b}-s${seed}`),
        imageSize: SIZE,
        image,
        epochs,
        batchSize: b,
        seed,
        augment: args.augment === 'crop' && !image ? randomResizedCrop({ scale: [0.5, 1], flip: 0 }) : undefined,
        validate: validate(data.validation),
      });
      return { trainMinutes: t.meta.trainSeconds / 60, validation: validate(data.validation)(t), score: (test) => modelScores(t, test) };
    },
  };
}

/** SimCLR on the training images (no captions), once; the LiT arms lock it. */
let sslTower: { encoder: Encoder; norm: InputNorm; source: string } | null = null;
async function simclrTower(): Promise<{ encoder: Encoder; norm: InputNorm; source: string }> {
  if (sslTower) return sslTower;
  const images = torch.keep(torch.tidy(() => pixelsToImages(split.train.images, split.train.size, SIZE).mul(255).round().to('uint8')));
  const norm = imageStats(images);
  const method = new SimCLR(() => buildEncoder(towerSpec), { temperature: 0.2 });
  const r = await pretrain({
    method,
    images,
    augment: compose(randomResizedCrop({ scale: [0.3, 1] }), colorJitter()),
    norm,
    config: {
      epochs: Number(args['ssl-epochs']),
      batchSize: 256,
      optimizer: { name: 'adamw', lr: 2e-3, weightDecay: 1e-4 },
      schedule: { name: 'warmup-cosine', warmupEpochs: 1 },
      seed: 0,
    },
    outDir: join(args.out, 'simclr-tower'),
  });
  images.dispose();
  emit({
    case: 'ssl-tower',
    method: 'simclr',
    images: split.train.captions.length,
    epochs: Number(args['ssl-epochs']),
    train_min: Number((r.trainSeconds / 60).toFixed(2)),
  });
  method.backbone.eval();
  sslTower = { encoder: method.backbone, norm, source: 'SimCLR on the benchmark training images' };
  return sslTower;
}

async function randomTower(): Promise<{ encoder: Encoder; norm: InputNorm; source: string }> {
  const images = pixelsToImages(split.train.images, split.train.size, SIZE);
  const norm = imageStats(images);
  images.dispose();
  const encoder = buildEncoder(towerSpec);
  // The random tower's readout BatchNorm needs statistics: one pass over the training images in train mode.
  torch.noGrad(() =>
    torch.tidy(() => {
      encoder.train();
      const x = pixelsToImages(split.train.images, split.train.size, SIZE);
      for (let i = 0; i + 256 <= x.size(0); i += 256) encoder.forward(normalizeInput(x.narrow(0, i, 256), norm));
    }),
  );
  encoder.eval();
  return { encoder, norm, source: 'randomly initialized (control)' };
}

/** The linear floor: ridge regression from 16x16 pixels to the captions' bag of words; the penalty chosen on validation. */
function floorArm(): Arm {
  return {
    method: 'ridge',
    tower: 'pixels',
    batch: 0,
    run: async () => {
      const t0 = performance.now();
      const vocab = new Map<string, number>();
      const counts = new Map<string, number>();
      for (const c of split.train.captions) for (const w of new Set(captionWords(c))) counts.set(w, (counts.get(w) ?? 0) + 1);
      for (const [w, n] of counts) if (n >= 2) vocab.set(w, vocab.size);
      const bow = (texts: readonly string[]): Tensor => {
        const m = new Float32Array(texts.length * vocab.size);
        texts.forEach((t, i) => {
          for (const w of captionWords(t)) {
            const j = vocab.get(w);
            if (j !== undefined) m[i * vocab.size + j] = 1;
          }
        });
        return torch.nn.functional.normalize(torch.tensor(m, { shape: [texts.length, vocab.size] }));
      };
      const pixels = (p: ImageTextPairs): Tensor => pixelsToImages(p.images, p.size, 16).flatten(1);
      const state = torch.tidy(() => {
        const x = pixels(split.train);
        const mean = x.mean(0, true);
        const { u, s, vh } = torch.linalg.svd(x.sub(mean));
        return { mean, u, s, vh, uty: u.t().matmul(bow(split.train.captions)) };
      });
      torch.keep([state.mean, state.u, state.s, state.vh, state.uty]);
      // W = V diag(s / (s^2 + lambda)) U^T Y
      const weights = (lambda: number): Tensor =>
        torch.tidy(() => state.vh.t().matmul(state.uty.mul(state.s.div(state.s.square().add(lambda)).unsqueeze(1))));
      const embed = (w: Tensor, p: ImageTextPairs): Tensor => torch.nn.functional.normalize(pixels(p).sub(state.mean).matmul(w));
      let best = { lambda: 0, r5: -1 };
      for (const lambda of [1, 10, 100, 1000, 10000]) {
        const r5 = torch.tidy(() => retrieval(embed(weights(lambda), split.validation), bow(split.validation.captions)).textToImage.r5);
        if (r5 > best.r5) best = { lambda, r5 };
      }
      const w = torch.keep(weights(best.lambda));
      const trainMinutes = (performance.now() - t0) / 60000;
      return {
        trainMinutes,
        validation: { val_t2i_r5: best.r5 },
        score: (test) =>
          torch.tidy(() => ({ ...scoresOf(embed(w, test), bow(test.captions), test, (texts) => bow(texts)), lambda: best.lambda })),
      };
    },
  };
}

const all: Arm[] = [];
if (arms.has('floor')) all.push(floorArm());
if (arms.has('clip')) all.push(pairArm('clip', 'clip', batch));
if (arms.has('siglip-vs-clip'))
  for (const b of args['loss-batches'].split(',').map(Number)) all.push(pairArm('clip', 'clip', b), pairArm('siglip', 'siglip', b));
if (arms.has('control')) all.push(pairArm('clip-word-removal-control', 'clip', batch, control));
if (arms.has('lit-simclr')) all.push(pairArm('lit', 'clip', batch, split, simclrTower, 'simclr'));
if (arms.has('lit-random')) all.push(pairArm('lit', 'clip', batch, split, randomTower, 'random'));

/** One line per arm x metric: mean and sample std over the seeds. */
function emitScores(rows: { arm: Arm; scores: Record<string, number>; minutes: number }[], split: string): void {
  const arms = [...new Set(rows.map((r) => r.arm))];
  for (const arm of arms) {
    const mine = rows.filter((r) => r.arm === arm);
    for (const metric of Object.keys(mine[0]!.scores)) {
      const v = mine.map((r) => r.scores[metric]!);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const std = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
      emit({
        case: metric.startsWith('top1') ? 'zero-shot' : 'retrieval',
        method: arm.method,
        tower: arm.tower,
        batch: arm.batch,
        split,
        metric,
        mean: Number(mean.toFixed(4)),
        std: Number(std.toFixed(4)),
        seeds: v.length,
        train_min: Number((mine.reduce((a, r) => a + r.minutes, 0) / mine.length).toFixed(2)),
      });
    }
  }
}

// Train everything first, then read the test split once for all final scores.
const trained: ({ arm: Arm; seed: number } & Trained)[] = [];
for (const arm of all) for (const seed of arm.method === 'ridge' ? [0] : seeds) trained.push({ arm, seed, ...(await arm.run(seed)) });
emitScores(
  trained.map((t) => ({ arm: t.arm, scores: t.validation, minutes: t.trainMinutes })),
  `validation (${split.validation.captions.length} pairs of seen classes)`,
);
if (trained.length > 0 && !args['validation-only']) {
  const test = await split.test.forFinalScore('final zero-shot and retrieval scores of every arm');
  emitScores(
    trained.map((t) => ({ arm: t.arm, scores: t.score(test), minutes: t.trainMinutes })),
    `test (${heldOut.length} held-out classes, ${test.captions.length} pairs)`,
  );
  const majority = Math.max(...heldOut.map((c) => test.labels.filter((l) => test.classes[l] === c).length)) / test.captions.length;
  emit({ case: 'chance', classes: heldOut.length, uniform: 1 / heldOut.length, majorityClass: Number(majority.toFixed(4)) });
}

if (!args['skip-speed']) {
  const shape = {
    vocab: 2000,
    length: 32,
    realTokens: 16,
    batch,
    dModel: 128,
    layers: 2,
    heads: 4,
    imageSize: SIZE,
    embedDim: 128,
    warmup: 3,
    steps: 10,
    threads: Number(args.threads),
  };
  const { pytorch, pretext } = await alternateWithPyTorch(join(here, 'multimodal_torch.py'), shape, 'stepSeconds', () =>
    clipStepSeconds(shape),
  );
  emit({
    case: 'clip-step',
    ...shape,
    pytorchSeconds: Number(pytorch.toFixed(4)),
    pretextSeconds: Number(pretext.toFixed(4)),
    ratio: Number((pytorch / pretext).toFixed(3)),
  });
}

/** Median seconds of a CLIP step through the trainer's step function on random inputs of the same shapes. */
function clipStepSeconds(s: {
  vocab: number;
  length: number;
  realTokens: number;
  batch: number;
  imageSize: number;
  warmup: number;
  steps: number;
}): number {
  torch.manualSeed(0);
  const text: EncoderSpec = {
    type: 'text-transformer',
    config: { vocabSize: s.vocab, padId: 0, clsId: 2, sepId: 3, maskId: 4, maxLength: s.length, dModel: 128, layers: 2, heads: 4 },
  };
  const model = new ImageTextModel(
    () => buildEncoder(towerSpec),
    () => buildEncoder(text),
    { loss: 'clip' },
  );
  model.train();
  const opt = new torch.optim.AdamW(model.trainableParameters(), { lr: 1e-3, weightDecay: 0.1 });
  const x = torch.keep(torch.randn([s.batch, 3, s.imageSize, s.imageSize]));
  const ids = new BigInt64Array(s.batch * s.length);
  for (let i = 0; i < s.batch; i++)
    for (let j = 0; j < s.length; j++)
      ids[i * s.length + j] = BigInt(
        j === 0 ? 2 : j === s.realTokens - 1 ? 3 : j >= s.realTokens ? 0 : 5 + ((i * 31 + j * 7) % (s.vocab - 5)),
      );
  const idT = torch.keep(torch.tensor(ids, { shape: [s.batch, s.length] }));
  const g = new torch.Generator(0);
  const times: number[] = [];
  for (let step = 0; step < s.warmup + s.steps; step++) {
    const t0 = performance.now();
    trainStep({ method: model, optimizer: opt, generator: g, makeViews: () => [x, idT] }, torch.keep(torch.zeros([1])));
    if (step >= s.warmup) times.push((performance.now() - t0) / 1000);
  }
  x.dispose();
  idT.dispose();
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}
