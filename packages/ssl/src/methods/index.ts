// Methods by name, for recipes.
import type { Encoder } from '../encoders/encoder.js';
import type { SSLMethod } from './method.js';
import { SimCLR } from './simclr.js';
import { MoCo } from './moco.js';
import { BYOL } from './byol.js';
import { SimSiam } from './simsiam.js';
import { BarlowTwins } from './barlowTwins.js';
import { VICReg } from './vicreg.js';
import { Rotation } from './rotation.js';

export const METHODS = {
  simclr: (b: () => Encoder, c: object) => new SimCLR(b, c),
  moco: (b: () => Encoder, c: object) => new MoCo(b, c),
  byol: (b: () => Encoder, c: object) => new BYOL(b, c),
  simsiam: (b: () => Encoder, c: object) => new SimSiam(b, c),
  'barlow-twins': (b: () => Encoder, c: object) => new BarlowTwins(b, c),
  vicreg: (b: () => Encoder, c: object) => new VICReg(b, c),
  rotation: (b: () => Encoder, c: object) => new Rotation(b, c),
} as const;

export type MethodName = keyof typeof METHODS;

export function buildMethod(name: MethodName, makeBackbone: () => Encoder, config: object = {}): SSLMethod {
  const make = METHODS[name];
  if (make === undefined) throw new TypeError(`unknown method '${String(name)}'; expected one of ${Object.keys(METHODS).join(', ')}`);
  return make(makeBackbone, config);
}

export { SSLMethod, Tower, type StepResult } from './method.js';
export { SimCLR, MoCo, BYOL, SimSiam, BarlowTwins, VICReg, Rotation };
export { emaUpdate, momentumCopy, cosineMomentum, MemoryQueue } from './momentum.js';
