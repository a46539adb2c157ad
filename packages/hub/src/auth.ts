// API tokens: 32 random bytes shown once as `ptx_<base64url>`, stored only as their sha256.
// A request's token is hashed and looked up by that hash, then compared in constant time;
// the secret itself is never stored, logged or compared byte by byte.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export function scopeAllows(have: Scope, need: Scope): boolean {
  return SCOPES.indexOf(have) >= SCOPES.indexOf(need);
}

export function newToken(): { token: string; hash: string; prefix: string } {
  const token = `ptx_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token), prefix: token.slice(0, 8) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time equality of a presented token's hash and a stored hash. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** The token in `Authorization: Bearer ...`, or null. Tokens are never taken from URLs. */
export function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(ptx_[A-Za-z0-9_-]{20,100})$/.exec(header.trim());
  return m ? m[1]! : null;
}

/** Team and model names: lowercase letters, digits, '-', '_' and '.', 1-64 characters, no leading dot. */
export const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Alias names (also no version-like hex). */
export const ALIAS = /^[a-z][a-z0-9._-]{0,63}$/;
/** File paths inside a version: relative, no '..', no absolute or hidden segments. */
export function validFilePath(p: string): boolean {
  if (p.length === 0 || p.length > 255 || p.startsWith('/') || p.includes('\\') || p.includes('\0')) return false;
  return p
    .split('/')
    .every((seg) => seg.length > 0 && seg !== '.' && seg !== '..' && !seg.startsWith('.') && /^[A-Za-z0-9._-]+$/.test(seg));
}
