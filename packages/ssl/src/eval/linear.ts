// Linear probe: a softmax classifier trained on standardized frozen features, the standard
// measure of what a representation is worth. Deterministic for a given seed.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';

export interface LinearProbeOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  seed?: number;
  numClasses?: number;
  /** Train for at least this many steps, adding epochs on small sets (default 0). */
  minSteps?: number;
}

export interface LinearProbeResult {
  trainAccuracy: number;
  testAccuracy: number;
}

export function linearProbe(
  train: Tensor,
  trainLabels: Tensor,
  test: Tensor,
  testLabels: Tensor,
  o: LinearProbeOptions = {},
): LinearProbeResult {
  return torch.tidy(() => {
    const classes = o.numClasses ?? trainLabels.max().item() + 1;
    const mean = train.mean(0);
    const std = train.std(0).add(1e-6);
    const xTrain = train.sub(mean).div(std);
    const xTest = test.sub(mean).div(std);
    const g = new torch.Generator(o.seed ?? 0);
    const model = new torch.nn.Linear(train.size(1), classes);
    // Initialized from the probe's own seed (PyTorch's default scheme), so the score does not
    // depend on what drew from the global generator before.
    torch.nn.init.kaimingUniform_(model.weight, { a: Math.sqrt(5), generator: g });
    const bound = 1 / Math.sqrt(train.size(1));
    torch.nn.init.uniform_(model.bias!, -bound, bound, { generator: g });
    // A set smaller than a batch is one batch; small sets get enough epochs for minSteps.
    const bs = Math.min(o.batchSize ?? 256, xTrain.size(0));
    const steps = Math.floor(xTrain.size(0) / bs);
    const epochs = Math.max(o.epochs ?? 30, Math.ceil((o.minSteps ?? 0) / steps));
    const opt = new torch.optim.AdamW(model.parameters(), { lr: o.lr ?? 1e-3, weightDecay: o.weightDecay ?? 1e-4 });
    const sched = new torch.optim.WarmupCosine(opt, { warmupSteps: 0, totalSteps: epochs * steps });
    for (let e = 0; e < epochs; e++) {
      const order = torch.randperm(xTrain.size(0), { generator: g });
      for (let s = 0; s < steps; s++) {
        torch.tidy(() => {
          const idx = order.narrow(0, s * bs, bs);
          opt.zeroGrad();
          torch.nn.functional.crossEntropy(model.forward(xTrain.indexSelect(0, idx)), trainLabels.indexSelect(0, idx)).backward();
          opt.step();
          sched.step();
        });
      }
      order.dispose();
    }
    const accuracy = (x: Tensor, y: Tensor): number => torch.noGrad(() => model.forward(x).argmax(1).eq(y).float().mean().item());
    const result = { trainAccuracy: accuracy(xTrain, trainLabels), testAccuracy: accuracy(xTest, testLabels) };
    model.dispose();
    return result;
  });
}
