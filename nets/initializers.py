"""Weight initializers chosen by name, so a config can say `kernel_init='he_normal'`."""

import jax
import jax.numpy as jnp
from flax.linen import initializers as init

_BY_NAME = {
  'he_normal': init.he_normal,
  'he_uniform': init.he_uniform,
  'glorot_normal': init.glorot_normal,
  'glorot_uniform': init.glorot_uniform,
  'lecun_normal': init.lecun_normal,
  'lecun_uniform': init.lecun_uniform,
}
_CONSTANT = {'zeros': 0.0, 'ones': 1.0}
# The TensorFlow Playground's link weight, `Math.random() - 0.5` (nn.ts, class Link).
PLAYGROUND_UNIFORM = 'playground_uniform'
NAMES = tuple(sorted(_BY_NAME) + sorted(_CONSTANT) + ['normal', PLAYGROUND_UNIFORM])
# Bias initializers: 'zeros' (flax's default), or the Playground's: every node's bias starts at
# 0.1 (nn.ts, class Node), and at 0 when its "initZero" switch zeroes the weights too.
PLAYGROUND_BIAS = 0.1
BIAS_NAMES = ('zeros', 'playground')


def get(name: str, scale: float = 1.0):
  """Returns an initializer `(key, shape, dtype) -> array`, multiplied by `scale`.

  `normal` draws N(0, scale^2) (the classic "tiny init" of the batch-norm rescue);
  `playground_uniform` draws U[-scale/2, scale/2), the Playground's U[-0.5, 0.5) at scale 1.
  """
  if name in _CONSTANT:
    value = _CONSTANT[name] * scale
    return lambda key, shape, dtype=jnp.float32: jnp.full(shape, value, dtype)
  if name == 'normal':
    return init.normal(stddev=scale)
  if name == PLAYGROUND_UNIFORM:
    return lambda key, shape, dtype=jnp.float32: (
      scale * jax.random.uniform(key, shape, dtype, -0.5, 0.5)
    )
  if name not in _BY_NAME:
    raise ValueError(f'Unknown initializer {name!r}; known: {", ".join(NAMES)}.')
  base = _BY_NAME[name]()
  if scale == 1.0:
    return base
  return lambda key, shape, dtype=jnp.float32: scale * base(key, shape, dtype)


def bias(name: str, kernel_init: str):
  """The bias initializer `name` for a layer whose kernel starts as `kernel_init`, or None for
  the layer's own default (zeros).

  'playground' is the Playground's rule: 0.1, but 0 with a 'zeros' kernel, since its one
  "initZero" switch zeroes weights and biases together. With a zero bias as well, a ReLU layer
  outputs exactly 0 on every input; with 0.1 it would not.
  """
  if name == 'zeros':
    return None
  if name != 'playground':
    raise ValueError(f'Unknown bias initializer {name!r}; known: {", ".join(BIAS_NAMES)}.')
  value = 0.0 if kernel_init == 'zeros' else PLAYGROUND_BIAS
  return lambda key, shape, dtype=jnp.float32: jnp.full(shape, value, dtype)
