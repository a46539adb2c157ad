/** A data file or folder that cannot be read as what it claims to be; the message names it and the fault. */
export class DataFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataFormatError';
  }
}
