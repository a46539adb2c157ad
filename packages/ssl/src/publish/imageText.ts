// What an image-text run publishes: both towers, both projections and the scale in
// model.safetensors, the caption vocabulary and image-text.json, as one hub model; its card
// says what each tower is and how to use it (zero-shot, search).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { ImageTextMeta } from '../modalities/imageText/run.js';
import type { Publication } from './publication.js';

const IMAGE_TEXT_FILES = /^(model\.safetensors|image-text\.json|vocab\.model|metrics\.jsonl|scores\.json|[a-z-]+\.(png|svg))$/;

/** The method a run's card and lineage name: LiT when the image tower was locked, else the loss. */
export const imageTextMethod = (m: ImageTextMeta): string => (m.lockedImageFrom ? `lit-${m.loss}` : m.loss);

export function prepareImageTextPublication(dir: string, ref: string, o: { license?: string; codeVersion: string }): Publication {
  const meta = JSON.parse(readFileSync(join(dir, 'image-text.json'), 'utf8')) as ImageTextMeta;
  const method = imageTextMethod(meta);
  const text = meta.text.config as { vocabSize: number; dModel?: number; layers?: number; heads?: number };
  const front = {
    license: o.license ?? 'other',
    library_name: 'pretext',
    tags: ['self-supervised', 'image-text', method, meta.image.type, meta.text.type],
    pipeline_tag: 'zero-shot-image-classification',
  };
  const tower = meta.lockedImageFrom ? `locked (LiT), from ${meta.lockedImageFrom}` : 'trained from scratch with the text tower';
  const card = `---\n${toYaml(front)}---\n\n# ${ref}\n\nTwo towers in one ${meta.embedDim}-dimensional space, trained by Pretext with the ${meta.loss === 'clip' ? 'CLIP softmax' : 'SigLIP sigmoid'} pair loss on ${meta.trainPairs} image-caption pairs.\n\n| | |\n|---|---|\n| image tower | ${meta.image.type}, ${meta.imageChannels === 1 ? 'grey' : 'RGB'} ${meta.imageSize}x${meta.imageSize} input; ${tower} |\n| text tower | ${meta.text.type}: ${text.layers ?? 4} layers, ${text.dModel ?? 256} wide, ${text.heads ?? 4} heads; captions of up to ${meta.length} tokens |\n| vocabulary | ${text.vocabSize} SentencePiece pieces (${meta.vocabulary}) |\n| training | ${meta.trainSteps} steps, ${(meta.trainSeconds / 60).toFixed(1)} min |\n\nUse it with \`pretext pull ${ref}\`, then \`pretext zero-shot --encoder ${ref} --classes "a,b,c" images/\` or \`pretext search --encoder ${ref} "a sentence" images/\`.\n`;
  writeFileSync(join(dir, 'card.md'), card);
  return {
    card,
    files: readdirSync(dir)
      .filter((f) => IMAGE_TEXT_FILES.test(f) || f === 'card.md')
      .sort(),
    metrics: { trainSeconds: meta.trainSeconds, trainSteps: meta.trainSteps },
    lineage: {
      recipe: `image-text ${method}`,
      method,
      dataset: `${meta.trainPairs} image-caption pairs`,
      codeVersion: o.codeVersion,
      parentRun: basename(dir),
      createdAt: meta.createdAt,
      ...(meta.lockedImageFrom ? { imageTower: meta.lockedImageFrom } : {}),
    },
    model: { method, modality: 'image-text', tags: ['self-supervised', 'image-text', method] },
  };
}
