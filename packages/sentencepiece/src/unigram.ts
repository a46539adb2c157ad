// SentencePiece's unigram encoding in plain TypeScript, for places the native library cannot
// go (a browser page running an exported text tower). It reads the same model file the native
// processor writes, normalizes a sentence the way the model's normalizer spec says (NFKC for
// the nmt_nfkc rules, whitespace collapsed, a dummy prefix, spaces as "▁"), and finds the
// best segmentation by Viterbi over the pieces' log-probabilities in float32, as the C++ code
// does: an unknown character costs the lowest piece score minus 10, a user-defined piece
// always wins its span, and consecutive unknown characters become one <unk>. No Node or DOM
// imports: the hub's page bundles this file.
//
// Scope: unigram models (Pretext's default) whose normalization is nmt_nfkc, nmt_nfkc_cf or
// identity. BPE models are refused by name. The tests hold the ids equal to the native
// processor's on whole caption sets and on text with unknown characters.

export const PIECE_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface UnigramPiece {
  piece: string;
  score: number;
  type: number;
}

export interface UnigramModelFile {
  pieces: UnigramPiece[];
  /** 1 unigram, 2 BPE, 3 word, 4 char (SentencePiece's TrainerSpec.ModelType). */
  modelType: number;
  normalizer: { name: string; addDummyPrefix: boolean; removeExtraWhitespaces: boolean; escapeWhitespaces: boolean };
}

/** A protobuf reader just large enough for SentencePiece's ModelProto. */
class Reader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly end = bytes.length,
  ) {}
  varint(): number {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new RangeError('truncated SentencePiece model file');
      const b = this.bytes[this.pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  }
  /** Field number and wire type of the next key. */
  key(): [number, number] {
    const k = this.varint();
    return [Math.floor(k / 8), k % 8];
  }
  sub(): Reader {
    const n = this.varint();
    const r = new Reader(this.bytes, this.pos + n);
    r.pos = this.pos;
    this.pos += n;
    if (this.pos > this.end) throw new RangeError('truncated SentencePiece model file');
    return r;
  }
  float(): number {
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.sub();
    else if (wire === 5) this.pos += 4;
    else throw new RangeError(`unexpected protobuf wire type ${wire} in a SentencePiece model file`);
  }
  get done(): boolean {
    return this.pos >= this.end;
  }
}

const utf8 = new TextDecoder();

/** Reads a SentencePiece model file (ModelProto): pieces with scores and types, model type, normalizer. */
export function readModelFile(bytes: Uint8Array): UnigramModelFile {
  const r = new Reader(bytes);
  const out: UnigramModelFile = {
    pieces: [],
    modelType: 1,
    normalizer: { name: 'nmt_nfkc', addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true },
  };
  while (!r.done) {
    const [field, wire] = r.key();
    if (field === 1 && wire === 2) {
      const p = r.sub();
      const piece: UnigramPiece = { piece: '', score: 0, type: PIECE_TYPE.normal };
      while (!p.done) {
        const [f, w] = p.key();
        if (f === 1 && w === 2) {
          const s = p.sub();
          piece.piece = utf8.decode(bytes.subarray(s.pos, s.end));
        } else if (f === 2 && w === 5) piece.score = p.float();
        else if (f === 3 && w === 0) piece.type = p.varint();
        else p.skip(w);
      }
      out.pieces.push(piece);
    } else if (field === 2 && wire === 2) {
      const t = r.sub();
      while (!t.done) {
        const [f, w] = t.key();
        if (f === 3 && w === 0) out.modelType = t.varint();
        else t.skip(w);
      }
    } else if (field === 3 && wire === 2) {
      const n = r.sub();
      while (!n.done) {
        const [f, w] = n.key();
        if (f === 1 && w === 2) {
          const s = n.sub();
          out.normalizer.name = utf8.decode(bytes.subarray(s.pos, s.end));
        } else if (f === 3 && w === 0) out.normalizer.addDummyPrefix = n.varint() !== 0;
        else if (f === 4 && w === 0) out.normalizer.removeExtraWhitespaces = n.varint() !== 0;
        else if (f === 5 && w === 0) out.normalizer.escapeWhitespaces = n.varint() !== 0;
        else n.skip(w);
      }
    } else r.skip(wire);
  }
  if (out.pieces.length === 0) throw new RangeError('not a SentencePiece model file: it holds no pieces');
  return out;
}

const UNK_PENALTY = 10;
const SPACE = '\u2581';

/** A unigram SentencePiece model that encodes without the native library. */
export class UnigramTokenizer {
  private readonly ids = new Map<string, number>();
  private readonly maxPieceChars: number;
  private readonly minScore: number;
  private readonly maxScore: number;
  readonly unkId: number;
  readonly pieces: readonly UnigramPiece[];
  readonly normalizer: UnigramModelFile['normalizer'];

