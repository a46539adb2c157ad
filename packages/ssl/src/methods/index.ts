// The methods, for recipes: each method file declares its name, options schema and builder
// (defineMethod); adding a method is its file plus one line here. The recipe schema and the
// config types derive from these.
import type { Encoder } from '../encoders/encoder.js';
import type { SSLMethod } from './method.js';
import type { MethodSpec } from './options.js';
import { SimCLR, simclr, type SimCLRConfig } from './simclr.js';
import { MoCo, moco } from './moco.js';
import { BYOL, byol } from './byol.js';
import { SimSiam, simsiam } from './simsiam.js';
import { BarlowTwins, barlowTwins } from './barlowTwins.js';
import { VICReg, vicreg } from './vicreg.js';
import { Rotation, rotation } from './rotation.js';
import { SimMim, simmim } from './simmim.js';
import { Scarf, scarf } from './scarf.js';
import { Vime, vime } from './vime.js';
import { MaskedFeatureModeling, mfm } from './mfm.js';
import { DenoisingAutoencoder, dae } from './dae.js';
import { MaskedLanguageModel, mlm } from './mlm.js';
import { SimCse, simcse } from './simcse.js';
import { Coles, coles } from './coles.js';
import { MaskedEventModel, mem } from './mem.js';

export const METHODS = [
  simclr,
  moco,
  byol,
  simsiam,
  barlowTwins,
  vicreg,
  rotation,
  simmim,
  scarf,
  vime,
  mfm,
  dae,
  mlm,
  simcse,
  coles,
  mem,
] as const;

export type MethodName = (typeof METHODS)[number]['name'];

export function methodSpec(name: string): MethodSpec {
  const spec = (METHODS as readonly MethodSpec[]).find((m) => m.name === name);
  if (spec === undefined) throw new TypeError(`unknown method '${name}'; expected one of ${METHODS.map((m) => m.name).join(', ')}`);
  return spec;
}

export function buildMethod(name: MethodName, makeBackbone: () => Encoder, config: object = {}): SSLMethod {
  return methodSpec(name).build(makeBackbone, config as Record<string, unknown>);
}

export { SSLMethod, Tower, type StepResult } from './method.js';
export { defineMethod, parseConfig, type MethodSpec } from './options.js';
export type { SimCLRConfig };
export {
  SimCLR,
  MoCo,
  BYOL,
  SimSiam,
  BarlowTwins,
  VICReg,
  Rotation,
  SimMim,
  Scarf,
  Vime,
  MaskedFeatureModeling,
  DenoisingAutoencoder,
  MaskedLanguageModel,
  SimCse,
  Coles,
  MaskedEventModel,
};
export { emaUpdate, momentumCopy, cosineMomentum, MemoryQueue } from './momentum.js';
