// Federated pretraining on the engine: what each method shares, a site's round, the hub
// coordinator's average against the same average taken with the engine, FedProx and FedEMA doing
// what they claim, and `simulateFederation` end to end on a slice of Fashion-MNIST.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import { Coordinator, decodeWeights, updateNorm } from '@pretext/hub/client';
import {
  buildMethod,
  buildStrategy,
  FederatedSite,
  compose,
  randomResizedCrop,
  readWeights,
  sharedKeys,
  simulateFederation,
  SmallCnn,
  loadEncoder,
  validateRecipe,
  StrategyError,
  type MethodName,
  type SSLMethod,
} from '../src/index.js';
import { imageViews } from '../src/train/trainer.js';

const tiny = (name: MethodName, config: object = {}): SSLMethod => {
  torch.manualSeed(0);
  return buildMethod(name, () => new SmallCnn({ width: 4, depth: 2, readoutNorm: true }), config);
};
const trainConfig = {
  epochs: 1,
  batchSize: 32,
  seed: 0,
  optimizer: { name: 'adamw' as const, lr: 0.003, weightDecay: 1e-4 },
  schedule: { name: 'warmup-cosine' as const, warmupEpochs: 0 },
};

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pretext-fed-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('what a site shares', () => {
  it('the encoder only, or the online network; never targets, queues or step counters, and each tensor once', () => {
    const simclr = tiny('simclr', { rotationWeight: 1 });
    const enc = sharedKeys(simclr, 'encoder');
    assert.ok(enc.length > 0 && enc.every((k) => k.startsWith('backbone.')));
    assert.ok(
      enc.some((k) => k.endsWith('running_mean')),
      'BatchNorm statistics travel with the encoder',
    );
    assert.ok(!enc.some((k) => k.endsWith('num_batches_tracked')));
    const all = sharedKeys(simclr, 'all');
    assert.ok(all.some((k) => k.startsWith('projector.')) && all.some((k) => k.startsWith('rotationHead.')));
    const byol = sharedKeys(tiny('byol', { hiddenDim: 16, projDim: 8 }), 'all');
    assert.ok(byol.some((k) => k.startsWith('predictor.')));
    assert.ok(!byol.some((k) => k.startsWith('target.')), 'the momentum target stays local');
    assert.ok(!byol.some((k) => k.startsWith('online.backbone.')), 'the backbone is sent once, under backbone.');
    const moco = sharedKeys(tiny('moco', { queueSize: 64, projDim: 8 }), 'all');
    assert.ok(!moco.includes('queue') && !moco.includes('queue_ptr') && !moco.some((k) => k.startsWith('target.')));
  });
  it('strategies refuse options that belong to another', () => {
    assert.throws(() => buildStrategy('fedavg', { proxMu: 0.1 }), StrategyError);
    assert.throws(() => buildStrategy('fedema', { share: 'all' }), /encoder only/);
    assert.throws(() => buildStrategy('fedsgd'), /unknown strategy 'fedsgd'/);
    assert.equal(buildStrategy('fedema').share, 'encoder');
    assert.deepEqual(buildStrategy('median').aggregation, { kind: 'median' });
  });
});

function makeSites(
  strategyName: string,
  options: object = {},
  count = 3,
  local: { sgd?: boolean; epochs?: number } = {},
): { sites: FederatedSite[]; coordinator: Coordinator; keys: string[] } {
  const strategy = buildStrategy(strategyName, options);
  const server = tiny('simclr');
  const keys = sharedKeys(server, strategy.share);
  const makeViews = imageViews(compose(randomResizedCrop()), { mean: 0.5, std: 0.29 });
  const sites = Array.from({ length: count }, (_, i) => {
    torch.manualSeed(100 + i);
    const examples = torch.keep(torch.randint(0, 256, [64 + 32 * i, 28, 28], { dtype: 'uint8' }));
    return new FederatedSite({
      name: `s${i}`,
      examples,
      method: tiny('simclr'),
      makeViews,
      train: local.sgd
        ? { ...trainConfig, optimizer: { name: 'sgd' as const, lr: 0.05 }, schedule: { name: 'constant' as const } }
        : trainConfig,
      rounds: 2,
      localEpochs: local.epochs ?? 1,
      strategy,
      shared: keys,
      seed: i,
    });
  });
  const coordinator = new Coordinator(
    {
      sites: sites.map((s) => s.name),
      rounds: 2,
      minSites: count,
      roundTimeoutMs: 1000,
      aggregation: strategy.aggregation,
      optimizer: strategy.optimizer,
    },
    readWeights(server, keys),
  );
  return { sites, coordinator, keys };
}

