// Weight initializations (torch.nn.init), in place and without recording gradients.
import { noGrad } from '../autograd.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';

export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu';

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity, param = 0.01): number {
  switch (nonlinearity) {
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu':
      return Math.sqrt(2 / (1 + param * param));
    default:
      return 1;
  }
}

/** fan_in and fan_out of a weight [out, in, *kernel]. */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  const s = t.shape;
  if (s.length < 2) throw new TypeError(`fan in/out needs a tensor with at least 2 dimensions, got [${s.join(', ')}]`);
  const receptive = s.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: s[1]! * receptive, fanOut: s[0]! * receptive };
}

interface InitOptions {
  generator?: Generator;
}

export function uniform_(t: Tensor, a = 0, b = 1, o?: InitOptions): Tensor {
  return noGrad(() => t.uniform_(a, b, o));
}
export function normal_(t: Tensor, mean = 0, std = 1, o?: InitOptions): Tensor {
  return noGrad(() => t.normal_(mean, std, o));
}
export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => t.fill_(value));
}
export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

/** He et al. (2015) uniform; PyTorch's Linear and Conv default is a = sqrt(5). */
export function kaimingUniform_(
  t: Tensor,
  o: InitOptions & { a?: number; mode?: 'fanIn' | 'fanOut'; nonlinearity?: Nonlinearity } = {},
): Tensor {
  const f = fans(t);
  const fan = o.mode === 'fanOut' ? f.fanOut : f.fanIn;
  const gain = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0);
  const bound = Math.sqrt(3) * (gain / Math.sqrt(fan));
  return uniform_(t, -bound, bound, o);
}

export function kaimingNormal_(
  t: Tensor,
  o: InitOptions & { a?: number; mode?: 'fanIn' | 'fanOut'; nonlinearity?: Nonlinearity } = {},
): Tensor {
  const f = fans(t);
  const fan = o.mode === 'fanOut' ? f.fanOut : f.fanIn;
  return normal_(t, 0, calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(fan), o);
}

/** Glorot and Bengio (2010) uniform. */
export function xavierUniform_(t: Tensor, gain = 1, o?: InitOptions): Tensor {
  const { fanIn, fanOut } = fans(t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound, o);
}

export function xavierNormal_(t: Tensor, gain = 1, o?: InitOptions): Tensor {
  const { fanIn, fanOut } = fans(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), o);
}
