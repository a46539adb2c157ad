// The layers hold: arrows point down only (ARCHITECTURE.md). The hub runs without libtorch
// and knows nothing of training; data sources need no engine; no library imports the command line; the hub's client
// entry point pulls in no server code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === 'node_modules' || f === 'dist' ? [] : sources(p);
    return /\.(ts|tsx|mts)$/.test(f) ? [p] : [];
  });
}

/** Module specifiers a file imports or re-exports (static and dynamic). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out;
}

function violations(pkg: string, forbidden: RegExp): string[] {
  return sources(join(root, 'packages', pkg, 'src')).flatMap((f) =>
    imports(f)
      .filter((s) => forbidden.test(s))
      .map((s) => `${f.slice(root.length + 1)} imports ${s}`),
  );
}

describe('layering', () => {
  it('finds the imports it checks', () => {
    assert.ok(imports(join(root, 'packages', 'cli', 'src', 'main.ts')).includes('@pretext/ssl'));
    assert.ok(imports(join(root, 'packages', 'hub', 'src', 'server.ts')).includes('fastify'));
  });

  it('keeps the hub free of the engine, the learning library and the CLI', () => {
    assert.deepEqual(violations('hub', /^@pretext\/(torch|ssl|cli)(\/|$)/), []);
  });

  it('keeps data sources and formats free of the engine and of everything above them', () => {
    assert.deepEqual(violations('data', /^@pretext\//), []);
  });

  it('lets no library import the command line, and the engine import nothing above it', () => {
    for (const pkg of ['torch', 'data', 'ssl', 'hub']) assert.deepEqual(violations(pkg, /^@pretext\/cli(\/|$)/), [], pkg);
    assert.deepEqual(violations('torch', /^@pretext\/(ssl|hub)(\/|$)/), []);
  });

  it('lets the learning library reach the hub only through its client entry point', () => {
    assert.deepEqual(violations('ssl', /^@pretext\/hub$/), []);
  });

  it('keeps server code out of the hub client entry point, transitively', () => {
    const seen = new Set<string>();
    const external = new Set<string>();
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const s of imports(file)) {
        if (!s.startsWith('.')) {
          external.add(s);
          continue;
        }
        // `import type` lines are erased at run time; they still count here, to be strict.
        const target = resolve(dirname(file), s.replace(/\.js$/, '.ts'));
        if (existsSync(target)) walk(target);
      }
    };
    walk(join(root, 'packages', 'hub', 'src', 'client.ts'));
    assert.ok(seen.size >= 2);
    // Node built-ins, plus the audited Shamir package that secure aggregation shares keys with
    // (sites mask their updates through the client): no server framework, no database.
    assert.deepEqual(
      [...external].filter((s) => !s.startsWith('node:')),
      ['shamir-secret-sharing'],
      'the client uses Node built-ins and the Shamir package only',
    );
    assert.ok(![...seen].some((f) => /server\.ts$|routes\/|db\.ts$/.test(f)), [...seen].join(', '));
  });
});