describe('a federated round', () => {
  it("the hub coordinator's FedAvg equals the example-weighted mean of the sites' weights taken with the engine", async () => {
    const { sites, coordinator, keys } = makeSites('fedavg');
    const global = coordinator.global;
    for (const s of sites) {
      s.receive(global);
      coordinator.submit((await s.train(0, global)).update!, 0);
    }
    assert.deepEqual(
      sites.map((s) => s.stepsPerRound),
      [2, 3, 4],
    );
    coordinator.closeIfReady();
    const total = sites.reduce((a, s) => a + s.stepsPerRound * s.batchSize, 0);
    for (const key of keys) {
      const expected = torch.tidy(() =>
        sites
          .map((s) =>
            s.method
              .stateDict()
              .get(key)!
              .mul((s.stepsPerRound * s.batchSize) / total),
          )
          .reduce((a, b) => a.add(b))
          .flatten()
          .data(),
      ) as Float32Array;
      const got = coordinator.global.get(key)!;
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected[i]!));
      assert.ok(worst < 1e-5, `${key}: max |hub - engine| = ${worst}`);
    }
    for (const s of sites) s.dispose();
  });

  it('a strong proximal term keeps a site near the global weights; FedEMA blends by divergence (mu = tau at the first)', async () => {
    const norms: number[] = [];
    // Plain SGD over 8 local steps: the pull mu * (w - w_global) acts on the weights directly.
    for (const mu of [0, 10]) {
      const { sites, coordinator } = makeSites(mu === 0 ? 'fedavg' : 'fedprox', mu === 0 ? {} : { proxMu: mu }, 1, {
        sgd: true,
        epochs: 4,
      });
      sites[0]!.receive(coordinator.global);
      const delta = (await sites[0]!.train(0, coordinator.global)).update!.delta;
      // Over the parameters: running statistics have no gradient for the term to act on.
      const params = new Set(sites[0]!.method.namedParameters().map(([k]) => k));
      norms.push(updateNorm(new Map([...delta].filter(([k]) => params.has(k)))));
      sites[0]!.dispose();
    }
    assert.ok(norms[1]! < 0.5 * norms[0]!, `update norm with mu 10 ${norms[1]} vs without ${norms[0]}`);

    const { sites, coordinator } = makeSites('fedema', { emaTau: 0.7 }, 2);
    for (const s of sites) assert.ok(Number.isNaN(s.receive(coordinator.global)), 'no blend before any local training');
    for (const s of sites) coordinator.submit((await s.train(0, coordinator.global)).update!, 0);
    coordinator.closeIfReady();
    for (const s of sites) {
      const before = readWeights(s.method, [...coordinator.global.keys()]);
      const mu = s.receive(coordinator.global);
      assert.ok(Math.abs(mu - 0.7) < 1e-9, `mu ${mu}`);
      const after = readWeights(s.method, [...coordinator.global.keys()]);
      const [k, g] = [...coordinator.global][0]!;
      assert.ok(Math.abs(after.get(k)![0]! - (0.7 * before.get(k)![0]! + 0.3 * g[0]!)) < 1e-6);
      s.dispose();
    }
  });

  it('weights the engine writes are read by the hub without an engine', () => {
    const m = tiny('simclr');
    const path = join(dir, 'enc.safetensors');
    const floats = new Map([...m.backbone.stateDict()].filter(([, t]) => t.dtype === 'float32'));
    torch.safetensors.saveFile(path, floats);
    const { weights } = decodeWeights(readFileSync(path));
    const mine = readWeights(m, sharedKeys(m, 'encoder'));
    for (const [k, v] of mine) assert.deepEqual([...weights.get(k.slice('backbone.'.length))!], [...v]);
  });
});

