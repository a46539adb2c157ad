// Deterministic release of native tensor memory. V8 cannot see tensor memory, so the GC
// alone runs too late; a scope frees, when it ends, every tensor created inside it except
// what it returns and what was kept. Tensors that outlive every scope fall back to a
// FinalizationRegistry, the safety net.
import { native, type Handle } from './native.js';

/** What a scope tracks: anything holding a native handle. */
export interface Tracked {
  h: Handle;
  kept: boolean;
}

const safetyNet = new FinalizationRegistry<Handle>((h) => native.dispose(h));
const stack: Tracked[][] = [];

/** Called by every tensor constructor. */
export function track(t: Tracked): void {
  const top = stack[stack.length - 1];
  if (top !== undefined) top.push(t);
  else safetyNet.register(t, t.h);
}

function release(t: Tracked): void {
  native.dispose(t.h);
  t.h = -1;
}

function collect(value: unknown, into: Set<Tracked>, seen: Set<unknown>, depth: number): void {
  if (value === null || typeof value !== 'object' || depth > 8 || seen.has(value)) return;
  seen.add(value);
  if (isTracked(value)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, into, seen, depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, into, seen, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, into, seen, depth + 1);
  }
}

function isTracked(v: object): v is Tracked {
  return typeof (v as Tracked).h === 'number' && typeof (v as Tracked).kept === 'boolean';
}

function closeScope(tensors: Tracked[], result: unknown): void {
  const survivors = new Set<Tracked>();
  collect(result, survivors, new Set(), 0);
  const parent = stack[stack.length - 1];
  for (const t of tensors) {
    if (t.h < 0) continue;
    if (survivors.has(t)) {
      if (parent !== undefined) parent.push(t);
      else safetyNet.register(t, t.h);
    } else if (t.kept) {
      safetyNet.register(t, t.h);
    } else {
      release(t);
    }
  }
}

/**
 * Runs `fn` in a scope: every tensor created inside is freed when it returns, except the
 * tensors in its result (a tensor, or arrays/plain objects/Maps holding tensors) and those
 * passed to `keep()`. Async functions are not supported: await outside, tidy inside.
 */
export function tidy<T>(fn: () => T): T {
  const tensors: Tracked[] = [];
  stack.push(tensors);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    stack.pop();
    closeScope(tensors, undefined);
    throw err;
  }
  stack.pop();
  if (result instanceof Promise) {
    closeScope(tensors, undefined);
    throw new TypeError('tidy() got an async function: tensors would be freed before it finishes');
  }
  closeScope(tensors, result);
  return result;
}

/** Marks tensors to survive the scopes they were created in (model weights, optimizer state). */
export function keep<T extends Tracked | Tracked[]>(t: T): T {
  for (const x of Array.isArray(t) ? t : [t]) x.kept = true;
  return t;
}

/**
 * A scope for the `using` declaration: `{ using scope = new Scope(); ... }` frees what was
 * created inside the block, except tensors handed to `scope.keep()` or `keep()`.
 */
export class Scope {
  private readonly tensors: Tracked[] = [];
  private readonly keepers = new Set<Tracked>();
  private open = true;

  constructor() {
    stack.push(this.tensors);
  }

  /** Lets `t` outlive this scope (it moves to the enclosing scope, if any). */
  keep<T extends Tracked>(t: T): T {
    this.keepers.add(t);
    return t;
  }

  [Symbol.dispose](): void {
    if (!this.open) return;
    this.open = false;
    const at = stack.lastIndexOf(this.tensors);
    if (at !== stack.length - 1) {
      throw new Error('Scope disposed out of order: close inner scopes first');
    }
    stack.pop();
    closeScope(this.tensors, [...this.keepers]);
  }
}

/** Number of scopes currently open (for tests and diagnostics). */
export function scopeDepth(): number {
  return stack.length;
}
