// Secure aggregation after Bonawitz et al. (CCS 2017): the hub learns the sum of the sites'
// updates and nothing about any one of them, and a round still completes when sites drop out
// after sharing their keys. Each round, every site
//   1. advertises two fresh X25519 public keys (one for a channel to each other site, one for masks);
//   2. splits its mask key and a random self-mask seed into t-of-n Shamir shares
//      (`shamir-secret-sharing`, independently audited) and sends each other site its shares,
//      encrypted with AES-256-GCM under an HKDF key from their X25519 agreement (the hub only relays);
//   3. clips and quantizes its weighted update into the ring of 2^32 integers and adds its self
//      mask and, for every other site, a pairwise mask (AES-256-CTR keystream from their agreed
//      secret) with opposite signs on the two sides, so pairwise masks cancel in the sum;
//   4. for every site that dropped, reveals its share of that site's mask key; for every site
//      that submitted, its share of the self-mask seed (never both for one site).
// The hub keeps only masked vectors, removes the self masks and the dropped sites' pairwise
// masks from their sum, and turns it back into floats. Every primitive is Node's crypto or the
// Shamir package; nothing here is hand-rolled cryptography.
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import type { Weights } from './aggregate.js';

export class SecureAggregationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecureAggregationError';
  }
}

export interface SecAggParams {
  /** Shares needed to rebuild a site's secrets: more than half the sites (Bonawitz et al.'s bound for an honest majority). */
  threshold: number;
  /** Each coordinate of a weighted update is clipped to [-clip, clip] before quantizing. */
  clip: number;
  /** Bits per coordinate: 2^32 / sites values, so a sum of every site cannot wrap around. */
  bits: number;
  /** Tells rounds apart in key derivation and ciphertext bindings (e.g. `team/fed#round`). */
  context: string;
}

/** The parameters for `sites` sites: the smallest honest-majority threshold and the widest quantization the ring allows. */
export function secAggParams(sites: number, clip: number, context: string): SecAggParams {
  if (sites < 3)
    throw new SecureAggregationError(
      `secure aggregation needs at least 3 sites (with 2, the sum gives each site the other's update); got ${sites}`,
    );
  if (sites > 255) throw new SecureAggregationError(`Shamir sharing over one byte field allows at most 255 sites, got ${sites}`);
  if (!(clip > 0)) throw new SecureAggregationError(`the clip range must be positive, got ${clip}`);
  return { threshold: Math.floor(sites / 2) + 1, clip, bits: 32 - Math.ceil(Math.log2(sites + 1)), context };
}

// ---- vectors -----------------------------------------------------------------------------

/** Weights in key order as one vector. */
export function flattenWeights(w: Weights, keys: readonly string[]): Float32Array {
  const n = keys.reduce((a, k) => a + w.get(k)!.length, 0);
  const out = new Float32Array(n);
  let at = 0;
  for (const k of keys) {
    out.set(w.get(k)!, at);
    at += w.get(k)!.length;
  }
  return out;
}

/** A vector cut back into weights shaped like `template`. */
export function unflattenWeights(v: Float32Array, template: Weights): Weights {
  const out: Weights = new Map();
  let at = 0;
  for (const [k, t] of template) {
    out.set(k, v.slice(at, at + t.length));
    at += t.length;
  }
  if (at !== v.length) throw new SecureAggregationError(`a vector of ${v.length} values does not fit weights of ${at}`);
  return out;
}

/** weight * clip(x) mapped onto 0..2^bits-1 (round to nearest); `clipped` counts coordinates outside the range. */
export function quantize(x: Float32Array, weight: number, p: SecAggParams): { q: Uint32Array; clipped: number } {
  if (!(weight > 0 && weight <= 1)) throw new SecureAggregationError(`a site's weight is in (0, 1], got ${weight}`);
  const levels = 2 ** p.bits - 1;
  const q = new Uint32Array(x.length);
  let clipped = 0;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    if (!Number.isFinite(xi)) throw new SecureAggregationError(`coordinate ${i} of the update is ${xi}; a site sends finite updates only`);
    const c = Math.min(p.clip, Math.max(-p.clip, xi));
    if (c !== xi) clipped++;
    q[i] = Math.round(((weight * c + p.clip) / (2 * p.clip)) * levels);
  }
  return { q, clipped };
}

