// Regression to a stopped-gradient target by cosine similarity: BYOL's normalized MSE
// (2 - 2 cos) and SimSiam's negative cosine are the same idea with different offsets.
import * as torch from '@pretext/torch';
import type { Tensor } from '@pretext/torch';

/** 2 - 2 cos(p, z), z detached (Grill et al., 2020). */
export function byolLoss(p: Tensor, z: Tensor): Tensor {
  return torch.nn.functional.cosineSimilarity(p, z.detach()).mean().mul(-2).add(2);
}

/** -cos(p, z), z detached (Chen and He, 2021). */
export function negativeCosine(p: Tensor, z: Tensor): Tensor {
  return torch.nn.functional.cosineSimilarity(p, z.detach()).mean().neg();
}
