// ARFF, weka's table format: a header of `@relation` and `@attribute NAME TYPE` lines (TYPE:
// numeric, real, integer, string, date [format], or a nominal set {a, b, c}), then `@data`
// with one row per line, dense (comma-separated) or sparse ({index value, ...}). Names and
// values may be quoted with ' or " (backslash escapes); `?` is missing; `%` starts a comment.
// Every fault names the file and the line.
import { DataFormatError, decodeText } from '../errors.js';
import { readDataFile } from '../files.js';
import { buildColumn, type ColumnType, type Table } from '../table.js';

interface Attribute {
  name: string;
  type: ColumnType;
  levels?: string[];
  line: number;
}

/** A line without its trailing comment: everything from an unquoted `%` on. */
function withoutComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '%') return line.slice(0, i);
  }
  return line;
}

/** Splits `text` at unquoted `sep` (or whitespace when sep is ' '), unquoting each part. */
function tokens(text: string, sep: ',' | ' ', where: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let quoted = false;
  const push = (): void => {
    const t = quoted ? cur : cur.trim();
    if (t !== '' || quoted || sep === ',') out.push(t);
    cur = '';
    quoted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\' && i + 1 < text.length) cur += text[++i];
      else if (ch === quote) quote = null;
      else cur += ch;
    } else if ((ch === "'" || ch === '"') && cur.trim() === '') {
      quote = ch;
      quoted = true;
      cur = '';
    } else if (sep === ',' ? ch === ',' : ch === ' ' || ch === '\t') {
      if (sep === ',' || cur !== '' || quoted) push();
    } else cur += ch;
  }
  if (quote) throw new DataFormatError(`${where}: a quote is not closed`);
  if (sep === ',' || cur.trim() !== '' || quoted) push();
  return out;
}

function parseAttribute(rest: string, where: string, line: number): Attribute {
  // NAME then TYPE; the name may be quoted and contain spaces.
  let name: string;
  let typeText: string;
  const q = rest[0];
  if (q === "'" || q === '"') {
    const end = rest.indexOf(q, 1);
    if (end < 0) throw new DataFormatError(`${where}: the attribute name's quote is not closed`);
    name = rest.slice(1, end);
    typeText = rest.slice(end + 1).trim();
  } else {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest);
    if (!m) throw new DataFormatError(`${where}: expected '@attribute NAME TYPE'`);
    name = m[1]!;
    typeText = m[2]!.trim();
  }
  if (typeText.startsWith('{')) {
    if (!typeText.endsWith('}')) throw new DataFormatError(`${where}: the nominal values of '${name}' are not closed with '}'`);
    const levels = tokens(typeText.slice(1, -1), ',', where);
    if (levels.length === 0 || levels.some((l) => l === ''))
      throw new DataFormatError(`${where}: '${name}' declares an empty nominal value`);
    if (new Set(levels).size !== levels.length) throw new DataFormatError(`${where}: '${name}' declares a nominal value twice`);
    return { name, type: 'categorical', levels, line };
  }
  const kind = typeText.split(/\s+/)[0]!.toLowerCase();
  if (kind === 'numeric' || kind === 'real' || kind === 'integer') return { name, type: 'numeric', line };
  if (kind === 'string') return { name, type: 'text', line };
  if (kind === 'date') return { name, type: 'date', line };
  if (kind === 'relational') throw new DataFormatError(`${where}: relational attributes ('${name}') are not supported`);
  throw new DataFormatError(`${where}: '${name}' has unknown type '${typeText}' (numeric, real, integer, string, date or {values})`);
}

/** Parses ARFF text; `source` names the file in errors. */
export function parseArff(bytes: Uint8Array, source: string, o: { drop?: string[] } = {}): Table {
  const text = decodeText(bytes, source, 'an ARFF file');
  const lines = text.split(/\r?\n/);
  const attrs: Attribute[] = [];
  let relation: string | null = null;
  let i = 0;
  for (; i < lines.length; i++) {
    const l = withoutComment(lines[i]!).trim();
    const where = `${source}:${i + 1}`;
    if (l === '') continue;
    const m = /^@(\w+)\s*([\s\S]*)$/.exec(l);
    if (!m) throw new DataFormatError(`${where}: expected @relation, @attribute or @data before the data, found '${l.slice(0, 40)}'`);
    const kw = m[1]!.toLowerCase();
    if (kw === 'relation') relation = m[2]!.trim();
    else if (kw === 'attribute') {
      if (relation === null) throw new DataFormatError(`${where}: @attribute before @relation`);
      const a = parseAttribute(m[2]!.trim(), where, i + 1);
      if (attrs.some((x) => x.name === a.name)) throw new DataFormatError(`${where}: attribute '${a.name}' is declared twice`);
      attrs.push(a);
    } else if (kw === 'data') {
      i++;
      break;
    } else throw new DataFormatError(`${where}: unknown declaration '@${m[1]}'`);
  }
  if (relation === null) throw new DataFormatError(`${source}: no @relation line: not an ARFF file`);
  if (attrs.length === 0) throw new DataFormatError(`${source}: no @attribute lines`);
  const cells: (string | null)[][] = attrs.map(() => []);
  let rows = 0;
  for (; i < lines.length; i++) {
    const l = withoutComment(lines[i]!).trim();
    if (l === '') continue;
    const where = `${source}:${i + 1}`;
    let row: (string | null)[];
    if (l.startsWith('{')) {
      if (!l.endsWith('}')) throw new DataFormatError(`${where}: a sparse row must end with '}'`);
      // Sparse: listed cells by index; the rest hold the first value (0, or a nominal's first level).
      row = attrs.map((a) => (a.type === 'categorical' ? a.levels![0]! : a.type === 'numeric' ? '0' : null));
      for (const part of tokens(l.slice(1, -1), ',', where)) {
        if (part === '') continue;
        const m = /^(\d+)\s+([\s\S]*)$/.exec(part);
        if (!m) throw new DataFormatError(`${where}: sparse entry '${part}' is not 'INDEX VALUE'`);
        const k = Number(m[1]);
        if (k >= attrs.length) throw new DataFormatError(`${where}: sparse index ${k} is past the ${attrs.length} attributes`);
        const v = tokens(m[2]!, ' ', where);
        row[k] = v.length === 1 ? v[0]! : m[2]!.trim();
      }
    } else {
      row = tokens(l, ',', where);
      if (row.length !== attrs.length)
        throw new DataFormatError(`${where}: ${row.length} values, but ${attrs.length} attributes are declared`);
    }
    row.forEach((v, k) => cells[k]!.push(v === '?' ? null : v));
    rows++;
  }
  const drop = new Set(o.drop ?? []);
  for (const d of drop) if (!attrs.some((a) => a.name === d)) throw new DataFormatError(`${source}: no attribute '${d}' to drop`);
  const columns = attrs.flatMap((a, k) =>
    drop.has(a.name) ? [] : [buildColumn(a.name, a.type, cells[k]!, `${source} (attribute declared on line ${a.line})`, a.levels)],
  );
  return { source, rows, columns };
}

export function readArff(path: string, o: { drop?: string[] } = {}): Table {
  return parseArff(readDataFile(path), path, o);
}