/** The float sum of `count` quantized vectors from their integer sum. */
export function dequantizeSum(sum: Uint32Array, count: number, p: SecAggParams): Float32Array {
  const step = (2 * p.clip) / (2 ** p.bits - 1);
  const out = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) out[i] = sum[i]! * step - count * p.clip;
  return out;
}

/** A mask: AES-256-CTR's keystream under a 32-byte seed, as 32-bit words. */
function prg(seed: Uint8Array, length: number): Uint32Array {
  const c = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16));
  const bytes = Buffer.concat([c.update(Buffer.alloc(length * 4)), c.final()]);
  return new Uint32Array(bytes.buffer, bytes.byteOffset, length);
}

function addInto(acc: Uint32Array, v: Uint32Array, sign: 1 | -1): void {
  if (sign === 1) for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! + v[i]!) >>> 0;
  else for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! - v[i]!) >>> 0;
}

// ---- keys --------------------------------------------------------------------------------

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const raw = (s: string): Buffer => Buffer.from(s, 'base64url');

function publicKey(x: string): KeyObject {
  if (raw(x).length !== 32) throw new SecureAggregationError('an X25519 public key is 32 bytes');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
}

interface KeyPair {
  priv: KeyObject;
  pub: string;
  secret: Buffer;
}

/** A fresh X25519 key pair, or a saved one (its private key as PKCS #8 DER). */
function keyPair(pkcs8?: Buffer): KeyPair {
  let priv: KeyObject;
  try {
    priv = pkcs8 ? createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }) : generateKeyPairSync('x25519').privateKey;
  } catch (e) {
    throw new SecureAggregationError(`a saved key does not load: ${(e as Error).message}`);
  }
  if (priv.asymmetricKeyType !== 'x25519') throw new SecureAggregationError(`a saved key is ${priv.asymmetricKeyType}, not X25519`);
  const jwk = priv.export({ format: 'jwk' });
  return { priv, pub: jwk.x!, secret: raw(jwk.d!) };
}

const savedKey = (k: KeyPair): string => b64u(k.priv.export({ format: 'der', type: 'pkcs8' }));

/** A 32-byte key from an X25519 agreement, bound to the round, the pair and its use. */
function agree(priv: KeyObject, pub: string, p: SecAggParams, a: string, b: string, use: string): Buffer {
  const shared = diffieHellman({ privateKey: priv, publicKey: publicKey(pub) });
  const [lo, hi] = a < b ? [a, b] : [b, a];
  return Buffer.from(hkdfSync('sha256', shared, Buffer.from(p.context), Buffer.from(`pretext-secagg/${use}/${lo}/${hi}`), 32));
}

export interface Advertisement {
  site: string;
  /** Channel key (encrypting shares) and mask key (pairwise masks), base64url X25519. */
  channelKey: string;
  maskKey: string;
}

/** A site's shares for one other site, sealed so only that site opens them. */
export interface SealedShares {
  from: string;
  to: string;
  /** base64url: 12-byte IV, ciphertext, 16-byte tag. */
  box: string;
}

export interface UnmaskRequest {
  /** Sites whose masked input arrived (their self masks come off). */
  survivors: string[];
  /** Sites that shared keys but sent no input (their pairwise masks come off). */
  dropped: string[];
}

export interface UnmaskResponse {
  site: string;
  /** For each survivor, this site's share of its self-mask seed; for each dropped site, of its mask key. */
  seedShares: Record<string, string>;
  keyShares: Record<string, string>;
}

/**
 * Everything a site holds in one attempt of a round, secrets included, so that a site restarted
 * mid-round carries on with the keys it advertised (kept by the site on its own disk, never sent).
 */
export interface SecAggSiteState {
  /** base64url PKCS #8 DER of the two X25519 private keys, and the self-mask seed. */
  channelKey: string;
  maskKey: string;
  seed: string;
  roster: Advertisement[];
  /** from -> [mask-key share, seed share], base64url. */
  held: Record<string, [string, string]>;
  revealed: string[];
}

