// JSON schemas the routes share. Each route lists every status it can answer, so the OpenAPI
// document at /openapi.json is the whole contract (the fuzz test holds the server to it).
import { SHA256 } from '../blobs.js';
import { VISIBILITIES } from '../store/index.js';

export const name = { type: 'string', minLength: 1, maxLength: 64 } as const;
export const sha256 = { type: 'string', pattern: SHA256.source } as const;
export const visibility = { type: 'string', enum: VISIBILITIES } as const;

export const modelParams = {
  type: 'object',
  required: ['team', 'name'],
  properties: { team: name, name },
  additionalProperties: false,
} as const;
export const refParams = {
  type: 'object',
  required: ['team', 'name', 'ref'],
  properties: { team: name, name, ref: { type: 'string', minLength: 1, maxLength: 64 } },
  additionalProperties: false,
} as const;

const error = {
  type: 'object',
  properties: { error: { type: 'string' }, statusCode: { type: 'integer' } },
} as const;
const ERROR_TEXT: Record<number, string> = {
  400: 'the request is malformed; the message says which field',
  401: 'no token, or an unknown, revoked or expired one',
  403: 'the token lacks the scope or role this needs',
  404: 'not found, or not visible to this token',
  409: 'conflicts with what exists',
  413: 'too large',
  416: 'the range is outside the file',
  429: 'over a per-user limit; retry later',
};
const anyObject = { type: 'object', additionalProperties: true } as const;
const anyArray = { type: 'array', items: anyObject } as const;

/**
 * A route's response schemas: its success status with a body of the given kind, plus each
 * error status it may answer (every route may answer 400 for a malformed request and 401 for
 * a bad token).
 */
export function responses(success: Record<number, 'object' | 'array' | 'empty' | 'bytes'>, errors: number[] = []): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const [status, kind] of Object.entries(success))
    out[Number(status)] =
      kind === 'object'
        ? anyObject
        : kind === 'array'
          ? anyArray
          : kind === 'empty'
            ? { type: 'null', description: 'no body' }
            : { description: 'the file bytes (application/octet-stream)' };
  for (const status of [...new Set([400, 401, ...errors])]) out[status] = { ...error, description: ERROR_TEXT[status] };
  return out;
}
