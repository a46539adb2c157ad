import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runPretext, serveHub, tinyImageRecipe } from './fixtures/cli.js';
import { TRANSFER_ARMS } from '@pretext/ssl';

const pretext = (...args: string[]): { code: number; stdout: string; stderr: string } => runPretext(cliEnv, ...args);

const pick = (o: Record<string, unknown>, ...keys: string[]): Record<string, unknown> => Object.fromEntries(keys.map((k) => [k, o[k]]));

/** Extra environment for the CLI under test (hub config and cache folders). */
const cliEnv: Record<string, string> = {};

const tinyRecipe = tinyImageRecipe('tiny', '{ width: 4, depth: 2, pool: flatten }', '  crop: {}\n  jitter: {}');

/** The tiny recipe on an image folder of 16x16 RGB images, batches of 16. */
function folderRecipe(data: string, extra = ''): string {
  return tinyRecipe
    .replace(
      'data: { dataset: fashion-mnist, limit: 512 }',
      `data: { dataset: image-folder, path: ${data}, size: 16, channels: 3${extra} }`,
    )
    .replace('batchSize: 64', 'batchSize: 16');
}

/** Two classes (reddish and bluish PNGs of varying size), 24 images each in train/ and test/. */
async function colourFolder(root: string): Promise<void> {
  for (const split of ['train', 'test']) {
    for (const [cls, colour] of [
      ['red', { r: 200, g: 40, b: 40 }],
      ['blue', { r: 40, g: 40, b: 200 }],
    ] as const) {
      mkdirSync(join(root, split, cls), { recursive: true });
      for (let i = 0; i < 24; i++) {
        const png = await sharp({ create: { width: 20 + i, height: 20, channels: 3, background: { ...colour, g: colour.g + 4 * i } } })
          .png()
          .toBuffer();
        writeFileSync(join(root, split, cls, `${i}.png`), png);
      }
    }
  }
}

