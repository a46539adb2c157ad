// Weighted k-nearest-neighbour classification on frozen features (Wu et al., 2018, as in
// solo-learn): cosine similarity, the k nearest training points vote with weight
// exp(similarity / temperature).
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';

export interface KnnOptions {
  k?: number;
  temperature?: number;
  numClasses?: number;
  chunk?: number;
}

/** Accuracy of predicting `testLabels` from the neighbours of `test` among `train`. */
export function knnAccuracy(train: Tensor, trainLabels: Tensor, test: Tensor, testLabels: Tensor, o: KnnOptions = {}): number {
  const k = Math.min(o.k ?? 200, train.size(0));
  const t = o.temperature ?? 0.07;
  const chunk = o.chunk ?? 500;
  return torch.tidy(() =>
    torch.noGrad(() => {
      const classes = o.numClasses ?? trainLabels.max().item() + 1;
      const bank = torch.nn.functional.normalize(train).t();
      let correct = 0;
      for (let i = 0; i < test.size(0); i += chunk) {
        correct += torch.tidy(() => {
          const n = Math.min(chunk, test.size(0) - i);
          const q = torch.nn.functional.normalize(test.narrow(0, i, n));
          const { values, indices } = q.matmul(bank).topk(k, 1);
          const neighbourLabels = trainLabels.index([indices]); // [n, k]
          const votes = torch.zeros([n, classes]).scatterAdd(1, neighbourLabels, values.div(t).exp());
          return votes
            .argmax(1)
            .eq(testLabels.narrow(0, i, n))
            .sum()
            .item();
        });
      }
      return correct / test.size(0);
    }),
  );
}
