// A training state on disk, for runs that stop and go on exactly where they were: the method's
// state dict, the optimizer's per-parameter state, the schedule, random generator states and
// whatever position the caller keeps. Tensors go to state.safetensors, the rest to state.json,
// written under a temporary name and renamed, json last, so a state.json always describes a
// complete tensor file.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';
import type { SSLMethod } from '../methods/method.js';
import type { buildOptimizer } from './optim.js';

type Optimizer = ReturnType<typeof buildOptimizer>;

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

export function hasTrainingState(dir: string): boolean {
  return existsSync(join(dir, 'state.json'));
}

/** Writes the state; `rng` are generator states by name, `extra` the caller's JSON (a position). */
export function writeTrainingState(
  dir: string,
  parts: { method: SSLMethod; optimizer: Optimizer; schedule: torch.optim.LRScheduler },
  rng: Record<string, Tensor>,
  extra: Record<string, unknown>,
): void {
  mkdirSync(dir, { recursive: true });
  torch.tidy(() => {
    const sd = parts.optimizer.stateDict();
    const tensors = new Map<string, Tensor>();
    for (const [k, v] of parts.method.stateDict()) tensors.set(`model.${k}`, v);
    const scalars: Record<string, Record<string, number>> = {};
    for (const [i, s] of Object.entries(sd.state)) {
      for (const [name, v] of Object.entries(s)) {
        if (v instanceof torch.Tensor) tensors.set(`optim.${i}.${name}`, v);
        else (scalars[i] ??= {})[name] = v;
      }
    }
    for (const [name, t] of Object.entries(rng)) tensors.set(`rng.${name}`, t);
    const file = join(dir, 'state.safetensors');
    torch.safetensors.saveFile(`${file}.tmp`, tensors, { format: 'pretext-checkpoint' });
    renameSync(`${file}.tmp`, file);
    writeJsonAtomic(join(dir, 'state.json'), {
      ...extra,
      optimizer: { paramGroups: sd.paramGroups, scalars },
      schedule: parts.schedule.stateDict(),
    });
  });
}

/**
 * Loads a state written by `writeTrainingState` into the method, optimizer and schedule; returns
 * the generator states (kept tensors: the caller disposes them) and the caller's JSON.
 */
export function readTrainingState<E extends Record<string, unknown>>(
  dir: string,
  parts: { method: SSLMethod; optimizer: Optimizer; schedule: torch.optim.LRScheduler },
): { rng: Map<string, Tensor>; extra: E } {
  const meta = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as E & {
    optimizer: { paramGroups: never[]; scalars: Record<string, Record<string, number>> };
    schedule: { stepCount: number; baseLrs: number[] };
  };
  const { tensors } = torch.safetensors.loadFile(join(dir, 'state.safetensors'));
  const take = (prefix: string): Map<string, Tensor> =>
    new Map([...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  parts.method.loadStateDict(take('model.'));
  const state: Record<number, Record<string, Tensor | number>> = {};
  for (const [key, v] of take('optim.')) {
    const [i, name] = key.split('.', 2) as [string, string];
    (state[Number(i)] ??= {})[name] = v;
  }
  for (const [i, scalars] of Object.entries(meta.optimizer.scalars)) Object.assign((state[Number(i)] ??= {}), scalars);
  parts.optimizer.loadStateDict({ state, paramGroups: meta.optimizer.paramGroups });
  parts.schedule.loadStateDict(meta.schedule);
  const rng = new Map([...take('rng.')].map(([k, v]) => [k, torch.keep(v.clone())] as const));
  for (const t of tensors.values()) t.dispose();
  const { optimizer: _o, schedule: _s, ...extra } = meta;
  return { rng, extra: extra as unknown as E };
}

/**
 * Data-parallel resume: every rank gets rank 0's saved state (the run folder holds the only
 * copy; other ranks train into scratch folders, maybe on other machines) in its own `dir`,
 * described over the group's store and sent by broadcast, so no disk is shared. Returns
 * whether there was a state to resume.
 */
export function shareTrainingState(dir: string): boolean {
  const d = torch.distributed;
  const key = 'pretext/resume-state';
  if (d.rank() === 0) {
    if (!hasTrainingState(dir)) {
      d.store.set(key, 'none');
      return false;
    }
    const json = readFileSync(join(dir, 'state.json'), 'utf8');
    const { tensors } = torch.safetensors.loadFile(join(dir, 'state.safetensors'));
    const names = [...tensors.keys()];
    d.store.set(key, JSON.stringify({ json, tensors: names.map((n) => [n, tensors.get(n)!.shape, tensors.get(n)!.dtype]) }));
    for (const n of names) d.broadcast(tensors.get(n)!, 0);
    for (const t of tensors.values()) t.dispose();
    return true;
  }
  const text = d.store.get(key);
  if (text === 'none') return false;
  const meta = JSON.parse(text) as { json: string; tensors: [string, number[], torch.DType][] };
  const tensors = new Map(meta.tensors.map(([n, shape, dtype]) => [n, torch.empty(shape, { dtype })] as const));
  for (const t of tensors.values()) d.broadcast(t, 0);
  mkdirSync(dir, { recursive: true });
  torch.safetensors.saveFile(join(dir, 'state.safetensors'), tensors, { format: 'pretext-checkpoint' });
  writeJsonAtomic(join(dir, 'state.json'), JSON.parse(meta.json));
  for (const t of tensors.values()) t.dispose();
  return true;
}
