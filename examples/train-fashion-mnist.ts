// The engine end to end on a supervised task: a small BatchNorm CNN trained on
// Fashion-MNIST with AdamW and a one-cycle schedule. Prints the loss falling and
// the test accuracy per epoch, and saves the weights as safetensors (loadable in PyTorch).
//
//   npm run example:supervised [-- --epochs 2 --batch-size 128 --out runs/demo]
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as torch from '@pretext/torch';
import { loadFashionMnist, ProgressBar, FASHION_MNIST_CLASSES } from '@pretext/ssl';

const { nn, optim, tidy, noGrad } = torch;
const F = nn.functional;

const { values: args } = parseArgs({
  options: {
    epochs: { type: 'string', default: '2' },
    'batch-size': { type: 'string', default: '128' },
    lr: { type: 'string', default: '0.004' },
    seed: { type: 'string', default: '0' },
    out: { type: 'string', default: 'runs/demo' },
  },
});
const epochs = Number(args.epochs);
const batchSize = Number(args['batch-size']);
torch.manualSeed(Number(args.seed));

const started = performance.now();
const train = await loadFashionMnist('train');
const test = await loadFashionMnist('test');
/** uint8 [N, 28, 28] -> float [N, 1, 28, 28], standardized with the training set's statistics. */
const toInput = (images: torch.Tensor): torch.Tensor => images.float().div(255).sub(0.286).div(0.353).unsqueeze(1);
const xTrain = torch.keep(toInput(train.images));
const xTest = torch.keep(toInput(test.images));
console.log(`Fashion-MNIST: ${xTrain.size(0)} training and ${xTest.size(0)} test images (${FASHION_MNIST_CLASSES.length} classes)`);

const model = new nn.Sequential(
  new nn.Conv2d(1, 32, 3, { padding: 1 }),
  new nn.BatchNorm2d(32),
  new nn.ReLU(),
  new nn.MaxPool2d(2),
  new nn.Conv2d(32, 64, 3, { padding: 1 }),
  new nn.BatchNorm2d(64),
  new nn.ReLU(),
  new nn.MaxPool2d(2),
  new nn.Flatten(),
  new nn.Linear(64 * 7 * 7, 128),
  new nn.ReLU(),
  new nn.Dropout(0.25),
  new nn.Linear(128, 10),
);
console.log(`model: ${model.numParameters().toLocaleString()} parameters, ${torch.getNumThreads()} threads`);

const stepsPerEpoch = Math.floor(xTrain.size(0) / batchSize);
const opt = new optim.AdamW(model.parameters(), { lr: Number(args.lr), weightDecay: 5e-4 });
const schedule = new optim.OneCycleLR(opt, { maxLr: Number(args.lr), totalSteps: epochs * stepsPerEpoch });
const generator = new torch.Generator(Number(args.seed));

function accuracy(x: torch.Tensor, y: torch.Tensor): number {
  model.eval();
  const correct = noGrad(() => {
    let hits = 0;
    for (let i = 0; i < x.size(0); i += 1000) {
      hits += tidy(() =>
        model
          .forward(x.narrow(0, i, Math.min(1000, x.size(0) - i)))
          .argmax(1)
          .eq(y.narrow(0, i, Math.min(1000, x.size(0) - i)))
          .sum()
          .item(),
      );
    }
    return hits;
  });
  model.train();
  return correct / x.size(0);
}

for (let epoch = 1; epoch <= epochs; epoch++) {
  const order = torch.randperm(xTrain.size(0), { generator });
  const bar = new ProgressBar({ total: stepsPerEpoch, label: `epoch ${epoch}/${epochs}`, unit: 'steps' });
  let first = NaN;
  let recent = 0;
  for (let s = 0; s < stepsPerEpoch; s++) {
    const loss = tidy(() => {
      const idx = order.narrow(0, s * batchSize, batchSize);
      opt.zeroGrad();
      const l = F.crossEntropy(model.forward(xTrain.indexSelect(0, idx)), train.labels.indexSelect(0, idx), { labelSmoothing: 0.05 });
      l.backward();
      opt.step();
      schedule.step();
      return l.item();
    });
    if (!Number.isFinite(loss)) throw new Error(`loss became ${loss} at epoch ${epoch} step ${s}: lower --lr`);
    recent = s === 0 ? loss : 0.95 * recent + 0.05 * loss;
    if (s === 0) first = loss;
    bar.tick(1, `loss ${recent.toFixed(3)}`);
  }
  order.dispose();
  bar.finish(`loss ${first.toFixed(3)} -> ${recent.toFixed(3)}`);
  console.log(`epoch ${epoch}: training loss ${recent.toFixed(3)}, test accuracy ${(100 * accuracy(xTest, test.labels)).toFixed(2)}%`);
}

mkdirSync(args.out, { recursive: true });
const weights = join(args.out, 'model.safetensors');
torch.safetensors.saveFile(weights, model.stateDict(), { architecture: 'fashion-mnist-cnn', epochs: String(epochs) });
console.log(`saved ${weights} (PyTorch state-dict keys) in ${((performance.now() - started) / 1000).toFixed(0)} s total`);