/** A site's side of one round. */
export class SecAggSite {
  private readonly channel: KeyPair;
  private readonly mask: KeyPair;
  private readonly seed: Buffer;
  private roster: Advertisement[] = [];
  /** Shares other sites sent this site: from -> [mask-key share, seed share]. */
  private readonly held = new Map<string, [Uint8Array, Uint8Array]>();
  private revealed = new Set<string>();

  /** Fresh keys and seed, or those of `state` (a restarted site). */
  constructor(
    readonly site: string,
    readonly params: SecAggParams,
    state?: SecAggSiteState,
  ) {
    this.channel = keyPair(state && raw(state.channelKey));
    this.mask = keyPair(state && raw(state.maskKey));
    this.seed = state ? raw(state.seed) : randomBytes(32);
    if (state) {
      if (this.seed.length !== 32) throw new SecureAggregationError('a saved self-mask seed is 32 bytes');
      this.roster = state.roster;
      for (const [from, [k, s]] of Object.entries(state.held)) this.held.set(from, [new Uint8Array(raw(k)), new Uint8Array(raw(s))]);
      this.revealed = new Set(state.revealed);
    }
  }

  /** This site's secrets and progress in the attempt, for its own disk only. */
  state(): SecAggSiteState {
    return {
      channelKey: savedKey(this.channel),
      maskKey: savedKey(this.mask),
      seed: b64u(this.seed),
      roster: this.roster,
      held: Object.fromEntries([...this.held].map(([from, [k, s]]) => [from, [b64u(k), b64u(s)]])),
      revealed: [...this.revealed],
    };
  }

  advertise(): Advertisement {
    return { site: this.site, channelKey: this.channel.pub, maskKey: this.mask.pub };
  }

  /** Splits this site's mask key and seed among the roster (which must include it), sealed per recipient. */
  async shareKeys(roster: Advertisement[]): Promise<SealedShares[]> {
    if (!roster.some((a) => a.site === this.site && a.maskKey === this.mask.pub))
      throw new SecureAggregationError(`the roster lacks ${this.site}'s own keys`);
    if (new Set(roster.map((a) => a.site)).size !== roster.length) throw new SecureAggregationError('the roster names a site twice');
    if (roster.length < this.params.threshold)
      throw new SecureAggregationError(`${roster.length} sites advertised keys, fewer than the threshold ${this.params.threshold}`);
    this.roster = roster;
    // The package wants plain Uint8Arrays, not Buffers.
    const keyShares = await split(new Uint8Array(this.mask.secret), roster.length, this.params.threshold);
    const seedShares = await split(new Uint8Array(this.seed), roster.length, this.params.threshold);
    const out: SealedShares[] = [];
    roster.forEach((peer, i) => {
      const payload = Buffer.concat([Buffer.from([keyShares[i]!.length]), keyShares[i]!, seedShares[i]!]);
      if (peer.site === this.site) {
        this.held.set(this.site, [keyShares[i]!, seedShares[i]!]);
        return;
      }
      const key = agree(this.channel.priv, peer.channelKey, this.params, this.site, peer.site, 'channel');
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(Buffer.from(`${this.params.context}|${this.site}->${peer.site}`));
      const body = Buffer.concat([c.update(payload), c.final()]);
      out.push({ from: this.site, to: peer.site, box: b64u(Buffer.concat([iv, body, c.getAuthTag()])) });
    });
    return out;
  }

  /** Opens the shares other sites sealed for this site (a box that fails to open is an error naming its sender). */
  receiveShares(boxes: SealedShares[]): void {
    for (const s of boxes) {
      if (s.to !== this.site) throw new SecureAggregationError(`a box for ${s.to} was delivered to ${this.site}`);
      const peer = this.roster.find((a) => a.site === s.from);
      if (!peer) throw new SecureAggregationError(`shares from ${s.from}, who is not on the roster`);
      const bytes = raw(s.box);
      const key = agree(this.channel.priv, peer.channelKey, this.params, this.site, peer.site, 'channel');
      const d = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
      d.setAAD(Buffer.from(`${this.params.context}|${s.from}->${this.site}`));
      d.setAuthTag(bytes.subarray(bytes.length - 16));
      let payload: Buffer;
      try {
        payload = Buffer.concat([d.update(bytes.subarray(12, bytes.length - 16)), d.final()]);
      } catch {
        throw new SecureAggregationError(`the shares from ${s.from} do not open: tampered with or not meant for ${this.site}`);
      }
      const n = payload[0]!;
      this.held.set(s.from, [new Uint8Array(payload.subarray(1, 1 + n)), new Uint8Array(payload.subarray(1 + n))]);
    }
  }

