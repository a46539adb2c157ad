// Files inside Debian packages, fetched as the Fashion-MNIST source is: the cache first, then
// the installed package, then `apt-get download` and `dpkg-deb -x` into a temporary folder
// (nothing is installed, so no R or Java arrives with the data), always checked against the
// sha256 of the file itself.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DataFormatError } from './errors.js';
import { defaultCacheDir } from './fashionMnist.js';
import { hasUnpacked, keepUnpacked } from './npmPackage.js';

export interface DebianFile {
  /** The Debian package that ships the file. */
  pkg: string;
  /** Its path inside the package, without the leading '/'. */
  path: string;
  /** sha256 of the file's bytes (hex). */
  sha256: string;
}

export interface DebianFetchOptions {
  /** Where fetched files are kept (default PRETEXT_CACHE or ~/.cache/pretext). */
  cacheDir?: string;
  /** Fetch the package when no copy is found (default true). */
  download?: boolean;
  /** The root the package would be installed under (default '/'). */
  installRoot?: string;
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

const cachePath = (f: DebianFile, o: DebianFetchOptions): string =>
  join(o.cacheDir ?? defaultCacheDir(), 'debian', f.pkg, basename(f.path));

/**
 * A local path holding the verified file. When the package has to be fetched, the other
 * pinned files of the same package in `also` are verified and cached from it too.
 */
export function debianFile(f: DebianFile, o: DebianFetchOptions = {}, also: readonly DebianFile[] = []): string {
  const cached = cachePath(f, o);
  const installed = join(o.installRoot ?? '/', f.path);
  for (const p of [cached, installed]) {
    if (!existsSync(p)) continue;
    const got = sha256(p);
    if (got === f.sha256) return p;
    if (p === cached)
      throw new DataFormatError(`${p}: content checksum mismatch (sha256 ${got}, expected ${f.sha256}); delete it to fetch a fresh copy`);
  }
  if (o.download === false)
    throw new DataFormatError(
      `${basename(f.path)} (Debian package ${f.pkg}) not found in ${cached} or ${installed}, and fetching is off; run 'apt-get download ${f.pkg}' and 'dpkg-deb -x' it, or allow fetching`,
    );
  const work = mkdtempSync(join(tmpdir(), `pretext-deb-${f.pkg}-`));
  try {
    const deb = downloadDeb(f.pkg, work, `for ${basename(f.path)}`);
    execFileSync('dpkg-deb', ['-x', deb, join(work, 'x')], { stdio: 'pipe', timeout: 300_000 });
    const keep = (g: DebianFile): string => {
      const extracted = join(work, 'x', g.path);
      if (!existsSync(extracted)) throw new DataFormatError(`Debian package ${g.pkg} (${basename(deb)}) has no file /${g.path}`);
      const got = sha256(extracted);
      if (got !== g.sha256)
        throw new DataFormatError(`/${g.path} in ${basename(deb)}: sha256 ${got}, expected ${g.sha256}: another version of the package?`);
      const dest = cachePath(g, o);
      mkdirSync(join(dest, '..'), { recursive: true });
      copyFileSync(extracted, `${dest}.part`);
      renameSync(`${dest}.part`, dest);
      return dest;
    };
    for (const g of also) if (g.pkg === f.pkg && g.path !== f.path && !existsSync(cachePath(g, o))) keep(g);
    return keep(f);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `apt-get download` of a package (at a version when given) into `work`; the path of the .deb. */
function downloadDeb(pkg: string, work: string, why: string, version?: string): string {
  const spec = version ? `${pkg}=${version}` : pkg;
  try {
    execFileSync('apt-get', ['download', spec], { cwd: work, stdio: 'pipe', timeout: 600_000 });
  } catch (err) {
    const out = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    throw new DataFormatError(`could not fetch Debian package ${spec} ${why} (apt-get download): ${out}`);
  }
  const deb = readdirSync(work).find((x) => x.endsWith('.deb'));
  if (!deb) throw new DataFormatError(`apt-get download ${spec} left no .deb file`);
  return join(work, deb);
}

/** A whole Debian package pinned by the sha256 of its .deb (for packages of thousands of files). */
export interface DebianPackage {
  pkg: string;
  /** The exact version `apt-get download pkg=version` fetches. */
  version: string;
  /** sha256 of the .deb file (hex), as in the archive's Packages index. */
  sha256: string;
}

/**
 * The folder holding the package's files, unpacked from a .deb whose sha256 matched the pin:
 * the cache first, then `apt-get download` (nothing is installed). An installed copy is not
 * used, since its files cannot be checked against the .deb's hash.
 */
export function debianPackageDir(p: DebianPackage, o: DebianFetchOptions = {}): string {
  const dir = join(o.cacheDir ?? defaultCacheDir(), 'debian', `${p.pkg}-${p.version.replace(/[^\w.+-]/g, '_')}`);
  if (hasUnpacked(dir, p.sha256)) return dir;
  if (o.download === false)
    throw new DataFormatError(
      `Debian package ${p.pkg} ${p.version} is not unpacked in ${dir}, and fetching is off; allow fetching, or run 'apt-get download ${p.pkg}=${p.version}' and 'dpkg-deb -x' it there`,
    );
  const work = mkdtempSync(join(tmpdir(), `pretext-deb-${p.pkg}-`));
  try {
    const deb = downloadDeb(p.pkg, work, 'as a data set', p.version);
    const got = sha256(deb);
    if (got !== p.sha256)
      throw new DataFormatError(
        `${basename(deb)}: sha256 ${got}, expected ${p.sha256}: the mirror served other bytes for ${p.pkg} ${p.version}`,
      );
    execFileSync('dpkg-deb', ['-x', deb, join(work, 'x')], { stdio: 'pipe', timeout: 600_000 });
    keepUnpacked(join(work, 'x'), dir, p.sha256);
    return dir;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
