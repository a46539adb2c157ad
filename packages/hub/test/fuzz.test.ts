// A fuzzer driven by the hub's own published contract: requests for every operation in
// /openapi.json, built by fast-check from the operation's parameter and body schemas (valid
// values, near-misses and junk), sent as an outsider, a reader and anonymously. Every answer
// must be a status the operation documents, never a 500, and never carry another team's
// private content.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { freshHub, sha } from './fixtures/hub.js';

interface Schema {
  type?: string;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
}
interface Operation {
  method: string;
  path: string;
  parameters: { in: string; name: string; schema: Schema; required?: boolean }[];
  body: Schema | null;
  statuses: Set<number>;
}

/** Names the setup made, so generated requests often hit real teams, models and refs. */
const KNOWN = ['vision', 'fraud', 'secret', 'enc', 'latest', 'v1', 'production', 'admin', 'mallory', 'encoder.safetensors'];
const NASTY = [
  '..',
  '%2e%2e',
  '.hidden',
  'a/b',
  ' ',
  '\u0000',
  '\u202e',
  'x'.repeat(300),
  "'; DROP TABLE models; --",
  '${7*7}',
  '<script>',
];

function arbitrary(s: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (s.enum) return fc.oneof(fc.constantFrom(...s.enum), fc.string({ maxLength: 8 }));
  switch (s.type) {
    case 'string':
      return fc.oneof(
        { weight: 3, arbitrary: s.pattern ? fc.stringMatching(new RegExp(s.pattern)) : fc.constantFrom(...KNOWN) },
        { weight: 2, arbitrary: fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 32, 70) }) },
        { weight: 1, arbitrary: fc.constantFrom(...NASTY) },
      );
    case 'integer':
      return fc.oneof(fc.integer({ min: s.minimum ?? -5, max: Math.min(s.maximum ?? 1000, 1000) }), fc.integer(), fc.constant(2 ** 60));
    case 'number':
      return fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.double());
    case 'boolean':
      return fc.boolean();
    case 'array':
      return depth > 2 ? fc.constant([]) : fc.array(arbitrary(s.items ?? {}, depth + 1), { maxLength: 3 });
    case 'object': {
      if (depth > 2 || !s.properties) return fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
      const valid = fc.record(Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, arbitrary(v, depth + 1)])), {
        requiredKeys: s.required ?? [],
      });
      return fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