  /**
   * The masked input: `weight` * clip(update) quantized, plus the self mask, plus a pairwise mask
   * for every other site that shared its keys (added toward sites named later, subtracted toward earlier).
   */
  maskedInput(update: Float32Array, weight: number): { masked: Uint32Array; clipped: number } {
    if (this.roster.length === 0) throw new SecureAggregationError('keys must be shared before an input is masked');
    const { q, clipped } = quantize(update, weight, this.params);
    addInto(q, prg(this.seed, q.length), 1);
    // Masks pair this site with every site whose shares it holds: exactly the sites that shared
    // keys this round (a site on the roster that never shared is in no one's sum).
    for (const peer of this.roster) {
      if (peer.site === this.site || !this.held.has(peer.site)) continue;
      const s = agree(this.mask.priv, peer.maskKey, this.params, this.site, peer.site, 'mask');
      addInto(q, prg(s, q.length), this.site < peer.site ? 1 : -1);
    }
    return { masked: q, clipped };
  }

  /** Reveals shares for the hub's request; refuses a request that would reveal both secrets of one site. */
  unmask(req: UnmaskRequest): UnmaskResponse {
    const both = req.survivors.filter((s) => req.dropped.includes(s));
    if (both.length > 0) throw new SecureAggregationError(`the hub asked to unmask ${both.join(', ')} as both submitted and dropped`);
    if (!req.survivors.includes(this.site))
      throw new SecureAggregationError(`${this.site} is not among the survivors it is asked to unmask for`);
    if (req.survivors.length < this.params.threshold)
      throw new SecureAggregationError(
        `${req.survivors.length} survivors is below the threshold ${this.params.threshold}: no shares are revealed`,
      );
    for (const s of [...req.survivors, ...req.dropped]) {
      if (this.revealed.has(s)) throw new SecureAggregationError(`shares for ${s} were already revealed this round`);
    }
    const pick = (sites: string[], which: 0 | 1): Record<string, string> =>
      Object.fromEntries(
        sites.map((s) => {
          const h = this.held.get(s);
          if (!h) throw new SecureAggregationError(`${this.site} holds no shares from ${s}`);
          this.revealed.add(s);
          return [s, b64u(h[which])];
        }),
      );
    return { site: this.site, seedShares: pick(req.survivors, 1), keyShares: pick(req.dropped, 0) };
  }
}

/** The hub's side of one round: relays keys and sealed shares, sums masked inputs, removes the masks. */
export class SecAggServer {
  private readonly adverts = new Map<string, Advertisement>();
  private readonly shared = new Set<string>();
  private readonly inbox = new Map<string, SealedShares[]>();
  private sum: Uint32Array | null = null;
  private readonly weights = new Map<string, number>();
  bytesIn = 0;

  constructor(
    readonly sites: string[],
    readonly params: SecAggParams,
    readonly length: number,
  ) {}

  advertise(a: Advertisement): void {
    if (!this.sites.includes(a.site)) throw new SecureAggregationError(`${a.site} is not a site of this federation`);
    if (this.adverts.has(a.site)) throw new SecureAggregationError(`${a.site} already advertised keys this round`);
    publicKey(a.channelKey);
    publicKey(a.maskKey);
    this.adverts.set(a.site, a);
    this.bytesIn += 64;
  }

  roster(): Advertisement[] {
    return [...this.adverts.values()].sort((a, b) => (a.site < b.site ? -1 : 1));
  }

  /** Sites that have shared their keys, and sites whose masked input is in. */
  get sharedSites(): string[] {
    return [...this.shared].sort();
  }
  get inputSites(): string[] {
    return [...this.weights.keys()].sort();
  }

