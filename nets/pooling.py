"""Pooling as a module, so a layer table (nets/summary.py) sees each pool with its window."""

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp


class Pool(nn.Module):
  """Max or average pooling over `window` with `strides`; `window=None` pools globally.

  Average pooling divides by the full window (padding counts as zeros), as Caffe and the
  papers' tables do.
  """

  kind: str = 'max'
  window: Sequence[int] | None = (2, 2)
  strides: Sequence[int] | None = None
  padding: Any = 'VALID'

  @nn.compact
  def __call__(self, x):
    if self.window is None:
      reduce = jnp.max if self.kind == 'max' else jnp.mean
      return reduce(x, axis=(1, 2), keepdims=True)
    window = tuple(self.window)
    strides = tuple(self.strides or window)
    if self.kind == 'max':
      return nn.max_pool(x, window, strides=strides, padding=self.padding)
    if self.kind == 'avg':
      return nn.avg_pool(x, window, strides=strides, padding=self.padding, count_include_pad=True)
    raise ValueError(f"Pool kind must be 'max' or 'avg', got {self.kind!r}.")
