import type { EvalInput } from '../../src/store.js';

// The hub's HTTP API as the browser sees it. The token lives in localStorage and goes out
// in the Authorization header only; files that need it are fetched and shown as blob URLs.
export interface Model {
  id: number;
  team: string;
  name: string;
  visibility: 'private' | 'internal' | 'public';
  card: string;
  tags: string[];
  method: string | null;
  modality: string | null;
  updatedAt: string;
  latest: number | null;
  aliases: Record<string, number>;
}

export interface Version {
  seq: number;
  digest: string;
  files: { path: string; sha256: string; size: number }[];
  lineage: Record<string, unknown>;
  metrics: Record<string, unknown>;
  createdBy: string;
  createdAt: string;
}

export interface EvalRow extends EvalInput {
  version: number;
  by: string;
}

export interface BoardRow {
  team: string;
  model: string;
  version: number;
  metric: string;
  value: number;
  labelBudget: string;
  protocol: string;
  by: string;
}

export const token = {
  get: (): string | null => localStorage.getItem('pretext-token'),
  set: (t: string | null): void => (t ? localStorage.setItem('pretext-token', t) : localStorage.removeItem('pretext-token')),
};

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const t = token.get();
  const res = await fetch(path, {
    method,
    headers: { ...(t ? { authorization: `Bearer ${t}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text ? (JSON.parse(text) as T & { error?: string }) : ({} as T & { error?: string });
  if (!res.ok) throw new ApiError(json.error ?? res.statusText, res.status);
  return json;
}

/** A version's file as text, or null when the version has no such file. */
export async function fileText(m: Model, v: Version, path: string): Promise<string | null> {
  if (!v.files.some((f) => f.path === path)) return null;
  const t = token.get();
  const res = await fetch(`/api/models/${m.team}/${m.name}/versions/v${v.seq}/files/${path}`, {
    headers: t ? { authorization: `Bearer ${t}` } : {},
  });
  return res.ok ? res.text() : null;
}

export function fileUrl(m: Model, v: Version, path: string): string {
  return `/api/models/${m.team}/${m.name}/versions/v${v.seq}/files/${path}`;
}