  /** Takes one site's sealed shares (one per other site on the roster) for delivery. */
  relayShares(from: string, boxes: SealedShares[]): void {
    if (!this.adverts.has(from)) throw new SecureAggregationError(`${from} shares keys without having advertised any`);
    if (this.shared.has(from)) throw new SecureAggregationError(`${from} already shared its keys this round`);
    const expected = this.roster()
      .filter((a) => a.site !== from)
      .map((a) => a.site);
    const to = boxes.map((b) => b.to).sort();
    if (boxes.some((b) => b.from !== from) || JSON.stringify(to) !== JSON.stringify(expected))
      throw new SecureAggregationError(`${from} must send exactly one box to each other site on the roster`);
    for (const b of boxes) {
      (this.inbox.get(b.to) ?? this.inbox.set(b.to, []).get(b.to)!).push(b);
      this.bytesIn += b.box.length;
    }
    this.shared.add(from);
  }

  /** The boxes for `site` from every site that shared its keys. */
  deliveries(site: string): SealedShares[] {
    return this.inbox.get(site) ?? [];
  }

  /** Adds a masked input into the running sum: the hub never holds one site's input apart. */
  submitMasked(site: string, masked: Uint32Array, weight: number): void {
    if (!this.shared.has(site)) throw new SecureAggregationError(`${site} sent an input without having shared its keys`);
    if (this.weights.has(site)) throw new SecureAggregationError(`${site} already sent its input this round`);
    if (masked.length !== this.length)
      throw new SecureAggregationError(`${site}'s input has ${masked.length} values, the federation's weights ${this.length}`);
    if (!(weight > 0 && weight <= 1)) throw new SecureAggregationError(`${site}'s weight ${weight} is outside (0, 1]`);
    if (!this.sum) this.sum = new Uint32Array(this.length);
    addInto(this.sum, masked, 1);
    this.weights.set(site, weight);
    this.bytesIn += masked.byteLength;
  }

  unmaskRequest(): UnmaskRequest {
    const survivors = [...this.weights.keys()].sort();
    if (survivors.length < this.params.threshold)
      throw new SecureAggregationError(
        `${survivors.length} inputs arrived, fewer than the threshold ${this.params.threshold}: the round cannot be unmasked`,
      );
    return { survivors, dropped: [...this.shared].filter((s) => !this.weights.has(s)).sort() };
  }

  /** The weighted sum of the survivors' clipped updates and their total weight, from at least `threshold` responses. */
  async finish(responses: UnmaskResponse[]): Promise<{ sum: Float32Array; weight: number; survivors: string[]; dropped: string[] }> {
    const req = this.unmaskRequest();
    const valid = responses.filter((r) => req.survivors.includes(r.site));
    if (valid.length < this.params.threshold)
      throw new SecureAggregationError(`${valid.length} unmasking responses, fewer than the threshold ${this.params.threshold}`);
    const rebuild = async (site: string, which: 'seedShares' | 'keyShares'): Promise<Uint8Array> => {
      const shares = valid.map((r) => r[which][site]).filter((s): s is string => s !== undefined);
      if (shares.length < this.params.threshold) throw new SecureAggregationError(`only ${shares.length} shares for ${site}`);
      return combine(shares.slice(0, this.params.threshold).map((s) => new Uint8Array(raw(s))));
    };
    const total = this.sum!.slice();
    for (const site of req.survivors) addInto(total, prg(await rebuild(site, 'seedShares'), this.length), -1);
    for (const gone of req.dropped) {
      const d = Buffer.from(await rebuild(gone, 'keyShares'));
      const advert = this.adverts.get(gone)!;
      const priv = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64u(d), x: advert.maskKey }, format: 'jwk' });
      if (priv.export({ format: 'jwk' }).x !== advert.maskKey)
        throw new SecureAggregationError(`the rebuilt key of ${gone} does not match its advertised key`);
      for (const site of req.survivors) {
        const s = agree(priv, this.adverts.get(site)!.maskKey, this.params, gone, site, 'mask');
        // The survivor added the pair's mask toward a later name and subtracted it toward an earlier one.
        addInto(total, prg(s, this.length), site < gone ? -1 : 1);
      }
    }
    const weight = [...this.weights.values()].reduce((a, b) => a + b, 0);
    return { sum: dequantizeSum(total, req.survivors.length, this.params), weight, survivors: req.survivors, dropped: req.dropped };
  }
}
