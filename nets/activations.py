"""Activation functions chosen by name."""

import flax.linen as nn

_BY_NAME = {
  'relu': nn.relu,
  'sigmoid': nn.sigmoid,
  'tanh': nn.tanh,
  'gelu': nn.gelu,
  'elu': nn.elu,
  'leaky_relu': nn.leaky_relu,
  'linear': lambda x: x,
}
NAMES = tuple(sorted(_BY_NAME))


def get(name: str):
  if name not in _BY_NAME:
    raise ValueError(f'Unknown activation {name!r}; known: {", ".join(NAMES)}.')
  return _BY_NAME[name]
