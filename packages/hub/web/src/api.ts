import type { EvalInput } from '../../src/store/evals.js';

// The hub's HTTP API as the browser sees it. Signing in exchanges the API token for an
// HttpOnly session cookie (page scripts never see it); the only secret this page holds is the
// session's CSRF token, in memory, sent on every request that changes something.
export interface Model {
  id: number;
  team: string;
  name: string;
  visibility: 'private' | 'internal' | 'public';
  card: string;
  /** The card's Markdown body as HTML, sanitized by the hub (GET /api/models/:team/:name only). */
  cardHtml?: string;
  cardFront?: string | null;
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

export interface Session {
  user: string;
  admin: boolean;
  scope: string;
  csrf: string;
}

let csrf: string | null = null;

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      ...(method !== 'GET' && csrf ? { 'x-csrf-token': csrf } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text ? (JSON.parse(text) as T & { error?: string }) : ({} as T & { error?: string });
  if (!res.ok) throw new ApiError(json.error ?? res.statusText, res.status);
  return json;
}

export const session = {
  /** The signed-in user of this browser, or null. */
  async current(): Promise<Session | null> {
    // A token kept by an older version of this page is dropped: sessions replaced it.
    localStorage.removeItem('pretext-token');
    try {
      const s = await api<Session>('GET', '/api/session');
      csrf = s.csrf;
      return s;
    } catch {
      csrf = null;
      return null;
    }
  },
  async signIn(token: string): Promise<Session> {
    const s = await api<Session>('POST', '/api/session', { token });
    csrf = s.csrf;
    return s;
  },
  async signOut(): Promise<void> {
    await api('DELETE', '/api/session');
    csrf = null;
  },
};

export function fileUrl(m: Model, v: Version, path: string): string {
  return `/api/models/${m.team}/${m.name}/versions/v${v.seq}/files/${path}`;
}

/** A version's file as text, or null when the version has no such file. */
export async function fileText(m: Model, v: Version, path: string): Promise<string | null> {
  if (!v.files.some((f) => f.path === path)) return null;
  const res = await fetch(fileUrl(m, v, path), { credentials: 'same-origin' });
  return res.ok ? res.text() : null;
}
