// The error every reader raises, and text decoding; nothing here touches the file system, so a
// browser bundle can use it.
/** A data file or folder that cannot be read as what it claims to be; the message names it and the fault. */
export class DataFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataFormatError';
  }
}

/** Bytes of a text format as a string; NUL bytes mean binary data, refused naming `source`. */
export function decodeText(bytes: Uint8Array, source: string, format: string): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (text.includes('\u0000')) throw new DataFormatError(`${source}: binary data (a NUL byte), not ${format}`);
  return text;
}
