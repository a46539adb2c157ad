// Types on the wire, shared by the server and the client entry point (no runtime code).

/** One file of a version: its path inside the version, content digest and size in bytes. */
export interface VersionFile {
  path: string;
  sha256: string;
  size: number;
}