describe('API fuzzing against /openapi.json', () => {
  let h: Awaited<ReturnType<typeof freshHub>>;
  let ops: Operation[];
  const CANARY = 'CANARY-private-card-7f3a91';
  const secretBytes = Buffer.from('CANARY-private-weights-c0ffee');
  const tokens: Record<string, string | null> = { anon: null };

  before(async () => {
    h = await freshHub({ logLevel: false });
    const root = h.hub.adminToken!;
    const post = async (url: string, token: string, body: unknown) => {
      const r = await h.call('POST', url, token, body);
      assert.ok(r.status < 300, `${url}: ${r.body}`);
      return r.json!;
    };
    for (const u of ['alice', 'mallory']) await post('/api/users', root, { name: u });
    const alice = (await post('/api/tokens', root, { name: 'a', scope: 'admin', user: 'alice' })).token as string;
    tokens.mallory = (await post('/api/tokens', root, { name: 'm', scope: 'admin', user: 'mallory' })).token as string;
    tokens.malloryRead = (await post('/api/tokens', root, { name: 'mr', scope: 'read', user: 'mallory' })).token as string;
    await post('/api/teams', alice, { name: 'vision' });
    await post('/api/teams', tokens.mallory, { name: 'fraud' });
    await h.upload(alice, secretBytes);
    await post('/api/models/vision/secret/versions', alice, {
      files: [{ path: 'encoder.safetensors', sha256: sha(secretBytes), size: secretBytes.length }],
      card: `# Secret\n\n${CANARY}`,
    });
    await post('/api/models/vision/secret/versions/v1/evals', alice, {
      task: CANARY,
      dataset: 'd',
      metric: 'm',
      value: 0.5,
      protocol: 'p',
      labelBudget: '1%',
    });
    const doc = (await h.call('GET', '/openapi.json')).json as unknown as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: Operation['parameters'];
            requestBody?: { content: Record<string, { schema: Schema }> };
            responses: Record<string, unknown>;
          }
        >
      >;
    };
    ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        method: method.toUpperCase(),
        path,
        parameters: op.parameters ?? [],
        body: op.requestBody?.content['application/json']?.schema ?? null,
        statuses: new Set(Object.keys(op.responses).map(Number)),
      })),
    );
  });
  after(() => h.hub.app.close());

  it('documents every route the server serves', () => {
    const documented = new Set(
      ops.map((o) => `${o.method} ${o.path.replace(/\{([^}]+)\}/g, (_, p: string) => (p === '*' ? '*' : `:${p}`))}`),
    );
    assert.deepEqual(
      h.hub.routes.filter((r) => !documented.has(r)),
      [],
    );
  });

  it('answers every generated request with a documented status, never a 500, never with private content', async () => {
    const cases = fc.constantFrom(...ops).chain((op) =>
      fc.record({
        op: fc.constant(op),
        actor: fc.constantFrom(...Object.keys(tokens)),
        params: fc.record(Object.fromEntries(op.parameters.map((p) => [`${p.in}:${p.name}`, arbitrary(p.schema)])), { requiredKeys: [] }),
        body: op.body ? fc.option(arbitrary(op.body), { nil: undefined, freq: 8 }) : fc.constant(undefined),
      }),
    );
    const seenStatuses = new Map<string, Set<number>>();
    await fc.assert(
      fc.asyncProperty(cases, async ({ op, actor, params, body }) => {
        let path = op.path;
        const query = new URLSearchParams();
        const headers: Record<string, string> = {};
        for (const p of op.parameters) {
          const v = params[`${p.in}:${p.name}`];
          if (p.in === 'path') path = path.replace(`{${p.name}}`, encodeURIComponent(String(v ?? 'x')) || 'x');
          else if (v !== undefined && p.in === 'query') query.set(p.name, String(v));
          else if (v !== undefined && p.in === 'header') headers[p.name] = String(v).replace(/[^\x20-\x7e]/g, '');
        }
        const url = `${path}${query.size ? `?${query.toString()}` : ''}`;
        const isBlob = op.method === 'PUT' && op.path.startsWith('/api/blobs');
        if (isBlob) headers['content-type'] = 'application/octet-stream';
        const payload = isBlob ? Buffer.from(JSON.stringify(body ?? 'bytes')) : body;
        const r = await h.call(op.method, url, tokens[actor], payload, headers);
        const key = `${op.method} ${op.path}`;
        if (!seenStatuses.has(key)) seenStatuses.set(key, new Set());
        seenStatuses.get(key)!.add(r.status);
        assert.ok(r.status < 500, `${op.method} ${url} as ${actor}: ${r.status} ${r.body}`);
        // A path that matches no route (an encoded slash, an empty segment) is the router's 404.
        const routed = !(r.status === 404 && /"no route /.test(r.body));
        if (routed) assert.ok(op.statuses.has(r.status), `${op.method} ${url} as ${actor}: undocumented ${r.status} ${r.body}`);
        assert.ok(!r.body.includes(CANARY) && !r.raw.includes(secretBytes), `${op.method} ${url} as ${actor} leaked private content`);
      }),
      { numRuns: 1500, seed: 20261204 },
    );
    // The fuzzer reached past validation: most operations answered something other than 400/401.
    const deep = [...seenStatuses.values()].filter((s) => [...s].some((x) => x !== 400 && x !== 401)).length;
    assert.ok(deep >= ops.length * 0.8, `only ${deep} of ${ops.length} operations got past validation`);
  });
});
