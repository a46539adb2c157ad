// @pretext/xgboost: gradient-boosted trees from XGBoost's own library (Debian's
// libxgboost-dev 1.7), bound natively, for the baselines a tabular team trusts. Train on a
// dense float matrix (NaN = missing, which XGBoost routes by learned default directions),
// stop early on a validation set, predict, save and load the model as XGBoost's JSON (which
// Python's xgboost.Booster loads too).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Handle = object;
interface Binding {
  dmatrix(data: Float32Array, rows: number, cols: number, label?: Float32Array, weight?: Float32Array): Handle;
  booster(cache: Handle[]): Handle;
  setParam(b: Handle, key: string, value: string): void;
  updateOneIter(b: Handle, iter: number, train: Handle): void;
  evalOneIter(b: Handle, iter: number, mats: Handle[], names: string[]): string;
  predict(b: Handle, m: Handle, config: string): Float32Array;
  save(b: Handle): Buffer;
  load(bytes: Buffer): Handle;
  version(): string;
}

const addonPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'Release', 'pretext_xgboost.node');
let binding: Binding | null = null;
function native(): Binding {
  if (binding) return binding;
  if (!existsSync(addonPath))
    throw new Error(
      `@pretext/xgboost: the native addon is not built (${addonPath} is missing). Run \`npm run build:native --workspace @pretext/xgboost\` ` +
        '(needs XGBoost: `apt-get install libxgboost-dev`).',
    );
  binding = createRequire(import.meta.url)(addonPath) as Binding;
  return binding;
}

/** XGBoost's version, e.g. "1.7.4". */
export const xgboostVersion = (): string => native().version();

/** A dense row-major matrix; NaN marks a missing value. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

export interface LabeledMatrix extends Matrix {
  /** Class index (0..k-1) for classification, the target for regression. */
  labels: Float32Array;
}

/** XGBoost parameters by their own names (eta, max_depth, objective, ...), as Python's train() takes them. */
export type BoostParams = Record<string, string | number | boolean>;

export interface TrainOptions {
  params: BoostParams;
  /** Boosting rounds at most. */
  rounds: number;
  /** Scored after each round; with earlyStoppingRounds, training stops when it stops improving. */
  valid?: LabeledMatrix;
  earlyStoppingRounds?: number;
  onRound?: (round: number, score: number | null) => void;
}

const MAXIMIZED = /^(auc|aucpr|map|ndcg|pre)/;

function checkMatrix(m: Matrix, what: string): void {
  if (!Number.isInteger(m.rows) || !Number.isInteger(m.cols) || m.rows < 1 || m.cols < 1 || m.data.length !== m.rows * m.cols)
    throw new RangeError(`${what}: ${m.data.length} values do not make ${m.rows} x ${m.cols} (both at least 1)`);
}

export class Booster {
  private constructor(
    private readonly handle: Handle,
    /** The round with the best validation score (the last round without validation). */
    readonly bestIteration: number,
    /** Rounds trained. */
    readonly rounds: number,
    /** Validation score at bestIteration (null without validation). */
    readonly bestScore: number | null,
  ) {}

  static train(train: LabeledMatrix, o: TrainOptions): Booster {
    const x = native();
    checkMatrix(train, 'training matrix');
    if (train.labels.length !== train.rows) throw new RangeError(`${train.labels.length} labels for ${train.rows} rows`);
    const dtrain = x.dmatrix(train.data, train.rows, train.cols, train.labels);
    let dvalid: Handle | null = null;
    if (o.valid) {
      checkMatrix(o.valid, 'validation matrix');
      if (o.valid.cols !== train.cols) throw new RangeError(`validation matrix has ${o.valid.cols} columns, training ${train.cols}`);
      dvalid = x.dmatrix(o.valid.data, o.valid.rows, o.valid.cols, o.valid.labels);
    }
    const b = x.booster(dvalid ? [dtrain, dvalid] : [dtrain]);
    for (const [k, v] of Object.entries(o.params)) x.setParam(b, k, String(v));
    let best = -1;
    let bestScore: number | null = null;
    let round = 0;
    for (; round < o.rounds; round++) {
      x.updateOneIter(b, round, dtrain);
      let score: number | null = null;
      if (dvalid) {
        // "[3]\tvalid-logloss:0.41" (the last metric decides, as in Python's train())
        const line = x.evalOneIter(b, round, [dvalid], ['valid']);
        const m = [...line.matchAll(/valid-([\w@.-]+):(-?[\d.eE+-]+|nan|inf)/g)].at(-1);
        if (!m) throw new Error(`xgboost: cannot read the validation score from '${line}'`);
        score = Number(m[2]);
        const better = bestScore === null || (Number.isFinite(score) && (MAXIMIZED.test(m[1]!) ? score > bestScore : score < bestScore));
        if (better) {
          bestScore = score;
          best = round;
        }
      } else best = round;
      o.onRound?.(round, score);
      if (dvalid && o.earlyStoppingRounds !== undefined && round - best >= o.earlyStoppingRounds) {
        round++;
        break;
      }
    }
    return new Booster(b, best, Math.min(round, o.rounds), bestScore);
  }

  /** Predictions [rows * k]: probabilities (k classes, or 1 for binary) or values; from the trees up to bestIteration. */
  predict(m: Matrix): Float32Array {
    checkMatrix(m, 'matrix to predict');
    const x = native();
    const d = x.dmatrix(m.data, m.rows, m.cols);
    const config = { type: 0, training: false, iteration_begin: 0, iteration_end: this.bestIteration + 1, strict_shape: false };
    return x.predict(this.handle, d, JSON.stringify(config));
  }

  /** The model as XGBoost's JSON (only the trees up to bestIteration are used by predict after load). */
  save(): Buffer {
    return native().save(this.handle);
  }

  static load(bytes: Buffer, bestIteration: number): Booster {
    return new Booster(native().load(bytes), bestIteration, bestIteration + 1, null);
  }
}
