// BERT's masked-token prediction head: a dense layer, GELU and LayerNorm on the token state,
// then logits over the vocabulary through the (tied) token embedding table plus a bias.
import * as torch from '@pretext/torch';
import { nn, type Tensor } from '@pretext/torch';

export class MlmHead extends nn.Module {
  readonly dense: nn.Linear;
  readonly layerNorm: nn.LayerNorm;
  readonly bias: Tensor;
  constructor(
    dim: number,
    private readonly embeddings: nn.Embedding,
  ) {
    super();
    this.dense = this.registerModule('dense', new nn.Linear(dim, dim));
    this.layerNorm = this.registerModule('LayerNorm', new nn.LayerNorm(dim));
    this.bias = this.registerParameter('bias', torch.zeros([embeddings.numEmbeddings]));
  }
  /** Token states [M, D] -> logits [M, V]. */
  forward(h: Tensor): Tensor {
    const t = this.layerNorm.forward(this.dense.forward(h).gelu());
    return nn.functional.linear(t, this.embeddings.weight, this.bias);
  }
}
