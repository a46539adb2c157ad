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

/**
 * gallery.json: a version's sample of training examples with their embeddings under the
 * model, which its page's in-browser panels search (written by Pretext at push).
 */
export interface Gallery {
  format: 'pretext-gallery/1';
  /** [C, H, W] of the images (and of an image encoder's input); [window length] for text; [inputs] for tables. */
  inputShape: number[];
  /** Text encoders: the vocabulary file and the window, [CLS] and [SEP] included. */
  tokens?: { vocabulary: string; length: number };
  /**
   * label: the class (or the caption of an image-text model); png: an image; text: a document's
   * opening, or a row or a history in brief; row: a table row's cells by column (null: missing);
   * events: an entity's events, each with its time and fields (null: missing).
   */
  items: {
    label: string | null;
    png?: string;
    text?: string;
    row?: Record<string, string | null>;
    events?: Record<string, string | number | null>[];
    embedding: number[];
  }[];
}