  constructor(file: UnigramModelFile) {
    if (file.modelType !== 1)
      throw new RangeError(`only unigram SentencePiece models encode in plain TypeScript (this one is model type ${file.modelType})`);
    if (!['nmt_nfkc', 'nmt_nfkc_cf', 'identity'].includes(file.normalizer.name))
      throw new RangeError(`normalization '${file.normalizer.name}' is not supported here (nmt_nfkc, nmt_nfkc_cf or identity)`);
    this.pieces = file.pieces;
    this.normalizer = file.normalizer;
    let unk = -1;
    let longest = 1;
    let min = Infinity;
    let max = -Infinity;
    file.pieces.forEach((p, id) => {
      if (p.type === PIECE_TYPE.unknown) unk = id;
      if (p.type === PIECE_TYPE.normal || p.type === PIECE_TYPE.userDefined || p.type === PIECE_TYPE.unused) {
        this.ids.set(p.piece, id);
        longest = Math.max(longest, [...p.piece].length);
      }
      if (p.type === PIECE_TYPE.normal) {
        min = Math.min(min, p.score);
        max = Math.max(max, p.score);
      }
    });
    if (unk < 0) throw new RangeError('this SentencePiece model has no unknown piece');
    this.unkId = unk;
    this.maxPieceChars = longest;
    this.minScore = min;
    this.maxScore = max;
  }

  static fromBytes(bytes: Uint8Array): UnigramTokenizer {
    return new UnigramTokenizer(readModelFile(bytes));
  }

  /** Id of a piece (any type), or -1. */
  pieceId(piece: string): number {
    return this.pieces.findIndex((p) => p.piece === piece);
  }

  /** The text as the model's normalizer leaves it ("▁" for spaces, a leading "▁"). */
  normalize(text: string): string {
    const n = this.normalizer;
    let s = n.name === 'identity' ? text : text.normalize('NFKC');
    if (n.name === 'nmt_nfkc_cf') s = s.toLowerCase();
    if (n.name !== 'identity') s = s.replace(/[\t\n\r\f\v\u00a0\u2000-\u200a\u3000]/g, ' ');
    if (n.removeExtraWhitespaces) s = s.replace(/ +/g, ' ').replace(/^ | $/g, '');
    if (s.length === 0) return s;
    if (n.addDummyPrefix) s = ` ${s}`;
    return n.escapeWhitespaces ? s.replaceAll(' ', SPACE) : s;
  }

  /** Token ids of a text (no special tokens added), as the native processor's encode gives them. */
  encode(text: string): number[] {
    const chars = [...this.normalize(text)];
    const n = chars.length;
    if (n === 0) return [];
    const bytesOf = chars.map((c) => utf8Length(c));
    // best[i]: the best path covering chars[0, i): its score (float32), the last piece's id and start.
    const score = new Float32Array(n + 1);
    const start = new Int32Array(n + 1).fill(-1);
    const piece = new Int32Array(n + 1).fill(-1);
    const unkScore = Math.fround(this.minScore - UNK_PENALTY);
    const relax = (from: number, to: number, id: number, s: number): void => {
      const candidate = Math.fround(s + score[from]!);
      if (start[to] === -1 || candidate > score[to]!) {
        score[to] = candidate;
        start[to] = from;
        piece[to] = id;
      }
    };
    for (let i = 0; i < n; i++) {
      if (i > 0 && start[i] === -1) continue; // unreachable (cannot happen: every char has a path)
      let single = false;
      let text = '';
      let bytes = 0;
      for (let len = 1; len <= this.maxPieceChars && i + len <= n; len++) {
        text += chars[i + len - 1];
        bytes += bytesOf[i + len - 1]!;
        const id = this.ids.get(text);
        if (id === undefined) continue;
        const p = this.pieces[id]!;
        if (p.type === PIECE_TYPE.unused) continue;
        const s = p.type === PIECE_TYPE.userDefined ? bytes * this.maxScore - 0.1 : p.score;
        relax(i, i + len, id, Math.fround(s));
        if (len === 1) single = true;
      }
      if (!single) relax(i, i + 1, this.unkId, unkScore);
    }
    const out: number[] = [];
    for (let at = n; at > 0; at = start[at]!) out.push(piece[at]!);
    out.reverse();
    // A run of unknown characters is one <unk>.
    return out.filter((id, k) => !(id === this.unkId && k > 0 && out[k - 1] === this.unkId));
  }
}

function utf8Length(c: string): number {
  const cp = c.codePointAt(0)!;
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}
