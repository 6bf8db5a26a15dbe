"""Weight initializers chosen by name, so a config can say `kernel_init='he_normal'`."""

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
NAMES = tuple(sorted(_BY_NAME) + sorted(_CONSTANT) + ['normal'])


def get(name: str, scale: float = 1.0):
  """Returns an initializer `(key, shape, dtype) -> array`, multiplied by `scale`.

  `normal` draws N(0, scale^2) (the classic "tiny init" of the batch-norm rescue).
  """
  if name in _CONSTANT:
    value = _CONSTANT[name] * scale
    return lambda key, shape, dtype=jnp.float32: jnp.full(shape, value, dtype)
  if name == 'normal':
    return init.normal(stddev=scale)
  if name not in _BY_NAME:
    raise ValueError(f'Unknown initializer {name!r}; known: {", ".join(NAMES)}.')
  base = _BY_NAME[name]()
  if scale == 1.0:
    return base
  return lambda key, shape, dtype=jnp.float32: scale * base(key, shape, dtype)
