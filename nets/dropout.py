"""Inverted dropout whose rate is a runtime value.

`flax.linen.Dropout` takes its rate as a static attribute, so every rate would compile a
new program. Here the rate is an argument (a float or a traced scalar), which lets a sweep
over rates run as one vmapped program.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


def keep_mask(key, keep, shape):
  """Which elements survive: each with probability `keep`."""
  return jax.random.bernoulli(key, keep, shape)


class Dropout(nn.Module):
  """Zeroes each element with probability `rate`; scales survivors by 1 / (1 - rate)."""

  rng_collection: str = 'dropout'

  @nn.compact
  def __call__(self, x, rate, *, deterministic: bool):
    if deterministic or (isinstance(rate, (int, float)) and rate == 0):
      return x
    rate = jnp.asarray(rate, dtype=jnp.float32)
    keep = 1.0 - rate
    mask = keep_mask(self.make_rng(self.rng_collection), keep, x.shape)
    return jnp.where(mask, x / keep.astype(x.dtype), jnp.zeros_like(x))