describe('simulateFederation', () => {
  const recipe = validateRecipe({
    name: 'fed-test',
    seed: 0,
    data: { dataset: 'fashion-mnist', limit: 1024 },
    encoder: { type: 'small-cnn', config: { width: 8, depth: 2, readoutNorm: true } },
    method: { name: 'simclr', config: { hiddenDim: 32, projDim: 16 } },
    train: { epochs: 2, batchSize: 64, optimizer: { name: 'adamw', lr: 0.002 }, schedule: { name: 'warmup-cosine', warmupEpochs: 0 } },
  });

  it('runs rounds through the coordinator and writes an encoder run with its provenance, scored once on the test split', async () => {
    const out = join(dir, 'fed');
    const run = await simulateFederation({
      recipe: { ...recipe, evaluation: { ...recipe.evaluation, knnEveryEpoch: true } },
      outDir: out,
      sites: 4,
      partition: 'dirichlet:0.5',
      strategy: buildStrategy('fedavg'),
      rounds: 2,
      localEpochs: 1,
      quiet: true,
    });
    const p = run.provenance;
    assert.ok(p.perRound.every((r) => r.valKnn! > 0.3 && r.valKnn! <= 1));
    assert.equal(p.perRound[1]!.valKnn, run.validation.knn, "the last round's point is the final validation kNN");
    assert.ok(existsSync(join(out, 'federation-knn.svg')));
    assert.equal(p.sites.length, 4);
    assert.equal(
      p.sites.reduce((a, s) => a + s.examples, 0),
      1024,
    );
    assert.deepEqual(
      p.sites.map((s) => s.classCounts.reduce((a, b) => a + b, 0)),
      p.sites.map((s) => s.examples),
    );
    assert.equal(p.perRound.length, 2);
    assert.ok(p.perRound.every((r) => r.sites === 4 && r.bytesIn > 0 && r.bytesIn === r.bytesOut && Number.isFinite(r.loss)));
    assert.deepEqual(run.testReads, ['the final score of the federated encoder']);
    assert.ok(run.scores.linear! > 0.5 && run.scores.knn! > 0.5, JSON.stringify(run.scores));
    assert.ok(run.validation.knn! > 0.5);
    const { encoder, meta } = loadEncoder(out);
    assert.equal(meta.federated!.strategy.name, 'fedavg');
    assert.equal(meta.federated!.partition.spec, 'dirichlet:0.5');
    assert.equal(encoder.outDim, meta.outDim);
    assert.ok(existsSync(join(out, 'federation.json')) && existsSync(join(out, 'partition.json')));
  });

  it('a round closes without a site that died mid-round, at the timeout, once the quorum is in', async () => {
    const run = await simulateFederation({
      recipe,
      outDir: join(dir, 'drop'),
      sites: 4,
      partition: 'iid',
      strategy: buildStrategy('fedavg'),
      rounds: 3,
      localEpochs: 0.5,
      minSites: 2,
      dropRate: 0.3,
      quiet: true,
    });
    const counts = run.provenance.perRound.map((r) => r.sites);
    assert.ok(counts.some((c) => c < 4) && counts.every((c) => c >= 2), `sites per round: ${counts}`);
    assert.ok(run.provenance.perRound.every((r) => r.bytesIn === (r.bytesOut / 4) * r.sites));
  });

  it('secure aggregation gives the plain mean up to quantization, and finishes rounds with a site gone', async () => {
    const base = {
      recipe: { ...recipe, evaluation: { ...recipe.evaluation, linear: false } },
      sites: 4,
      partition: 'dirichlet:1',
      strategy: buildStrategy('fedavg'),
      rounds: 1,
      localEpochs: 1,
      quiet: true,
    };
    await simulateFederation({ ...base, outDir: join(dir, 'plain') });
    const secure = await simulateFederation({ ...base, outDir: join(dir, 'secure'), secureAggregation: { clip: 4 } });
    assert.deepEqual(secure.provenance.secureAggregation, { clip: 4, clippedCoordinates: 0 });
    const a = loadEncoder(join(dir, 'plain')).encoder.stateDict();
    const b = loadEncoder(join(dir, 'secure')).encoder.stateDict();
    let worst = 0;
    for (const [k, t] of a)
      if (t.dtype === 'float32')
        worst = Math.max(
          worst,
          torch.tidy(() => t.sub(b.get(k)!).abs().max().item()),
        );
    assert.ok(worst < 1e-5, `max |secure - plain| = ${worst}`);
    const dropped = await simulateFederation({
      ...base,
      outDir: join(dir, 'secure-drop'),
      rounds: 3,
      localEpochs: 0.5,
      minSites: 3,
      dropPerRound: 1,
      secureAggregation: { clip: 4 },
    });
    assert.deepEqual(
      dropped.provenance.perRound.map((r) => r.sites),
      [3, 3, 3],
      'one site dies in every round after sharing its keys, and every round completes',
    );
  });

  it('sites trained alone: one encoder per site, each scored, and their mean', async () => {
    const run = await simulateFederation({
      recipe,
      outDir: join(dir, 'alone'),
      sites: 2,
      partition: 'shards:1',
      strategy: buildStrategy('fedavg'),
      rounds: 1,
      localEpochs: 1,
      alone: true,
      quiet: true,
    });
    assert.equal(run.perSite!.length, 2);
    assert.equal(run.testReads.length, 2);
    const mean = (run.perSite![0]!.linear! + run.perSite![1]!.linear!) / 2;
    assert.ok(Math.abs(run.scores.linear! - mean) < 1e-12);
    assert.ok(existsSync(join(dir, 'alone', 'sites', 'site-1', 'encoder.safetensors')));
  });
});
