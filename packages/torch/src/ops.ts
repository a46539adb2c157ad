// Calling ATen operators by schema name through the native dispatcher entry point.
import { native } from './native.js';

/**
 * Binds an ATen operator by its schema name (`aten::sum.dim_IntList`). The lookup happens on
 * first use; arguments are passed positionally, `undefined` takes the schema's default and
 * `null` passes None.
 */
export function bindOp(name: string): (...args: unknown[]) => unknown {
  let id = -1;
  return (...args: unknown[]): unknown => {
    if (id < 0) id = native.opLookup(name);
    return native.opCall(id, ...args);
  };
}

/** The schema of an operator, as libtorch declares it (for error messages and docs). */
export function opSchema(name: string): string {
  return native.opSchema(native.opLookup(name));
}

/** at::Reduction codes used by the loss operators. */
export type Reduction = 'none' | 'mean' | 'sum';
export const reductionCode: Readonly<Record<Reduction, number>> = { none: 0, mean: 1, sum: 2 };

export function reduction(r: Reduction | undefined): number {
  const code = reductionCode[r ?? 'mean'];
  if (code === undefined) throw new TypeError(`reduction must be 'none', 'mean' or 'sum', got '${String(r)}'`);
  return code;
}

/** Normalizes an int-or-list argument to a list of `n` entries (kernel sizes, strides). */
export function tuple(v: number | readonly number[], n: number, what: string): number[] {
  if (typeof v === 'number') return new Array<number>(n).fill(v);
  if (v.length !== n) throw new TypeError(`${what} must be a number or ${n} numbers, got [${v.join(', ')}]`);
  return [...v];
}
