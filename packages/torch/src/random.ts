// Seeded random number generation. Every random op takes an optional Generator; without one
// it draws from libtorch's default CPU generator, which manualSeed() resets.
import { native, type GeneratorHandle } from './native.js';
import { Tensor } from './tensor.js';

/** Seeds the default generator (and so every random op that is not given a Generator). */
export function manualSeed(seed: number | bigint): void {
  native.manualSeed(seed);
}

/** An independent random stream, e.g. one per data loader, so runs replay exactly. */
export class Generator {
  /** @internal */
  readonly handle: GeneratorHandle;
  constructor(seed: number | bigint = 0) {
    this.handle = native.newGenerator(seed);
  }
  get initialSeed(): bigint {
    return native.generatorSeed(this.handle);
  }
  /** The full state as a uint8 tensor, to checkpoint and restore a run mid-epoch. */
  getState(): Tensor {
    return new Tensor(native.getRngState(this.handle));
  }
  setState(state: Tensor): void {
    native.setRngState(this.handle, state.h);
  }
}

/** State of the default generator (see Generator.getState). */
export function getRngState(): Tensor {
  return new Tensor(native.getRngState(null));
}
export function setRngState(state: Tensor): void {
  native.setRngState(null, state.h);
}
