// What every method's options are made of, and how a method declares itself: its name, its
// options as a zod schema (the one source of the recipe schema, the config type and the
// checks a direct caller gets) and how to build it.
import { z } from 'zod';
import type { Encoder } from '../encoders/encoder.js';
import type { SSLMethod } from './method.js';

/** A layer width. */
export const dim = z.number().int().min(1).optional();
/** A temperature or a loss coefficient. */
export const positive = z.number().positive().optional();
/** A loss weight (0 turns the term off). */
export const weight = z.number().min(0).optional();
/** An EMA momentum. */
export const momentum = z.number().min(0).max(1).optional();

/** Any method's options: an object of optional fields, checked strictly. */
type ConfigSchema = z.ZodType<Record<string, unknown>, Record<string, unknown>>;

/** What a method's views are made of. */
export type Modality = 'image' | 'tabular' | 'text' | 'sequence';

export interface MethodSpec<N extends string = string, C extends ConfigSchema = ConfigSchema> {
  readonly name: N;
  readonly config: C;
  /** The data it learns from (image methods crop and jitter; tabular ones corrupt cells). */
  readonly modality: Modality;
  build(makeBackbone: () => Encoder, config: z.input<C>): SSLMethod;
}

export function defineMethod<N extends string, C extends ConfigSchema>(
  name: N,
  config: C,
  build: (makeBackbone: () => Encoder, config: z.input<C>) => SSLMethod,
  modality: Modality = 'image',
): MethodSpec<N, C> {
  return { name, config, build, modality };
}

/** Checks a method's options against its schema; a wrong one is a RangeError naming the method and the field. */
export function parseConfig<C extends ConfigSchema>(method: string, schema: C, config: unknown): z.output<C> {
  const r = schema.safeParse(config ?? {});
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
  throw new RangeError(`${method} options: ${problems.join('; ')}`);
}
