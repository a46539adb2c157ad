// MoCo v2 (Chen et al., 2020): queries from the online encoder, keys from its momentum copy,
// negatives from a queue of past keys; the loss is symmetrized over the two views.
import { z } from 'zod';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import { mlpHead } from '../heads/mlp.js';
import { infoNce } from '../losses/infoNce.js';
import type { Encoder } from '../encoders/encoder.js';
import { MemoryQueue, emaUpdate, momentumCopy } from './momentum.js';
import { SSLMethod, Tower, globalBatch, type StepResult } from './method.js';
import { defineMethod, dim, momentum, parseConfig, positive } from './options.js';

export const mocoConfig = z.strictObject({
  hiddenDim: dim,
  projDim: dim,
  temperature: positive,
  queueSize: dim,
  momentum,
});
export type MoCoConfig = z.input<typeof mocoConfig>;

export class MoCo extends SSLMethod {
  readonly name = 'moco';
  readonly config: MoCoConfig;
  readonly online: Tower;
  readonly target: Tower;
  readonly queue: MemoryQueue;
  constructor(makeBackbone: () => Encoder, options: MoCoConfig = {}) {
    const config = parseConfig('moco', mocoConfig, options);
    super(makeBackbone);
    this.config = config;
    const head = (): torch.nn.Sequential =>
      mlpHead({ inDim: this.backbone.outDim, hiddenDim: config.hiddenDim ?? 512, outDim: config.projDim ?? 128 });
    this.online = this.registerModule('online', new Tower(this.backbone, head()));
    this.target = this.registerModule(
      'target',
      momentumCopy(this.online, () => new Tower(makeBackbone(), head())),
    );
    this.queue = new MemoryQueue(config.queueSize ?? 4096, config.projDim ?? 128);
    // A buffer, so checkpoints carry the queue and a resumed run sees the same negatives.
    this.registerBuffer('queue', this.queue.keys);
    this.registerBuffer('queue_ptr', this.queuePtr);
  }
  private readonly queuePtr = torch.zeros([], { dtype: 'int64' });
  step([a, b]: Tensor[]): StepResult {
    const F = torch.nn.functional;
    const q1 = F.normalize(this.online.forward(a!));
    const q2 = F.normalize(this.online.forward(b!));
    const [k1, k2] = torch.noGrad(() => [F.normalize(this.target.forward(a!)), F.normalize(this.target.forward(b!))]);
    const t = this.config.temperature ?? 0.2;
    // A snapshot: the enqueue below writes the queue in place, and backward reads the negatives.
    const negatives = this.queue.keys.clone();
    const l1 = infoNce(q1, k2!, negatives, t);
    const l2 = infoNce(q2, k1!, negatives, t);
    this.queue.position = this.queuePtr.item();
    // Data-parallel: every rank enqueues every rank's keys, so the queues stay identical.
    this.queue.enqueue(torch.cat([globalBatch(k1!), globalBatch(k2!)]));
    torch.noGrad(() => this.queuePtr.fill_(this.queue.position));
    return { loss: l1.loss.add(l2.loss).div(2), logs: { key_accuracy: (l1.accuracy + l2.accuracy) / 2 }, embedding: q1 };
  }
  override keepsLocal(key: string): boolean {
    return key.startsWith('target.') || key === 'queue' || key === 'queue_ptr';
  }
  override afterStep(): void {
    emaUpdate(this.target, this.online, this.config.momentum ?? 0.99);
  }
}

export const moco = defineMethod('moco', mocoConfig, (b, c) => new MoCo(b, c));
