import { createHash } from 'node:crypto';
import type { Tensor } from '@pretext/torch';

/** sha256 over a tensor's bytes: identifies the exact training data in lineage. */
export function fingerprint(t: Tensor): string {
  return `sha256:${createHash('sha256').update(new Uint8Array(t.data().buffer)).digest('hex')}`;
}
