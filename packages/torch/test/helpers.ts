// Shared test helpers: closeness checks and the PyTorch fixtures.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, safetensors, tidy } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Asserts |a - b| <= atol + rtol * |b| elementwise, with the worst element in the message. */
export function assertClose(actual: Tensor, expected: Tensor, o: { atol?: number; rtol?: number; what?: string } = {}): void {
  const atol = o.atol ?? 1e-5;
  const rtol = o.rtol ?? 1e-4;
  assert.deepEqual(actual.shape, expected.shape, `${o.what ?? 'tensor'}: shape`);
  tidy(() => {
    const a = actual.double().data() as Float64Array;
    const b = expected.double().data() as Float64Array;
    let worst = -1;
    let worstExcess = 0;
    for (let i = 0; i < a.length; i++) {
      const excess = Math.abs(a[i]! - b[i]!) - (atol + rtol * Math.abs(b[i]!));
      if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
        worst = i;
        worstExcess = excess;
      }
    }
    assert.ok(worst < 0, `${o.what ?? 'tensor'}: element ${worst} is ${a[worst]}, expected ${b[worst]} (atol ${atol}, rtol ${rtol})`);
  });
}

/** Plain numbers of a tensor, for deepEqual on small results. */
export function values(t: Tensor): number[] {
  return Array.from(t.double().data() as Float64Array);
}

const cache = new Map<string, Map<string, Tensor>>();
const metadata = new Map<string, Record<string, string>>();

/** The string metadata of a fixture file. */
export function fixtureMetadata(file: string): Record<string, string> {
  fixture(file);
  return metadata.get(file)!;
}

/** Loads a fixture file computed once with PyTorch (see fixtures/make_fixtures.py). */
export function fixture(file: string): (key: string) => Tensor {
  let tensors = cache.get(file);
  if (!tensors) {
    const loaded = safetensors.loadFile(join(here, 'fixtures', file));
    tensors = loaded.tensors;
    metadata.set(file, loaded.metadata ?? {});
    for (const t of tensors.values()) t.kept = true;
    cache.set(file, tensors);
  }
  const all = tensors;
  return (key: string): Tensor => {
    const t = all.get(key);
    if (!t) throw new Error(`fixture ${file} has no tensor '${key}'`);
    return t;
  };
}

/** Every key of a fixture under `prefix.`, with the prefix removed. */
export function fixtureGroup(file: string, prefix: string): Map<string, Tensor> {
  fixture(file);
  const out = new Map<string, Tensor>();
  for (const [k, v] of cache.get(file)!) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}
