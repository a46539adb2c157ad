// L2-regularized (multinomial) logistic regression fitted to convergence, as scikit-learn's
// LogisticRegression does, not a head trained for a fixed number of SGD steps: features are
// standardized, weights start at zero, and full-batch Adam runs until the objective stops
// improving. The penalty follows scikit-learn's C: mean cross-entropy + ||W||^2 / (2 C n).
// On few rows an SGD-trained head stays close to its random start; this one does not.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';

export interface LogisticOptions {
  /** Inverse regularization strength (scikit-learn's C; default 1). */
  c?: number;
  /** Rows to standardize with (default the training rows). */
  statsFrom?: Tensor;
  /** Full-batch steps at most (default 2000). */
  maxSteps?: number;
  /** Stop when the objective improves less than this over 50 steps (default 1e-6). */
  tolerance?: number;
}

/** Fits on x [n, d], y int64 [n]; the returned Linear takes raw features (standardization folded in). */
export function fitLogistic(x: Tensor, y: Tensor, classes: number, o: LogisticOptions = {}): torch.nn.Linear {
  const stats = o.statsFrom ?? x;
  const head = new torch.nn.Linear(x.size(1), classes);
  torch.tidy(() => {
    const mean = stats.mean(0);
    const std = stats.std(0).add(1e-6);
    const xs = x.sub(mean).div(std);
    const w = torch.zeros([classes, x.size(1)]);
    const b = torch.zeros([classes]);
    w.requiresGrad = true;
    b.requiresGrad = true;
    // Two classes: softmax's two weight rows meet the penalty's optimum at w and -w, which
    // halves it against one logistic weight vector; doubling it gives scikit-learn's C.
    const penalty = (classes === 2 ? 2 : 1) / (2 * (o.c ?? 1) * x.size(0));
    const opt = new torch.optim.Adam([w, b], { lr: 0.05 });
    let previous = Infinity;
    for (let step = 0; step < (o.maxSteps ?? 2000); step++) {
      const loss = torch.tidy(() => {
        opt.zeroGrad();
        const l = torch.nn.functional.crossEntropy(xs.matmul(w.t()).add(b), y).add(w.square().sum().mul(penalty));
        l.backward();
        opt.step();
        return l.item();
      });
      if (step % 50 === 49) {
        if (previous - loss < (o.tolerance ?? 1e-6)) break;
        previous = loss;
      }
    }
    torch.noGrad(() => {
      const wf = w.div(std);
      head.weight.copy_(wf);
      head.bias!.copy_(b.sub(wf.matmul(mean)));
    });
  });
  return head;
}
