// An e-mail as the text a reader sees: the headers are parsed and kept out (routing lines,
// dates and spam-filter verdicts give a data set's origin away), MIME parts are walked,
// quoted-printable and base64 bodies decoded in their declared charset, and HTML parts
// reduced to their visible text by htmlparser2. Attachments that are not text are skipped.
import { Parser } from 'htmlparser2';

export interface MailPart {
  /** Lower-cased header names to their unfolded values (the last occurrence wins). */
  headers: Map<string, string>;
  /** The body bytes as a latin1 string (one character per byte), before transfer decoding. */
  raw: string;
}

/** Splits a message (bytes as latin1 characters) into headers and body. */
export function splitMessage(message: string): MailPart {
  const m = /\r?\n\r?\n/.exec(message);
  const head = m ? message.slice(0, m.index) : message;
  const raw = m ? message.slice(m.index + m[0].length) : '';
  const headers = new Map<string, string>();
  let current: string | null = null;
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && current) {
      headers.set(current, `${headers.get(current)!} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    // The mbox envelope line ("From addr date") has no colon after a header name.
    if (colon <= 0 || /\s/.test(line.slice(0, colon))) {
      current = null;
      continue;
    }
    current = line.slice(0, colon).toLowerCase();
    headers.set(current, line.slice(colon + 1).trim());
  }
  return { headers, raw };
}

interface ContentType {
  type: string;
  params: Map<string, string>;
}

function contentType(value: string | undefined): ContentType {
  const [type = '', ...rest] = (value ?? 'text/plain').split(';');
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    params.set(
      p.slice(0, eq).trim().toLowerCase(),
      p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1'),
    );
  }
  return { type: type.trim().toLowerCase() || 'text/plain', params };
}

/** Quoted-printable to bytes (RFC 2045): soft line breaks removed, =XX decoded. */
export function decodeQuotedPrintable(s: string): Uint8Array {
  const text = s.replace(/=\r?\n/g, '');
  const out = new Uint8Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3d && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      out[n++] = parseInt(text.slice(i + 1, i + 3), 16);
      i += 2;
    } else out[n++] = c & 0xff;
  }
  return out.subarray(0, n);
}

const latin1Bytes = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0xff);

function decodeCharset(bytes: Uint8Array, charset: string | undefined): string {
  const label = (charset ?? 'us-ascii').toLowerCase();
  try {
    return new TextDecoder(label === 'us-ascii' || label === 'ascii' ? 'windows-1252' : label).decode(bytes);
  } catch {
    // An unknown or misspelt charset label: windows-1252 decodes every byte, as mail clients do.
    return new TextDecoder('windows-1252').decode(bytes);
  }
}

function transferDecode(part: MailPart): Uint8Array {
  const enc = (part.headers.get('content-transfer-encoding') ?? '7bit').trim().toLowerCase();
  if (enc === 'quoted-printable') return decodeQuotedPrintable(part.raw);
  if (enc === 'base64') return Buffer.from(part.raw.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  return latin1Bytes(part.raw);
}

const BLOCK = new Set(['p', 'br', 'div', 'tr', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'blockquote', 'pre', 'hr', 'title']);

/** The visible text of an HTML document: no tags, scripts, styles or comments; entities decoded. */
export function htmlText(html: string): string {
  const out: string[] = [];
  let hidden = 0;
  const parser = new Parser(
    {
      onopentag(name) {
        if (name === 'script' || name === 'style') hidden++;
        if (BLOCK.has(name)) out.push('\n');
      },
      onclosetag(name) {
        if ((name === 'script' || name === 'style') && hidden > 0) hidden--;
        if (BLOCK.has(name)) out.push('\n');
      },
      ontext(text) {
        if (hidden === 0) out.push(text);
      },
    },
    { decodeEntities: true },
  );
  parser.write(html);
  parser.end();
  return out.join('');
}

function partText(part: MailPart, depth: number): string {
  if (depth > 20) return '';
  const ct = contentType(part.headers.get('content-type'));
  const disposition = (part.headers.get('content-disposition') ?? '').toLowerCase();
  if (ct.type.startsWith('multipart/')) {
    const boundary = ct.params.get('boundary');
    const parts = boundary ? multipartParts(part.raw, boundary) : [part.raw];
    const children = parts.map((p) => splitMessage(p));
    if (ct.type === 'multipart/alternative') {
      // One content in several forms: the plain text when there is one, else the first readable.
      const plain = children.find((c) => contentType(c.headers.get('content-type')).type === 'text/plain');
      return partText(plain ?? children[children.length - 1] ?? { headers: new Map(), raw: '' }, depth + 1);
    }
    return children
      .map((c) => partText(c, depth + 1))
      .filter((t) => t.trim())
      .join('\n\n');
  }
  if (ct.type === 'message/rfc822') return partText(splitMessage(part.raw), depth + 1);
  if (!ct.type.startsWith('text/') || disposition.startsWith('attachment')) return '';
  const text = decodeCharset(transferDecode(part), ct.params.get('charset'));
  // Senders often label HTML as plain text; a reader sees it rendered, so it is reduced too.
  return ct.type === 'text/html' || /^\s*<(!doctype html|html|head|body)[\s>]/i.test(text) ? htmlText(text) : text;
}

function multipartParts(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  let inside = false;
  let current: string[] = [];
  for (const line of body.split(/\r?\n/)) {
    if (line.startsWith(delimiter)) {
      if (inside) parts.push(current.join('\n'));
      current = [];
      inside = !line.slice(delimiter.length).startsWith('--');
      if (!inside) break;
      continue;
    }
    if (inside) current.push(line);
  }
  if (inside && current.length) parts.push(current.join('\n'));
  return parts;
}

/** The readable text of a raw e-mail (its bytes): MIME decoded, HTML reduced to text, no headers. */
export function emailText(message: Uint8Array): string {
  const part = splitMessage(Buffer.from(message).toString('latin1'));
  return partText(part, 0)
    .replace(/\r\n?/g, '\n')
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
