// Types on the wire, shared by the server and the client entry point (no runtime code).

/** One file of a version: its path inside the version, content digest and size in bytes. */
export interface VersionFile {
  path: string;
  sha256: string;
  size: number;
}

/** A result a team reports on a version: its task, data set, metric and value, and how it was measured. */
export interface EvalInput {
  task: string;
  dataset: string;
  metric: string;
  value: number;
  protocol: string;
  labelBudget: string;
}
