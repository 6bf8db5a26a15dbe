"""Local response normalization (Krizhevsky et al. 2012, section 3.3)."""

import flax.linen as nn
import jax.numpy as jnp


class LocalResponseNorm(nn.Module):
  """b = a / (k + alpha * sum of a^2 over `size` neighbouring channels)^beta; no parameters.

  AlexNet's constants (k=2, n=5, alpha=1e-4, beta=0.75) are the defaults; VGG's A-LRN used them too.
  """

  size: int = 5
  k: float = 2.0
  alpha: float = 1e-4
  beta: float = 0.75

  @nn.compact
  def __call__(self, x):
    half = self.size // 2
    sq = jnp.pad(jnp.square(x), ((0, 0),) * (x.ndim - 1) + ((half, half),))
    c = x.shape[-1]
    window = sum(sq[..., i : i + c] for i in range(self.size))
    return x / (self.k + self.alpha * window) ** self.beta