describe('pretext CLI', () => {
  it('prints help for the command and each subcommand', () => {
    const main = pretext('--help');
    assert.equal(main.code, 0);
    assert.match(main.stdout, /Commands:\n\s+pretrain <recipe\.yaml>/);
    for (const cmd of ['pretrain', 'eval', 'baselines']) {
      const r = pretext(cmd, '--help');
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`^Usage: pretext ${cmd}`));
    }
  });

  it('exits 2 on an unknown command or missing arguments', () => {
    assert.equal(pretext('train').code, 2);
    assert.match(pretext('train').stderr, /unknown command 'train'/);
    assert.equal(pretext('pretrain').code, 2);
    assert.equal(pretext('eval').code, 2);
    const bad = pretext('pretrain', 'x.yaml', '--bogus');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Unknown option '--bogus'/);
    // A stray argument is a usage error with a pointer to the help, not a stack trace.
    const stray = pretext('eval', 'runs/some-run');
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /^pretext: Unexpected argument 'runs\/some-run'.*\(see pretext eval --help\)\n$/);
  });

  it('names every invalid recipe field and the allowed values', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    const path = join(dir, 'bad.yaml');
    writeFileSync(
      path,
      tinyRecipe.replace('name: simclr', 'name: simclrr').replace('lr: 0.002', 'lr: -1').replace('width: 4', 'width: 4, colour: red'),
    );
    const r = pretext('pretrain', path);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /method\.name: expected one of "simclr", "moco", "byol", "simsiam", "barlow-twins", "vicreg", "rotation"/);
    assert.match(r.stderr, /train\.optimizer\.lr: Too small/);
    assert.match(r.stderr, /encoder\.config: unknown field colour/);
    writeFileSync(path, 'name: [unclosed');
    assert.match(pretext('pretrain', path).stderr, /is not valid YAML/);
    assert.match(pretext('pretrain', join(dir, 'missing.yaml')).stderr, /cannot read recipe/);
  });

  it('pretrains from a recipe, writes the run folder, and evaluates the encoder again', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    writeFileSync(join(dir, 'tiny.yaml'), tinyRecipe);
    const out = join(dir, 'run');
    const r = pretext('pretrain', join(dir, 'tiny.yaml'), '--out', out, '--max-steps', '6', '--json');
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { steps: number; knn: number; method: string };
    assert.equal(result.steps, 6);
    assert.equal(result.method, 'simclr');
    assert.ok(result.knn > 0.3 && result.knn <= 1, `kNN ${result.knn}`);
    for (const f of ['encoder.safetensors', 'encoder.json', 'metrics.jsonl', 'scores.json', 'recipe.yaml', 'checkpoint/state.json']) {
      assert.ok(existsSync(join(out, f)), `${f} written`);
    }
    const final = JSON.parse(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').at(-1)!) as {
      stopped: string;
      step: number;
    };
    assert.deepEqual([final.stopped, final.step], ['max-steps', 6]);
    const last = JSON.parse(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').at(-2)!) as {
      step: number;
      embedding_std: number;
    };
    assert.equal(last.step, 6, 'a run shorter than the log interval still measures its last step');
    assert.ok(last.embedding_std > 0);
    const meta = JSON.parse(readFileSync(join(out, 'encoder.json'), 'utf8')) as {
      encoder: { type: string };
      outDim: number;
      dataFingerprint: string;
    };
    assert.equal(meta.encoder.type, 'small-cnn');
    assert.equal(meta.outDim, 8 * 7 * 7);
    assert.match(meta.dataFingerprint, /^sha256:[0-9a-f]{64}$/);
    const again = pretext('eval', '--encoder', out, '--json');
    assert.equal(again.code, 0, again.stderr);
    const scores = JSON.parse(again.stdout) as { knn: number; linear: number };
    assert.equal(scores.knn, result.knn, 'the rebuilt encoder gives the same kNN accuracy');
    assert.ok(scores.linear > 0.5);
  });

  it('pretrains on an image folder streamed from disk, then scores the encoder on it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-folder-'));
    await colourFolder(join(dir, 'data'));
    const recipe = folderRecipe(join(dir, 'data'), ', stream: true');
    writeFileSync(join(dir, 'folder.yaml'), recipe);
    const out = join(dir, 'run');
    const r = pretext('pretrain', join(dir, 'folder.yaml'), '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { steps: number; knn: number };
    assert.equal(result.steps, 3, '48 images in batches of 16, one epoch');
    assert.equal(result.knn, 1, 'the two colours are told apart');
    const meta = JSON.parse(readFileSync(join(out, 'encoder.json'), 'utf8')) as {
      inputShape: number[];
      inputNorm: { mean: number[] };
      encoder: { config: { inChannels: number } };
      dataset: string;
    };
    assert.deepEqual(meta.inputShape, [3, 16, 16]);
    assert.equal(meta.encoder.config.inChannels, 3);
    assert.equal(meta.inputNorm.mean.length, 3);
    assert.ok(meta.inputNorm.mean[0]! > meta.inputNorm.mean[1]!, 'red and blue average above green');
    assert.equal(meta.dataset, `image-folder:${join(dir, 'data')}`);
    const again = pretext('eval', '--encoder', out, '--dataset', join(dir, 'data'), '--json');
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { knn: number }).knn, 1);
    const missing = pretext('eval', '--encoder', out, '--dataset', join(dir, 'nowhere'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /unknown data set .*nowhere.*expected fashion-mnist or an image folder/);
  });

  it('fine-tunes, compares label budgets, diagnoses and reports on an image folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-transfer-'));
    await colourFolder(join(dir, 'data'));
    const recipe = folderRecipe(join(dir, 'data'));
    writeFileSync(join(dir, 'r.yaml'), recipe);
    const run = join(dir, 'run');
    assert.equal(pretext('pretrain', join(dir, 'r.yaml'), '--out', run, '--json').code, 0);
    const data = join(dir, 'data');

    const ft = pretext(
      'finetune',
      '--encoder',
      run,
      '--dataset',
      data,
      '--labels',
      '10/class',
      '--mode',
      'partial',
      '--epochs',
      '3',
      '--json',
    );
    assert.equal(ft.code, 0, ft.stderr);
    const r = JSON.parse(ft.stdout) as {
      out: string;
      labeledImages: number;
      validationImages: number;
      testAccuracy: number;
      epochs: number;
    };
    assert.deepEqual([r.labeledImages, r.validationImages], [20, 4]);
    assert.ok(r.testAccuracy > 0.9, `accuracy ${r.testAccuracy}`);
    for (const f of ['classifier.safetensors', 'finetune.json', 'metrics.jsonl', 'scores.json']) assert.ok(existsSync(join(r.out, f)), f);
    assert.equal(readFileSync(join(r.out, 'metrics.jsonl'), 'utf8').trim().split('\n').length, r.epochs);
    const badBudget = pretext('finetune', '--encoder', run, '--dataset', data, '--labels', '7');
    assert.equal(badBudget.code, 1);
    assert.match(badBudget.stderr, /label budget '7' is not understood/);
    assert.equal(pretext('finetune', '--encoder', run, '--labels', '1%', '--mode', 'sideways').code, 2);

    // Semi-supervised: the labels plus FixMatch on the folder's other images, for a set number of steps.
    const semi = pretext('finetune', '--encoder', run, '--dataset', data, '--labels', '5/class', '--semi', '--semi-steps', '12', '--json');
    assert.equal(semi.code, 0, semi.stderr);
    const sr = JSON.parse(semi.stdout) as { out: string; mode: string; steps: number; semi: { steps: number; threshold: number } };
    assert.deepEqual([sr.mode, sr.steps, sr.semi.steps, sr.semi.threshold], ['full', 12, 12, 0.95]);
    assert.match(sr.out, /finetune-full-semi-5perclass-s0$/);
    const semiEpochs = readFileSync(join(sr.out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { maskRate: number });
    assert.ok(semiEpochs.length > 0 && semiEpochs.every((e) => e.maskRate >= 0 && e.maskRate <= 1));
    assert.equal((JSON.parse(readFileSync(join(sr.out, 'finetune.json'), 'utf8')) as { semi: { steps: number } }).semi.steps, 12);
    assert.equal(pretext('finetune', '--encoder', run, '--labels', '1%', '--semi', '--mode', 'linear').code, 2);
    assert.equal(pretext('finetune', '--encoder', run, '--labels', '1%', '--semi-steps', '5').code, 2);

    const tr = pretext(
      'transfer-report',
      '--encoder',
      run,
      '--dataset',
      data,
      '--budgets',
      '2/class,100%',
      '--seeds',
      '2',
      '--epochs',
      '2',
      '--min-steps',
      '4',
      '--semi-steps',
      '3',
      '--json',
    );
    assert.equal(tr.code, 0, tr.stderr);
    const rows = tr.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { labels: string; arm: string; used: number; mean: number; std: number });
    assert.equal(rows.length, 12);
    assert.deepEqual([...new Set(rows.map((x) => x.labels))], ['2/class', '100%']);
    assert.deepEqual(
      rows.filter((x) => x.labels === '100%').map((x) => [x.arm, x.used]),
      TRANSFER_ARMS.map((a) => [a, 48]),
    );
    assert.ok(rows.every((x) => x.mean >= 0 && x.mean <= 1 && x.std >= 0));
    assert.match(tr.stderr, /\[24\/24\] 100%/);
    assert.ok(existsSync(join(run, 'transfer.json')));

    const dg = pretext('diagnose', '--encoder', run, '--dataset', data, '--samples', '48', '--json');
    assert.equal(dg.code, 0, dg.stderr);
    const d = JSON.parse(dg.stdout) as { collapsed: boolean; knn: number; effectiveRank: number };
    assert.equal(d.collapsed, false);
    assert.equal(d.knn, 1);
    assert.ok(existsSync(join(run, 'embedding-map.png')));

    const rp = pretext('report', run, '--json');
    assert.equal(rp.code, 0, rp.stderr);
    const html = readFileSync(join(run, 'report.html'), 'utf8');
    assert.match(html, /<td>100%<\/td><td>48<\/td>/);
    assert.equal((html.match(/<svg /g) ?? []).length, 3, 'loss curve, label efficiency, embedding map');
  });

  it('serves a hub, pushes a run to it, finds it, pulls it and reports results back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-hub-'));
    Object.assign(cliEnv, { XDG_CONFIG_HOME: join(dir, 'config'), PRETEXT_CACHE: join(dir, 'cache') });
    await colourFolder(join(dir, 'data'));
    writeFileSync(join(dir, 'r.yaml'), folderRecipe(join(dir, 'data')));
    const run = join(dir, 'run');
    assert.equal(pretext('pretrain', join(dir, 'r.yaml'), '--out', run, '--json').code, 0);

    const ready = await serveHub(join(dir, 'hub'), cliEnv);
    const server = ready.server;
    try {
      assert.equal(pretext('login', '--hub', ready.url, '--token', ready.token).code, 0);
      const config = readFileSync(join(dir, 'config', 'pretext', 'hub.json'), 'utf8');
      assert.match(config, /ptx_/);
      assert.equal(pretext('hub', 'team', 'create', 'vision').code, 0);

      const pushed = pretext('push', run, 'vision/colours', '--alias', 'production', '--visibility', 'internal', '--json');
      assert.equal(pushed.code, 0, pushed.stderr);
      const p1 = JSON.parse(pushed.stdout) as { version: number; created: boolean; uploaded: number; files: number };
      assert.deepEqual([p1.version, p1.created], [1, true]);
      assert.equal(p1.uploaded, p1.files);
      const again = JSON.parse(pretext('push', run, 'vision/colours', '--json').stdout) as {
        version: number;
        created: boolean;
        uploaded: number;
      };
      assert.deepEqual(
        [again.version, again.created, again.uploaded],
        [1, false, 0],
        'the same run again uploads nothing and makes no version',
      );
      const card = readFileSync(join(run, 'card.md'), 'utf8');
      assert.match(card, /^---\nlicense: other\nlibrary_name: pretext\n/);
      assert.match(card, /model-index:\n {2}- name: vision\/colours/);

      const ls = pretext('models', 'search', 'colours', '--json');
      assert.equal(ls.code, 0, ls.stderr);
      const found = JSON.parse(ls.stdout.trim()) as {
        team: string;
        name: string;
        latest: number;
        method: string;
        aliases: Record<string, number>;
      };
      assert.deepEqual(
        [found.team, found.name, found.latest, found.method, found.aliases.production],
        ['vision', 'colours', 1, 'simclr', 1],
      );

      const pulled = pretext('pull', 'vision/colours@production', '--out', join(dir, 'pulled'), '--json');
      assert.equal(pulled.code, 0, pulled.stderr);
      for (const f of ['encoder.safetensors', 'encoder.json', 'card.md']) {
        assert.ok(readFileSync(join(dir, 'pulled', f)).equals(readFileSync(join(run, f))), `${f} arrives intact`);
      }
      // Another team's view: fine-tune straight from the hub reference, then report back.
      const ft = pretext(
        'finetune',
        '--encoder',
        'vision/colours@v1',
        '--dataset',
        join(dir, 'data'),
        '--labels',
        '100%',
        '--mode',
        'linear',
        '--epochs',
        '2',
        '--json',
      );
      assert.equal(ft.code, 0, ft.stderr);
      const ev = pretext('eval', '--encoder', 'vision/colours@v1', '--dataset', join(dir, 'data'), '--push', '--json');
      assert.equal(ev.code, 0, ev.stderr);
      assert.deepEqual(pick(JSON.parse(ev.stdout) as Record<string, unknown>, 'version', 'added', 'already'), {
        version: 1,
        added: 2,
        already: 0,
      });
      // Sent again: the saved result goes out as it was, and the hub keeps one copy.
      const again2 = pretext('eval', '--encoder', 'vision/colours@v1', '--dataset', join(dir, 'data'), '--push', '--json');
      assert.equal(again2.code, 0, again2.stderr);
      assert.deepEqual(JSON.parse(again2.stdout), JSON.parse(ev.stdout.replace('"added":2,"already":0', '"added":0,"already":2')));
      const board = (await (
        await fetch(`${ready.url}/api/leaderboards/${encodeURIComponent(join(dir, 'data'))}`, {
          headers: { authorization: `Bearer ${ready.token}` },
        })
      ).json()) as {
        model: string;
        metric: string;
      }[];
      assert.deepEqual(board.map((r) => `${r.model}:${r.metric}`).sort(), ['colours:knn-accuracy', 'colours:linear-accuracy']);
      assert.equal(pretext('pull', 'vision/nothing').code, 1);
      assert.match(pretext('pull', 'not a ref').stderr, /is not a model reference/);
    } finally {
      server.kill('SIGTERM');
    }
  });
});
